"""ACLs as AWS serves them: every account has its own canonical id (ListBuckets'
Owner, ACL owners and grantees), grants by `x-amz-grant-*` headers and by an
AccessControlPolicy body on buckets and objects, honoured in authorization across
accounts and for anonymous callers; canned ACLs that name the bucket owner;
`x-amz-expected-bucket-owner`; and Object Ownership (BucketOwnerEnforced turns
ACLs off)."""

from __future__ import annotations

import botocore.exceptions
import pytest
import requests

from test_admin_api import root_admin
from test_tenants import Tenant

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTH_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


def code_of(e) -> str:
    return e.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def accounts(hafiz):
    admin = root_admin(hafiz)
    return Tenant(hafiz, admin, "aclone"), Tenant(hafiz, admin, "acltwo")


def canonical_id(client) -> str:
    return client.list_buckets()["Owner"]["ID"]


def test_each_account_has_its_own_canonical_id(s3, accounts):
    one, two = accounts
    ids = {canonical_id(s3), canonical_id(one.s3), canonical_id(two.s3)}
    assert len(ids) == 3
    assert all(len(i) == 64 for i in ids)
    assert one.s3.list_buckets()["Owner"]["DisplayName"] == one.account
    # The bucket's ACL names its owner.
    acl = one.s3.get_bucket_acl(Bucket=one.bucket)
    assert acl["Owner"]["ID"] == canonical_id(one.s3)
    assert acl["Grants"] == [
        {"Grantee": {"ID": canonical_id(one.s3), "DisplayName": one.account, "Type": "CanonicalUser"},
         "Permission": "FULL_CONTROL"}
    ]


