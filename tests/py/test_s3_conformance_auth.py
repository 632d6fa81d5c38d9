"""Header authentication answered as AWS answers it, and SigV2 header signing for
every kind of operation.

The expected codes are those of ceph s3-tests (`test_headers.py`:
`test_object_create_bad_*`, `test_bucket_create_bad_*`, in their SigV2 and SigV4
forms), which run against AWS. SigV4 requests are altered after botocore signed them
(as the boto2 suite did); SigV2 ones before (as the boto3 suite does).
"""

from __future__ import annotations

import http.client
import uuid
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from conftest import empty_and_delete_bucket, error_code, make_client, unique_bucket_name
from s3util import parse_error, sign_request

# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def v4(hafiz):
    return hafiz.client(retries={"total_max_attempts": 1})


@pytest.fixture(scope="module")
def v2(hafiz):
    return hafiz.client(signature_version="s3", retries={"total_max_attempts": 1})


def _on(client, event: str, operation: str, change) -> str:
    """Register `change(headers)` for one operation; returns the unique id to unregister."""
    uid = uuid.uuid4().hex

    if event == "before-send":
        def handler(request, **_):
            change(request.headers)
    else:
        def handler(params, **_):
            change(params["headers"])

    client.meta.events.register(f"{event}.s3.{operation}", handler, unique_id=uid)
    return uid


def _altered(client, event: str, operation: str, change, call):
    """Run `call()` with the request's headers changed by `change`; returns the
    (code, status) of the ClientError it must raise."""
    uid = _on(client, event, operation, change)
    try:
        with pytest.raises(ClientError) as e:
            call()
        return error_code(e)
    finally:
        client.meta.events.unregister(f"{event}.s3.{operation}", unique_id=uid)


def _succeeds(client, event: str, operation: str, change, call):
    uid = _on(client, event, operation, change)
    try:
        return call()
    finally:
        client.meta.events.unregister(f"{event}.s3.{operation}", unique_id=uid)


def _set(**values):
    def change(headers):
        for name, value in values.items():
            name = name.replace("_", "-")
            if name in headers:
                del headers[name]
            headers[name] = value
    return change


def _remove(*names):
    def change(headers):
        for name in names:
            if name in headers:
                del headers[name]
    return change


def _put(client, bucket):
    return lambda: client.put_object(Bucket=bucket, Key="foo", Body=b"bar")


def _create(client):
    name = unique_bucket_name("auth")
    return lambda: client.create_bucket(Bucket=name)


