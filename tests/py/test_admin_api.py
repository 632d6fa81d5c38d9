"""The admin API (docs/admin.md) on `--admin-address`: its OpenAPI document, SigV4
authentication for service `hafiz-admin`, `admin:<OperationId>` authorization, and
users, keys, groups, policies, buckets, server info, cluster status and healing,
checked against what S3 clients then see."""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid

import botocore.exceptions
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from admin_client import AdminClient
from conftest import REGION, REPO_ROOT, TEST_DRIVES, make_client
from test_iam import sts_client, temp_s3

# --------------------------------------------------------------------------
# Helpers shared by the admin, quota, rate-limit and tenant suites
# --------------------------------------------------------------------------

S3_ALL = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
ADMIN_ALL = {"Effect": "Allow", "Action": "admin:*", "Resource": "*"}
ADMIN_READ = {"Effect": "Allow", "Action": ["admin:List*", "admin:Get*"], "Resource": "*"}


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def doc(*statements) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def root_admin(server) -> AdminClient:
    return AdminClient(server.admin_endpoint, server.access_key, server.secret_key)


def key_admin(server, key: dict) -> AdminClient:
    return AdminClient(server.admin_endpoint, key["access_key_id"], key["secret_key"])


def s3_once(server, key: dict | None = None, **config):
    """A boto3 S3 client that does not retry (root's keys without `key`)."""
    ak, sk = (server.access_key, server.secret_key) if key is None else (key["access_key_id"], key["secret_key"])
    config.setdefault("retries", {"total_max_attempts": 1})
    return make_client(server.endpoint, ak, sk, **config)


def code_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def status_of(excinfo) -> int:
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def create_policy(admin: AdminClient, *statements, name: str | None = None) -> str:
    name = name or uid("pol")
    admin.ok("POST", "/v1/policies", {"name": name, "document": doc(*statements)}, expect=201)
    return name


def create_user(admin: AdminClient, *statements, account: str | None = None, name: str | None = None):
    """A user (optionally in `account`) with a managed policy of `statements`
    attached (when given) and one access key: returns (name, key)."""
    name = name or uid("u")
    body = {"name": name}
    if account is not None:
        body["account"] = account
    admin.ok("POST", "/v1/users", body, expect=201)
    if statements:
        policy = create_policy(admin, *statements)
        admin.ok("PUT", f"/v1/users/{name}/policies/{policy}", expect=204)
    key = admin.ok("POST", f"/v1/users/{name}/keys", expect=201)
    return name, key


@pytest.fixture(scope="module")
def admin(hafiz) -> AdminClient:
    return root_admin(hafiz)


# --------------------------------------------------------------------------
# The OpenAPI document
# --------------------------------------------------------------------------


def documented_operations() -> list[tuple[str, str, str]]:
    """(METHOD, path, operationId) for each row of the resource table of docs/admin.md."""
    text = (REPO_ROOT / "docs" / "admin.md").read_text()
    rows = re.findall(r"^\| `(GET|POST|PUT|DELETE) (/[^`?]*)[^`]*` \| (\w+) \|", text, re.M)
    return [(m, p, op) for m, p, op in rows]


def test_openapi_document_lists_every_documented_operation(hafiz):
    r = requests.get(f"{hafiz.admin_endpoint}/openapi.json", timeout=10)  # no auth
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    spec = r.json()
    assert re.match(r"^3\.\d+\.\d+$", spec["openapi"]), spec.get("openapi")
    assert spec["info"]["title"]
    documented = documented_operations()
    assert len(documented) >= 45, documented  # the table was parsed
    served = {
        (method.upper(), path): op.get("operationId")
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "delete", "patch", "head")
    }
    missing, wrong = [], []
    for method, path, op in documented:
        if path == "/v1/audit/export":
            continue
        if (method, path) not in served:
            missing.append(f"{method} {path}")
        elif served[(method, path)] != op:
            wrong.append(f"{method} {path}: {served[(method, path)]} != {op}")
    assert not missing, f"not in /openapi.json: {missing}"
    assert not wrong, f"operationIds differ from docs/admin.md: {wrong}"
    # Operation ids are unique, and the schemas the doc names are there.
    ids = [v for v in served.values()]
    assert len(ids) == len(set(ids))
    schemas = spec["components"]["schemas"]
    for name in ("User", "Key", "Group", "Policy", "Bucket", "Quota", "Account", "RateLimit", "HealStatus"):
        assert name in schemas, name
    assert set(schemas["User"]["properties"]) >= {"name", "id", "account", "arn", "created", "groups", "policies"}


# --------------------------------------------------------------------------
# Authentication
# --------------------------------------------------------------------------


def signed_headers(server, method, path, body: bytes, *, service="hafiz-admin", secret=None, key=None):
    url = server.admin_endpoint + path
    headers = {"x-amz-content-sha256": hashlib.sha256(body).hexdigest(), "content-type": "application/json"}
    req = AWSRequest(method=method, url=url, data=body, headers=headers)
    creds = Credentials(key or server.access_key, secret or server.secret_key)
    SigV4Auth(creds, service, REGION).add_auth(req)
    return url, dict(req.headers.items())


