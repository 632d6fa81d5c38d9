"""Accounts as tenants (docs/admin.md): each account's users see and create only
their account's buckets, reach another account's bucket only when both their own
policy and that bucket's policy allow it, and never manage the store (IAM or admin
API). Accounts are created, inspected and deleted through the admin API."""

from __future__ import annotations

import json
import re

import botocore.exceptions
import pytest

from test_iam import iam_client
from test_admin_api import (
    ADMIN_ALL,
    S3_ALL,
    code_of,
    create_policy,
    create_user,
    key_admin,
    root_admin,
    s3_once,
    status_of,
    uid,
)


@pytest.fixture(scope="module")
def admin(hafiz):
    return root_admin(hafiz)


class Tenant:
    def __init__(self, server, admin, prefix: str):
        self.account = uid(prefix)
        r = admin.request("POST", "/v1/accounts", {"name": self.account})
        assert r.status_code == 201, r.text
        self.info = r.json()
        self.user, self.key = create_user(admin, S3_ALL, account=self.account)
        self.arn = admin.ok("GET", f"/v1/users/{self.user}")["arn"]
        self.s3 = s3_once(server, self.key)
        self.bucket = uid(prefix)
        self.s3.create_bucket(Bucket=self.bucket)


@pytest.fixture(scope="module")
def tenants(hafiz, admin):
    return Tenant(hafiz, admin, "acme"), Tenant(hafiz, admin, "globex")