def _raw(endpoint: str, method: str, path: str, headers: dict[str, str], body: bytes | None = None):
    """One request exactly as given: http.client adds no Content-Length of its own."""
    u = urlsplit(endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body:
            conn.send(body)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _code(body: bytes) -> str:
    return parse_error(body).get("Code", "")


# --------------------------------------------------------------------------
# Authorization header: empty, missing, malformed
# --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", " "])
def test_empty_authorization_is_anonymous(v4, bucket, value):
    # test_object_create_bad_authorization_empty / test_bucket_create_bad_authorization_empty
    change = _set(Authorization=value)
    assert _altered(v4, "before-send", "PutObject", change, _put(v4, bucket)) == ("AccessDenied", 403)
    assert _altered(v4, "before-send", "CreateBucket", change, _create(v4)) == ("AccessDenied", 403)


def test_missing_authorization_is_anonymous(v4, bucket):
    # test_object_create_bad_authorization_none / test_bucket_create_bad_authorization_none
    strip = _remove("Authorization")
    assert _altered(v4, "before-send", "PutObject", strip, _put(v4, bucket)) == ("AccessDenied", 403)
    assert _altered(v4, "before-send", "CreateBucket", strip, _create(v4)) == ("AccessDenied", 403)


@pytest.mark.parametrize("value", ["AWS HAHAHA", "AWS", "AWS :sig", "AWS key:"])
def test_sigv2_malformed_authorization(v2, bucket, value):
    # test_object_create_bad_authorization_invalid_aws2: 400 InvalidArgument
    change = _set(Authorization=value)
    assert _altered(v2, "before-send", "PutObject", change, _put(v2, bucket)) == ("InvalidArgument", 400)
    assert _altered(v2, "before-send", "CreateBucket", change, _create(v2)) == ("InvalidArgument", 400)


def test_sigv2_unknown_access_key(v2, bucket):
    # test_object_create_bad_authorization_incorrect_aws2
    change = _set(Authorization="AWS AKIAIGR7ZNNBHC5BKSUB:FWeDfwojDSdS2Ztmpfeubhd9isU=")
    assert _altered(v2, "before-send", "PutObject", change, _put(v2, bucket)) == ("InvalidAccessKeyId", 403)


@pytest.mark.parametrize(
    "value, expected",
    [
        # test_object_create_bad_authorization_invalid_aws4 (AuthorizationHeaderMalformed or InvalidArgument)
        ("AWS4-HMAC-SHA256 Credential=HAHAHA", ("AuthorizationHeaderMalformed", 400)),
        ("AWS4-HMAC-SHA256 Credential=AKIAIGR7ZNNBHC5BKSUB/20150930/us-east-1/s3/aws4_request,Signature=abc",
         ("AuthorizationHeaderMalformed", 400)),
        ("AWS4-HMAC-SHA256 SignedHeaders=host,Signature=abc", ("AuthorizationHeaderMalformed", 400)),
        ("AWS4-HMAC-SHA256 Credential=AKID/notadate/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=abc",
         ("AuthorizationHeaderMalformed", 400)),
        # test_bucket_create_bad_authorization_invalid_aws4
        ("AWS4 HAHAHA", ("InvalidArgument", 400)),
        ("Bearer abc", ("InvalidArgument", 400)),
    ],
)
def test_sigv4_malformed_authorization(v4, bucket, value, expected):
    change = _set(Authorization=value)
    assert _altered(v4, "before-send", "PutObject", change, _put(v4, bucket)) == expected
    assert _altered(v4, "before-send", "CreateBucket", change, _create(v4)) == expected


def test_sigv4_unknown_access_key(v4, bucket):
    # test_object_create_bad_authorization_incorrect_aws4 (AWS: InvalidAccessKeyId)
    def change(headers):
        auth = headers["Authorization"]
        auth = auth.decode() if isinstance(auth, bytes) else auth
        key = auth.split("Credential=", 1)[1].split("/", 1)[0]
        del headers["Authorization"]
        headers["Authorization"] = auth.replace(key, "AKIAIGR7ZNNBHC5BKSUB")

    assert _altered(v4, "before-send", "PutObject", change, _put(v4, bucket)) == ("InvalidAccessKeyId", 403)


# --------------------------------------------------------------------------
# Request time: Date and X-Amz-Date
# --------------------------------------------------------------------------

SIGV2_DATES = [
    # test_*_create_bad_date_{invalid,empty,before_today,after_today,before_epoch,after_end}_aws2
    ("Bad Date", ("AccessDenied", 403)),
    ("", ("AccessDenied", 403)),
    ("Tue, 07 Jul 2010 21:53:04 GMT", ("RequestTimeTooSkewed", 403)),
    ("Tue, 07 Jul 2030 21:53:04 GMT", ("RequestTimeTooSkewed", 403)),
    ("Tue, 07 Jul 1950 21:53:04 GMT", ("AccessDenied", 403)),
    ("Tue, 07 Jul 9999 21:53:04 GMT", ("RequestTimeTooSkewed", 403)),
]


@pytest.mark.parametrize("value, expected", SIGV2_DATES)
def test_sigv2_bad_amz_date(v2, bucket, value, expected):
    # Set before signing, as the suite does: x-amz-date, even empty, is the time.
    change = _set(x_amz_date=value)
    assert _altered(v2, "before-call", "PutObject", change, _put(v2, bucket)) == expected
    assert _altered(v2, "before-call", "CreateBucket", change, _create(v2)) == expected


@pytest.mark.parametrize("value, expected", [d for d in SIGV2_DATES if d[0]])
def test_sigv2_bad_date_after_signing(v2, bucket, value, expected):
    change = _set(Date=value)
    assert _altered(v2, "before-send", "PutObject", change, _put(v2, bucket)) == expected


def test_sigv2_no_date(v2, bucket):
    # test_object_create_bad_date_none_aws2 / test_bucket_create_bad_date_none_aws2
    change = _remove("Date", "X-Amz-Date")
    assert _altered(v2, "before-send", "PutObject", change, _put(v2, bucket)) == ("AccessDenied", 403)
    assert _altered(v2, "before-send", "CreateBucket", change, _create(v2)) == ("AccessDenied", 403)


SIGV4_AMZ_DATES = [
    # test_*_create_bad_amz_date_{invalid,empty,before_today,after_today,before_epoch,after_end}_aws4
    ("Bad Date", ("AccessDenied", 403)),
    ("", ("AccessDenied", 403)),
    ("20100707T215304Z", ("RequestTimeTooSkewed", 403)),
    ("20300707T215304Z", ("RequestTimeTooSkewed", 403)),
    ("19500707T215304Z", ("AccessDenied", 403)),
    ("99990707T215304Z", ("RequestTimeTooSkewed", 403)),
]


@pytest.mark.parametrize("value, expected", SIGV4_AMZ_DATES)
def test_sigv4_bad_amz_date(v4, bucket, value, expected):
    change = _set(X_Amz_Date=value)
    assert _altered(v4, "before-send", "PutObject", change, _put(v4, bucket)) == expected
    assert _altered(v4, "before-send", "CreateBucket", change, _create(v4)) == expected


def test_sigv4_no_amz_date(v4, bucket):
    # test_object_create_bad_amz_date_none_aws4: no X-Amz-Date and no Date.
    change = _remove("X-Amz-Date", "Date")
    assert _altered(v4, "before-send", "PutObject", change, _put(v4, bucket)) == ("AccessDenied", 403)
    assert _altered(v4, "before-send", "CreateBucket", change, _create(v4)) == ("AccessDenied", 403)


def test_sigv4_amz_date_dropped_falls_back_to_date(v4, bucket):
    # X-Amz-Date was signed: with only Date left, the time is valid but the signature is not.
    from email.utils import formatdate

    def change(headers):
        del headers["X-Amz-Date"]
        headers["Date"] = formatdate(usegmt=True)

    assert _altered(v4, "before-send", "PutObject", change, _put(v4, bucket)) == ("SignatureDoesNotMatch", 403)


@pytest.mark.parametrize(
    "value", ["Bad Date", "", "Tue, 07 Jul 2010 21:53:04 GMT", "Tue, 07 Jul 1950 21:53:04 GMT"]
)
def test_sigv4_date_header_is_ignored_beside_amz_date(v4, bucket, value):
    # test_object_create_bad_date_{invalid,empty,before_today,before_epoch}_aws4: succeed.
    _succeeds(v4, "before-send", "PutObject", _set(Date=value), _put(v4, bucket))
    _succeeds(v4, "before-send", "CreateBucket", _set(Date=value), _create(v4))


def test_sigv4_date_and_amz_date_both_sent(v4, bucket):
    # test_object_create_date_and_amz_date: a Date beside X-Amz-Date changes nothing.
    from email.utils import formatdate

    _succeeds(v4, "before-call", "PutObject", _set(Date=formatdate(usegmt=True)), _put(v4, bucket))


def test_sigv4_skew_is_reported_before_the_scope_date(hafiz, bucket):
    # A request signed yesterday: its scope date agrees with X-Amz-Date, the time is off.
    import datetime as dt

    signed = sign_request(
        "PUT",
        f"{hafiz.endpoint}/{bucket}/skewed",
        access_key=hafiz.access_key,
        secret_key=hafiz.secret_key,
        body=b"x",
        when=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1),
    )
    # And one whose X-Amz-Date was moved after signing: still skewed, not malformed.
    headers = dict(signed.headers)
    headers["X-Amz-Date"] = "20100707T215304Z"
    for h in (signed.headers, headers):
        status, body = _raw(
            hafiz.endpoint,
            "PUT",
            f"/{bucket}/skewed",
            {**h, "Host": urlsplit(hafiz.endpoint).netloc, "Content-Length": "1"},
            b"x",
        )
        assert (status, _code(body)) == (403, "RequestTimeTooSkewed")