def error_body(r: requests.Response) -> dict:
    doc_ = r.json()
    assert doc_["code"] and doc_["message"] and doc_["request_id"], doc_
    return doc_


def test_unsigned_and_badly_signed_requests_are_refused(hafiz, admin):
    r = requests.get(f"{hafiz.admin_endpoint}/v1/users", timeout=10)
    assert r.status_code == 403 and error_body(r)["code"] == "MissingAuthentication"
    r = requests.post(f"{hafiz.admin_endpoint}/v1/users", json={"name": uid("anon")}, timeout=10)
    assert r.status_code == 403 and error_body(r)["code"] == "MissingAuthentication"
    # The request id of the body is the one of the header.
    assert r.headers.get("x-amz-request-id") == r.json()["request_id"]

    status, code = AdminClient(hafiz.admin_endpoint, hafiz.access_key, "x" * 40).error("GET", "/v1/users")
    assert (status, code) == (403, "SignatureDoesNotMatch")
    status, code = AdminClient(hafiz.admin_endpoint, "AKIANOSUCHKEY0000000", "x" * 40).error("GET", "/v1/users")
    assert (status, code) == (403, "InvalidAccessKeyId")

    # Signed for S3, not for the admin service.
    r = admin.request("GET", "/v1/users", service="s3")
    assert r.status_code == 403, r.text
    assert error_body(r)["code"] in ("SignatureDoesNotMatch", "AccessDenied")

    # Signed for another region.
    other = AdminClient(hafiz.admin_endpoint, hafiz.access_key, hafiz.secret_key, region="eu-west-1")
    assert other.request("GET", "/v1/users").status_code == 403


def test_a_body_changed_after_signing_is_refused(hafiz, admin):
    name = uid("signed")
    signed = json.dumps({"name": name}).encode()
    url, headers = signed_headers(hafiz, "POST", "/v1/users", signed)
    # The same signature headers with another body.
    tampered = json.dumps({"name": name + "x"}).encode()
    r = requests.post(url, data=tampered, headers=headers, timeout=10)
    assert r.status_code == 403, r.text
    assert error_body(r)["code"] == "XAmzContentSHA256Mismatch"
    assert admin.error("GET", f"/v1/users/{name}x") == (404, "NoSuchUser")
    assert admin.error("GET", f"/v1/users/{name}") == (404, "NoSuchUser")
    # The untouched request passes.
    r = requests.post(url, data=signed, headers=headers, timeout=10)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == name


def test_unknown_paths_answer_not_found_with_a_request_id(hafiz, admin):
    # "Any failure answers a JSON body with a stable code" (and a request id).
    r = admin.request("GET", "/v1/nonexistent")
    assert r.status_code == 404, r.text
    assert r.json()["code"] == "NotFound"
    assert r.json()["request_id"], r.text


def test_a_wrong_method_answers_a_json_error(admin):
    # "Any failure answers a JSON body with a stable code."
    r = admin.request("DELETE", "/v1/info")
    assert r.status_code == 405, r.text
    body = r.json() if r.content else {}
    assert body.get("code") and body.get("request_id"), f"405 body: {r.text!r}"


# --------------------------------------------------------------------------
# Authorization: admin:<OperationId>
# --------------------------------------------------------------------------


def every_operation(user: str, key_id: str, bucket: str):
    """One concrete request per documented operation (path parameters filled in)."""
    subst = {
        "{name}": None,  # depends on the family
        "{user}": user,
        "{id}": key_id,
        "{policy}": "some-policy",
        "{scope}": "keys",
    }
    out = []
    for method, path, op in documented_operations():
        if path.startswith("/v1/buckets/"):
            name = bucket
        elif path.startswith("/v1/users/"):
            name = user
        elif path.startswith("/v1/rate-limits/"):
            name = key_id
        else:
            name = "somename"
        p = path.replace("{name}", name)
        for k, v in subst.items():
            if v is not None:
                p = p.replace(k, v)
        body = None
        if method in ("POST", "PUT"):
            body = {"name": uid("denied")}
        params = None
        if path == "/v1/audit/export":
            params = {"from": "2020-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"}
        out.append((method, p, op, body, params))
    return out


def test_a_user_without_an_admin_policy_is_denied_every_operation(hafiz, admin):
    b = uid("adm-deny")
    admin.ok("POST", "/v1/buckets", {"name": b}, expect=201)
    name, key = create_user(admin, S3_ALL)  # S3 rights do not make an operator
    as_user = key_admin(hafiz, key)
    ops = every_operation(name, key["access_key_id"], b)
    assert len(ops) >= 45
    for method, path, op, body, params in ops:
        r = as_user.request(method, path, body, params=params)
        assert r.status_code == 403, f"{op} {method} {path}: {r.status_code} {r.text}"
        assert error_body(r)["code"] == "AccessDenied", f"{op}: {r.text}"
    # Nothing changed on the way.
    assert admin.ok("GET", f"/v1/users/{name}")["policies"] and admin.ok("GET", f"/v1/buckets/{b}")["name"] == b
    assert [k["status"] for k in admin.ok("GET", f"/v1/users/{name}/keys")] == ["Active"]


