"""The audit log: a scripted session against a server started with --audit-dir,
then its records matched field by field, and no secret anywhere in the logs."""

from __future__ import annotations

import json
import time
import uuid

import botocore.exceptions
import pytest
import requests

from test_iam import iam_client, new_user, policy, s3_for


def read_records(audit_dir):
    out = []
    for f in sorted(audit_dir.glob("audit*.log")):
        out += [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    return out


def test_audit_records_of_a_session(server_factory, tmp_path):
    audit_dir = tmp_path / "audit"
    server = server_factory.start(
        extra_args=["--audit-dir", str(audit_dir), "--audit-mask-metadata", "ssn"]
    )
    s3 = server.client()
    iam = iam_client(server)
    b = f"audit-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="doc.txt", Body=b"x" * 1234, Metadata={"ssn": "123-45-6789"})
    assert s3.get_object(Bucket=b, Key="doc.txt")["Body"].read() == b"x" * 1234
    with pytest.raises(botocore.exceptions.ClientError):
        s3.get_object(Bucket=b, Key="missing")
    name, key = new_user(iam, policy({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}))
    user = s3_for(server, key)
    user.list_objects_v2(Bucket=b, Prefix="d")
    with pytest.raises(botocore.exceptions.ClientError):
        user.delete_object(Bucket=b, Key="doc.txt")
    presigned = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "doc.txt"})
    assert requests.get(presigned, timeout=10).status_code == 200
    assert requests.get(f"{server.endpoint}/{b}/doc.txt", timeout=10).status_code == 403
    assert server.stop() == 0

    records = read_records(audit_dir)
    by_name = {}
    for r in records:
        by_name.setdefault(r["eventName"], []).append(r)
    put = by_name["PutObject"][0]
    assert put["requestParameters"]["metadata"] == {"ssn": "***"}
    assert put["eventVersion"] == "1.09" and put["eventType"] == "AwsApiCall"
    assert put["eventSource"] == "s3.amazonaws.com" and put["awsRegion"] == "us-east-1"
    assert put["sourceIPAddress"] == "127.0.0.1" and "Boto3" in put["userAgent"]
    assert put["userIdentity"]["type"] == "Root"
    assert put["requestParameters"]["bucketName"] == b and put["requestParameters"]["key"] == "doc.txt"
    assert put["additionalEventData"]["bytesTransferredIn"] == 1234
    assert put["additionalEventData"]["httpStatus"] == 200
    assert {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{b}/doc.txt"} in put["resources"]
    assert put["errorCode"] is None and len(put["requestID"]) == 16 and put["eventID"]
    get = [r for r in by_name["GetObject"] if r["requestParameters"].get("key") == "doc.txt"][0]
    assert get["additionalEventData"]["bytesTransferredOut"] == 1234
    missing = [r for r in by_name["GetObject"] if r["requestParameters"].get("key") == "missing"][0]
    assert missing["errorCode"] == "NoSuchKey" and missing["additionalEventData"]["httpStatus"] == 404
    listing = by_name["ListObjectsV2"][0]
    assert listing["userIdentity"]["type"] == "IAMUser"
    assert listing["userIdentity"]["userName"] == name
    assert listing["userIdentity"]["accessKeyId"] == key["AccessKeyId"]
    assert listing["requestParameters"]["prefix"] == "d"
    denied = by_name["DeleteObject"][0]
    assert denied["errorCode"] == "AccessDenied" and denied["userIdentity"]["userName"] == name
    create_user = by_name["CreateUser"][0]
    assert create_user["eventSource"] == "iam.amazonaws.com"
    assert create_user["requestParameters"] == {}  # the form body is not recorded
    anonymous = [r for r in by_name["GetObject"] if r["userIdentity"]["type"] == "AnonymousUser"]
    assert anonymous and anonymous[0]["errorCode"] == "AccessDenied"
    assert len({r["eventID"] for r in records}) == len(records)

    # No secret, signature or masked metadata value in any log the server wrote.
    text = "".join(f.read_text() for f in audit_dir.iterdir()) + server.log()
    for secret in (server.secret_key, key["SecretAccessKey"], "123-45-6789", "X-Amz-Signature", "Signature="):
        assert secret not in text, secret


def test_audit_log_rotates_by_size(server_factory, tmp_path):
    audit_dir = tmp_path / "audit"
    server = server_factory.start(
        extra_args=["--audit-dir", str(audit_dir), "--audit-max-bytes", "2000"]
    )
    s3 = server.client()
    b = f"rot-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=b)
    for i in range(20):
        s3.put_object(Bucket=b, Key=f"k{i}", Body=b"v")
    time.sleep(0.5)
    assert server.stop() == 0
    rotated = list(audit_dir.glob("audit-*.log"))
    assert rotated, list(audit_dir.iterdir())
    names = [r["eventName"] for r in read_records(audit_dir)]
    assert names.count("PutObject") == 20


def test_admin_requests_are_audited_without_secrets(server_factory, tmp_path):
    from admin_client import AdminClient

    audit_dir = tmp_path / "audit"
    server = server_factory.start(extra_args=["--audit-dir", str(audit_dir)])
    admin = AdminClient(server.admin_endpoint, server.access_key, server.secret_key)
    admin.ok("POST", "/v1/users", {"name": "audited"})
    key = admin.ok("POST", "/v1/users/audited/keys")
    denied = AdminClient(server.admin_endpoint, key["access_key_id"], key["secret_key"])
    assert denied.error("GET", "/v1/users") == (403, "AccessDenied")
    bad = AdminClient(server.admin_endpoint, server.access_key, "wrong-secret")
    assert bad.error("GET", "/v1/info")[0] == 403
    deadline = time.time() + 10
    while True:
        admin_records = [r for r in read_records(audit_dir) if r["eventSource"] == "hafiz-admin"]
        if len(admin_records) >= 4 or time.time() > deadline:
            break
        time.sleep(0.2)
    by_name = {(r["eventName"], r["requestParameters"]["path"]): r for r in admin_records}
    create = by_name[("CreateUser", "/v1/users")]
    assert create["userIdentity"]["type"] == "Root" and create["errorCode"] is None
    assert create["additionalEventData"]["httpStatus"] == 201
    assert create["requestParameters"]["method"] == "POST"
    made = by_name[("CreateAccessKey", "/v1/users/audited/keys")]
    assert made["additionalEventData"]["httpStatus"] == 201
    refused = by_name[("ListUsers", "/v1/users")]
    assert refused["errorCode"] == "AccessDenied"
    assert refused["userIdentity"]["type"] == "IAMUser"
    assert refused["userIdentity"]["accessKeyId"] == key["access_key_id"]
    unsigned = by_name[("Unknown", "/v1/info")]
    assert unsigned["errorCode"] == "SignatureDoesNotMatch"
    assert unsigned["userIdentity"]["type"] == "AnonymousUser"
    every_log = "".join(p.read_text() for p in audit_dir.iterdir()) + server.log()
    for secret in (key["secret_key"], server.secret_key):
        assert secret not in every_log


def test_a_tenant_users_records_carry_its_account(server_factory, tmp_path):
    from admin_client import AdminClient

    audit_dir = tmp_path / "audit"
    server = server_factory.start(extra_args=["--audit-dir", str(audit_dir)])
    admin = AdminClient(server.admin_endpoint, server.access_key, server.secret_key)
    account = admin.ok("POST", "/v1/accounts", {"name": "acme"})
    admin.ok("POST", "/v1/users", {"name": "wile", "account": "acme"})
    key = admin.ok("POST", "/v1/users/wile/keys")
    s3 = s3_for(server, {"AccessKeyId": key["access_key_id"], "SecretAccessKey": key["secret_key"]})
    with pytest.raises(botocore.exceptions.ClientError):
        s3.list_buckets()  # no policy: denied, and still recorded
    deadline = time.time() + 10
    while True:
        mine = [r for r in read_records(audit_dir) if r["userIdentity"].get("userName") == "wile"]
        if mine or time.time() > deadline:
            break
        time.sleep(0.2)
    assert mine, "no record of the tenant's request"
    who = mine[0]["userIdentity"]
    assert who["accountId"] == account["id"]
    assert who["arn"] == f"arn:aws:iam::{account['id']}:user/wile"