# --------------------------------------------------------------------------
# Content-Length
# --------------------------------------------------------------------------


def _signed_headers(hafiz, method: str, path: str, body: bytes = b"") -> dict[str, str]:
    signed = sign_request(
        method,
        f"{hafiz.endpoint}{path}",
        access_key=hafiz.access_key,
        secret_key=hafiz.secret_key,
        body=body,
    )
    return {**signed.headers, "Host": urlsplit(hafiz.endpoint).netloc}


def test_put_object_without_content_length(hafiz, s3, bucket):
    # test_object_create_bad_contentlength_none: 411 MissingContentLength.
    status, body = _raw(hafiz.endpoint, "PUT", f"/{bucket}/nolength", _signed_headers(hafiz, "PUT", f"/{bucket}/nolength"))
    assert (status, _code(body)) == (411, "MissingContentLength")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="nolength")
    assert error_code(e)[1] == 404


def test_upload_part_without_content_length(hafiz, s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    path = f"/{bucket}/mp?partNumber=1&uploadId={up}"
    status, body = _raw(hafiz.endpoint, "PUT", path, _signed_headers(hafiz, "PUT", path))
    assert (status, _code(body)) == (411, "MissingContentLength")
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=up)


def test_chunked_put_needs_no_content_length(hafiz, s3, bucket):
    headers = _signed_headers(hafiz, "PUT", f"/{bucket}/chunked", b"hello")
    headers["Transfer-Encoding"] = "chunked"
    status, body = _raw(hafiz.endpoint, "PUT", f"/{bucket}/chunked", headers, b"5\r\nhello\r\n0\r\n\r\n")
    assert status == 200, body
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == b"hello"