def test_a_read_only_operator_can_list_and_get_but_not_change(hafiz, admin):
    _, key = create_user(admin, ADMIN_READ)
    ro = key_admin(hafiz, key)
    other, _ = create_user(admin)
    users = ro.ok("GET", "/v1/users")
    assert other in [u["name"] for u in users]
    assert ro.ok("GET", f"/v1/users/{other}")["name"] == other
    ro.ok("GET", "/v1/buckets")
    ro.ok("GET", "/v1/policies")
    ro.ok("GET", "/v1/info")
    ro.ok("GET", "/v1/cluster")
    ro.ok("GET", "/v1/rate-limits")
    for method, path, body in [
        ("POST", "/v1/users", {"name": uid("ro")}),
        ("DELETE", f"/v1/users/{other}", None),
        ("POST", f"/v1/users/{other}/keys", None),
        ("POST", "/v1/buckets", {"name": uid("ro")}),
        ("POST", "/v1/heal", {}),
        ("PUT", f"/v1/rate-limits/keys/{key['access_key_id']}", {"requests_per_second": 1}),
    ]:
        assert ro.error(method, path, body) == (403, "AccessDenied"), (method, path)
    assert admin.ok("GET", f"/v1/users/{other}")["name"] == other
    assert admin.ok("GET", f"/v1/users/{other}/keys") != []


def test_a_full_operator_can_do_everything_but_not_with_temporary_keys(hafiz, admin):
    name, key = create_user(admin, ADMIN_ALL, S3_ALL)
    op = key_admin(hafiz, key)
    u = uid("by-op")
    assert op.ok("POST", "/v1/users", {"name": u}, expect=201)["name"] == u
    k = op.ok("POST", f"/v1/users/{u}/keys", expect=201)
    g = uid("g")
    op.ok("POST", "/v1/groups", {"name": g}, expect=201)
    op.ok("PUT", f"/v1/groups/{g}/members/{u}", expect=204)
    b = uid("by-op")
    op.ok("POST", "/v1/buckets", {"name": b}, expect=201)
    op.ok("PUT", f"/v1/buckets/{b}/quota", {"max_bytes": 1000, "max_objects": None})
    op.ok("PUT", f"/v1/rate-limits/keys/{k['access_key_id']}", {"requests_per_second": 100})
    op.ok("DELETE", f"/v1/rate-limits/keys/{k['access_key_id']}", expect=204)
    op.ok("GET", "/v1/info")
    op.ok("DELETE", f"/v1/users/{u}", expect=204)
    op.ok("DELETE", f"/v1/groups/{g}", expect=204)
    op.ok("DELETE", f"/v1/buckets/{b}", expect=204)
    assert admin.error("GET", f"/v1/users/{u}") == (404, "NoSuchUser")

    # STS temporary credentials of the same operator do not reach the admin API.
    sts = sts_client(hafiz, key["access_key_id"], key["secret_key"])
    creds = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/any", RoleSessionName="adm")["Credentials"]
    temp = AdminClient(
        hafiz.admin_endpoint, creds["AccessKeyId"], creds["SecretAccessKey"], token=creds["SessionToken"]
    )
    assert temp.error("GET", "/v1/users") == (403, "AccessDenied")
    assert temp.error("POST", "/v1/users", {"name": uid("tmp")}) == (403, "AccessDenied")
    # ... while the same credentials work on S3.
    s3 = temp_s3(hafiz, creds)
    s3.list_buckets()
    # Without the token the temporary key is refused outright.
    no_token = AdminClient(hafiz.admin_endpoint, creds["AccessKeyId"], creds["SecretAccessKey"])
    status, _ = no_token.error("GET", "/v1/users")
    assert status == 403


def test_admin_policy_on_the_admin_resource_arn(hafiz, admin):
    _, key = create_user(admin, {"Effect": "Allow", "Action": "admin:ListUsers", "Resource": "arn:hafiz:admin:::*"})
    c = key_admin(hafiz, key)
    c.ok("GET", "/v1/users")
    assert c.error("GET", "/v1/groups") == (403, "AccessDenied")
    # An explicit Deny wins over admin:*.
    _, key = create_user(
        admin, ADMIN_ALL, {"Effect": "Deny", "Action": "admin:DeleteUser", "Resource": "*"}
    )
    c = key_admin(hafiz, key)
    victim, _ = create_user(admin)
    assert c.error("DELETE", f"/v1/users/{victim}") == (403, "AccessDenied")
    c.ok("GET", f"/v1/users/{victim}")


