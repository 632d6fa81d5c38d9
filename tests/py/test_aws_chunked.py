"""aws-chunked uploads built by hand: signed chunks
(STREAMING-AWS4-HMAC-SHA256-PAYLOAD), signed chunks with a signed trailer
(...-PAYLOAD-TRAILER) and unsigned chunks with a checksum trailer
(STREAMING-UNSIGNED-PAYLOAD-TRAILER). boto3 only uses trailers over TLS, so
these bodies are framed here."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from s3util import (
    checksum_b64,
    parse_error,
    send,
    sign_request,
    signed_chunked_body,
    signing_key,
    chunk_signature,
    trailer_signature,
    unsigned_chunked_body,
)

AWS_EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_chunk_signer_matches_aws_published_vectors():
    """The helper reproduces AWS's published streaming example (no server):
    seed signature, three chunk signatures, and the trailer signature from
    the AWS CRT test-suite."""
    when = dt.datetime(2013, 5, 24, tzinfo=dt.timezone.utc)
    signed = sign_request(
        "PUT",
        "https://s3.amazonaws.com/examplebucket/chunkObject.txt",
        access_key="AKIAIOSFODNN7EXAMPLE",
        secret_key=AWS_EXAMPLE_SECRET,
        headers={
            "Host": "s3.amazonaws.com",
            "x-amz-storage-class": "REDUCED_REDUNDANCY",
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": "66560",
            "Content-Length": "66824",
        },
        payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        when=when,
    )
    assert signed.signature == "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    key = signing_key(AWS_EXAMPLE_SECRET, "20130524")
    c1 = chunk_signature(key, signed.timestamp, signed.scope, signed.signature, b"a" * 65536)
    assert c1 == "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
    c2 = chunk_signature(key, signed.timestamp, signed.scope, c1, b"a" * 1024)
    assert c2 == "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
    c3 = chunk_signature(key, signed.timestamp, signed.scope, c2, b"")
    assert c3 == "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
    t = trailer_signature(key, signed.timestamp, signed.scope, c3, b"first:1st\nsecond:2nd\nthird:3rd\n")
    assert t == "df5735bd9f3295cd9386572292562fefc93ba94e80a0a1ddcbd652c4e0a75e6c"
    body = signed_chunked_body(
        b"a" * 66560,
        65536,
        key=key,
        timestamp=signed.timestamp,
        scope=signed.scope,
        seed_signature=signed.signature,
    )
    assert len(body) == 66824


def _put_signed_chunked(hafiz, url, data, chunk_size, *, trailer=None, corrupt_chunk=None, extra_headers=None):
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "")
    when = dt.datetime.now(dt.timezone.utc)
    key = signing_key(hafiz.secret_key, when.strftime("%Y%m%d"))
    # The body length depends only on sizes and signature lengths, so it can
    # be computed (and signed as Content-Length) before the seed is known.
    dummy = signed_chunked_body(
        data, chunk_size, key=key, timestamp="x", scope="x", seed_signature="0" * 64, trailer=trailer
    )
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        "Content-Length": str(len(dummy)),
        **(extra_headers or {}),
    }
    if trailer:
        headers["x-amz-trailer"] = ",".join(trailer)
    signed = sign_request(
        "PUT", url, access_key=hafiz.access_key, secret_key=hafiz.secret_key, headers=headers, payload_hash=mode, when=when
    )
    signed.body = signed_chunked_body(
        data,
        chunk_size,
        key=key,
        timestamp=signed.timestamp,
        scope=signed.scope,
        seed_signature=signed.signature,
        trailer=trailer,
        corrupt_chunk=corrupt_chunk,
    )
    assert len(signed.body) == len(dummy)
    return send(signed, "PUT")


def _put_unsigned_trailer(hafiz, url, data, chunk_size, trailer):
    body = unsigned_chunked_body(data, chunk_size, trailer)
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": ",".join(trailer),
        "Content-Length": str(len(body)),
    }
    signed = sign_request(
        "PUT",
        url,
        access_key=hafiz.access_key,
        secret_key=hafiz.secret_key,
        headers=headers,
        body=body,
        payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    )
    return send(signed, "PUT")


@pytest.mark.parametrize("size,chunk", [(0, 65536), (1, 65536), (200_000, 65536), (65536 * 2, 65536), (300_000, 8192)])
def test_signed_chunks(hafiz, s3, bucket, size, chunk):
    data = os.urandom(size)
    r = _put_signed_chunked(hafiz, f"{hafiz.endpoint}/{bucket}/chunked", data, chunk)
    assert r.status_code == 200, r.text
    got = s3.get_object(Bucket=bucket, Key="chunked")
    assert got["Body"].read() == data
    assert got["ContentLength"] == size
    # aws-chunked is a transfer framing, not part of the stored Content-Encoding.
    assert "aws-chunked" not in got.get("ContentEncoding", "")


def test_signed_chunks_keep_other_content_encoding(hafiz, s3, bucket):
    data = os.urandom(1000)
    r = _put_signed_chunked(
        hafiz,
        f"{hafiz.endpoint}/{bucket}/enc",
        data,
        512,
        extra_headers={"Content-Encoding": "aws-chunked,identity"},
    )
    assert r.status_code == 200, r.text
    got = s3.get_object(Bucket=bucket, Key="enc")
    assert got["Body"].read() == data
    assert got.get("ContentEncoding") == "identity"


def test_signed_chunks_with_signed_trailer(hafiz, s3, bucket):
    data = os.urandom(150_000)
    crc = checksum_b64("CRC32", data)
    r = _put_signed_chunked(
        hafiz, f"{hafiz.endpoint}/{bucket}/trailer", data, 65536, trailer={"x-amz-checksum-crc32": crc}
    )
    assert r.status_code == 200, r.text
    got = s3.get_object(Bucket=bucket, Key="trailer", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == crc
    assert got["Body"].read() == data


def test_signed_chunk_corrupted(hafiz, s3, bucket):
    data = os.urandom(150_000)
    r = _put_signed_chunked(hafiz, f"{hafiz.endpoint}/{bucket}/bad", data, 65536, corrupt_chunk=1)
    assert r.status_code == 403
    assert parse_error(r.content)["Code"] == "SignatureDoesNotMatch"
    assert s3.list_objects_v2(Bucket=bucket, Prefix="bad")["KeyCount"] == 0


def test_signed_trailer_wrong_checksum(hafiz, s3, bucket):
    data = os.urandom(10_000)
    wrong = checksum_b64("CRC32", b"something else")
    r = _put_signed_chunked(
        hafiz, f"{hafiz.endpoint}/{bucket}/bad", data, 4096, trailer={"x-amz-checksum-crc32": wrong}
    )
    assert r.status_code == 400
    assert parse_error(r.content)["Code"] == "BadDigest"
    assert s3.list_objects_v2(Bucket=bucket, Prefix="bad")["KeyCount"] == 0


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA256"])
def test_unsigned_payload_trailer(hafiz, s3, bucket, algorithm):
    data = os.urandom(100_000)
    value = checksum_b64(algorithm, data)
    r = _put_unsigned_trailer(
        hafiz, f"{hafiz.endpoint}/{bucket}/ut", data, 16384, {f"x-amz-checksum-{algorithm.lower()}": value}
    )
    assert r.status_code == 200, r.text
    assert r.headers.get(f"x-amz-checksum-{algorithm.lower()}") == value
    got = s3.get_object(Bucket=bucket, Key="ut", ChecksumMode="ENABLED")
    assert got[f"Checksum{algorithm}"] == value
    assert got["Body"].read() == data


def test_unsigned_payload_trailer_wrong_checksum(hafiz, s3, bucket):
    data = os.urandom(100_000)
    wrong = checksum_b64("CRC32C", b"nope")
    r = _put_unsigned_trailer(hafiz, f"{hafiz.endpoint}/{bucket}/ut", data, 16384, {"x-amz-checksum-crc32c": wrong})
    assert r.status_code == 400
    assert parse_error(r.content)["Code"] == "BadDigest"
    assert s3.list_objects_v2(Bucket=bucket, Prefix="ut")["KeyCount"] == 0


def test_unsigned_trailer_upload_part(hafiz, s3, bucket):
    """UploadPart the way SDKs send it over TLS: unsigned chunks, CRC32 trailer."""
    from s3util import MIB, composite_checksum_b64, query_string

    parts = [os.urandom(5 * MIB), os.urandom(1000)]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mpu", ChecksumAlgorithm="CRC32")["UploadId"]
    done = []
    for number, data in enumerate(parts, start=1):
        url = f"{hafiz.endpoint}/{bucket}/mpu?{query_string({'partNumber': number, 'uploadId': upload_id})}"
        crc = checksum_b64("CRC32", data)
        r = _put_unsigned_trailer(hafiz, url, data, 65536, {"x-amz-checksum-crc32": crc})
        assert r.status_code == 200, r.text
        done.append({"PartNumber": number, "ETag": r.headers["ETag"], "ChecksumCRC32": crc})
    resp = s3.complete_multipart_upload(Bucket=bucket, Key="mpu", UploadId=upload_id, MultipartUpload={"Parts": done})
    assert resp["ChecksumCRC32"] == composite_checksum_b64("CRC32", parts)
    assert s3.get_object(Bucket=bucket, Key="mpu")["Body"].read() == b"".join(parts)
