"""POST Object (browser-based uploads with a signed POST policy) against the real
binary: policies built and signed here (SigV4 and SigV2, as a web backend would),
sent with `requests` as a browser form; boto3's own `generate_presigned_post`; the
answers AWS gives (204/200/201/303), the object's attributes from the fields, policy
conditions, size ranges, expiry, extra fields, signatures and keys, anonymous uploads,
SSE via fields, a 20 MiB file, STS session tokens, IAM permissions, CORS headers and
virtual-host addressing."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import xml.etree.ElementTree as ET

import boto3
import botocore
import pytest
import requests
from botocore.config import Config

from conftest import REGION, make_client, seeded_body, unique_bucket_name


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _policy_b64(conditions: list, expires_in: int = 600) -> str:
    doc = {
        "expiration": (_now() + datetime.timedelta(seconds=expires_in)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "conditions": conditions,
    }
    return base64.b64encode(json.dumps(doc).encode()).decode()


def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def v4_form(access_key: str, secret_key: str, conditions: list, fields: dict, *, expires_in: int = 600,
            token: str | None = None, policy_b64: str | None = None, region: str = REGION) -> dict:
    """The fields of a SigV4-signed form: `fields` plus the signing fields, with
    conditions for the signing fields added to `conditions`."""
    now = _now()
    date = now.strftime("%Y%m%d")
    credential = f"{access_key}/{date}/{region}/s3/aws4_request"
    sig_fields = {
        "x-amz-algorithm": "AWS4-HMAC-SHA256",
        "x-amz-credential": credential,
        "x-amz-date": now.strftime("%Y%m%dT%H%M%SZ"),
    }
    if token:
        sig_fields["x-amz-security-token"] = token
    conds = list(conditions) + [{k: v} for k, v in sig_fields.items()]
    policy = policy_b64 if policy_b64 is not None else _policy_b64(conds, expires_in)
    k = _sign(("AWS4" + secret_key).encode(), date)
    k = _sign(k, region)
    k = _sign(k, "s3")
    k = _sign(k, "aws4_request")
    signature = hmac.new(k, policy.encode(), hashlib.sha256).hexdigest()
    return {**fields, **sig_fields, "policy": policy, "x-amz-signature": signature}


def v2_form(access_key: str, secret_key: str, conditions: list, fields: dict, *, expires_in: int = 600) -> dict:
    policy = _policy_b64(conditions, expires_in)
    signature = base64.b64encode(hmac.new(secret_key.encode(), policy.encode(), hashlib.sha1).digest()).decode()
    return {**fields, "AWSAccessKeyId": access_key, "policy": policy, "signature": signature}


def post(url: str, form: dict, file=b"hello", filename: str = "upload.bin", **kw) -> requests.Response:
    """A browser-like form POST: the fields, then the file part last."""
    kw.setdefault("allow_redirects", False)
    kw.setdefault("timeout", 60)
    return requests.post(url, data=form, files={"file": (filename, file)}, **kw)


def error_of(r: requests.Response) -> tuple[str, str]:
    doc = ET.fromstring(r.content)
    return doc.findtext("Code"), doc.findtext("Message")


@pytest.fixture
def url(hafiz, bucket) -> str:
    return f"{hafiz.endpoint}/{bucket}"


@pytest.fixture
def form(hafiz, bucket):
    """form(fields, extra_conditions=[]) -> signed SigV4 fields covering `fields` exactly."""

    def make(fields: dict, conditions: list | None = None, **kw) -> dict:
        conds = [{"bucket": bucket}] + [{k: v} for k, v in fields.items()] if conditions is None else conditions
        return v4_form(hafiz.access_key, hafiz.secret_key, conds, fields, **kw)

    return make


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


# --- success answers -------------------------------------------------------------------


def test_sigv4_upload_sets_the_objects_attributes_and_answers_204(hafiz, s3, bucket, url, form):
    tagging = "<Tagging><TagSet><Tag><Key>team</Key><Value>blue sky</Value></Tag></TagSet></Tagging>"
    fields = {
        "key": "docs/a.txt",
        "Content-Type": "text/plain",
        "Cache-Control": "max-age=60",
        "Content-Disposition": 'attachment; filename="a.txt"',
        "x-amz-meta-color": "green",
        "tagging": tagging,
        "acl": "public-read",
    }
    r = post(url, form(fields), b"hello world")
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert r.headers["ETag"] == f'"{md5(b"hello world")}"'
    assert r.headers["Location"] == f"{url}/docs/a.txt"
    got = s3.get_object(Bucket=bucket, Key="docs/a.txt")
    assert got["Body"].read() == b"hello world"
    assert got["ContentType"] == "text/plain"
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == 'attachment; filename="a.txt"'
    assert got["Metadata"] == {"color": "green"}
    assert s3.get_object_tagging(Bucket=bucket, Key="docs/a.txt")["TagSet"] == [{"Key": "team", "Value": "blue sky"}]
    # acl=public-read: anyone may read it.
    anon = requests.get(f"{url}/docs/a.txt", timeout=30)
    assert anon.status_code == 200 and anon.content == b"hello world"


def test_success_action_status(hafiz, s3, bucket, url, form):
    r = post(url, form({"key": "s201", "success_action_status": "201"}), b"x")
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"] == "application/xml"
    doc = ET.fromstring(r.content)
    assert doc.tag == "PostResponse"
    assert doc.findtext("Bucket") == bucket
    assert doc.findtext("Key") == "s201"
    assert doc.findtext("ETag") == f'"{md5(b"x")}"'
    assert doc.findtext("Location") == f"{url}/s201"
    r = post(url, form({"key": "s200", "success_action_status": "200"}), b"x")
    assert r.status_code == 200 and r.content == b""
    # Anything else is the default 204 (ceph s3-tests test_post_object_set_invalid_success_code).
    r = post(url, form({"key": "s404", "success_action_status": "404"}), b"x")
    assert r.status_code == 204 and r.content == b""
    assert s3.head_object(Bucket=bucket, Key="s404")["ContentLength"] == 1


def test_success_action_redirect(hafiz, s3, bucket, url, form):
    target = "https://app.example/done?from=upload"
    r = post(url, form({"key": "r/1 2.txt", "success_action_redirect": target}), b"abc")
    assert r.status_code == 303, r.text
    etag = s3.head_object(Bucket=bucket, Key="r/1 2.txt")["ETag"].strip('"')
    assert r.headers["Location"] == f"{target}&bucket={bucket}&key=r%2F1%202.txt&etag=%22{etag}%22"
    # ceph s3-tests' form: the redirect (to the bucket itself) followed by requests.
    r = post(url, form({"key": "r2", "success_action_redirect": url}), b"abc", allow_redirects=True)
    assert [h.status_code for h in r.history] == [303]
    etag = s3.head_object(Bucket=bucket, Key="r2")["ETag"].strip('"')
    assert r.url == f"{url}?bucket={bucket}&key=r2&etag=%22{etag}%22"
    # An invalid URL is ignored: the default answer.
    r = post(url, form({"key": "r3", "success_action_redirect": "not a url"}), b"abc")
    assert r.status_code == 204


def test_versioned_bucket_answers_the_version_id(s3, bucket, url, form):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    r = post(url, form({"key": "v"}), b"one")
    assert r.status_code == 204
    vid = r.headers["x-amz-version-id"]
    assert s3.head_object(Bucket=bucket, Key="v")["VersionId"] == vid
    s3.delete_object(Bucket=bucket, Key="v", VersionId=vid)


def test_key_from_filename_and_starts_with_conditions(hafiz, s3, bucket, url):
    conds = [{"bucket": bucket}, ["starts-with", "$key", "user/eric/"], ["starts-with", "$Content-Type", "image/"]]
    fields = {"key": "user/eric/${filename}", "Content-Type": "image/png"}
    r = post(url, v4_form(hafiz.access_key, hafiz.secret_key, conds, fields), b"png", filename="photo.png")
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=bucket, Key="user/eric/photo.png")["Body"].read() == b"png"
    # A key outside the prefix, a type outside it.
    r = post(url, v4_form(hafiz.access_key, hafiz.secret_key, conds, {**fields, "key": "user/bob/x"}), b"png")
    assert r.status_code == 403
    assert error_of(r) == ("AccessDenied", 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "user/eric/"]')
    r = post(url, v4_form(hafiz.access_key, hafiz.secret_key, conds, {**fields, "Content-Type": "text/html"}), b"png")
    assert r.status_code == 403 and "Policy Condition failed" in error_of(r)[1]
    # "" matches anything.
    anything = [{"bucket": bucket}, ["starts-with", "$key", ""], ["starts-with", "$x-amz-meta-note", ""]]
    r = post(url, v4_form(hafiz.access_key, hafiz.secret_key, anything, {"key": "free/form", "x-amz-meta-note": "hi"}), b"z")
    assert r.status_code == 204, r.text
    # An eq condition fails on another value.
    eq = [{"bucket": bucket}, ["eq", "$key", "exact"]]
    r = post(url, v4_form(hafiz.access_key, hafiz.secret_key, eq, {"key": "inexact"}), b"z")
    assert r.status_code == 403


def test_content_length_range(hafiz, s3, bucket, url):
    conds = [{"bucket": bucket}, ["starts-with", "$key", ""], ["content-length-range", 5, 10]]
    sign = lambda key: v4_form(hafiz.access_key, hafiz.secret_key, conds, {"key": key})  # noqa: E731
    r = post(url, sign("small"), b"1234")
    assert r.status_code == 400 and error_of(r)[0] == "EntityTooSmall"
    r = post(url, sign("large"), b"12345678901")
    assert r.status_code == 400 and error_of(r)[0] == "EntityTooLarge"
    for k in ("small", "large"):
        with pytest.raises(botocore.exceptions.ClientError):
            s3.head_object(Bucket=bucket, Key=k)
    for size in (5, 10):
        r = post(url, sign(f"ok{size}"), b"x" * size)
        assert r.status_code == 204, r.text


# --- policy refusals -------------------------------------------------------------------


def test_expired_policy(hafiz, bucket, url, form):
    r = post(url, form({"key": "late"}, expires_in=-60), b"x")
    assert r.status_code == 403
    assert error_of(r) == ("AccessDenied", "Invalid according to Policy: Policy expired.")


def test_fields_not_in_the_policy(hafiz, bucket, url):
    conds = [{"bucket": bucket}, {"key": "k"}]
    fields = {"key": "k", "x-amz-meta-extra": "1"}
    r = post(url, v4_form(hafiz.access_key, hafiz.secret_key, conds, fields), b"x")
    assert r.status_code == 403
    assert error_of(r) == ("AccessDenied", "Invalid according to Policy: Extra input fields: x-amz-meta-extra")
    # Without a bucket condition the bucket itself is such a field (ceph s3-tests
    # test_post_object_missing_policy_condition).
    r = post(url, v4_form(hafiz.access_key, hafiz.secret_key, [{"key": "k"}], {"key": "k"}), b"x")
    assert r.status_code == 403 and error_of(r)[1].endswith("Extra input fields: bucket")
    # x-ignore-* fields need no condition.
    r = post(url, v4_form(hafiz.access_key, hafiz.secret_key, conds, {"key": "k", "x-ignore-note": "1"}), b"x")
    assert r.status_code == 204, r.text


def test_malformed_policies(hafiz, bucket, url):
    exp = (_now() + datetime.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    b64 = lambda doc: base64.b64encode(json.dumps(doc).encode()).decode()  # noqa: E731
    for policy in [
        "%%% not base64 %%%",
        base64.b64encode(b"{not json").decode(),
        b64({"conditions": [{"bucket": bucket}]}),  # no expiration
        b64({"EXPIRATION": exp, "conditions": [{"bucket": bucket}]}),  # keys are case-sensitive
        b64({"expiration": exp}),  # no conditions
        b64({"expiration": "2030-01-01 00:00:00+00:00", "conditions": [{"bucket": bucket}]}),
        b64({"expiration": exp, "conditions": [{}]}),
        b64({"expiration": exp, "conditions": [["content-length-range", 0]]}),
        b64({"expiration": exp, "conditions": [["content-length-range", -1, 0]]}),
    ]:
        r = post(url, v4_form(hafiz.access_key, hafiz.secret_key, [], {"key": "k"}, policy_b64=policy), b"x")
        assert r.status_code == 400, (policy, r.text)
        assert error_of(r)[0] == "InvalidPolicyDocument", policy


def test_missing_fields(hafiz, bucket, url, form):
    r = post(url, form({"Content-Type": "text/plain"}), b"x")
    assert r.status_code == 400
    assert error_of(r) == (
        "InvalidArgument",
        "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
    )
    # No file part at all.
    r = requests.post(url, files={"key": (None, "k")}, timeout=30)
    assert r.status_code == 400
    assert error_of(r) == ("InvalidArgument", "POST requires exactly one file upload per request.")
    # A signature without its access key, a policy without a signature.
    fields = form({"key": "k"})
    del fields["x-amz-credential"]
    r = post(url, fields, b"x")
    assert r.status_code == 400 and "'x-amz-credential'" in error_of(r)[1]
    v2 = v2_form(hafiz.access_key, hafiz.secret_key, [{"bucket": bucket}, {"key": "k"}], {"key": "k"})
    del v2["signature"]
    r = post(url, v2, b"x")
    assert r.status_code == 400 and "'signature'" in error_of(r)[1]
    # Not multipart at all: no such POST.
    r = requests.post(url, data=b"x", headers={"Content-Type": "multipart/form-data; nope"}, timeout=30)
    assert r.status_code == 400 and error_of(r)[0] == "MalformedPOSTRequest"


def test_fields_before_the_file_are_limited_to_20_kib(hafiz, bucket, url, form):
    fields = form({"key": "k"})
    fields["x-ignore-padding"] = "p" * (21 * 1024)
    r = post(url, fields, b"x")
    assert r.status_code == 400 and error_of(r)[0] == "MaxPostPreDataLengthExceededError"


def test_fields_after_the_file_are_ignored(hafiz, s3, bucket, url, form):
    fields = form({"key": "after"})
    parts = [(k, (None, v)) for k, v in fields.items()]
    parts += [("file", ("f.txt", b"data")), ("x-amz-meta-late", (None, "1"))]
    r = requests.post(url, files=parts, timeout=30)
    assert r.status_code == 204, r.text
    assert s3.head_object(Bucket=bucket, Key="after")["Metadata"] == {}


def test_field_names_are_case_insensitive(hafiz, s3, bucket, url):
    conds = [{"bUcKeT": bucket}, ["StArTs-WiTh", "$KeY", "ci/"], {"AcL": "private"}, ["starts-with", "$CoNtEnT-TyPe", "text/"]]
    form = v4_form(hafiz.access_key, hafiz.secret_key, conds, {"kEy": "ci/x", "aCl": "private", "Content-Type": "text/plain"})
    form["pOLICy"] = form.pop("policy")
    form["X-Amz-Signature"] = form.pop("x-amz-signature")
    r = post(url, form, b"x")
    assert r.status_code == 204, r.text
    assert s3.head_object(Bucket=bucket, Key="ci/x")["ContentType"] == "text/plain"


# --- authentication and authorization ------------------------------------------------


def test_signature_and_access_key_errors(hafiz, bucket, url):
    conds = [{"bucket": bucket}, {"key": "k"}]
    r = post(url, v4_form(hafiz.access_key, "wrong-secret", conds, {"key": "k"}), b"x")
    assert r.status_code == 403 and error_of(r)[0] == "SignatureDoesNotMatch"
    r = post(url, v4_form("AKNOSUCHKEY000000000", hafiz.secret_key, conds, {"key": "k"}), b"x")
    assert r.status_code == 403 and error_of(r)[0] == "InvalidAccessKeyId"
    r = post(url, v2_form(hafiz.access_key, "wrong-secret", conds, {"key": "k"}), b"x")
    assert r.status_code == 403 and error_of(r)[0] == "SignatureDoesNotMatch"
    r = post(url, v2_form("AKNOSUCHKEY000000000", hafiz.secret_key, conds, {"key": "k"}), b"x")
    assert r.status_code == 403 and error_of(r)[0] == "InvalidAccessKeyId"
    # A credential for another region.
    r = post(url, v4_form(hafiz.access_key, hafiz.secret_key, conds, {"key": "k"}, region="eu-west-1"), b"x")
    assert r.status_code == 400 and error_of(r)[0] == "InvalidArgument"


def test_sigv2_policy(hafiz, s3, bucket, url):
    conds = [{"bucket": bucket}, ["starts-with", "$key", "v2/"], {"acl": "private"}, ["content-length-range", 0, 1024]]
    r = post(url, v2_form(hafiz.access_key, hafiz.secret_key, conds, {"key": "v2/a", "acl": "private"}), b"bar")
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=bucket, Key="v2/a")["Body"].read() == b"bar"


def test_anonymous_uploads_need_public_write(hafiz, s3, bucket, url):
    r = post(url, {"key": "anon"}, b"x")
    assert r.status_code == 403 and error_of(r)[0] == "AccessDenied"
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
                       "Resource": f"arn:aws:s3:::{bucket}/public/*"}],
    }))
    r = post(url, {"key": "anon"}, b"x")
    assert r.status_code == 403
    r = post(url, {"key": "public/anon", "Content-Type": "text/plain"}, b"anonymous")
    assert r.status_code == 204, r.text
    got = s3.get_object(Bucket=bucket, Key="public/anon")
    assert got["Body"].read() == b"anonymous" and got["ContentType"] == "text/plain"


def test_ceph_style_form_of_file_parts_into_a_public_write_bucket(hafiz, s3):
    """ceph s3-tests send every field as a file part (`requests.post(files=...)` gives
    each a filename): only the part named `file` is the file."""
    bucket = unique_bucket_name("pw")
    s3.create_bucket(Bucket=bucket, ACL="public-read-write")
    payload = [("key", "foo.txt"), ("acl", "public-read"), ("Content-Type", "text/plain"), ("file", "bar")]
    r = requests.post(f"{hafiz.endpoint}/{bucket}", files=payload, timeout=30)
    assert r.status_code == 204, r.text
    got = s3.get_object(Bucket=bucket, Key="foo.txt")
    assert got["Body"].read() == b"bar" and got["ContentType"] == "text/plain"
    s3.delete_object(Bucket=bucket, Key="foo.txt")
    s3.delete_bucket(Bucket=bucket)


def test_iam_permissions_apply(hafiz, s3, bucket, url):
    iam = boto3.session.Session().client(
        "iam", endpoint_url=hafiz.endpoint, region_name=REGION,
        aws_access_key_id=hafiz.access_key, aws_secret_access_key=hafiz.secret_key,
        config=Config(retries={"total_max_attempts": 1}),
    )
    name = unique_bucket_name("post-user")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/mine/*"}],
    }))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    ak, sk = key["AccessKeyId"], key["SecretAccessKey"]
    conds = [{"bucket": bucket}, ["starts-with", "$key", ""]]
    r = post(url, v4_form(ak, sk, conds, {"key": "mine/a"}), b"x")
    assert r.status_code == 204, r.text
    r = post(url, v4_form(ak, sk, conds, {"key": "theirs/a"}), b"x")
    assert r.status_code == 403 and error_of(r)[0] == "AccessDenied"


def test_sts_session_token_field(hafiz, s3, bucket, url):
    sts = boto3.session.Session().client(
        "sts", endpoint_url=hafiz.endpoint, region_name=REGION,
        aws_access_key_id=hafiz.access_key, aws_secret_access_key=hafiz.secret_key,
    )
    creds = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/any", RoleSessionName="post")["Credentials"]
    temp = boto3.session.Session().client(
        "s3", endpoint_url=hafiz.endpoint, region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"], config=Config(s3={"addressing_style": "path"}),
    )
    p = temp.generate_presigned_post(Bucket=bucket, Key="sts/obj")
    assert p["fields"]["x-amz-security-token"] == creds["SessionToken"]
    r = post(p["url"], p["fields"], b"temp")
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=bucket, Key="sts/obj")["Body"].read() == b"temp"
    # The session's key without its token.
    fields = dict(p["fields"])
    del fields["x-amz-security-token"]
    r = post(p["url"], fields, b"temp")
    assert r.status_code == 400 and error_of(r)[0] == "InvalidToken"


# --- boto3's generate_presigned_post ---------------------------------------------------


def test_boto3_generate_presigned_post(s3, bucket):
    p = s3.generate_presigned_post(Bucket=bucket, Key="boto/plain.txt")
    r = post(p["url"], p["fields"], b"from boto3")
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=bucket, Key="boto/plain.txt")["Body"].read() == b"from boto3"

    p = s3.generate_presigned_post(Bucket=bucket, Key="boto/${filename}",
                                   Conditions=[["content-length-range", 1, 10]])
    r = post(p["url"], p["fields"], b"12345", filename="small.txt")
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=bucket, Key="boto/small.txt")["Body"].read() == b"12345"
    r = post(p["url"], p["fields"], b"12345678901", filename="big.txt")
    assert r.status_code == 400 and error_of(r)[0] == "EntityTooLarge"

    p = s3.generate_presigned_post(Bucket=bucket, Key="boto/201", Fields={"success_action_status": "201"},
                                   Conditions=[{"success_action_status": "201"}])
    r = post(p["url"], p["fields"], b"x")
    assert r.status_code == 201 and ET.fromstring(r.content).findtext("Key") == "boto/201"


# --- encryption -----------------------------------------------------------------------


def test_sse_s3_and_sse_c_fields(hafiz, s3, bucket, url, form):
    r = post(url, form({"key": "enc/s3", "x-amz-server-side-encryption": "AES256"}), b"secret one")
    assert r.status_code == 204, r.text
    assert r.headers["x-amz-server-side-encryption"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="enc/s3")
    assert got["ServerSideEncryption"] == "AES256" and got["Body"].read() == b"secret one"

    key = bytes(range(32))
    ssec = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(hashlib.md5(key).digest()).decode(),
    }
    r = post(url, form({"key": "enc/c", **ssec}), b"secret two")
    assert r.status_code == 204, r.text
    assert r.headers["x-amz-server-side-encryption-customer-algorithm"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="enc/c", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert got["Body"].read() == b"secret two"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="enc/c")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# --- streaming ------------------------------------------------------------------------


def test_twenty_mib_file_streams_intact(s3, bucket, url, form):
    body = seeded_body("post-20mib", 20 * 1024 * 1024 + 7)
    r = post(url, form({"key": "big"}), body)
    assert r.status_code == 204, r.text
    assert r.headers["ETag"] == f'"{md5(body)}"'
    got = s3.get_object(Bucket=bucket, Key="big")["Body"].read()
    assert len(got) == len(body) and got == body


# --- CORS and addressing --------------------------------------------------------------


def test_cors_headers_on_post_answers(s3, bucket, url, form):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["https://app.example"], "AllowedMethods": ["POST"], "ExposeHeaders": ["ETag"]},
    ]})
    r = post(url, form({"key": "cors"}), b"x", headers={"Origin": "https://app.example"})
    assert r.status_code == 204, r.text
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    # Errors carry them too, so the page's script can read them.
    r = post(url, form({"key": "cors"}, expires_in=-60), b"x", headers={"Origin": "https://app.example"})
    assert r.status_code == 403
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"


def test_virtual_host_style(server_factory):
    server = server_factory.start(extra_args=["--domain", "s3.local"])
    try:
        s3 = server.client()
        bucket = unique_bucket_name("vh")
        s3.create_bucket(Bucket=bucket)
        host = f"{bucket}.s3.local:{server.port}"
        fields = v4_form(server.access_key, server.secret_key, [{"bucket": bucket}, {"key": "vh.txt"}], {"key": "vh.txt"})
        r = post(f"{server.endpoint}/", fields, b"virtual", headers={"Host": host})
        assert r.status_code == 204, r.text
        assert r.headers["Location"] == f"http://{host}/vh.txt"
        assert s3.get_object(Bucket=bucket, Key="vh.txt")["Body"].read() == b"virtual"
    finally:
        server.stop()
