"""Bucket operations through boto3."""

from __future__ import annotations

import pytest

from conftest import empty_and_delete_bucket, unique_bucket_name
from s3util import s3_error


@pytest.fixture
def new_name(s3):
    """A unique bucket name, deleted at the end if the test created it."""
    name = unique_bucket_name("b")
    yield name
    try:
        s3.head_bucket(Bucket=name)
    except Exception:
        return
    empty_and_delete_bucket(s3, name)


def test_create_head_delete(s3, new_name):
    resp = s3.create_bucket(Bucket=new_name)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["Location"] == f"/{new_name}"
    head = s3.head_bucket(Bucket=new_name)
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert head["ResponseMetadata"]["HTTPHeaders"].get("x-amz-bucket-region") == "us-east-1"
    deleted = s3.delete_bucket(Bucket=new_name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with s3_error("404", 404):
        s3.head_bucket(Bucket=new_name)


def test_create_with_location_constraint_us_east_1_style(s3, new_name):
    # Creating with no configuration is the us-east-1 form; the server's region
    # is us-east-1 so GetBucketLocation reports the empty constraint.
    s3.create_bucket(Bucket=new_name)
    loc = s3.get_bucket_location(Bucket=new_name)
    assert loc.get("LocationConstraint") in (None, "")


def test_create_duplicate(s3, bucket):
    # us-east-1 answers 200 for a bucket the caller already owns (legacy); other
    # regions 409 BucketAlreadyOwnedByYou (test_s3_conformance_misc.py).
    assert s3.create_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize(
    "name",
    [
        "UpperCase-bucket",
        "ab",
        "a" * 64,
        "192.168.5.4",
        "double..dot",
        "-starts-with-dash",
        "ends-with-dash-",
        "under_score",
        "xn--punycode-prefix",
        "bad-suffix-s3alias",
    ],
)
def test_invalid_bucket_names(s3, name):
    with s3_error("InvalidBucketName", 400):
        s3.create_bucket(Bucket=name)


@pytest.mark.parametrize("name", ["abc", "a" * 63, "with.dots.ok", "1numeric-start", "a-b-c"])
def test_valid_bucket_names(s3, name):
    try:
        s3.create_bucket(Bucket=name)
        s3.head_bucket(Bucket=name)
    finally:
        empty_and_delete_bucket(s3, name)


def test_head_missing_bucket(s3):
    with s3_error("404", 404):
        s3.head_bucket(Bucket=unique_bucket_name("missing"))


def test_delete_non_empty(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with s3_error("BucketNotEmpty", 409):
        s3.delete_bucket(Bucket=bucket)
    s3.head_bucket(Bucket=bucket)


def test_list_buckets_contains_new(s3, bucket):
    resp = s3.list_buckets()
    names = [b["Name"] for b in resp["Buckets"]]
    assert bucket in names
    assert names == sorted(names)
    assert resp["Owner"]["ID"]
    created = next(b for b in resp["Buckets"] if b["Name"] == bucket)["CreationDate"]
    assert created.year >= 2024


def test_get_bucket_acl(s3, bucket):
    acl = s3.get_bucket_acl(Bucket=bucket)
    owner = acl["Owner"]["ID"]
    assert owner
    assert owner == s3.list_buckets()["Owner"]["ID"]
    assert [(g["Grantee"]["Type"], g["Grantee"]["ID"], g["Permission"]) for g in acl["Grants"]] == [
        ("CanonicalUser", owner, "FULL_CONTROL")
    ]


def test_get_bucket_versioning_unset(s3, bucket):
    resp = s3.get_bucket_versioning(Bucket=bucket)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "Status" not in resp
    assert "MFADelete" not in resp


def test_not_configured_bucket_subresources(s3, bucket):
    with s3_error("NoSuchBucketPolicy", 404):
        s3.get_bucket_policy_status(Bucket=bucket)
    with s3_error("ServerSideEncryptionConfigurationNotFoundError", 404):
        s3.get_bucket_encryption(Bucket=bucket)
    with s3_error("NoSuchTagSet", 404):
        s3.get_bucket_tagging(Bucket=bucket)


def test_operations_on_missing_bucket(s3):
    missing = unique_bucket_name("missing")
    with s3_error("NoSuchBucket", 404):
        s3.list_objects_v2(Bucket=missing)
    with s3_error("NoSuchBucket", 404):
        s3.list_objects(Bucket=missing)
    with s3_error("NoSuchBucket", 404):
        s3.put_object(Bucket=missing, Key="k", Body=b"x")
    with s3_error("NoSuchBucket", 404):
        s3.get_object(Bucket=missing, Key="k")
    with s3_error("NoSuchBucket", 404):
        s3.delete_bucket(Bucket=missing)
    with s3_error("NoSuchBucket", 404):
        s3.get_bucket_location(Bucket=missing)
    with s3_error("NoSuchBucket", 404):
        s3.get_bucket_acl(Bucket=missing)
    with s3_error("NoSuchBucket", 404):
        s3.create_multipart_upload(Bucket=missing, Key="k")
    with s3_error("NoSuchBucket", 404):
        s3.delete_object(Bucket=missing, Key="k")