# --------------------------------------------------------------------------
# Users and keys
# --------------------------------------------------------------------------

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def test_users_create_get_list_and_errors(admin):
    name = uid("alice")
    r = admin.request("POST", "/v1/users", {"name": name})
    assert r.status_code == 201, r.text
    u = r.json()
    assert set(u) >= {"name", "id", "account", "arn", "created", "groups", "policies", "inline_policies"}
    assert u["name"] == name and u["account"] == ""
    assert u["id"] and RFC3339.match(u["created"]), u
    assert re.match(rf"^arn:aws:iam::\d{{12}}:user/{re.escape(name)}$", u["arn"]), u["arn"]
    assert u["groups"] == [] and u["policies"] == [] and u["inline_policies"] == []
    assert admin.ok("GET", f"/v1/users/{name}") == u
    assert name in [x["name"] for x in admin.ok("GET", "/v1/users")]

    assert admin.error("POST", "/v1/users", {"name": name}) == (409, "EntityAlreadyExists")
    assert admin.error("GET", f"/v1/users/{name}-nobody") == (404, "NoSuchUser")
    assert admin.error("DELETE", f"/v1/users/{name}-nobody") == (404, "NoSuchUser")
    assert admin.error("GET", f"/v1/users/{name}-nobody/keys") == (404, "NoSuchUser")
    for bad in ["has space", "x" * 129, "", "semi;colon"]:
        assert admin.error("POST", "/v1/users", {"name": bad}) == (400, "InvalidRequest"), bad
    assert admin.error("POST", "/v1/users", {"nom": "x"}) == (400, "InvalidRequest")
    assert admin.error("POST", "/v1/users", raw=b"{not json") == (400, "InvalidRequest")
    assert admin.error("POST", "/v1/users", {"name": uid("u"), "account": "no-such-account"}) == (
        404,
        "NoSuchAccount",
    )


def test_access_keys_lifecycle(hafiz, admin):
    b = uid("keys")
    admin.ok("POST", "/v1/buckets", {"name": b}, expect=201)
    name, _ = create_user(admin, S3_ALL)
    keys = admin.ok("GET", f"/v1/users/{name}/keys")
    assert len(keys) == 1
    r = admin.request("POST", f"/v1/users/{name}/keys")
    assert r.status_code == 201, r.text
    key = r.json()
    assert set(key) >= {"access_key_id", "user", "status", "created", "secret_key"}
    assert key["user"] == name and key["status"] == "Active" and len(key["secret_key"]) >= 30
    assert RFC3339.match(key["created"])
    listed = admin.ok("GET", f"/v1/users/{name}/keys")
    assert {k["access_key_id"] for k in listed} == {keys[0]["access_key_id"], key["access_key_id"]}
    assert all("secret_key" not in k and key["secret_key"] not in json.dumps(k) for k in listed)
    # Two keys per user at most (as IAM).
    assert admin.error("POST", f"/v1/users/{name}/keys") == (409, "LimitExceeded")
    assert admin.error("POST", f"/v1/users/{name}-nobody/keys") == (404, "NoSuchUser")

    # The new key works right away.
    s3 = s3_once(hafiz, key)
    s3.put_object(Bucket=b, Key="k", Body=b"v")
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"v"

    kid = key["access_key_id"]
    out = admin.ok("PUT", f"/v1/users/{name}/keys/{kid}", {"status": "Inactive"})
    assert out["status"] == "Inactive" and out["access_key_id"] == kid and "secret_key" not in out
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="k")
    assert code_of(e) == "InvalidAccessKeyId"
    assert [k["status"] for k in admin.ok("GET", f"/v1/users/{name}/keys") if k["access_key_id"] == kid] == [
        "Inactive"
    ]
    assert admin.error("PUT", f"/v1/users/{name}/keys/{kid}", {"status": "Paused"}) == (400, "InvalidRequest")
    assert admin.ok("PUT", f"/v1/users/{name}/keys/{kid}", {"status": "Active"})["status"] == "Active"
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"v"

    assert admin.error("PUT", f"/v1/users/{name}/keys/AKIANOSUCHKEY0000000", {"status": "Active"}) == (
        404,
        "NoSuchAccessKey",
    )
    admin.ok("DELETE", f"/v1/users/{name}/keys/{kid}", expect=204)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=b, Key="k")
    assert code_of(e) == "InvalidAccessKeyId"
    assert admin.error("DELETE", f"/v1/users/{name}/keys/{kid}") == (404, "NoSuchAccessKey")
    assert [k["access_key_id"] for k in admin.ok("GET", f"/v1/users/{name}/keys")] == [keys[0]["access_key_id"]]


def test_another_users_key_cannot_be_changed_through_a_wrong_user(admin):
    a, ka = create_user(admin)
    b, _ = create_user(admin)
    kid = ka["access_key_id"]
    status, code = admin.error("PUT", f"/v1/users/{b}/keys/{kid}", {"status": "Inactive"})
    assert status == 404 and code in ("NoSuchAccessKey", "NoSuchUser")
    status, code = admin.error("DELETE", f"/v1/users/{b}/keys/{kid}")
    assert status == 404 and code in ("NoSuchAccessKey", "NoSuchUser")
    assert [k["status"] for k in admin.ok("GET", f"/v1/users/{a}/keys")] == ["Active"]