def denied(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    assert status_of(e) == 403, e.value.response
    if e.value.response["Error"]["Code"] != "403":  # HEAD answers carry no code
        assert code_of(e) == "AccessDenied", e.value.response


def test_accounts_are_created_with_their_own_ids(admin, tenants):
    acme, globex = tenants
    for t in tenants:
        a = t.info
        assert set(a) >= {"name", "id", "created", "quota", "usage", "users", "buckets"}
        assert a["name"] == t.account and re.fullmatch(r"\d{12}", a["id"]), a
        assert a["quota"] is None and a["usage"] == {"bytes": 0, "objects": 0, "multipart_bytes": 0}
        # The user's ARN names its account's id.
        assert t.arn == f"arn:aws:iam::{a['id']}:user/{t.user}"
        assert admin.ok("GET", f"/v1/users/{t.user}")["account"] == t.account
    assert acme.info["id"] != globex.info["id"]
    root_id = admin.ok("GET", f"/v1/users/{create_user(admin)[0]}")["arn"].split(":")[4]
    assert root_id not in (acme.info["id"], globex.info["id"])
    names = [a["name"] for a in admin.ok("GET", "/v1/accounts")]
    assert acme.account in names and globex.account in names
    assert admin.error("POST", "/v1/accounts", {"name": acme.account}) == (409, "EntityAlreadyExists")
    assert admin.error("POST", "/v1/accounts", {"name": "bad name"}) == (400, "InvalidRequest")
    assert admin.error("GET", f"/v1/accounts/{acme.account}-nope") == (404, "NoSuchAccount")
    # Buckets created by a tenant's user belong to its account.
    assert admin.ok("GET", f"/v1/buckets/{acme.bucket}")["account"] == acme.account
    assert admin.ok("GET", f"/v1/buckets/{globex.bucket}")["account"] == globex.account


def test_list_buckets_shows_only_the_callers_account(hafiz, tenants, s3):
    acme, globex = tenants
    mine = [b["Name"] for b in acme.s3.list_buckets()["Buckets"]]
    assert mine == [acme.bucket]
    assert [b["Name"] for b in globex.s3.list_buckets()["Buckets"]] == [globex.bucket]
    everything = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert acme.bucket in everything and globex.bucket in everything


def test_a_tenant_cannot_reach_another_tenants_bucket(tenants, s3):
    acme, globex = tenants
    globex.s3.put_object(Bucket=globex.bucket, Key="secret.txt", Body=b"globex data")
    acme.s3.put_object(Bucket=acme.bucket, Key="own.txt", Body=b"acme data")
    assert acme.s3.get_object(Bucket=acme.bucket, Key="own.txt")["Body"].read() == b"acme data"
    # s3:* on * in acme's own policy does not reach globex's bucket.
    denied(lambda: acme.s3.get_object(Bucket=globex.bucket, Key="secret.txt"))
    denied(lambda: acme.s3.put_object(Bucket=globex.bucket, Key="x", Body=b"x"))
    denied(lambda: acme.s3.list_objects_v2(Bucket=globex.bucket))
    denied(lambda: acme.s3.delete_object(Bucket=globex.bucket, Key="secret.txt"))
    denied(lambda: acme.s3.head_bucket(Bucket=globex.bucket))
    denied(lambda: acme.s3.delete_bucket(Bucket=globex.bucket))
    denied(lambda: acme.s3.get_bucket_policy(Bucket=globex.bucket))
    denied(lambda: globex.s3.get_object(Bucket=acme.bucket, Key="own.txt"))
    # Root reaches both.
    assert s3.get_object(Bucket=globex.bucket, Key="secret.txt")["Body"].read() == b"globex data"
    assert s3.get_object(Bucket=acme.bucket, Key="own.txt")["Body"].read() == b"acme data"


def test_a_bucket_policy_naming_the_other_tenants_user_grants_just_that(tenants):
    acme, globex = tenants
    globex.s3.put_object(Bucket=globex.bucket, Key="shared/report.txt", Body=b"report")
    denied(lambda: acme.s3.get_object(Bucket=globex.bucket, Key="shared/report.txt"))
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [acme.arn]},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{globex.bucket}/shared/*",
            }
        ],
    }
    globex.s3.put_bucket_policy(Bucket=globex.bucket, Policy=json.dumps(policy))
    try:
        assert acme.s3.get_object(Bucket=globex.bucket, Key="shared/report.txt")["Body"].read() == b"report"
        denied(lambda: acme.s3.put_object(Bucket=globex.bucket, Key="shared/new.txt", Body=b"x"))
        denied(lambda: acme.s3.list_objects_v2(Bucket=globex.bucket))
        globex.s3.put_object(Bucket=globex.bucket, Key="private.txt", Body=b"p")
        denied(lambda: acme.s3.get_object(Bucket=globex.bucket, Key="private.txt"))
    finally:
        globex.s3.delete_bucket_policy(Bucket=globex.bucket)
    denied(lambda: acme.s3.get_object(Bucket=globex.bucket, Key="shared/report.txt"))


def test_cross_account_access_needs_the_users_own_policy_too(hafiz, admin, tenants):
    acme, globex = tenants
    # An acme user without any policy of its own, named by globex's bucket policy.
    name, key = create_user(admin, account=acme.account)
    arn = admin.ok("GET", f"/v1/users/{name}")["arn"]
    globex.s3.put_object(Bucket=globex.bucket, Key="shared/x", Body=b"x")
    globex.s3.put_bucket_policy(
        Bucket=globex.bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": arn},
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{globex.bucket}/*",
                    }
                ],
            }
        ),
    )
    try:
        denied(lambda: s3_once(hafiz, key).get_object(Bucket=globex.bucket, Key="shared/x"))
    finally:
        globex.s3.delete_bucket_policy(Bucket=globex.bucket)
        admin.ok("DELETE", f"/v1/users/{name}", expect=204)


def test_default_account_users_are_a_tenant_too(hafiz, admin, tenants, s3):
    acme, _ = tenants
    root_bucket = uid("root-b")
    s3.create_bucket(Bucket=root_bucket)
    _, key = create_user(admin, S3_ALL)  # the default account's
    user = s3_once(hafiz, key)
    names = [b["Name"] for b in user.list_buckets()["Buckets"]]
    assert root_bucket in names and acme.bucket not in names
    user.list_objects_v2(Bucket=root_bucket)
    denied(lambda: user.list_objects_v2(Bucket=acme.bucket))
    denied(lambda: user.put_object(Bucket=acme.bucket, Key="x", Body=b"x"))
    # And a tenant's user does not reach the default account's buckets.
    denied(lambda: acme.s3.list_objects_v2(Bucket=root_bucket))
    # A bucket created by a default-account user belongs to the default account.
    mine = uid("dflt")
    user.create_bucket(Bucket=mine)
    assert admin.ok("GET", f"/v1/buckets/{mine}")["account"] == ""


def create_error(client, name: str) -> tuple[int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.create_bucket(Bucket=name)
    return status_of(e), code_of(e)


def test_bucket_names_are_global_across_accounts(tenants, s3):
    acme, globex = tenants
    root_owned = uid("root-owned")
    s3.create_bucket(Bucket=root_owned)
    # As on AWS: a name another account owns "already exists" (not "access denied",
    # which would hide that the name is simply taken).
    got = {
        "acme creates globex's bucket": create_error(acme.s3, globex.bucket),
        "globex creates the default account's bucket": create_error(globex.s3, root_owned),
    }
    assert got == {k: (409, "BucketAlreadyExists") for k in got}, got
    assert root_owned not in [b["Name"] for b in globex.s3.list_buckets()["Buckets"]]
    # The refused creates changed nothing.
    s3.head_bucket(Bucket=globex.bucket)
    assert [b["Name"] for b in globex.s3.list_buckets()["Buckets"]] == [globex.bucket]


def test_tenant_users_never_manage_the_store(hafiz, admin, tenants):
    acme, _ = tenants
    name, key = create_user(
        admin,
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        ADMIN_ALL,
        account=acme.account,
    )
    iam = iam_client(hafiz, key["access_key_id"], key["secret_key"])
    for call in (
        lambda: iam.list_users(),
        lambda: iam.create_user(UserName=uid("t")),
        lambda: iam.get_user(UserName=acme.user),
        lambda: iam.create_access_key(UserName=acme.user),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert code_of(e) == "AccessDenied"
    # Nor through the admin API, even with admin:*.
    tenant_admin = key_admin(hafiz, key)
    assert tenant_admin.error("GET", "/v1/users") == (403, "AccessDenied")
    assert tenant_admin.error("GET", f"/v1/accounts/{acme.account}") == (403, "AccessDenied")
    assert tenant_admin.error("POST", "/v1/users", {"name": uid("t"), "account": acme.account}) == (
        403,
        "AccessDenied",
    )
    admin.ok("DELETE", f"/v1/users/{name}", expect=204)


def test_account_reports_users_buckets_and_usage(admin, tenants):
    acme, _ = tenants
    before = admin.ok("GET", f"/v1/accounts/{acme.account}")
    assert before["users"] == 1 and before["buckets"] == 1, before
    b2 = uid("acme2")
    got = admin.ok("POST", "/v1/buckets", {"name": b2, "account": acme.account}, expect=201)
    assert got["account"] == acme.account
    acme.s3.put_object(Bucket=b2, Key="a", Body=b"a" * 1000)
    acme.s3.put_object(Bucket=acme.bucket, Key="b", Body=b"b" * 234)
    assert sorted(b["Name"] for b in acme.s3.list_buckets()["Buckets"]) == sorted([acme.bucket, b2])
    after = admin.ok("GET", f"/v1/accounts/{acme.account}")
    assert after["buckets"] == 2
    bucket_usage = [admin.ok("GET", f"/v1/buckets/{b}")["usage"] for b in (acme.bucket, b2)]
    assert after["usage"] == {
        "bytes": sum(u["bytes"] for u in bucket_usage),
        "objects": sum(u["objects"] for u in bucket_usage),
        "multipart_bytes": sum(u["multipart_bytes"] for u in bucket_usage),
    }
    assert after["usage"]["bytes"] - before["usage"]["bytes"] == 1234
    assert after["usage"]["objects"] - before["usage"]["objects"] == 2
    listed = {a["name"]: a for a in admin.ok("GET", "/v1/accounts")}
    assert listed[acme.account] == after
    assert admin.error("POST", "/v1/buckets", {"name": uid("x"), "account": "no-such-account"}) == (
        404,
        "NoSuchAccount",
    )
    acme.s3.delete_object(Bucket=b2, Key="a")
    acme.s3.delete_bucket(Bucket=b2)
    assert admin.ok("GET", f"/v1/accounts/{acme.account}")["buckets"] == 1


def test_an_account_with_users_or_buckets_cannot_be_deleted(hafiz, admin):
    t = Tenant(hafiz, admin, "initech")
    t.s3.put_object(Bucket=t.bucket, Key="k", Body=b"v")
    assert admin.error("DELETE", f"/v1/accounts/{t.account}") == (409, "DeleteConflict")
    # Without its users it still owns a bucket.
    admin.ok("DELETE", f"/v1/users/{t.user}", expect=204)
    a = admin.ok("GET", f"/v1/accounts/{t.account}")
    assert a["users"] == 0 and a["buckets"] == 1
    assert admin.error("DELETE", f"/v1/accounts/{t.account}") == (409, "DeleteConflict")
    assert admin.error("DELETE", f"/v1/buckets/{t.bucket}") == (409, "BucketNotEmpty")
    s3_once(hafiz).delete_object(Bucket=t.bucket, Key="k")
    admin.ok("DELETE", f"/v1/buckets/{t.bucket}", expect=204)
    # With a user but no bucket: still a conflict.
    u, _ = create_user(admin, account=t.account)
    assert admin.error("DELETE", f"/v1/accounts/{t.account}") == (409, "DeleteConflict")
    admin.ok("DELETE", f"/v1/users/{u}", expect=204)
    r = admin.request("DELETE", f"/v1/accounts/{t.account}")
    assert r.status_code == 204, r.text
    assert admin.error("GET", f"/v1/accounts/{t.account}") == (404, "NoSuchAccount")
    assert admin.error("DELETE", f"/v1/accounts/{t.account}") == (404, "NoSuchAccount")
    assert t.account not in [a["name"] for a in admin.ok("GET", "/v1/accounts")]
    # Its name is free again, with a new id.
    again = admin.ok("POST", "/v1/accounts", {"name": t.account}, expect=201)
    assert again["users"] == 0 and again["buckets"] == 0
    admin.ok("DELETE", f"/v1/accounts/{t.account}", expect=204)


def test_a_tenant_user_needs_a_policy_for_its_own_bucket(hafiz, admin, tenants):
    acme, _ = tenants
    # Same account, no policy: nothing is allowed, not even on acme's bucket.
    name, key = create_user(admin, account=acme.account)
    c = s3_once(hafiz, key)
    denied(lambda: c.list_objects_v2(Bucket=acme.bucket))
    policy = create_policy(admin, {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"})
    admin.ok("PUT", f"/v1/users/{name}/policies/{policy}", expect=204)
    c.list_objects_v2(Bucket=acme.bucket)
    admin.ok("DELETE", f"/v1/users/{name}", expect=204)
