"""CopyObject through boto3."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from conftest import empty_and_delete_bucket, unique_bucket_name
from s3util import MIB, md5_hex, multipart_etag, quoted_md5, s3_error


@pytest.fixture
def source(s3, bucket):
    data = os.urandom(50_000)
    s3.put_object(
        Bucket=bucket,
        Key="src",
        Body=data,
        ContentType="text/x-source",
        CacheControl="max-age=5",
        Metadata={"color": "red", "size": "big"},
    )
    return data


def test_copy_with_copy_directive(s3, bucket, source):
    resp = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert resp["CopyObjectResult"]["ETag"] == quoted_md5(source)
    assert resp["CopyObjectResult"]["LastModified"].year >= 2024
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == source
    assert got["ETag"] == quoted_md5(source)
    assert got["ContentType"] == "text/x-source"
    assert got["CacheControl"] == "max-age=5"
    assert got["Metadata"] == {"color": "red", "size": "big"}
    # Explicit COPY behaves the same and ignores Metadata given with it.
    s3.copy_object(
        Bucket=bucket,
        Key="dst2",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="COPY",
        Metadata={"ignored": "yes"},
    )
    assert s3.head_object(Bucket=bucket, Key="dst2")["Metadata"] == {"color": "red", "size": "big"}


def test_copy_with_replace_directive(s3, bucket, source):
    s3.copy_object(
        Bucket=bucket,
        Key="dst",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="REPLACE",
        Metadata={"shape": "round"},
        ContentType="application/x-replaced",
    )
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == source
    assert got["Metadata"] == {"shape": "round"}
    assert got["ContentType"] == "application/x-replaced"
    assert "CacheControl" not in got
    # The source is untouched.
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {"color": "red", "size": "big"}


def test_copy_onto_itself(s3, bucket, source):
    with s3_error("InvalidRequest", 400):
        s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"})
    s3.copy_object(
        Bucket=bucket,
        Key="src",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="REPLACE",
        Metadata={"color": "green"},
        ContentType="text/x-source",
    )
    got = s3.get_object(Bucket=bucket, Key="src")
    assert got["Body"].read() == source
    assert got["Metadata"] == {"color": "green"}


def test_copy_source_conditions(s3, bucket, source):
    etag = quoted_md5(source)
    other = '"0123456789abcdef0123456789abcdef"'
    src = {"Bucket": bucket, "Key": "src"}
    with s3_error("PreconditionFailed", 412):
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=src, CopySourceIfMatch=other)
    with s3_error("PreconditionFailed", 412):
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=src, CopySourceIfNoneMatch=etag)
    with s3_error("PreconditionFailed", 412):
        s3.copy_object(
            Bucket=bucket,
            Key="dst",
            CopySource=src,
            CopySourceIfUnmodifiedSince=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1),
        )
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="dst")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=src, CopySourceIfMatch=etag)
    s3.copy_object(Bucket=bucket, Key="dst2", CopySource=src, CopySourceIfNoneMatch=other)
    assert s3.get_object(Bucket=bucket, Key="dst2")["Body"].read() == source


@pytest.mark.parametrize("key", ["dir ü/😀 file+x.txt", "a b/c%d?e#f&g", "ключ"])
def test_copy_source_url_encoded(s3, bucket, key):
    data = os.urandom(1000)
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    # boto3 encodes the dict form itself.
    s3.copy_object(Bucket=bucket, Key="from-dict", CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=bucket, Key="from-dict")["Body"].read() == data
    # The string form: botocore percent-encodes it the same way.
    s3.copy_object(Bucket=bucket, Key="from-string", CopySource=f"{bucket}/{key}")
    assert s3.get_object(Bucket=bucket, Key="from-string")["Body"].read() == data
    # And onto a destination key that needs encoding too.
    s3.copy_object(Bucket=bucket, Key=key + " copy", CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=bucket, Key=key + " copy")["Body"].read() == data


def test_copy_between_buckets(s3, bucket, source):
    other = unique_bucket_name("copy")
    s3.create_bucket(Bucket=other)
    try:
        s3.copy_object(Bucket=other, Key="x", CopySource={"Bucket": bucket, "Key": "src"})
        assert s3.get_object(Bucket=other, Key="x")["Body"].read() == source
    finally:
        empty_and_delete_bucket(s3, other)


def test_copy_missing_source(s3, bucket):
    with s3_error("NoSuchKey", 404):
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "missing"})
    with s3_error("NoSuchBucket", 404):
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": unique_bucket_name("nob"), "Key": "k"})


def test_copy_multipart_source(s3, bucket):
    parts = [os.urandom(5 * MIB), os.urandom(MIB)]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    done = []
    for n, data in enumerate(parts, start=1):
        etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=n, Body=data)["ETag"]
        done.append({"PartNumber": n, "ETag": etag})
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": done})
    assert s3.head_object(Bucket=bucket, Key="mp")["ETag"] == multipart_etag(parts)
    s3.copy_object(Bucket=bucket, Key="mp-copy", CopySource={"Bucket": bucket, "Key": "mp"})
    got = s3.get_object(Bucket=bucket, Key="mp-copy")
    assert md5_hex(got["Body"].read()) == md5_hex(b"".join(parts))