def test_expected_bucket_owner(accounts):
    one, two = accounts
    right = one.info["id"]
    wrong = two.info["id"]
    one.s3.head_bucket(Bucket=one.bucket, ExpectedBucketOwner=right)
    one.s3.put_object(Bucket=one.bucket, Key="eb", Body=b"x", ExpectedBucketOwner=right)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        one.s3.put_object(Bucket=one.bucket, Key="eb", Body=b"x", ExpectedBucketOwner=wrong)
    assert code_of(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        one.s3.get_object(Bucket=one.bucket, Key="eb", ExpectedBucketOwner=wrong)
    assert code_of(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        one.s3.copy_object(Bucket=one.bucket, Key="eb2", CopySource={"Bucket": one.bucket, "Key": "eb"},
                           ExpectedSourceBucketOwner=wrong)
    assert code_of(e) == "AccessDenied"


def test_grant_headers_on_a_bucket_let_another_account_write_and_list(accounts):
    one, two = accounts
    two_id = canonical_id(two.s3)
    bucket = one.bucket + "-g"
    one.s3.create_bucket(Bucket=bucket)
    with pytest.raises(botocore.exceptions.ClientError):
        two.s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    one.s3.put_bucket_acl(Bucket=bucket, GrantWrite=f'id="{two_id}"', GrantRead=f'id="{two_id}"')
    acl = one.s3.get_bucket_acl(Bucket=bucket)
    got = {(g["Grantee"].get("ID"), g["Permission"]) for g in acl["Grants"]}
    assert (two_id, "WRITE") in got and (two_id, "READ") in got
    two.s3.put_object(Bucket=bucket, Key="k", Body=b"from two")
    assert [o["Key"] for o in two.s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    # READ_ACP was not granted.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        two.s3.get_bucket_acl(Bucket=bucket)
    assert code_of(e) == "AccessDenied"


def test_acl_body_on_an_object(hafiz, accounts):
    one, two = accounts
    one.s3.put_object(Bucket=one.bucket, Key="doc", Body=b"shared doc")
    owner = one.s3.get_object_acl(Bucket=one.bucket, Key="doc")["Owner"]
    with pytest.raises(botocore.exceptions.ClientError):
        two.s3.get_object(Bucket=one.bucket, Key="doc")
    one.s3.put_object_acl(
        Bucket=one.bucket,
        Key="doc",
        AccessControlPolicy={
            "Owner": owner,
            "Grants": [
                {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"},
                {"Grantee": {"Type": "CanonicalUser", "ID": canonical_id(two.s3)}, "Permission": "READ"},
                {"Grantee": {"Type": "Group", "URI": AUTH_USERS}, "Permission": "READ_ACP"},
            ],
        },
    )
    assert two.s3.get_object(Bucket=one.bucket, Key="doc")["Body"].read() == b"shared doc"
    acl = two.s3.get_object_acl(Bucket=one.bucket, Key="doc")  # READ_ACP for authenticated users
    perms = sorted(g["Permission"] for g in acl["Grants"])
    assert perms == ["FULL_CONTROL", "READ", "READ_ACP"]
    assert requests.get(f"{hafiz.endpoint}/{one.bucket}/doc", timeout=10).status_code == 403
    # An unknown canonical id and an unresolvable e-mail are AWS's errors.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        one.s3.put_object_acl(Bucket=one.bucket, Key="doc", GrantRead='id="' + "0" * 64 + '"')
    assert code_of(e) == "InvalidArgument"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        one.s3.put_object_acl(Bucket=one.bucket, Key="doc", GrantRead='emailAddress="a@example.com"')
    assert code_of(e) == "UnresolvableGrantByEmailAddress"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        one.s3.put_object_acl(Bucket=one.bucket, Key="doc", ACL="private", GrantRead=f'uri="{ALL_USERS}"')
    assert code_of(e) == "InvalidRequest"
    # A canned ACL replaces the grants.
    one.s3.put_object_acl(Bucket=one.bucket, Key="doc", ACL="private")
    with pytest.raises(botocore.exceptions.ClientError):
        two.s3.get_object(Bucket=one.bucket, Key="doc")


def test_grant_read_to_all_users_on_put(hafiz, s3, bucket):
    s3.put_object(Bucket=bucket, Key="pub", Body=b"public by grant", GrantRead=f'uri="{ALL_USERS}"')
    assert requests.get(f"{hafiz.endpoint}/{bucket}/pub", timeout=10).content == b"public by grant"
    acl = s3.get_object_acl(Bucket=bucket, Key="pub")
    assert {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"} in acl["Grants"]


def test_canned_acls_that_name_the_bucket_owner(s3, bucket):
    me = canonical_id(s3)
    s3.put_object(Bucket=bucket, Key="bor", Body=b"x", ACL="bucket-owner-read")
    grants = s3.get_object_acl(Bucket=bucket, Key="bor")["Grants"]
    assert {"Grantee": {"ID": me, "DisplayName": "hafiz", "Type": "CanonicalUser"}, "Permission": "READ"} in grants
    s3.put_object(Bucket=bucket, Key="bfc", Body=b"x", ACL="bucket-owner-full-control")
    grants = s3.get_object_acl(Bucket=bucket, Key="bfc")["Grants"]
    assert all(g["Grantee"]["ID"] == me for g in grants)
    assert {g["Permission"] for g in grants} == {"FULL_CONTROL"}


def test_object_ownership_bucket_owner_enforced(s3, bucket):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_ownership_controls(Bucket=bucket)
    assert code_of(e) == "OwnershipControlsNotFoundError"
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read")
    assert code_of(e) == "AccessControlListNotSupported"
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    s3.put_object(Bucket=bucket, Key="k2", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert code_of(e) == "AccessControlListNotSupported"
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_ownership_controls(Bucket=bucket)
    assert code_of(e) == "OwnershipControlsNotFoundError"
    # A bucket with a public ACL cannot be switched to BucketOwnerEnforced.
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        )
    assert code_of(e) == "InvalidBucketAclWithObjectOwnership"
    s3.put_bucket_acl(Bucket=bucket, ACL="private")


def test_create_bucket_with_object_ownership_header(s3):
    from conftest import unique_bucket_name

    name = unique_bucket_name("own")
    s3.create_bucket(Bucket=name, ObjectOwnership="BucketOwnerEnforced")
    try:
        rules = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
        assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    finally:
        s3.delete_bucket(Bucket=name)
