"""Object and bucket tagging through boto3, checked against AWS S3's
behaviour: Put/Get/DeleteObjectTagging, x-amz-tagging on PutObject,
CopyObject and CreateMultipartUpload, x-amz-tagging-count on GET/HEAD,
the tag limits, and Get/Put/DeleteBucketTagging."""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError

from s3util import s3_error


def tagset(resp) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resp["TagSet"]}


def tags(mapping: dict[str, str]) -> dict:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in mapping.items()]}


def tagging_count_header(resp) -> str | None:
    return resp["ResponseMetadata"]["HTTPHeaders"].get("x-amz-tagging-count")


def expect_400(call, codes: tuple[str, ...]):
    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400, err
    assert err["Error"]["Code"] in codes, err
    return err


# --------------------------------------------------------------------------
# Object tagging
# --------------------------------------------------------------------------


def test_object_tagging_put_get_delete(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []

    resp = s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tags({"color": "blue", "size": "L"}))
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="k")) == {"color": "blue", "size": "L"}

    # A PUT replaces the whole set, it does not merge.
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tags({"shape": "round"}))
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="k")) == {"shape": "round"}

    # Characters AWS allows: letters, digits, spaces, + - = . _ : / @, and empty values.
    odd = {"a key with spaces": "v+a-l=u.e_:/@", "unicode ключ": "значение", "empty": ""}
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tags(odd))
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="k")) == odd

    resp = s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    # The object itself is untouched.
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"


def test_put_object_with_tagging_header_and_tag_count(s3, bucket):
    s3.put_object(Bucket=bucket, Key="tagged", Body=b"x", Tagging="a=1&b=2")
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="tagged")) == {"a": "1", "b": "2"}

    got = s3.get_object(Bucket=bucket, Key="tagged")
    assert got["TagCount"] == 2
    assert tagging_count_header(got) == "2"
    # HEAD sends x-amz-tagging-count too (older SDK models lack the field).
    head = s3.head_object(Bucket=bucket, Key="tagged")
    assert tagging_count_header(head) == "2"

    # URL-encoded keys and values; an empty value.
    s3.put_object(Bucket=bucket, Key="encoded", Body=b"x", Tagging="k%20x=v%2By&empty=&slash=a%2Fb")
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="encoded")) == {"k x": "v+y", "empty": "", "slash": "a/b"}
    assert s3.get_object(Bucket=bucket, Key="encoded")["TagCount"] == 3

    # No tags: no count header at all.
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    got = s3.get_object(Bucket=bucket, Key="plain")
    assert "TagCount" not in got and tagging_count_header(got) is None
    assert tagging_count_header(s3.head_object(Bucket=bucket, Key="plain")) is None

    # The count follows PutObjectTagging / DeleteObjectTagging.
    s3.put_object_tagging(Bucket=bucket, Key="plain", Tagging=tags({"one": "1"}))
    assert s3.get_object(Bucket=bucket, Key="plain")["TagCount"] == 1
    assert tagging_count_header(s3.head_object(Bucket=bucket, Key="plain")) == "1"
    s3.delete_object_tagging(Bucket=bucket, Key="tagged")
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="tagged")


def test_overwrite_drops_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="a=1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="k")


def test_copy_object_tagging_directive(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"source", Tagging="origin=src&n=1")
    source = {"Bucket": bucket, "Key": "src"}

    s3.copy_object(Bucket=bucket, Key="default", CopySource=source)
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="default")) == {"origin": "src", "n": "1"}

    s3.copy_object(Bucket=bucket, Key="copy", CopySource=source, TaggingDirective="COPY")
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="copy")) == {"origin": "src", "n": "1"}

    s3.copy_object(Bucket=bucket, Key="replace", CopySource=source, TaggingDirective="REPLACE", Tagging="new=tag")
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="replace")) == {"new": "tag"}
    assert s3.get_object(Bucket=bucket, Key="replace")["TagCount"] == 1

    s3.copy_object(Bucket=bucket, Key="replace-empty", CopySource=source, TaggingDirective="REPLACE")
    assert s3.get_object_tagging(Bucket=bucket, Key="replace-empty")["TagSet"] == []

    # The source keeps its tags.
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="src")) == {"origin": "src", "n": "1"}