def test_bucket_create_and_acl_without_content_length(hafiz, s3, bucket):
    # test_bucket_create_contentlength_none, test_object_acl_create_contentlength_none: succeed.
    name = unique_bucket_name("nolen")
    try:
        status, body = _raw(hafiz.endpoint, "PUT", f"/{name}", _signed_headers(hafiz, "PUT", f"/{name}"))
        assert status == 200, body
        s3.head_bucket(Bucket=name)
    finally:
        empty_and_delete_bucket(s3, name)
    s3.put_object(Bucket=bucket, Key="foo", Body=b"bar")
    signed = sign_request(
        "PUT",
        f"{hafiz.endpoint}/{bucket}/foo?acl",
        access_key=hafiz.access_key,
        secret_key=hafiz.secret_key,
        headers={"x-amz-acl": "public-read"},
    )
    headers = {**signed.headers, "Host": urlsplit(hafiz.endpoint).netloc}
    status, body = _raw(hafiz.endpoint, "PUT", f"/{bucket}/foo?acl", headers)
    assert status == 200, body


# --------------------------------------------------------------------------
# SigV2 header signing, every kind of operation
# --------------------------------------------------------------------------


def test_sigv2_bucket_operations(v2):
    name = unique_bucket_name("v2")
    # A body (CreateBucketConfiguration) and the bucket-level resource `/name/`.
    v2.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    try:
        v2.head_bucket(Bucket=name)
        assert v2.get_bucket_location(Bucket=name).get("LocationConstraint") in (None, "")
        v2.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        assert v2.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
        v2.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
        assert v2.get_bucket_tagging(Bucket=name)["TagSet"] == [{"Key": "k", "Value": "v"}]
        v2.put_bucket_acl(Bucket=name, ACL="private")
        assert v2.get_bucket_acl(Bucket=name)["Grants"]
        policy = (
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
            f'"Action":"s3:GetObject","Resource":"arn:aws:s3:::{name}/*"}}]}}'
        )
        v2.put_bucket_policy(Bucket=name, Policy=policy)
        assert v2.get_bucket_policy(Bucket=name)["Policy"]
        v2.delete_bucket_policy(Bucket=name)
        v2.put_bucket_cors(
            Bucket=name,
            CORSConfiguration={"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]},
        )
        v2.delete_bucket_cors(Bucket=name)
        assert any(b["Name"] == name for b in v2.list_buckets()["Buckets"])
    finally:
        for v in v2.list_object_versions(Bucket=name).get("Versions", []):
            v2.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
        v2.delete_bucket(Bucket=name)


def test_sigv2_object_operations(v2, bucket):
    key = "dir/a b+c%d~é"
    v2.put_object(
        Bucket=bucket,
        Key=key,
        Body=b"hello",
        ContentType="text/plain",
        Metadata={"colour": "blue", "x": "y z"},
        ContentMD5="XUFAKrxLKna5cZ2REBfFkg==",
    )
    head = v2.head_object(Bucket=bucket, Key=key)
    assert head["Metadata"] == {"colour": "blue", "x": "y z"}
    got = v2.get_object(Bucket=bucket, Key=key, Range="bytes=1-2", ResponseContentType="a/b")
    assert (got["Body"].read(), got["ContentType"]) == (b"el", "a/b")
    v2.put_object_acl(Bucket=bucket, Key=key, ACL="public-read")
    assert v2.get_object_acl(Bucket=bucket, Key=key)["Grants"]
    v2.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": "t", "Value": "1"}]})
    assert v2.get_object_tagging(Bucket=bucket, Key=key)["TagSet"] == [{"Key": "t", "Value": "1"}]
    v2.delete_object_tagging(Bucket=bucket, Key=key)
    v2.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": key})
    assert [o["Key"] for o in v2.list_objects(Bucket=bucket, Prefix="dir/")["Contents"]] == [key]
    assert v2.list_objects_v2(Bucket=bucket, Delimiter="/")["CommonPrefixes"] == [{"Prefix": "dir/"}]
    assert len(v2.list_object_versions(Bucket=bucket)["Versions"]) == 2
    # DeleteObjects: ?delete with a Content-MD5 (or checksum) over the body.
    out = v2.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key}, {"Key": "copy"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == sorted([key, "copy"])
    v2.put_object(Bucket=bucket, Key="gone", Body=b"")
    v2.delete_object(Bucket=bucket, Key="gone")


def test_sigv2_multipart(v2, bucket):
    key = "multi part"
    up = v2.create_multipart_upload(Bucket=bucket, Key=key, Metadata={"m": "1"})["UploadId"]
    assert [u["UploadId"] for u in v2.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [up]
    p1 = v2.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=1, Body=b"a" * (5 * 1024 * 1024))
    p2 = v2.upload_part_copy(
        Bucket=bucket, Key=key, UploadId=up, PartNumber=2,
        CopySource={"Bucket": bucket, "Key": _seed(v2, bucket)},
    )["CopyPartResult"]
    assert [p["PartNumber"] for p in v2.list_parts(Bucket=bucket, Key=key, UploadId=up)["Parts"]] == [1, 2]
    v2.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]},
    )
    assert v2.head_object(Bucket=bucket, Key=key)["ContentLength"] == 5 * 1024 * 1024 + 4
    up2 = v2.create_multipart_upload(Bucket=bucket, Key="aborted")["UploadId"]
    v2.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=up2)


def _seed(client, bucket) -> str:
    client.put_object(Bucket=bucket, Key="seed", Body=b"tail")
    return "seed"


def test_sigv2_signature_mismatch_is_refused(hafiz, bucket):
    bad = make_client(
        hafiz.endpoint, hafiz.access_key, "wrong", signature_version="s3", retries={"total_max_attempts": 1}
    )
    with pytest.raises(ClientError) as e:
        bad.put_object(Bucket=bucket, Key="x", Body=b"x")
    assert error_code(e) == ("SignatureDoesNotMatch", 403)