def test_deleting_a_user_takes_its_keys_policies_and_groups(hafiz, admin):
    b = uid("deluser")
    admin.ok("POST", "/v1/buckets", {"name": b}, expect=201)
    policy = create_policy(admin, S3_ALL)
    name, key = create_user(admin)
    admin.ok("PUT", f"/v1/users/{name}/policies/{policy}", expect=204)
    g = uid("g")
    admin.ok("POST", "/v1/groups", {"name": g}, expect=201)
    admin.ok("PUT", f"/v1/groups/{g}/members/{name}", expect=204)
    admin.ok("PUT", f"/v1/groups/{g}/policies/{policy}", expect=204)
    assert admin.ok("GET", f"/v1/policies/{policy}")["attachments"] == 2
    u = admin.ok("GET", f"/v1/users/{name}")
    assert u["policies"] == [policy] and u["groups"] == [g]
    s3 = s3_once(hafiz, key)
    s3.list_objects_v2(Bucket=b)

    r = admin.request("DELETE", f"/v1/users/{name}")
    assert r.status_code == 204 and r.content == b"", r.text
    assert admin.error("GET", f"/v1/users/{name}") == (404, "NoSuchUser")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_objects_v2(Bucket=b)
    assert code_of(e) == "InvalidAccessKeyId"
    assert admin.ok("GET", f"/v1/groups/{g}")["members"] == []
    assert admin.ok("GET", f"/v1/policies/{policy}")["attachments"] == 1
    # The name can be used again, with nothing of the old user's.
    admin.ok("POST", "/v1/users", {"name": name}, expect=201)
    u = admin.ok("GET", f"/v1/users/{name}")
    assert u["policies"] == [] and u["groups"] == []
    assert admin.ok("GET", f"/v1/users/{name}/keys") == []


def test_deleting_a_user_ends_its_temporary_credentials(hafiz, admin, s3):
    b = uid("delsts")
    s3.create_bucket(Bucket=b)
    name, key = create_user(admin, S3_ALL)
    sts = sts_client(hafiz, key["access_key_id"], key["secret_key"])
    creds = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/any", RoleSessionName="sess")["Credentials"]
    temp = temp_s3(hafiz, creds)
    temp.list_objects_v2(Bucket=b)
    # Temporary keys are not listed as the user's keys.
    assert [k["access_key_id"] for k in admin.ok("GET", f"/v1/users/{name}/keys")] == [key["access_key_id"]]
    admin.ok("DELETE", f"/v1/users/{name}", expect=204)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        temp.list_objects_v2(Bucket=b)
    assert code_of(e) == "InvalidAccessKeyId"


# --------------------------------------------------------------------------
# Groups and policies
# --------------------------------------------------------------------------


def test_groups_and_membership(admin):
    g = uid("grp")
    r = admin.request("POST", "/v1/groups", {"name": g})
    assert r.status_code == 201, r.text
    group = r.json()
    assert set(group) >= {"name", "id", "created", "members", "policies"}
    assert group["name"] == g and group["members"] == [] and group["policies"] == []
    assert admin.error("POST", "/v1/groups", {"name": g}) == (409, "EntityAlreadyExists")
    assert admin.error("POST", "/v1/groups", {"name": "bad name"}) == (400, "InvalidRequest")
    assert admin.error("GET", f"/v1/groups/{g}-nope") == (404, "NoSuchGroup")
    assert g in [x["name"] for x in admin.ok("GET", "/v1/groups")]
    u1, _ = create_user(admin)
    u2, _ = create_user(admin)
    admin.ok("PUT", f"/v1/groups/{g}/members/{u1}", expect=204)
    admin.ok("PUT", f"/v1/groups/{g}/members/{u2}", expect=204)
    assert sorted(admin.ok("GET", f"/v1/groups/{g}")["members"]) == sorted([u1, u2])
    assert admin.ok("GET", f"/v1/users/{u1}")["groups"] == [g]
    assert admin.error("PUT", f"/v1/groups/{g}/members/{u1}-nope") == (404, "NoSuchUser")
    assert admin.error("PUT", f"/v1/groups/{g}-nope/members/{u1}") == (404, "NoSuchGroup")
    admin.ok("DELETE", f"/v1/groups/{g}/members/{u1}", expect=204)
    assert admin.ok("GET", f"/v1/groups/{g}")["members"] == [u2]
    assert admin.ok("GET", f"/v1/users/{u1}")["groups"] == []
    # A group with members cannot go (as IAM).
    assert admin.error("DELETE", f"/v1/groups/{g}") == (409, "DeleteConflict")
    admin.ok("DELETE", f"/v1/groups/{g}/members/{u2}", expect=204)
    admin.ok("DELETE", f"/v1/groups/{g}", expect=204)
    assert admin.error("GET", f"/v1/groups/{g}") == (404, "NoSuchGroup")
    assert admin.error("DELETE", f"/v1/groups/{g}") == (404, "NoSuchGroup")