def test_multipart_upload_with_tagging(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="project=hafiz&stage=test")
    data = os.urandom(50_000)
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=data)["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
    )
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="mp")) == {"project": "hafiz", "stage": "test"}
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == data
    assert got["TagCount"] == 2


def test_object_tag_limits(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    base = {"keep": "me"}
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tags(base))

    # At the limits: 10 tags, 128-character keys, 256-character values.
    ten = {f"t{i}": str(i) for i in range(10)}
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tags(ten))
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="k")) == ten
    longest = {"k" * 128: "v" * 256}
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tags(longest))
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="k")) == longest
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tags(base))

    # AWS answers BadRequest "Object tags cannot be greater than 10".
    eleven = {f"t{i}": str(i) for i in range(11)}
    expect_400(lambda: s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tags(eleven)), ("BadRequest", "InvalidTag"))
    expect_400(lambda: s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tags({"k" * 129: "v"})), ("InvalidTag",))
    expect_400(lambda: s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tags({"k": "v" * 257})), ("InvalidTag",))
    duplicate = {"TagSet": [{"Key": "dup", "Value": "1"}, {"Key": "dup", "Value": "2"}]}
    expect_400(lambda: s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=duplicate), ("InvalidTag",))
    # None of the failed requests changed the tags.
    assert tagset(s3.get_object_tagging(Bucket=bucket, Key="k")) == base

    # The same limits apply to x-amz-tagging on PutObject; nothing is stored.
    many = "&".join(f"t{i}={i}" for i in range(11))
    expect_400(lambda: s3.put_object(Bucket=bucket, Key="new", Body=b"x", Tagging=many), ("BadRequest", "InvalidTag"))
    expect_400(lambda: s3.put_object(Bucket=bucket, Key="new", Body=b"x", Tagging="k" * 129 + "=v"), ("InvalidTag",))
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="new")


def test_object_tagging_missing_key(s3, bucket):
    with s3_error("NoSuchKey", 404):
        s3.put_object_tagging(Bucket=bucket, Key="missing", Tagging=tags({"a": "b"}))
    with s3_error("NoSuchKey", 404):
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    with s3_error("NoSuchKey", 404):
        s3.delete_object_tagging(Bucket=bucket, Key="missing")


# --------------------------------------------------------------------------
# Bucket tagging
# --------------------------------------------------------------------------


def test_bucket_tagging_put_get_delete(s3, bucket):
    with s3_error("NoSuchTagSet", 404):
        s3.get_bucket_tagging(Bucket=bucket)

    resp = s3.put_bucket_tagging(Bucket=bucket, Tagging=tags({"team": "storage", "env": "test"}))
    assert resp["ResponseMetadata"]["HTTPStatusCode"] in (200, 204)
    assert tagset(s3.get_bucket_tagging(Bucket=bucket)) == {"team": "storage", "env": "test"}

    # PUT replaces the whole set.
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tags({"only": "this"}))
    assert tagset(s3.get_bucket_tagging(Bucket=bucket)) == {"only": "this"}

    resp = s3.delete_bucket_tagging(Bucket=bucket)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    with s3_error("NoSuchTagSet", 404):
        s3.get_bucket_tagging(Bucket=bucket)

    # Bucket tags are not object tags.
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tags({"b": "1"}))
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []


def test_bucket_tag_limits(s3, bucket):
    fifty = {f"t{i:02d}": str(i) for i in range(50)}
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tags(fifty))
    assert tagset(s3.get_bucket_tagging(Bucket=bucket)) == fifty

    fifty_one = {f"t{i:02d}": str(i) for i in range(51)}
    expect_400(lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging=tags(fifty_one)), ("BadRequest", "InvalidTag"))
    duplicate = {"TagSet": [{"Key": "dup", "Value": "1"}, {"Key": "dup", "Value": "2"}]}
    expect_400(lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging=duplicate), ("InvalidTag",))
    expect_400(lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging=tags({"k" * 129: "v"})), ("InvalidTag",))
    assert tagset(s3.get_bucket_tagging(Bucket=bucket)) == fifty
