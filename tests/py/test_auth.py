"""Authentication: SigV4 header and presigned requests, failures, request
ids and the S3 error document."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from botocore import UNSIGNED

from conftest import make_client
from s3util import (
    parse_error,
    s3_error,
    s3_quote,
    send,
    sign_request,
    signed_request,
)


@pytest.fixture
def obj(s3, bucket):
    data = os.urandom(2048)
    s3.put_object(Bucket=bucket, Key="secret.bin", Body=data)
    return data


def test_wrong_secret_key(hafiz, bucket):
    client = make_client(hafiz.endpoint, hafiz.access_key, "wrong-secret-key-0000000000000000000000")
    with s3_error("SignatureDoesNotMatch", 403):
        client.list_buckets()
    with s3_error("SignatureDoesNotMatch", 403):
        client.get_object(Bucket=bucket, Key="any")
    with s3_error("SignatureDoesNotMatch", 403):
        client.put_object(Bucket=bucket, Key="any", Body=b"x")


def test_unknown_access_key(hafiz, bucket):
    client = make_client(hafiz.endpoint, "AKIDUNKNOWNUNKNOWN00", hafiz.secret_key)
    with s3_error("InvalidAccessKeyId", 403):
        client.list_buckets()
    with s3_error("InvalidAccessKeyId", 403):
        client.list_objects_v2(Bucket=bucket)


def test_anonymous_requests_denied(hafiz, bucket, obj):
    anon = make_client(hafiz.endpoint, None, None, signature_version=UNSIGNED)
    with s3_error("AccessDenied", 403):
        anon.get_object(Bucket=bucket, Key="secret.bin")
    with s3_error("AccessDenied", 403):
        anon.list_objects_v2(Bucket=bucket)
    with s3_error("AccessDenied", 403):
        anon.put_object(Bucket=bucket, Key="anon", Body=b"x")
    with s3_error("AccessDenied", 403):
        anon.list_buckets()
    r = requests.get(f"{hafiz.endpoint}/{bucket}/secret.bin", timeout=10)
    assert r.status_code == 403
    assert parse_error(r.content)["Code"] == "AccessDenied"


def test_signed_raw_request_helper_works(hafiz, bucket, obj):
    # Sanity check of the raw signer the other tests rely on.
    r = signed_request(
        "GET", f"{hafiz.endpoint}/{bucket}/secret.bin", access_key=hafiz.access_key, secret_key=hafiz.secret_key
    )
    assert r.status_code == 200, r.text
    assert r.content == obj


# boto3 presigns with SigV2 query parameters by default for us-east-1 (and
# `aws s3 presign` too); with signature_version="s3v4" it uses SigV4. Both
# are what clients in the wild send.
SIGNATURES = {
    "sigv2-default": {},
    "sigv4": {"signature_version": "s3v4"},
}


@pytest.fixture(params=list(SIGNATURES))
def presigner(request, hafiz):
    return make_client(hafiz.endpoint, hafiz.access_key, hafiz.secret_key, **SIGNATURES[request.param])


@pytest.fixture
def v4(hafiz):
    return make_client(hafiz.endpoint, hafiz.access_key, hafiz.secret_key, signature_version="s3v4")


def test_presigned_get(presigner, bucket, obj):
    url = presigner.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "secret.bin"}, ExpiresIn=300
    )
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == obj
    assert "x-amz-request-id" in r.headers
    # A ranged GET with the same URL works too (Range is not signed).
    r = requests.get(url, headers={"Range": "bytes=0-9"}, timeout=30)
    assert r.status_code == 206
    assert r.content == obj[:10]


def test_presigned_url_forms(hafiz, v4, bucket):
    """Both presign flavours really are exercised by the tests above."""
    default = make_client(hafiz.endpoint, hafiz.access_key, hafiz.secret_key)
    v2_query = parse_qs(urlsplit(default.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60
    )).query)
    v4_query = parse_qs(urlsplit(v4.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60
    )).query)
    assert v4_query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert sorted(v2_query) == ["AWSAccessKeyId", "Expires", "Signature"]


def test_presigned_get_special_key(presigner, s3, bucket):
    key = "dir ü/😀 +plus%.bin"
    data = os.urandom(100)
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    url = presigner.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == data


def test_presigned_put(presigner, s3, bucket):
    data = os.urandom(300_000)
    url = presigner.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "uploaded.bin"}, ExpiresIn=300
    )
    r = requests.put(url, data=data, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert s3.get_object(Bucket=bucket, Key="uploaded.bin")["Body"].read() == data


def test_presigned_tampered(presigner, bucket, obj):
    url = presigner.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "secret.bin"}, ExpiresIn=300
    )
    # Same signature, different key.
    tampered = url.replace("/secret.bin?", "/other.bin?")
    r = requests.get(tampered, timeout=30)
    assert r.status_code == 403
    assert parse_error(r.content)["Code"] == "SignatureDoesNotMatch"
    # Change the signature itself.
    query = parse_qs(urlsplit(url).query)
    name = "X-Amz-Signature" if "X-Amz-Signature" in query else "Signature"
    sig = query[name][0]
    bad = url.replace(f"{name}={quote(sig, safe='')}", f"{name}={'A' * len(sig)}")
    assert bad != url
    r = requests.get(bad, timeout=30)
    assert r.status_code == 403
    assert parse_error(r.content)["Code"] == "SignatureDoesNotMatch"


def test_presigned_expired(presigner, bucket, obj):
    url = presigner.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "secret.bin"}, ExpiresIn=1
    )
    time.sleep(2.5)
    r = requests.get(url, timeout=30)
    assert r.status_code == 403
    assert parse_error(r.content)["Code"] == "AccessDenied"


def test_presigned_expiry_too_long(v4, bucket, obj):
    url = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "secret.bin"}, ExpiresIn=300)
    url = url.replace("X-Amz-Expires=300", "X-Amz-Expires=604801")
    r = requests.get(url, timeout=30)
    # More than 7 days is refused before the signature is even checked.
    assert r.status_code == 400
    assert parse_error(r.content)["Code"] == "AuthorizationQueryParametersError"


def test_request_id_on_every_response(hafiz, s3, bucket, obj):
    auth = {"access_key": hafiz.access_key, "secret_key": hafiz.secret_key}
    responses = [
        signed_request("GET", f"{hafiz.endpoint}/", **auth),
        signed_request("GET", f"{hafiz.endpoint}/{bucket}/secret.bin", **auth),
        signed_request("HEAD", f"{hafiz.endpoint}/{bucket}/secret.bin", **auth),
        signed_request("GET", f"{hafiz.endpoint}/{bucket}/missing", **auth),
        signed_request("HEAD", f"{hafiz.endpoint}/{bucket}/missing", **auth),
        signed_request("PUT", f"{hafiz.endpoint}/{bucket}/new", body=b"x", **auth),
        signed_request("DELETE", f"{hafiz.endpoint}/{bucket}/new", **auth),
        requests.get(f"{hafiz.endpoint}/{bucket}/secret.bin", timeout=10),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 404, 404, 200, 204, 403]
    ids = [r.headers.get("x-amz-request-id") for r in responses]
    assert all(ids), ids
    assert len(set(ids)) == len(ids), "request ids must be unique"
    # boto3 surfaces it too.
    assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["RequestId"]


def test_error_document(hafiz, bucket):
    r = signed_request(
        "GET",
        f"{hafiz.endpoint}/{bucket}/{s3_quote('no such key')}",
        access_key=hafiz.access_key,
        secret_key=hafiz.secret_key,
    )
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/xml")
    err = parse_error(r.content)
    assert err["Code"] == "NoSuchKey"
    assert err["Message"]
    assert err["RequestId"] == r.headers["x-amz-request-id"]
    assert err.get("Key") == "no such key"

    r = signed_request(
        "GET", f"{hafiz.endpoint}/no-such-bucket-hafiz-test/", access_key=hafiz.access_key, secret_key=hafiz.secret_key
    )
    err = parse_error(r.content)
    assert (r.status_code, err["Code"]) == (404, "NoSuchBucket")
    assert err.get("BucketName") == "no-such-bucket-hafiz-test"
    assert err["RequestId"] == r.headers["x-amz-request-id"]


@pytest.mark.parametrize("skew_minutes", [-20, 20])
def test_request_time_too_skewed(hafiz, skew_minutes):
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=skew_minutes)
    r = signed_request("GET", f"{hafiz.endpoint}/", access_key=hafiz.access_key, secret_key=hafiz.secret_key, when=when)
    assert r.status_code == 403
    assert parse_error(r.content)["Code"] == "RequestTimeTooSkewed"


def test_small_skew_is_accepted(hafiz):
    when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    r = signed_request("GET", f"{hafiz.endpoint}/", access_key=hafiz.access_key, secret_key=hafiz.secret_key, when=when)
    assert r.status_code == 200, r.text


def test_payload_hash_mismatch(hafiz, bucket):
    signed = sign_request(
        "PUT",
        f"{hafiz.endpoint}/{bucket}/tampered",
        access_key=hafiz.access_key,
        secret_key=hafiz.secret_key,
        body=b"original body",
    )
    signed.body = b"tampered body"
    r = send(signed, "PUT")
    # AWS: 400 XAmzContentSHA256Mismatch when the body does not match the signed hash.
    assert r.status_code == 400
    assert parse_error(r.content)["Code"] == "XAmzContentSHA256Mismatch"


def test_unsigned_payload_header_auth(hafiz, bucket):
    signed = sign_request(
        "PUT",
        f"{hafiz.endpoint}/{bucket}/unsigned-payload",
        access_key=hafiz.access_key,
        secret_key=hafiz.secret_key,
        body=b"payload not hashed",
        payload_hash="UNSIGNED-PAYLOAD",
    )
    r = send(signed, "PUT")
    assert r.status_code == 200, r.text
    r = signed_request(
        "GET", f"{hafiz.endpoint}/{bucket}/unsigned-payload", access_key=hafiz.access_key, secret_key=hafiz.secret_key
    )
    assert r.content == b"payload not hashed"