def test_policies_create_get_delete(admin):
    name = uid("pol")
    document = doc({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::x/*"})
    r = admin.request("POST", "/v1/policies", {"name": name, "document": document})
    assert r.status_code == 201, r.text
    p = r.json()
    assert set(p) >= {"name", "id", "created", "attachments", "document"}
    assert p["name"] == name and p["attachments"] == 0 and p["document"] == document
    assert admin.ok("GET", f"/v1/policies/{name}")["document"] == document
    assert name in [x["name"] for x in admin.ok("GET", "/v1/policies")]
    assert admin.error("POST", "/v1/policies", {"name": name, "document": document}) == (409, "EntityAlreadyExists")
    assert admin.error("GET", f"/v1/policies/{name}-nope") == (404, "NoSuchPolicy")
    for bad in [
        {"Statement": [{"Effect": "Allow", "Resource": "*"}]},  # no action
        {"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]},
        {"Version": "2012-10-17", "Statement": "nope"},
        "not a policy",
    ]:
        assert admin.error("POST", "/v1/policies", {"name": uid("bad"), "document": bad}) == (
            400,
            "MalformedPolicy",
        ), bad
    assert admin.error("POST", "/v1/policies", {"name": uid("bad")}) == (400, "InvalidRequest")

    user, _ = create_user(admin)
    admin.ok("PUT", f"/v1/users/{user}/policies/{name}", expect=204)
    assert admin.ok("GET", f"/v1/policies/{name}")["attachments"] == 1
    assert admin.ok("GET", f"/v1/users/{user}")["policies"] == [name]
    assert admin.error("DELETE", f"/v1/policies/{name}") == (409, "DeleteConflict")
    assert admin.error("PUT", f"/v1/users/{user}/policies/{name}-nope") == (404, "NoSuchPolicy")
    admin.ok("DELETE", f"/v1/users/{user}/policies/{name}", expect=204)
    assert admin.ok("GET", f"/v1/users/{user}")["policies"] == []
    admin.ok("DELETE", f"/v1/policies/{name}", expect=204)
    assert admin.error("GET", f"/v1/policies/{name}") == (404, "NoSuchPolicy")


def test_attached_policies_take_effect_on_s3(hafiz, admin, s3):
    b = uid("pol-effect")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="doc.txt", Body=b"readable")
    read_only = create_policy(admin, {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"})
    name, key = create_user(admin)
    user = s3_once(hafiz, key)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user.get_object(Bucket=b, Key="doc.txt")
    assert code_of(e) == "AccessDenied"

    admin.ok("PUT", f"/v1/users/{name}/policies/{read_only}", expect=204)
    assert user.get_object(Bucket=b, Key="doc.txt")["Body"].read() == b"readable"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user.put_object(Bucket=b, Key="new.txt", Body=b"no")
    assert code_of(e) == "AccessDenied"
    admin.ok("DELETE", f"/v1/users/{name}/policies/{read_only}", expect=204)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user.get_object(Bucket=b, Key="doc.txt")
    assert code_of(e) == "AccessDenied"

    # Through a group: a write policy on the group adds PutObject.
    g = uid("writers")
    writer = create_policy(admin, {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"})
    admin.ok("POST", "/v1/groups", {"name": g}, expect=201)
    admin.ok("PUT", f"/v1/groups/{g}/policies/{writer}", expect=204)
    assert admin.ok("GET", f"/v1/groups/{g}")["policies"] == [writer]
    admin.ok("PUT", f"/v1/groups/{g}/members/{name}", expect=204)
    user.put_object(Bucket=b, Key="new.txt", Body=b"yes")
    assert s3.get_object(Bucket=b, Key="new.txt")["Body"].read() == b"yes"
    assert admin.error("DELETE", f"/v1/policies/{writer}") == (409, "DeleteConflict")
    admin.ok("DELETE", f"/v1/groups/{g}/policies/{writer}", expect=204)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user.put_object(Bucket=b, Key="new2.txt", Body=b"no")
    assert code_of(e) == "AccessDenied"
    admin.ok("DELETE", f"/v1/policies/{writer}", expect=204)


# --------------------------------------------------------------------------
# Buckets
# --------------------------------------------------------------------------


def test_buckets_create_versioning_and_delete(hafiz, admin, s3):
    b = uid("admb")
    r = admin.request("POST", "/v1/buckets", {"name": b, "versioning": True})
    assert r.status_code == 201, r.text
    info = r.json()
    assert set(info) >= {"name", "account", "created", "versioning", "object_lock", "usage", "quota"}
    assert info["name"] == b and info["account"] == "" and info["versioning"] == "Enabled"
    assert info["object_lock"] is False and info["quota"] is None
    assert info["usage"] == {"bytes": 0, "objects": 0, "multipart_bytes": 0}
    s3.head_bucket(Bucket=b)
    assert b in [x["Name"] for x in s3.list_buckets()["Buckets"]]
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    assert b in [x["name"] for x in admin.ok("GET", "/v1/buckets")]

    out = admin.ok("PUT", f"/v1/buckets/{b}/versioning", {"status": "Suspended"})
    assert out["versioning"] == "Suspended"
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Suspended"
    assert admin.error("PUT", f"/v1/buckets/{b}/versioning", {"status": "Off"}) == (400, "InvalidRequest")
    assert admin.error("POST", "/v1/buckets", {"name": b}) == (409, "BucketAlreadyExists")
    assert admin.error("POST", "/v1/buckets", {"name": "Bad_Name"}) == (400, "InvalidRequest")
    assert admin.error("GET", f"/v1/buckets/{b}-nope") == (404, "NoSuchBucket")
    assert admin.error("PUT", f"/v1/buckets/{b}-nope/versioning", {"status": "Enabled"}) == (404, "NoSuchBucket")

    plain = uid("admb")
    assert admin.ok("POST", "/v1/buckets", {"name": plain}, expect=201)["versioning"] is None
    assert "Status" not in s3.get_bucket_versioning(Bucket=plain)
    locked = uid("admb")
    lk = admin.ok("POST", "/v1/buckets", {"name": locked, "object_lock": True}, expect=201)
    assert lk["object_lock"] is True and lk["versioning"] == "Enabled"
    assert s3.get_object_lock_configuration(Bucket=locked)["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    # Versioning stays on under object lock.
    assert admin.error("PUT", f"/v1/buckets/{locked}/versioning", {"status": "Suspended"}) == (400, "InvalidRequest")
    assert admin.ok("GET", f"/v1/buckets/{locked}")["versioning"] == "Enabled"

    s3.put_object(Bucket=plain, Key="x", Body=b"12345")
    got = admin.ok("GET", f"/v1/buckets/{plain}")
    assert got["usage"] == {"bytes": 5, "objects": 1, "multipart_bytes": 0}
    assert admin.error("DELETE", f"/v1/buckets/{plain}") == (409, "BucketNotEmpty")
    s3.head_object(Bucket=plain, Key="x")
    s3.delete_object(Bucket=plain, Key="x")
    assert admin.ok("GET", f"/v1/buckets/{plain}")["usage"] == {"bytes": 0, "objects": 0, "multipart_bytes": 0}
    admin.ok("DELETE", f"/v1/buckets/{plain}", expect=204)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_bucket(Bucket=plain)
    assert status_of(e) == 404
    assert admin.error("DELETE", f"/v1/buckets/{plain}") == (404, "NoSuchBucket")


def test_bucket_policy_via_admin_governs_anonymous_reads(hafiz, admin, s3):
    b = uid("admpol")
    admin.ok("POST", "/v1/buckets", {"name": b}, expect=201)
    s3.put_object(Bucket=b, Key="pub/a.txt", Body=b"hello")
    url = f"{hafiz.endpoint}/{b}/pub/a.txt"
    assert requests.get(url, timeout=10).status_code == 403
    assert admin.error("GET", f"/v1/buckets/{b}/policy") == (404, "NoSuchBucketPolicy")
    policy = doc(
        {
            "Sid": "PublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{b}/pub/*",
        }
    )
    r = admin.request("PUT", f"/v1/buckets/{b}/policy", policy)
    assert r.status_code == 204, r.text
    assert admin.ok("GET", f"/v1/buckets/{b}/policy") == policy
    assert json.loads(s3.get_bucket_policy(Bucket=b)["Policy"]) == policy
    r = requests.get(url, timeout=10)
    assert r.status_code == 200 and r.content == b"hello"
    assert requests.put(f"{hafiz.endpoint}/{b}/pub/b.txt", data=b"x", timeout=10).status_code == 403
    # Invalid documents are refused and the old one stays.
    for bad in [
        doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other/*"}),
        doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*"}),
    ]:
        assert admin.error("PUT", f"/v1/buckets/{b}/policy", bad) == (400, "MalformedPolicy")
    assert admin.ok("GET", f"/v1/buckets/{b}/policy") == policy
    admin.ok("DELETE", f"/v1/buckets/{b}/policy", expect=204)
    assert requests.get(url, timeout=10).status_code == 403
    assert admin.error("GET", f"/v1/buckets/{b}/policy") == (404, "NoSuchBucketPolicy")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_policy(Bucket=b)
    assert code_of(e) == "NoSuchBucketPolicy"
    assert admin.error("PUT", f"/v1/buckets/{b}-nope/policy", policy) == (404, "NoSuchBucket")


# --------------------------------------------------------------------------
# Server info, cluster status and healing
# --------------------------------------------------------------------------


def test_info_and_cluster(hafiz, admin, s3):
    b = uid("info")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"x" * 1234)
    info = admin.ok("GET", "/v1/info")
    assert set(info) >= {
        "version", "region", "s3_address", "admin_address", "uptime_seconds",
        "buckets", "objects", "bytes", "drives",
    }
    assert info["version"] and info["region"] == REGION
    assert info["s3_address"].endswith(f":{hafiz.port}")
    assert info["admin_address"].endswith(f":{hafiz.admin_port}")
    assert isinstance(info["uptime_seconds"], int) and info["uptime_seconds"] >= 0
    assert info["buckets"] == len(admin.ok("GET", "/v1/buckets")) >= 1
    assert info["objects"] >= 1 and info["bytes"] >= 1234
    total = sum(x["usage"]["bytes"] for x in admin.ok("GET", "/v1/buckets"))
    assert info["bytes"] == total
    assert info["drives"] == {"total": max(TEST_DRIVES, 1), "online": max(TEST_DRIVES, 1)}

    cluster = admin.ok("GET", "/v1/cluster")
    assert len(cluster["nodes"]) >= 1
    node = cluster["nodes"][0]
    assert set(node) >= {"id", "address", "state", "drives"}
    drives = [d for n in cluster["nodes"] for d in n["drives"]]
    assert len(drives) == info["drives"]["total"]
    for d in drives:
        assert set(d) >= {"set", "slot", "path", "state", "free_bytes"}
        assert d["state"] == "online" and d["path"]
        assert d["free_bytes"] is None or d["free_bytes"] > 0
    assert len({(d["set"], d["slot"]) for d in drives}) == len(drives)


def wait_heal(admin, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        st = admin.ok("GET", "/v1/heal")
        if st["state"] != "running" or time.monotonic() > deadline:
            return st
        time.sleep(0.1)


def test_heal_runs_in_the_background_and_reports(admin, s3):
    b = uid("heal")
    s3.create_bucket(Bucket=b)
    big = 300 * 1024
    for i in range(3):
        s3.put_object(Bucket=b, Key=f"big-{i}", Body=bytes([i]) * big)
    s3.put_object(Bucket=b, Key="small", Body=b"tiny")
    assert admin.error("POST", "/v1/heal", {"bucket": b + "-nope"}) == (404, "NoSuchBucket")
    r = admin.request("POST", "/v1/heal", {"bucket": b})
    assert r.status_code == 202, r.text
    started = r.json()
    assert set(started) >= {"state", "bucket", "dry_run", "checked", "damaged", "rebuilt", "failed", "started", "finished"}
    assert started["state"] in ("running", "done") and started["bucket"] == b and started["dry_run"] is False
    st = wait_heal(admin)
    assert st["state"] == "done", st
    assert st["bucket"] == b
    assert st["checked"] >= 3, st
    assert st["damaged"] == 0 and st["failed"] == 0, st
    assert RFC3339.match(st["started"]) and RFC3339.match(st["finished"]), st
    # A dry run over everything.
    r = admin.request("POST", "/v1/heal", {"dry_run": True})
    assert r.status_code == 202, r.text
    st = wait_heal(admin)
    assert st["state"] == "done" and st["dry_run"] is True and st["bucket"] is None, st
    assert st["checked"] >= 3
    for i in range(3):
        assert s3.get_object(Bucket=b, Key=f"big-{i}")["Body"].read() == bytes([i]) * big


def test_heal_rebuilds_lost_shards_on_a_multi_drive_node(server_factory):
    base = server_factory.new_data_dir()
    node = server_factory.start(data=[f"{base}/drive{{1...4}}"])
    admin = root_admin(node)
    s3 = node.client()
    b = uid("heal4")
    s3.create_bucket(Bucket=b)
    bodies = {f"big-{i}": bytes([i + 1]) * (300 * 1024 + i) for i in range(3)}
    for k, v in bodies.items():
        s3.put_object(Bucket=b, Key=k, Body=v)
    info = admin.ok("GET", "/v1/info")
    assert info["drives"] == {"total": 4, "online": 4}
    drive1 = base / "drive1"
    lost = [p for p in drive1.glob("shards/*/*") if p.is_file()]
    assert len(lost) >= 3, lost
    for p in lost:
        p.unlink()
    assert admin.request("POST", "/v1/heal", {"dry_run": True}).status_code == 202
    st = wait_heal(admin)
    assert st["state"] == "done" and st["checked"] >= 3 and st["damaged"] >= 3 and st["rebuilt"] == 0, st
    assert not any(p.exists() for p in lost)  # a dry run writes nothing
    assert admin.request("POST", "/v1/heal", {}).status_code == 202
    st = wait_heal(admin)
    assert st["state"] == "done" and st["damaged"] >= 3 and st["rebuilt"] >= 3 and st["failed"] == 0, st
    assert all(p.exists() for p in lost)
    for k, v in bodies.items():
        assert s3.get_object(Bucket=b, Key=k)["Body"].read() == v
    assert node.stop() == 0
