"""S3 Object Lock through boto3 (and one raw SigV4 request), checked against
AWS S3's behaviour: lock-enabled buckets, the bucket's lock configuration and
default retention, retention and legal hold per version (on PUT and through
Put/GetObjectRetention and Put/GetObjectLegalHold), and their enforcement on
DeleteObject / DeleteObjects, with and without
x-amz-bypass-governance-retention (every caller here is the root account,
which holds s3:BypassGovernanceRetention)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import time

import pytest

from conftest import unique_bucket_name
from s3util import (
    checksum_b64,
    empty_versioned_bucket,
    parse_error,
    s3_error,
    s3_quote,
    signed_request,
)

DAY = dt.timedelta(days=1)


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def in_future(**delta) -> dt.datetime:
    """A whole-second UTC time `delta` from now."""
    return (now() + dt.timedelta(**delta)).replace(microsecond=0)


def assert_same_time(got: dt.datetime, want: dt.datetime, slack: float = 1.0) -> None:
    assert abs((got - want).total_seconds()) <= slack, (got, want)


def retention(s3, bucket: str, key: str, version: str | None = None) -> dict:
    extra = {"VersionId": version} if version else {}
    return s3.get_object_retention(Bucket=bucket, Key=key, **extra)["Retention"]


def legal_hold(s3, bucket: str, key: str, version: str | None = None) -> str:
    extra = {"VersionId": version} if version else {}
    return s3.get_object_legal_hold(Bucket=bucket, Key=key, **extra)["LegalHold"]["Status"]


def put_locked(s3, bucket: str, key: str, body: bytes, mode: str, until: dt.datetime, **extra) -> str:
    resp = s3.put_object(
        Bucket=bucket, Key=key, Body=body, ObjectLockMode=mode, ObjectLockRetainUntilDate=until, **extra
    )
    vid = resp.get("VersionId")
    assert vid and vid != "null", resp
    return vid


@pytest.fixture
def lock_bucket(s3):
    name = unique_bucket_name("lock")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    yield name
    # GOVERNANCE versions go with the bypass; COMPLIANCE ones stay behind.
    empty_versioned_bucket(s3, name)


# --------------------------------------------------------------------------
# Bucket configuration
# --------------------------------------------------------------------------


def test_create_bucket_with_object_lock(s3, lock_bucket):
    assert s3.get_bucket_versioning(Bucket=lock_bucket)["Status"] == "Enabled"
    conf = s3.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"]
    assert conf == {"ObjectLockEnabled": "Enabled"}

    # Versioning cannot be suspended on a lock-enabled bucket.
    with s3_error("InvalidBucketState", 409):
        s3.put_bucket_versioning(Bucket=lock_bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=lock_bucket)["Status"] == "Enabled"

    # Objects get real version ids and, with no default rule, no retention.
    vid = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"x")["VersionId"]
    assert vid and vid != "null"
    head = s3.head_object(Bucket=lock_bucket, Key="k")
    assert "ObjectLockMode" not in head and "ObjectLockRetainUntilDate" not in head
    with s3_error("NoSuchObjectLockConfiguration", 404):
        s3.get_object_retention(Bucket=lock_bucket, Key="k")
    with s3_error("NoSuchObjectLockConfiguration", 404):
        s3.get_object_legal_hold(Bucket=lock_bucket, Key="k", VersionId=vid)
    # Without retention or hold, a version can be deleted.
    s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid)


def test_object_lock_configuration_on_a_normal_bucket(s3, bucket):
    with s3_error("ObjectLockConfigurationNotFoundError", 404):
        s3.get_object_lock_configuration(Bucket=bucket)
    # An unversioned bucket cannot take an object lock configuration.
    with s3_error("InvalidBucketState", 409):
        s3.put_object_lock_configuration(
            Bucket=bucket,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
            },
        )
    with s3_error("ObjectLockConfigurationNotFoundError", 404):
        s3.get_object_lock_configuration(Bucket=bucket)


def test_default_retention(s3, lock_bucket):
    s3.put_object(Bucket=lock_bucket, Key="before", Body=b"x")

    s3.put_object_lock_configuration(
        Bucket=lock_bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )
    conf = s3.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"]
    assert conf == {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}

    start = now()
    vid = s3.put_object(Bucket=lock_bucket, Key="after", Body=b"y")["VersionId"]
    end = now()
    got = retention(s3, lock_bucket, "after", vid)
    assert got["Mode"] == "GOVERNANCE"
    assert start + DAY - dt.timedelta(minutes=5) <= got["RetainUntilDate"] <= end + DAY + dt.timedelta(minutes=5)
    head = s3.head_object(Bucket=lock_bucket, Key="after")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert_same_time(head["ObjectLockRetainUntilDate"], got["RetainUntilDate"])
    # The default applies to new versions only.
    with s3_error("NoSuchObjectLockConfiguration", 404):
        s3.get_object_retention(Bucket=lock_bucket, Key="before")
    # It protects them like explicit retention does.
    with s3_error("AccessDenied", 403):
        s3.delete_object(Bucket=lock_bucket, Key="after", VersionId=vid)

    # Explicit lock headers win over the default.
    until = in_future(days=2)
    explicit = put_locked(s3, lock_bucket, "explicit", b"z", "GOVERNANCE", until)
    assert_same_time(retention(s3, lock_bucket, "explicit", explicit)["RetainUntilDate"], until)

    # A rule in years.
    s3.put_object_lock_configuration(
        Bucket=lock_bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Years": 1}},
        },
    )
    conf = s3.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"]
    assert conf["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Years": 1}
    s3.put_object(Bucket=lock_bucket, Key="year", Body=b"y")
    until = retention(s3, lock_bucket, "year")["RetainUntilDate"]
    assert abs((until - now()).total_seconds() - 365 * 86400) <= 2 * 86400

    # Removing the rule: new versions are unprotected again.
    s3.put_object_lock_configuration(Bucket=lock_bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert s3.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled"
    }
    s3.put_object(Bucket=lock_bucket, Key="unprotected", Body=b"u")
    with s3_error("NoSuchObjectLockConfiguration", 404):
        s3.get_object_retention(Bucket=lock_bucket, Key="unprotected")


def test_default_retention_applies_to_multipart_upload(s3, lock_bucket):
    s3.put_object_lock_configuration(
        Bucket=lock_bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )
    up = s3.create_multipart_upload(Bucket=lock_bucket, Key="mp")
    data = os.urandom(10_000)
    part = s3.upload_part(Bucket=lock_bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=data)
    done = s3.complete_multipart_upload(
        Bucket=lock_bucket,
        Key="mp",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    got = retention(s3, lock_bucket, "mp", done["VersionId"])
    assert got["Mode"] == "GOVERNANCE"
    assert abs((got["RetainUntilDate"] - (now() + DAY)).total_seconds()) < 300
    with s3_error("AccessDenied", 403):
        s3.delete_object(Bucket=lock_bucket, Key="mp", VersionId=done["VersionId"])


def test_lock_headers_on_create_multipart_upload_reach_the_object(s3, lock_bucket):
    until = in_future(days=2)
    up = s3.create_multipart_upload(
        Bucket=lock_bucket,
        Key="mpl",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
        ObjectLockLegalHoldStatus="ON",
    )
    data = os.urandom(10_000)
    part = s3.upload_part(Bucket=lock_bucket, Key="mpl", UploadId=up["UploadId"], PartNumber=1, Body=data)
    done = s3.complete_multipart_upload(
        Bucket=lock_bucket,
        Key="mpl",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    got = retention(s3, lock_bucket, "mpl", done["VersionId"])
    assert got["Mode"] == "COMPLIANCE"
    assert_same_time(got["RetainUntilDate"], until)
    assert legal_hold(s3, lock_bucket, "mpl", done["VersionId"]) == "ON"
    with s3_error("AccessDenied", 403):
        s3.delete_object(Bucket=lock_bucket, Key="mpl", VersionId=done["VersionId"])


# --------------------------------------------------------------------------
# Lock headers on PutObject
# --------------------------------------------------------------------------


def test_retention_and_legal_hold_headers_on_put(s3, lock_bucket):
    until = in_future(days=1)
    vid = put_locked(s3, lock_bucket, "k", b"locked", "GOVERNANCE", until, ObjectLockLegalHoldStatus="ON")
    got = retention(s3, lock_bucket, "k", vid)
    assert got["Mode"] == "GOVERNANCE"
    assert_same_time(got["RetainUntilDate"], until)
    assert legal_hold(s3, lock_bucket, "k", vid) == "ON"
    for resp in (s3.head_object(Bucket=lock_bucket, Key="k"), s3.get_object(Bucket=lock_bucket, Key="k")):
        assert resp["ObjectLockMode"] == "GOVERNANCE"
        assert_same_time(resp["ObjectLockRetainUntilDate"], until)
        assert resp["ObjectLockLegalHoldStatus"] == "ON"
    s3.put_object_legal_hold(Bucket=lock_bucket, Key="k", VersionId=vid, LegalHold={"Status": "OFF"})

    vid = put_locked(s3, lock_bucket, "c", b"compliance", "COMPLIANCE", until)
    got = retention(s3, lock_bucket, "c", vid)
    assert got["Mode"] == "COMPLIANCE"
    assert_same_time(got["RetainUntilDate"], until)


def test_lock_headers_need_content_md5_or_checksum(s3, hafiz, lock_bucket):
    until = in_future(days=1).strftime("%Y-%m-%dT%H:%M:%SZ")
    lock_headers = {
        "x-amz-object-lock-mode": "GOVERNANCE",
        "x-amz-object-lock-retain-until-date": until,
    }
    body = b"locked body"
    url = f"{hafiz.endpoint}/{lock_bucket}/{s3_quote('raw')}"
    creds = dict(access_key=hafiz.access_key, secret_key=hafiz.secret_key)

    # Signed (x-amz-content-sha256 is the body's hash) but no Content-MD5 and
    # no x-amz-checksum-*: refused.
    r = signed_request("PUT", url, headers=lock_headers, body=body, **creds)
    assert r.status_code == 400, r.content
    assert parse_error(r.content)["Code"] == "InvalidRequest"
    assert s3.list_object_versions(Bucket=lock_bucket).get("Versions", []) == []

    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    r = signed_request("PUT", url, headers={**lock_headers, "Content-MD5": md5}, body=body, **creds)
    assert r.status_code == 200, r.content
    vid = r.headers["x-amz-version-id"]
    assert retention(s3, lock_bucket, "raw", vid)["Mode"] == "GOVERNANCE"

    crc = checksum_b64("CRC32", body)
    r = signed_request("PUT", url, headers={**lock_headers, "x-amz-checksum-crc32": crc}, body=body, **creds)
    assert r.status_code == 200, r.content
    assert retention(s3, lock_bucket, "raw", r.headers["x-amz-version-id"])["Mode"] == "GOVERNANCE"


def test_lock_requests_on_a_bucket_without_object_lock(s3, bucket):
    with s3_error("InvalidRequest", 400):
        s3.put_object(
            Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=in_future(days=1)
        )
    with s3_error("InvalidRequest", 400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON")
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="k")

    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with s3_error("InvalidRequest", 400):
        s3.get_object_retention(Bucket=bucket, Key="k")
    with s3_error("InvalidRequest", 400):
        s3.put_object_retention(
            Bucket=bucket, Key="k", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": in_future(days=1)}
        )
    with s3_error("InvalidRequest", 400):
        s3.get_object_legal_hold(Bucket=bucket, Key="k")
    with s3_error("InvalidRequest", 400):
        s3.put_object_legal_hold(Bucket=bucket, Key="k", LegalHold={"Status": "ON"})
    # Nothing stuck: the object can still be deleted.
    s3.delete_object(Bucket=bucket, Key="k")


# --------------------------------------------------------------------------
# Enforcement on delete
# --------------------------------------------------------------------------


def test_compliance_version_cannot_be_deleted(s3, lock_bucket):
    vid = put_locked(s3, lock_bucket, "k", b"kept", "COMPLIANCE", in_future(days=1))
    with s3_error("AccessDenied", 403):
        s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid)
    with s3_error("AccessDenied", 403):
        s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid, BypassGovernanceRetention=True)
    assert s3.get_object(Bucket=lock_bucket, Key="k", VersionId=vid)["Body"].read() == b"kept"


def test_governance_version_delete_needs_bypass(s3, lock_bucket):
    vid = put_locked(s3, lock_bucket, "k", b"kept", "GOVERNANCE", in_future(days=1))
    with s3_error("AccessDenied", 403):
        s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid)
    assert s3.get_object(Bucket=lock_bucket, Key="k", VersionId=vid)["Body"].read() == b"kept"
    resp = s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid, BypassGovernanceRetention=True)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    with s3_error("NoSuchVersion", 404):
        s3.get_object(Bucket=lock_bucket, Key="k", VersionId=vid)


def test_retention_expired_allows_delete(s3, lock_bucket):
    vid = put_locked(s3, lock_bucket, "k", b"briefly", "COMPLIANCE", in_future(seconds=2))
    with s3_error("AccessDenied", 403):
        s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid)
    time.sleep(max(0.0, (retention(s3, lock_bucket, "k", vid)["RetainUntilDate"] - now()).total_seconds()) + 0.5)
    resp = s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204


@pytest.mark.parametrize("mode", ["GOVERNANCE", "COMPLIANCE"])
def test_delete_without_version_adds_marker_to_locked_object(s3, lock_bucket, mode):
    vid = put_locked(s3, lock_bucket, "k", b"still here", mode, in_future(days=1))
    resp = s3.delete_object(Bucket=lock_bucket, Key="k")
    assert resp["DeleteMarker"] is True
    marker = resp["VersionId"]
    assert marker and marker != vid
    with s3_error("NoSuchKey", 404):
        s3.get_object(Bucket=lock_bucket, Key="k")
    assert s3.get_object(Bucket=lock_bucket, Key="k", VersionId=vid)["Body"].read() == b"still here"
    # The marker itself carries no lock and can be removed.
    s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=marker)
    assert s3.get_object(Bucket=lock_bucket, Key="k")["Body"].read() == b"still here"


# --------------------------------------------------------------------------
# PutObjectRetention
# --------------------------------------------------------------------------


def test_compliance_retention_can_only_be_extended(s3, lock_bucket):
    until = in_future(days=1)
    vid = put_locked(s3, lock_bucket, "k", b"x", "COMPLIANCE", until)

    later = until + DAY
    s3.put_object_retention(
        Bucket=lock_bucket, Key="k", VersionId=vid, Retention={"Mode": "COMPLIANCE", "RetainUntilDate": later}
    )
    got = retention(s3, lock_bucket, "k", vid)
    assert got["Mode"] == "COMPLIANCE"
    assert_same_time(got["RetainUntilDate"], later)

    with s3_error("AccessDenied", 403):
        s3.put_object_retention(
            Bucket=lock_bucket, Key="k", VersionId=vid, Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until}
        )
    with s3_error("AccessDenied", 403):
        s3.put_object_retention(
            Bucket=lock_bucket,
            Key="k",
            VersionId=vid,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until},
            BypassGovernanceRetention=True,
        )
    with s3_error("AccessDenied", 403):
        s3.put_object_retention(
            Bucket=lock_bucket, Key="k", VersionId=vid, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later}
        )
    got = retention(s3, lock_bucket, "k", vid)
    assert got["Mode"] == "COMPLIANCE"
    assert_same_time(got["RetainUntilDate"], later)


def test_governance_retention_shortening_needs_bypass(s3, lock_bucket):
    until = in_future(days=2)
    vid = put_locked(s3, lock_bucket, "k", b"x", "GOVERNANCE", until)

    # Extending needs no bypass.
    later = until + DAY
    s3.put_object_retention(
        Bucket=lock_bucket, Key="k", VersionId=vid, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later}
    )
    assert_same_time(retention(s3, lock_bucket, "k", vid)["RetainUntilDate"], later)

    shorter = in_future(days=1)
    with s3_error("AccessDenied", 403):
        s3.put_object_retention(
            Bucket=lock_bucket, Key="k", VersionId=vid, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": shorter}
        )
    assert_same_time(retention(s3, lock_bucket, "k", vid)["RetainUntilDate"], later)

    s3.put_object_retention(
        Bucket=lock_bucket,
        Key="k",
        VersionId=vid,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": shorter},
        BypassGovernanceRetention=True,
    )
    got = retention(s3, lock_bucket, "k", vid)
    assert got["Mode"] == "GOVERNANCE"
    assert_same_time(got["RetainUntilDate"], shorter)


def test_put_object_retention_sets_and_validates(s3, lock_bucket):
    v1 = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"2")["VersionId"]
    until = in_future(days=1)
    resp = s3.put_object_retention(
        Bucket=lock_bucket, Key="k", VersionId=v1, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until}
    )
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert_same_time(retention(s3, lock_bucket, "k", v1)["RetainUntilDate"], until)
    # Only that version.
    with s3_error("NoSuchObjectLockConfiguration", 404):
        s3.get_object_retention(Bucket=lock_bucket, Key="k", VersionId=v2)
    with s3_error("NoSuchObjectLockConfiguration", 404):
        s3.get_object_retention(Bucket=lock_bucket, Key="k")
    s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=v2)

    # A retain-until date in the past is refused.
    v3 = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"3")["VersionId"]
    with s3_error("InvalidArgument", 400):
        s3.put_object_retention(
            Bucket=lock_bucket,
            Key="k",
            VersionId=v3,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": now().replace(microsecond=0) - DAY},
        )
    with s3_error("NoSuchObjectLockConfiguration", 404):
        s3.get_object_retention(Bucket=lock_bucket, Key="k", VersionId=v3)
    with s3_error("NoSuchKey", 404):
        s3.put_object_retention(
            Bucket=lock_bucket, Key="missing", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until}
        )


# --------------------------------------------------------------------------
# Legal hold
# --------------------------------------------------------------------------


def test_legal_hold(s3, lock_bucket):
    vid = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"held")["VersionId"]
    with s3_error("NoSuchObjectLockConfiguration", 404):
        s3.get_object_legal_hold(Bucket=lock_bucket, Key="k", VersionId=vid)

    resp = s3.put_object_legal_hold(Bucket=lock_bucket, Key="k", VersionId=vid, LegalHold={"Status": "ON"})
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert legal_hold(s3, lock_bucket, "k", vid) == "ON"
    assert legal_hold(s3, lock_bucket, "k") == "ON"
    assert s3.head_object(Bucket=lock_bucket, Key="k", VersionId=vid)["ObjectLockLegalHoldStatus"] == "ON"
    # A legal hold needs no retention period and no bypass can lift it.
    with s3_error("NoSuchObjectLockConfiguration", 404):
        s3.get_object_retention(Bucket=lock_bucket, Key="k", VersionId=vid)
    with s3_error("AccessDenied", 403):
        s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid)
    with s3_error("AccessDenied", 403):
        s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid, BypassGovernanceRetention=True)
    assert s3.get_object(Bucket=lock_bucket, Key="k", VersionId=vid)["Body"].read() == b"held"

    s3.put_object_legal_hold(Bucket=lock_bucket, Key="k", VersionId=vid, LegalHold={"Status": "OFF"})
    assert legal_hold(s3, lock_bucket, "k", vid) == "OFF"
    resp = s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    with s3_error("NoSuchVersion", 404):
        s3.get_object(Bucket=lock_bucket, Key="k", VersionId=vid)


def test_legal_hold_blocks_delete_of_governance_version_even_with_bypass(s3, lock_bucket):
    vid = put_locked(s3, lock_bucket, "k", b"x", "GOVERNANCE", in_future(days=1), ObjectLockLegalHoldStatus="ON")
    with s3_error("AccessDenied", 403):
        s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid, BypassGovernanceRetention=True)
    s3.put_object_legal_hold(Bucket=lock_bucket, Key="k", VersionId=vid, LegalHold={"Status": "OFF"})
    with s3_error("AccessDenied", 403):
        s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid)
    s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid, BypassGovernanceRetention=True)


# --------------------------------------------------------------------------
# DeleteObjects
# --------------------------------------------------------------------------


def test_delete_objects_reports_locked_versions(s3, lock_bucket):
    locked = put_locked(s3, lock_bucket, "locked", b"L", "GOVERNANCE", in_future(days=1))
    compliance = put_locked(s3, lock_bucket, "compliance", b"C", "COMPLIANCE", in_future(days=1))
    free = s3.put_object(Bucket=lock_bucket, Key="free", Body=b"F")["VersionId"]

    resp = s3.delete_objects(
        Bucket=lock_bucket,
        Delete={
            "Objects": [
                {"Key": "locked", "VersionId": locked},
                {"Key": "compliance", "VersionId": compliance},
                {"Key": "free", "VersionId": free},
            ]
        },
    )
    errors = {(e["Key"], e.get("VersionId")): e["Code"] for e in resp.get("Errors", [])}
    assert errors == {("locked", locked): "AccessDenied", ("compliance", compliance): "AccessDenied"}
    assert [(d["Key"], d["VersionId"]) for d in resp.get("Deleted", [])] == [("free", free)]
    assert s3.get_object(Bucket=lock_bucket, Key="locked", VersionId=locked)["Body"].read() == b"L"
    with s3_error("NoSuchVersion", 404):
        s3.get_object(Bucket=lock_bucket, Key="free", VersionId=free)

    # With the bypass header, GOVERNANCE gives way; COMPLIANCE does not.
    resp = s3.delete_objects(
        Bucket=lock_bucket,
        Delete={"Objects": [{"Key": "locked", "VersionId": locked}, {"Key": "compliance", "VersionId": compliance}]},
        BypassGovernanceRetention=True,
    )
    assert [(d["Key"], d["VersionId"]) for d in resp.get("Deleted", [])] == [("locked", locked)]
    assert [(e["Key"], e["Code"]) for e in resp.get("Errors", [])] == [("compliance", "AccessDenied")]

    # Without a version id, a locked object just gets a delete marker.
    resp = s3.delete_objects(Bucket=lock_bucket, Delete={"Objects": [{"Key": "compliance"}]})
    assert resp.get("Errors", []) == []
    [entry] = resp["Deleted"]
    assert entry["Key"] == "compliance" and entry["DeleteMarker"] is True and entry["DeleteMarkerVersionId"]
    assert s3.get_object(Bucket=lock_bucket, Key="compliance", VersionId=compliance)["Body"].read() == b"C"
