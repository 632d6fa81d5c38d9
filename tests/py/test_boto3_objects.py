"""Object operations through boto3 with its default settings (which send
CRC32 checksums on PutObject): PUT/GET/HEAD/DELETE, metadata, keys, checksums,
ranges, conditional requests, response overrides, GetObjectAttributes."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import os

import pytest

from s3util import (
    MIB,
    checksum_b64,
    md5_hex,
    quoted_md5,
    s3_error,
)

NOW = lambda: dt.datetime.now(dt.timezone.utc)  # noqa: E731


def test_put_get_head_delete(s3, bucket):
    data = os.urandom(100_000)
    put = s3.put_object(Bucket=bucket, Key="obj", Body=data, ContentType="application/x-test")
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    # Single PUT: the ETag is the quoted hex MD5 of the body.
    assert put["ETag"] == quoted_md5(data)

    got = s3.get_object(Bucket=bucket, Key="obj")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["Body"].read() == data
    assert got["ContentLength"] == len(data)
    assert got["ETag"] == quoted_md5(data)
    assert got["ContentType"] == "application/x-test"
    assert got["AcceptRanges"] == "bytes"
    assert abs((got["LastModified"] - NOW()).total_seconds()) < 300

    head = s3.head_object(Bucket=bucket, Key="obj")
    assert head["ContentLength"] == len(data)
    assert head["ETag"] == quoted_md5(data)
    assert head["ContentType"] == "application/x-test"
    assert head["LastModified"] == got["LastModified"]

    deleted = s3.delete_object(Bucket=bucket, Key="obj")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="obj")
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="obj")
    # Deleting a missing key is not an error on S3.
    again = s3.delete_object(Bucket=bucket, Key="obj")
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_overwrite_replaces_content(s3, bucket):
    first, second = os.urandom(3000), os.urandom(1000)
    s3.put_object(Bucket=bucket, Key="k", Body=first, Metadata={"gen": "1"})
    s3.put_object(Bucket=bucket, Key="k", Body=second)
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == second
    assert got["ETag"] == quoted_md5(second)
    assert got["Metadata"] == {}


def test_empty_object_and_default_content_type(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert put["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b""
    assert got["ContentLength"] == 0
    # S3's default when the client sends no Content-Type.
    assert got["ContentType"] == "binary/octet-stream"


def test_expect_continue_empty_body_keeps_connection_usable(hafiz, bucket):
    """boto3 sends `Expect: 100-continue` for file-like bodies, even empty
    ones. If the server answers such a request with its final status and no
    `100 Continue`, botocore keeps that status line around and misreads the
    next response on the same keep-alive connection (then hangs until its
    read timeout). `aws s3 sync` of a tree holding an empty file hits this.
    One connection, no retries, short timeout: each PUT must just work."""
    client = hafiz.client(max_pool_connections=1, retries={"total_max_attempts": 1}, read_timeout=10)
    bodies = [b"", os.urandom(100), b"", os.urandom(70_000), os.urandom(10)]
    for i, body in enumerate(bodies):
        resp = client.put_object(Bucket=bucket, Key=f"f{i}", Body=io.BytesIO(body))
        assert resp["ETag"] == quoted_md5(body)
    for i, body in enumerate(bodies):
        assert client.get_object(Bucket=bucket, Key=f"f{i}")["Body"].read() == body


def test_large_single_put(s3, bucket):
    data = os.urandom(8 * MIB + 123)
    put = s3.put_object(Bucket=bucket, Key="big", Body=data)
    assert put["ETag"] == quoted_md5(data)
    got = s3.get_object(Bucket=bucket, Key="big")
    assert got["ContentLength"] == len(data)
    assert hashlib.md5(got["Body"].read()).hexdigest() == md5_hex(data)


def test_user_metadata_and_standard_headers_round_trip(s3, bucket):
    s3.put_object(
        Bucket=bucket,
        Key="meta",
        Body=b"hello",
        Metadata={"color": "blue", "CamelCase": "Keeps-Value-Case"},
        ContentType="text/plain; charset=utf-8",
        CacheControl="max-age=60",
        ContentDisposition='attachment; filename="hello.txt"',
        ContentLanguage="en-GB",
        ContentEncoding="identity",
    )
    for resp in (s3.head_object(Bucket=bucket, Key="meta"), s3.get_object(Bucket=bucket, Key="meta")):
        # S3 lower-cases metadata names and keeps values as sent.
        assert resp["Metadata"] == {"color": "blue", "camelcase": "Keeps-Value-Case"}
        assert resp["ContentType"] == "text/plain; charset=utf-8"
        assert resp["CacheControl"] == "max-age=60"
        assert resp["ContentDisposition"] == 'attachment; filename="hello.txt"'
        assert resp["ContentLanguage"] == "en-GB"
        assert resp["ContentEncoding"] == "identity"


def test_metadata_at_limit_is_accepted(s3, bucket):
    # 2 KiB counts the UTF-8 bytes of names and values: 4 + 2000 fits.
    s3.put_object(Bucket=bucket, Key="m", Body=b"x", Metadata={"meta": "v" * 2000})
    assert s3.head_object(Bucket=bucket, Key="m")["Metadata"]["meta"] == "v" * 2000


def test_metadata_too_large(s3, bucket):
    with s3_error("MetadataTooLarge", 400):
        s3.put_object(Bucket=bucket, Key="m", Body=b"x", Metadata={"big": "v" * 2100})
    with s3_error("MetadataTooLarge", 400):
        s3.put_object(Bucket=bucket, Key="m", Body=b"x", Metadata={f"k{i}": "v" * 300 for i in range(8)})
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="m")


def test_content_md5_correct_and_wrong(s3, s3_once, bucket):
    data = os.urandom(4096)
    good = base64.b64encode(hashlib.md5(data).digest()).decode()
    s3.put_object(Bucket=bucket, Key="md5", Body=data, ContentMD5=good)
    assert s3.get_object(Bucket=bucket, Key="md5")["Body"].read() == data

    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    with s3_error("BadDigest", 400):
        s3_once.put_object(Bucket=bucket, Key="md5-bad", Body=data, ContentMD5=wrong)
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="md5-bad")


def test_content_md5_malformed(s3, s3_once, bucket):
    with s3_error("InvalidDigest", 400):
        s3_once.put_object(Bucket=bucket, Key="md5-bad", Body=b"data", ContentMD5="bm90LWEtbWQ1")


def test_key_length_limit(s3, bucket):
    ok_key = "k" * 1024
    s3.put_object(Bucket=bucket, Key=ok_key, Body=b"1024")
    assert s3.get_object(Bucket=bucket, Key=ok_key)["Body"].read() == b"1024"
    # The limit is in UTF-8 bytes: 342 three-byte characters = 1026 bytes.
    for long_key in ("k" * 1025, "\u20ac" * 342):
        with s3_error("KeyTooLongError", 400):
            s3.put_object(Bucket=bucket, Key=long_key, Body=b"x")


SPECIAL_KEYS = [
    "ключ/日本語/😀.txt",
    "with space.txt",
    "  leading and trailing spaces  ",
    "plus+sign+",
    "percent%20literal%",
    "a//double//slash",
    "dots/../up",
    "dots/./here",
    "..",
    "trailing/",
    "/leading-slash",
    "quote'\"and<>&",
    "query?x=1&y=2#frag",
    "tilde~star*paren()",
    "semi;colon:comma,at@",
    "tab\tnewline\nkey",
]


@pytest.mark.parametrize("key", SPECIAL_KEYS, ids=range(len(SPECIAL_KEYS)))
def test_special_keys_round_trip(s3, bucket, key):
    data = os.urandom(64)
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == 64
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert listed == [key]
    s3.delete_object(Bucket=bucket, Key=key)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_similar_keys_are_distinct(s3, bucket):
    keys = ["a b", "a+b", "a%20b", "a/b", "a//b", "a/./b", "a/../b", "A B"]
    for i, key in enumerate(keys):
        s3.put_object(Bucket=bucket, Key=key, Body=str(i).encode())
    for i, key in enumerate(keys):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == str(i).encode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(keys, key=lambda k: k.encode())


CHECKSUM_ALGORITHMS = ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"]


@pytest.mark.parametrize("algorithm", CHECKSUM_ALGORITHMS)
def test_checksum_algorithms_round_trip(s3, bucket, algorithm):
    data = os.urandom(70_000)
    expected = checksum_b64(algorithm, data)
    field = f"Checksum{algorithm}"
    put = s3.put_object(Bucket=bucket, Key="c", Body=data, ChecksumAlgorithm=algorithm)
    assert put[field] == expected

    got = s3.get_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert got[field] == expected
    assert got["ChecksumType"] == "FULL_OBJECT"
    assert got["Body"].read() == data  # botocore also validates the checksum here

    head = s3.head_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert head[field] == expected

    # Without ChecksumMode the checksum headers are not returned.
    plain = s3.head_object(Bucket=bucket, Key="c")
    assert field not in plain


@pytest.mark.parametrize("algorithm", ["CRC32", "SHA256"])
def test_checksum_value_given_by_caller(s3, bucket, algorithm):
    data = os.urandom(5000)
    value = checksum_b64(algorithm, data)
    s3.put_object(Bucket=bucket, Key="c", Body=data, **{f"Checksum{algorithm}": value})
    got = s3.head_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert got[f"Checksum{algorithm}"] == value


def test_wrong_crc32_is_rejected(s3, s3_once, bucket):
    data = os.urandom(5000)
    wrong = checksum_b64("CRC32", b"not the body")
    # AWS: 400 BadDigest "The CRC32 you specified did not match the calculated checksum."
    with s3_error("BadDigest", 400):
        s3_once.put_object(Bucket=bucket, Key="c", Body=data, ChecksumCRC32=wrong)
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="c")


def test_wrong_sha256_checksum_is_rejected(s3, s3_once, bucket):
    wrong = checksum_b64("SHA256", b"not the body")
    with s3_error("BadDigest", 400):
        s3_once.put_object(Bucket=bucket, Key="c", Body=b"body", ChecksumSHA256=wrong)


# --------------------------------------------------------------------------
# Ranges
# --------------------------------------------------------------------------


@pytest.fixture
def thousand(s3, bucket):
    data = os.urandom(1000)
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    return data


@pytest.mark.parametrize(
    "header,start,end",
    [
        ("bytes=0-9", 0, 9),
        ("bytes=10-", 10, 999),
        ("bytes=-5", 995, 999),
        ("bytes=990-5000", 990, 999),
        ("bytes=999-999", 999, 999),
        ("bytes=-5000", 0, 999),
    ],
)
def test_range_get(s3, bucket, thousand, header, start, end):
    got = s3.get_object(Bucket=bucket, Key="r", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes {start}-{end}/1000"
    assert got["ContentLength"] == end - start + 1
    assert got["Body"].read() == thousand[start : end + 1]


def test_range_head(s3, bucket, thousand):
    head = s3.head_object(Bucket=bucket, Key="r", Range="bytes=0-9")
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert head["ContentLength"] == 10
    assert head["ContentRange"] == "bytes 0-9/1000"


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000"])
def test_range_not_satisfiable(s3, bucket, thousand, header):
    with s3_error("InvalidRange", 416):
        s3.get_object(Bucket=bucket, Key="r", Range=header)


def test_malformed_range_is_ignored(s3, bucket, thousand):
    # S3 ignores a Range header it cannot parse and returns the whole object.
    got = s3.get_object(Bucket=bucket, Key="r", Range="bytes=abc")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["Body"].read() == thousand


# --------------------------------------------------------------------------
# Conditional requests
# --------------------------------------------------------------------------


@pytest.fixture
def cond(s3, bucket):
    data = os.urandom(500)
    etag = s3.put_object(Bucket=bucket, Key="cond", Body=data)["ETag"]
    return data, etag


def test_if_match(s3, bucket, cond):
    data, etag = cond
    assert s3.get_object(Bucket=bucket, Key="cond", IfMatch=etag)["Body"].read() == data
    assert s3.head_object(Bucket=bucket, Key="cond", IfMatch=etag)["ETag"] == etag
    with s3_error("PreconditionFailed", 412):
        s3.get_object(Bucket=bucket, Key="cond", IfMatch='"0123456789abcdef0123456789abcdef"')
    with s3_error("412", 412):
        s3.head_object(Bucket=bucket, Key="cond", IfMatch='"0123456789abcdef0123456789abcdef"')


def test_if_none_match(s3, bucket, cond):
    data, etag = cond
    with s3_error("304", 304):
        s3.get_object(Bucket=bucket, Key="cond", IfNoneMatch=etag)
    with s3_error("304", 304):
        s3.head_object(Bucket=bucket, Key="cond", IfNoneMatch=etag)
    other = '"0123456789abcdef0123456789abcdef"'
    assert s3.get_object(Bucket=bucket, Key="cond", IfNoneMatch=other)["Body"].read() == data


def test_if_modified_since(s3, bucket, cond):
    data, _ = cond
    future = NOW() + dt.timedelta(days=1)
    past = NOW() - dt.timedelta(days=1)
    with s3_error("304", 304):
        s3.get_object(Bucket=bucket, Key="cond", IfModifiedSince=future)
    with s3_error("304", 304):
        s3.head_object(Bucket=bucket, Key="cond", IfModifiedSince=future)
    assert s3.get_object(Bucket=bucket, Key="cond", IfModifiedSince=past)["Body"].read() == data


def test_if_unmodified_since(s3, bucket, cond):
    data, _ = cond
    past = NOW() - dt.timedelta(days=1)
    future = NOW() + dt.timedelta(days=1)
    with s3_error("PreconditionFailed", 412):
        s3.get_object(Bucket=bucket, Key="cond", IfUnmodifiedSince=past)
    with s3_error("412", 412):
        s3.head_object(Bucket=bucket, Key="cond", IfUnmodifiedSince=past)
    assert s3.get_object(Bucket=bucket, Key="cond", IfUnmodifiedSince=future)["Body"].read() == data


def test_if_match_true_overrides_if_unmodified_since_false(s3, bucket, cond):
    # Documented S3 (and RFC 7232) precedence: If-Match true wins.
    data, etag = cond
    past = NOW() - dt.timedelta(days=1)
    got = s3.get_object(Bucket=bucket, Key="cond", IfMatch=etag, IfUnmodifiedSince=past)
    assert got["Body"].read() == data


def test_if_none_match_false_with_if_modified_since_true_is_304(s3, bucket, cond):
    _, etag = cond
    past = NOW() - dt.timedelta(days=1)
    with s3_error("304", 304):
        s3.get_object(Bucket=bucket, Key="cond", IfNoneMatch=etag, IfModifiedSince=past)


def test_response_header_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="o", Body=b"override me", ContentType="application/octet-stream")
    got = s3.get_object(
        Bucket=bucket,
        Key="o",
        ResponseContentType="text/x-overridden",
        ResponseCacheControl="no-cache, no-store",
        ResponseContentDisposition='attachment; filename="o.txt"',
        ResponseContentLanguage="fr",
        ResponseContentEncoding="identity",
    )
    assert got["ContentType"] == "text/x-overridden"
    assert got["CacheControl"] == "no-cache, no-store"
    assert got["ContentDisposition"] == 'attachment; filename="o.txt"'
    assert got["ContentLanguage"] == "fr"
    assert got["ContentEncoding"] == "identity"
    assert got["Body"].read() == b"override me"
    # Overrides do not change what is stored.
    assert s3.head_object(Bucket=bucket, Key="o")["ContentType"] == "application/octet-stream"


def test_conditional_put_if_none_match_star(s3, bucket):
    s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    with s3_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"first"


def test_conditional_put_if_match(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="cas", Body=b"v1")["ETag"]
    with s3_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="cas", Body=b"v2", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert s3.get_object(Bucket=bucket, Key="cas")["Body"].read() == b"v1"
    new = s3.put_object(Bucket=bucket, Key="cas", Body=b"v2", IfMatch=etag)
    assert new["ETag"] == quoted_md5(b"v2")
    assert s3.get_object(Bucket=bucket, Key="cas")["Body"].read() == b"v2"
    # If-Match on a key that does not exist: AWS answers 404 NoSuchKey.
    with s3_error("NoSuchKey", 404):
        s3.put_object(Bucket=bucket, Key="missing", Body=b"x", IfMatch=etag)


def test_get_object_attributes_single_part(s3, bucket):
    data = os.urandom(12345)
    s3.put_object(Bucket=bucket, Key="attrs", Body=data, ChecksumAlgorithm="SHA256")
    attrs = s3.get_object_attributes(
        Bucket=bucket,
        Key="attrs",
        ObjectAttributes=["ETag", "ObjectSize", "Checksum", "StorageClass", "ObjectParts"],
    )
    # GetObjectAttributes returns the ETag without quotes (unlike GET/HEAD).
    assert attrs["ETag"] == md5_hex(data)
    assert attrs["ObjectSize"] == len(data)
    assert attrs["Checksum"]["ChecksumSHA256"] == checksum_b64("SHA256", data)
    assert attrs["StorageClass"] == "STANDARD"
    assert "ObjectParts" not in attrs
    assert abs((attrs["LastModified"] - NOW()).total_seconds()) < 300


def test_get_object_attributes_only_requested(s3, bucket):
    s3.put_object(Bucket=bucket, Key="attrs", Body=b"abc")
    attrs = s3.get_object_attributes(Bucket=bucket, Key="attrs", ObjectAttributes=["ObjectSize"])
    assert attrs["ObjectSize"] == 3
    assert "ETag" not in attrs
    with s3_error("NoSuchKey", 404):
        s3.get_object_attributes(Bucket=bucket, Key="nope", ObjectAttributes=["ObjectSize"])


def test_delete_objects(s3, bucket):
    for k in ("a", "b", "c/d"):
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    resp = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "c/d"}, {"Key": "never-existed"}]},
    )
    # S3 reports keys that did not exist as deleted too.
    assert sorted(d["Key"] for d in resp["Deleted"]) == ["a", "b", "c/d", "never-existed"]
    assert not resp.get("Errors")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_delete_objects_quiet(s3, bucket):
    s3.put_object(Bucket=bucket, Key="q", Body=b"q")
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "q"}], "Quiet": True})
    assert not resp.get("Deleted")
    assert not resp.get("Errors")
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="q")


def test_get_object_acl(s3, bucket):
    s3.put_object(Bucket=bucket, Key="acl", Body=b"x")
    acl = s3.get_object_acl(Bucket=bucket, Key="acl")
    owner = acl["Owner"]["ID"]
    assert owner
    assert [(g["Grantee"]["Type"], g["Grantee"]["ID"], g["Permission"]) for g in acl["Grants"]] == [
        ("CanonicalUser", owner, "FULL_CONTROL")
    ]
