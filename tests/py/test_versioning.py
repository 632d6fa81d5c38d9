"""S3 versioning through boto3 and the aws CLI, checked against AWS S3's
behaviour: bucket versioning state, version ids on PUT/COPY/Complete/DELETE,
reads by version, delete markers, the `null` version of unversioned and
suspended buckets, ListObjectVersions (order, prefix, delimiter, pagination),
DeleteObjects with version ids, and tagging of one version."""

from __future__ import annotations

import json
import os

import botocore.exceptions
import pytest
from botocore.exceptions import ClientError

from conftest import unique_bucket_name
from s3util import (
    empty_versioned_bucket,
    parse_xml,
    quoted_md5,
    s3_error,
    signed_request,
    strip_ns,
)


# --------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------


@pytest.fixture
def plain_bucket(s3):
    """A new, never-versioned bucket (cleaned up version by version)."""
    name = unique_bucket_name("v")
    s3.create_bucket(Bucket=name)
    yield name
    empty_versioned_bucket(s3, name)


@pytest.fixture
def vbucket(s3, plain_bucket):
    """A new bucket with versioning Enabled."""
    s3.put_bucket_versioning(Bucket=plain_bucket, VersioningConfiguration={"Status": "Enabled"})
    return plain_bucket


def put_version(s3, bucket: str, key: str, body: bytes, **extra) -> str:
    """PUT in a versioning-enabled bucket; returns the new version id."""
    resp = s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
    vid = resp.get("VersionId")
    assert vid and vid != "null", resp
    assert resp["ResponseMetadata"]["HTTPHeaders"].get("x-amz-version-id") == vid
    return vid


def headers(exc: ClientError) -> dict[str, str]:
    return exc.response["ResponseMetadata"]["HTTPHeaders"]


def versions_of(s3, bucket: str, **params) -> tuple[list[dict], list[dict]]:
    """(Versions, DeleteMarkers) of one ListObjectVersions page."""
    resp = s3.list_object_versions(Bucket=bucket, **params)
    return resp.get("Versions", []), resp.get("DeleteMarkers", [])


def raw_version_entries(hafiz, bucket: str, query: str = "versions") -> list[tuple[str, str, str, bool]]:
    """ListObjectVersions entries in document order as (kind, key, version id,
    is latest); kind is "Version" or "DeleteMarker". boto3 splits the two
    kinds into separate lists, which hides how they are interleaved."""
    r = signed_request(
        "GET",
        f"{hafiz.endpoint}/{bucket}?{query}",
        access_key=hafiz.access_key,
        secret_key=hafiz.secret_key,
    )
    assert r.status_code == 200, r.content
    out = []
    for child in parse_xml(r.content):
        kind = strip_ns(child.tag)
        if kind not in ("Version", "DeleteMarker"):
            continue
        fields = {strip_ns(c.tag): (c.text or "") for c in child}
        out.append((kind, fields["Key"], fields["VersionId"], fields["IsLatest"] == "true"))
    return out


# --------------------------------------------------------------------------
# Bucket versioning state
# --------------------------------------------------------------------------


def test_bucket_versioning_status_transitions(s3, plain_bucket):
    resp = s3.get_bucket_versioning(Bucket=plain_bucket)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "Status" not in resp
    s3.put_bucket_versioning(Bucket=plain_bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=plain_bucket)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=plain_bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=plain_bucket)["Status"] == "Suspended"
    s3.put_bucket_versioning(Bucket=plain_bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=plain_bucket)["Status"] == "Enabled"


def test_put_bucket_versioning_invalid_status(s3, plain_bucket):
    with pytest.raises(ClientError) as info:
        s3.put_bucket_versioning(Bucket=plain_bucket, VersioningConfiguration={"Status": "Bogus"})
    err = info.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400, err
    assert err["Error"]["Code"] in ("MalformedXML", "IllegalVersioningConfigurationException"), err
    # Nothing changed.
    assert "Status" not in s3.get_bucket_versioning(Bucket=plain_bucket)


# --------------------------------------------------------------------------
# Version ids on writes, reads by version
# --------------------------------------------------------------------------


def test_put_get_head_by_version(s3, vbucket):
    first, second = os.urandom(1000), os.urandom(2000)
    v1 = put_version(s3, vbucket, "k", first)
    v2 = put_version(s3, vbucket, "k", second)
    assert v1 != v2

    latest = s3.get_object(Bucket=vbucket, Key="k")
    assert latest["Body"].read() == second
    assert latest["VersionId"] == v2

    old = s3.get_object(Bucket=vbucket, Key="k", VersionId=v1)
    assert old["Body"].read() == first
    assert old["VersionId"] == v1
    assert old["ETag"] == quoted_md5(first)
    assert old["ResponseMetadata"]["HTTPHeaders"]["x-amz-version-id"] == v1

    head = s3.head_object(Bucket=vbucket, Key="k", VersionId=v1)
    assert head["VersionId"] == v1
    assert head["ContentLength"] == len(first)
    assert head["ETag"] == quoted_md5(first)
    head = s3.head_object(Bucket=vbucket, Key="k", VersionId=v2)
    assert head["VersionId"] == v2 and head["ContentLength"] == len(second)
    head = s3.head_object(Bucket=vbucket, Key="k")
    assert head["VersionId"] == v2 and head["ContentLength"] == len(second)

    # Ranged read of an old version.
    part = s3.get_object(Bucket=vbucket, Key="k", VersionId=v1, Range="bytes=10-19")
    assert part["Body"].read() == first[10:20]
    assert part["VersionId"] == v1


def test_copy_object_specific_version(s3, vbucket):
    first, second = os.urandom(500), os.urandom(700)
    v1 = put_version(s3, vbucket, "src", first)
    v2 = put_version(s3, vbucket, "src", second)
    resp = s3.copy_object(
        Bucket=vbucket, Key="dst", CopySource={"Bucket": vbucket, "Key": "src", "VersionId": v1}
    )
    assert resp["CopySourceVersionId"] == v1
    assert resp["CopyObjectResult"]["ETag"] == quoted_md5(first)
    new = resp.get("VersionId")
    assert new and new not in ("null", v1, v2)
    got = s3.get_object(Bucket=vbucket, Key="dst")
    assert got["Body"].read() == first
    assert got["VersionId"] == new
    # The source keeps both versions, the latest unchanged.
    assert s3.get_object(Bucket=vbucket, Key="src")["VersionId"] == v2

    # Copying a version onto its own key makes it the latest again.
    back = s3.copy_object(
        Bucket=vbucket, Key="src", CopySource={"Bucket": vbucket, "Key": "src", "VersionId": v1}
    )
    assert back["CopySourceVersionId"] == v1
    restored = s3.get_object(Bucket=vbucket, Key="src")
    assert restored["Body"].read() == first
    assert restored["VersionId"] == back["VersionId"] not in (v1, v2)
    assert len(versions_of(s3, vbucket, Prefix="src")[0]) == 3


def test_complete_multipart_upload_returns_version_id(s3, vbucket):
    v1 = put_version(s3, vbucket, "mp", b"before")
    up = s3.create_multipart_upload(Bucket=vbucket, Key="mp")
    data = os.urandom(100_000)
    etag = s3.upload_part(Bucket=vbucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=data)["ETag"]
    done = s3.complete_multipart_upload(
        Bucket=vbucket,
        Key="mp",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    vid = done.get("VersionId")
    assert vid and vid not in ("null", v1)
    got = s3.get_object(Bucket=vbucket, Key="mp")
    assert got["Body"].read() == data and got["VersionId"] == vid
    assert s3.get_object(Bucket=vbucket, Key="mp", VersionId=v1)["Body"].read() == b"before"


# --------------------------------------------------------------------------
# Unversioned buckets and the null version
# --------------------------------------------------------------------------


def test_unversioned_bucket_has_only_the_null_version(s3, plain_bucket):
    put = s3.put_object(Bucket=plain_bucket, Key="k", Body=b"data")
    assert "VersionId" not in put
    assert "x-amz-version-id" not in put["ResponseMetadata"]["HTTPHeaders"]

    head = s3.head_object(Bucket=plain_bucket, Key="k", VersionId="null")
    assert head["ContentLength"] == 4
    assert s3.get_object(Bucket=plain_bucket, Key="k", VersionId="null")["Body"].read() == b"data"

    # A version id that is not "null" is not a valid id here.
    with s3_error("InvalidArgument", 400) as info:
        s3.get_object(Bucket=plain_bucket, Key="k", VersionId="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
    assert "version" in info.value.response["Error"].get("Message", "").lower()

    versions, markers = versions_of(s3, plain_bucket)
    assert markers == []
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in versions] == [("k", "null", True)]
    assert versions[0]["ETag"] == quoted_md5(b"data") and versions[0]["Size"] == 4

    # DELETE in an unversioned bucket removes the object, no marker.
    resp = s3.delete_object(Bucket=plain_bucket, Key="k")
    assert not resp.get("DeleteMarker")
    assert versions_of(s3, plain_bucket) == ([], [])


def test_object_from_before_versioning_becomes_the_null_version(s3, plain_bucket):
    s3.put_object(Bucket=plain_bucket, Key="k", Body=b"old")
    s3.put_bucket_versioning(Bucket=plain_bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = put_version(s3, plain_bucket, "k", b"new")
    assert s3.get_object(Bucket=plain_bucket, Key="k")["Body"].read() == b"new"
    old = s3.get_object(Bucket=plain_bucket, Key="k", VersionId="null")
    assert old["Body"].read() == b"old"
    versions, _ = versions_of(s3, plain_bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(v1, True), ("null", False)]


def test_get_deleted_version_is_no_such_version(s3, vbucket):
    v1 = put_version(s3, vbucket, "k", b"one")
    v2 = put_version(s3, vbucket, "k", b"two")
    resp = s3.delete_object(Bucket=vbucket, Key="k", VersionId=v1)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert resp.get("VersionId") == v1
    assert not resp.get("DeleteMarker")
    with s3_error("NoSuchVersion", 404):
        s3.get_object(Bucket=vbucket, Key="k", VersionId=v1)
    with s3_error("404", 404):
        s3.head_object(Bucket=vbucket, Key="k", VersionId=v1)
    got = s3.get_object(Bucket=vbucket, Key="k")
    assert got["Body"].read() == b"two" and got["VersionId"] == v2
    # Deleting a version that no longer exists is not an error.
    again = s3.delete_object(Bucket=vbucket, Key="k", VersionId=v1)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert [v["VersionId"] for v in versions_of(s3, vbucket)[0]] == [v2]


# --------------------------------------------------------------------------
# Delete markers
# --------------------------------------------------------------------------


def test_delete_marker_lifecycle(s3, vbucket):
    v1 = put_version(s3, vbucket, "k", b"first")
    v2 = put_version(s3, vbucket, "k", b"second")

    resp = s3.delete_object(Bucket=vbucket, Key="k")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert resp["DeleteMarker"] is True
    marker = resp.get("VersionId")
    assert marker and marker not in ("null", v1, v2)

    with s3_error("NoSuchKey", 404) as info:
        s3.get_object(Bucket=vbucket, Key="k")
    assert headers(info.value).get("x-amz-delete-marker") == "true"
    with s3_error("404", 404) as info:
        s3.head_object(Bucket=vbucket, Key="k")
    assert headers(info.value).get("x-amz-delete-marker") == "true"
    listed = s3.list_objects_v2(Bucket=vbucket)
    assert listed["KeyCount"] == 0 and "Contents" not in listed
    assert s3.list_objects(Bucket=vbucket).get("Contents", []) == []
    # Copying from a key whose latest version is a marker finds nothing.
    with s3_error("NoSuchKey", 404):
        s3.copy_object(Bucket=vbucket, Key="copy", CopySource={"Bucket": vbucket, "Key": "k"})

    # Older versions are still readable by id.
    assert s3.get_object(Bucket=vbucket, Key="k", VersionId=v1)["Body"].read() == b"first"
    assert s3.get_object(Bucket=vbucket, Key="k", VersionId=v2)["Body"].read() == b"second"

    # A delete marker has no data: GET/HEAD of its version id is 405.
    with s3_error("MethodNotAllowed", 405):
        s3.get_object(Bucket=vbucket, Key="k", VersionId=marker)
    with s3_error("405", 405):
        s3.head_object(Bucket=vbucket, Key="k", VersionId=marker)

    versions, markers = versions_of(s3, vbucket)
    assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in markers] == [("k", marker, True)]
    assert markers[0]["LastModified"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(v2, False), (v1, False)]

    # Removing the marker brings the previous version back.
    undo = s3.delete_object(Bucket=vbucket, Key="k", VersionId=marker)
    assert undo["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert undo["DeleteMarker"] is True
    assert undo["VersionId"] == marker
    got = s3.get_object(Bucket=vbucket, Key="k")
    assert got["Body"].read() == b"second" and got["VersionId"] == v2
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=vbucket)["Contents"]] == ["k"]
    versions, markers = versions_of(s3, vbucket)
    assert markers == []
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(v2, True), (v1, False)]


def test_delete_of_missing_key_still_creates_marker(s3, vbucket):
    resp = s3.delete_object(Bucket=vbucket, Key="never-existed")
    assert resp["DeleteMarker"] is True
    marker = resp["VersionId"]
    assert marker and marker != "null"
    versions, markers = versions_of(s3, vbucket)
    assert versions == []
    assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in markers] == [("never-existed", marker, True)]
    # Stacked markers: a second DELETE adds another one on top.
    second = s3.delete_object(Bucket=vbucket, Key="never-existed")["VersionId"]
    assert second != marker
    _, markers = versions_of(s3, vbucket)
    assert [(m["VersionId"], m["IsLatest"]) for m in markers] == [(second, True), (marker, False)]


# --------------------------------------------------------------------------
# Suspended versioning
# --------------------------------------------------------------------------


def test_suspended_bucket_writes_the_null_version(s3, vbucket):
    v1 = put_version(s3, vbucket, "k", b"v1")
    v2 = put_version(s3, vbucket, "k", b"v2")
    s3.put_bucket_versioning(Bucket=vbucket, VersioningConfiguration={"Status": "Suspended"})

    put = s3.put_object(Bucket=vbucket, Key="k", Body=b"null-a")
    assert put.get("VersionId") in (None, "null")
    versions, _ = versions_of(s3, vbucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True), (v2, False), (v1, False)]

    # A second PUT replaces the null version only.
    put = s3.put_object(Bucket=vbucket, Key="k", Body=b"null-b")
    assert put.get("VersionId") in (None, "null")
    versions, markers = versions_of(s3, vbucket)
    assert markers == []
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True), (v2, False), (v1, False)]
    assert versions[0]["ETag"] == quoted_md5(b"null-b") and versions[0]["Size"] == 6

    got = s3.get_object(Bucket=vbucket, Key="k")
    assert got["Body"].read() == b"null-b"
    assert got.get("VersionId") in (None, "null")
    assert s3.get_object(Bucket=vbucket, Key="k", VersionId="null")["Body"].read() == b"null-b"
    assert s3.get_object(Bucket=vbucket, Key="k", VersionId=v1)["Body"].read() == b"v1"
    assert s3.get_object(Bucket=vbucket, Key="k", VersionId=v2)["Body"].read() == b"v2"

    # Deleting the null version by id leaves the real versions; v2 is latest again.
    s3.delete_object(Bucket=vbucket, Key="k", VersionId="null")
    assert s3.get_object(Bucket=vbucket, Key="k")["Body"].read() == b"v2"
    versions, _ = versions_of(s3, vbucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(v2, True), (v1, False)]


def test_suspended_delete_creates_null_marker(s3, vbucket):
    v1 = put_version(s3, vbucket, "k", b"v1")
    s3.put_bucket_versioning(Bucket=vbucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=vbucket, Key="k", Body=b"null data")

    resp = s3.delete_object(Bucket=vbucket, Key="k")
    assert resp["DeleteMarker"] is True
    assert resp.get("VersionId") in (None, "null")

    versions, markers = versions_of(s3, vbucket)
    # The marker is the null version: the null version's data is gone.
    assert [(m["VersionId"], m["IsLatest"]) for m in markers] == [("null", True)]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(v1, False)]
    with s3_error("NoSuchKey", 404) as info:
        s3.get_object(Bucket=vbucket, Key="k")
    assert headers(info.value).get("x-amz-delete-marker") == "true"
    with s3_error("MethodNotAllowed", 405):
        s3.get_object(Bucket=vbucket, Key="k", VersionId="null")
    assert s3.get_object(Bucket=vbucket, Key="k", VersionId=v1)["Body"].read() == b"v1"

    # Another DELETE replaces the null marker rather than stacking a second one.
    s3.delete_object(Bucket=vbucket, Key="k")
    _, markers = versions_of(s3, vbucket)
    assert [m["VersionId"] for m in markers] == ["null"]


# --------------------------------------------------------------------------
# Deleting versions
# --------------------------------------------------------------------------


def test_delete_specific_versions(s3, vbucket):
    v1 = put_version(s3, vbucket, "k", b"1")
    v2 = put_version(s3, vbucket, "k", b"2")
    v3 = put_version(s3, vbucket, "k", b"3")

    # A middle version: only it goes.
    s3.delete_object(Bucket=vbucket, Key="k", VersionId=v2)
    versions, markers = versions_of(s3, vbucket)
    assert markers == []
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(v3, True), (v1, False)]
    assert s3.get_object(Bucket=vbucket, Key="k")["Body"].read() == b"3"

    # The latest version: the previous one becomes current.
    s3.delete_object(Bucket=vbucket, Key="k", VersionId=v3)
    got = s3.get_object(Bucket=vbucket, Key="k")
    assert got["Body"].read() == b"1" and got["VersionId"] == v1
    versions, _ = versions_of(s3, vbucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(v1, True)]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=vbucket)["Contents"]] == ["k"]

    # The last version: the key is gone, with no marker left behind.
    s3.delete_object(Bucket=vbucket, Key="k", VersionId=v1)
    assert versions_of(s3, vbucket) == ([], [])
    assert s3.list_objects_v2(Bucket=vbucket)["KeyCount"] == 0
    with s3_error("NoSuchKey", 404) as info:
        s3.get_object(Bucket=vbucket, Key="k")
    assert "x-amz-delete-marker" not in headers(info.value)


# --------------------------------------------------------------------------
# ListObjectVersions
# --------------------------------------------------------------------------


def test_list_object_versions_fields_and_order(s3, hafiz, vbucket):
    bodies = {}
    a = []
    for i in range(3):
        body = os.urandom(10 + i)
        vid = put_version(s3, vbucket, "a", body)
        bodies[vid] = body
        a.append(vid)
    b1 = put_version(s3, vbucket, "b", b"bee")
    bodies[b1] = b"bee"
    c1 = put_version(s3, vbucket, "c", b"c-one")
    bodies[c1] = b"c-one"
    cm = s3.delete_object(Bucket=vbucket, Key="c")["VersionId"]
    c2 = put_version(s3, vbucket, "c", b"c-two")
    bodies[c2] = b"c-two"

    resp = s3.list_object_versions(Bucket=vbucket)
    assert resp["Name"] == vbucket
    assert resp["IsTruncated"] is False
    assert resp["MaxKeys"] == 1000
    versions, markers = resp["Versions"], resp["DeleteMarkers"]
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in versions] == [
        ("a", a[2], True),
        ("a", a[1], False),
        ("a", a[0], False),
        ("b", b1, True),
        ("c", c2, True),
        ("c", c1, False),
    ]
    for v in versions:
        assert v["ETag"] == quoted_md5(bodies[v["VersionId"]])
        assert v["Size"] == len(bodies[v["VersionId"]])
        assert v["StorageClass"] == "STANDARD"
        assert v["LastModified"].year >= 2024
    assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in markers] == [("c", cm, False)]
    assert markers[0]["LastModified"].year >= 2024
    assert "ETag" not in markers[0] and "Size" not in markers[0]

    # In the XML, versions and markers are interleaved: key order, newest first.
    assert raw_version_entries(hafiz, vbucket) == [
        ("Version", "a", a[2], True),
        ("Version", "a", a[1], False),
        ("Version", "a", a[0], False),
        ("Version", "b", b1, True),
        ("Version", "c", c2, True),
        ("DeleteMarker", "c", cm, False),
        ("Version", "c", c1, False),
    ]


def test_list_object_versions_prefix_and_delimiter(s3, vbucket):
    for key in ["dir/x", "dir/x", "dir/sub/y", "dirt", "other/z", "top", "top"]:
        put_version(s3, vbucket, key, b"x")
    s3.delete_object(Bucket=vbucket, Key="other/z")

    versions, markers = versions_of(s3, vbucket, Prefix="dir")
    assert [v["Key"] for v in versions] == ["dir/sub/y", "dir/x", "dir/x", "dirt"]
    assert markers == []

    resp = s3.list_object_versions(Bucket=vbucket, Delimiter="/")
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["dir/", "other/"]
    assert [v["Key"] for v in resp["Versions"]] == ["dirt", "top", "top"]
    assert resp.get("DeleteMarkers", []) == []
    assert resp["Delimiter"] == "/"

    resp = s3.list_object_versions(Bucket=vbucket, Prefix="dir/", Delimiter="/")
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["dir/sub/"]
    assert [v["Key"] for v in resp["Versions"]] == ["dir/x", "dir/x"]
    assert resp["Prefix"] == "dir/"

    resp = s3.list_object_versions(Bucket=vbucket, Prefix="other/")
    assert [m["Key"] for m in resp["DeleteMarkers"]] == ["other/z"]
    assert [v["Key"] for v in resp["Versions"]] == ["other/z"]

    assert versions_of(s3, vbucket, Prefix="nothing") == ([], [])


@pytest.fixture
def five_versions(s3, vbucket):
    """Key "k" with 5 versions, "a" and "z" with one each, "m" with a version
    under a delete marker. Returns the expected (Versions, DeleteMarkers) in
    listing order, as (key, version id) pairs."""
    a = put_version(s3, vbucket, "a", b"a")
    ks = [put_version(s3, vbucket, "k", f"k{i}".encode()) for i in range(5)]
    m1 = put_version(s3, vbucket, "m", b"m")
    mm = s3.delete_object(Bucket=vbucket, Key="m")["VersionId"]
    z = put_version(s3, vbucket, "z", b"z")
    versions = [("a", a)] + [("k", v) for v in reversed(ks)] + [("m", m1), ("z", z)]
    markers = [("m", mm)]
    return versions, markers


def test_list_object_versions_pagination_with_markers(s3, vbucket, five_versions):
    want_versions, want_markers = five_versions
    got_versions, got_markers = [], []
    kwargs = {"Bucket": vbucket, "MaxKeys": 2}
    pages = 0
    for _ in range(20):
        resp = s3.list_object_versions(**kwargs)
        pages += 1
        page_versions = [(v["Key"], v["VersionId"]) for v in resp.get("Versions", [])]
        page_markers = [(m["Key"], m["VersionId"]) for m in resp.get("DeleteMarkers", [])]
        assert 1 <= len(page_versions) + len(page_markers) <= 2, resp
        assert resp["MaxKeys"] == 2
        got_versions += page_versions
        got_markers += page_markers
        if not resp["IsTruncated"]:
            assert "NextKeyMarker" not in resp
            break
        assert resp["NextKeyMarker"]
        kwargs["KeyMarker"] = resp["NextKeyMarker"]
        if resp.get("NextVersionIdMarker"):
            kwargs["VersionIdMarker"] = resp["NextVersionIdMarker"]
        else:
            kwargs.pop("VersionIdMarker", None)
    else:
        raise AssertionError("pagination did not end")
    # 9 entries, 2 a page: 5 pages, each entry exactly once, in order.
    assert pages == 5
    assert got_versions == want_versions
    assert got_markers == want_markers

    # A KeyMarker alone starts after every version of that key.
    resp = s3.list_object_versions(Bucket=vbucket, KeyMarker="k")
    assert [(v["Key"], v["VersionId"]) for v in resp["Versions"]] == want_versions[6:]
    # KeyMarker + VersionIdMarker start right after that version.
    k_versions = [vid for key, vid in want_versions if key == "k"]
    resp = s3.list_object_versions(Bucket=vbucket, KeyMarker="k", VersionIdMarker=k_versions[1])
    assert resp["KeyMarker"] == "k" and resp["VersionIdMarker"] == k_versions[1]
    assert [(v["Key"], v["VersionId"]) for v in resp["Versions"]] == [("k", v) for v in k_versions[2:]] + want_versions[6:]


def test_list_object_versions_paginator(s3, vbucket, five_versions):
    want_versions, want_markers = five_versions
    got_versions, got_markers = [], []
    pages = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=vbucket, PaginationConfig={"PageSize": 2}):
        pages += 1
        got_versions += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
        got_markers += [(m["Key"], m["VersionId"]) for m in page.get("DeleteMarkers", [])]
    assert pages == 5
    assert got_versions == want_versions
    assert got_markers == want_markers
    # Default page size: everything at once.
    whole = list(s3.get_paginator("list_object_versions").paginate(Bucket=vbucket))
    assert len(whole) == 1
    assert [(v["Key"], v["VersionId"]) for v in whole[0]["Versions"]] == want_versions


# --------------------------------------------------------------------------
# DeleteObjects with version ids
# --------------------------------------------------------------------------


def test_delete_objects_with_version_ids(s3, vbucket):
    v1 = put_version(s3, vbucket, "k", b"1")
    v2 = put_version(s3, vbucket, "k", b"2")
    v3 = put_version(s3, vbucket, "k", b"3")
    o1 = put_version(s3, vbucket, "other", b"o")
    om = s3.delete_object(Bucket=vbucket, Key="other")["VersionId"]

    resp = s3.delete_objects(
        Bucket=vbucket,
        Delete={
            "Objects": [
                {"Key": "k", "VersionId": v1},
                {"Key": "k", "VersionId": v3},
                {"Key": "other", "VersionId": om},
            ]
        },
    )
    assert resp.get("Errors", []) == []
    deleted = {(d["Key"], d["VersionId"]): d for d in resp["Deleted"]}
    assert set(deleted) == {("k", v1), ("k", v3), ("other", om)}
    assert not deleted[("k", v1)].get("DeleteMarker")
    assert not deleted[("k", v3)].get("DeleteMarker")
    assert deleted[("other", om)]["DeleteMarker"] is True
    assert deleted[("other", om)]["DeleteMarkerVersionId"] == om

    versions, markers = versions_of(s3, vbucket)
    assert markers == []
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in versions] == [
        ("k", v2, True),
        ("other", o1, True),
    ]
    assert s3.get_object(Bucket=vbucket, Key="k")["Body"].read() == b"2"
    assert s3.get_object(Bucket=vbucket, Key="other")["Body"].read() == b"o"

    # Without a version id, DeleteObjects adds delete markers.
    resp = s3.delete_objects(Bucket=vbucket, Delete={"Objects": [{"Key": "k"}]})
    [entry] = resp["Deleted"]
    assert entry["Key"] == "k"
    assert entry["DeleteMarker"] is True
    new_marker = entry["DeleteMarkerVersionId"]
    assert new_marker and new_marker not in ("null", v2)
    _, markers = versions_of(s3, vbucket)
    assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in markers] == [("k", new_marker, True)]
    assert s3.get_object(Bucket=vbucket, Key="k", VersionId=v2)["Body"].read() == b"2"


# --------------------------------------------------------------------------
# Tagging a version
# --------------------------------------------------------------------------


def tagset(resp) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resp["TagSet"]}


def test_object_tagging_of_one_version(s3, vbucket):
    v1 = put_version(s3, vbucket, "k", b"1", Tagging="gen=1")
    v2 = put_version(s3, vbucket, "k", b"2", Tagging="gen=2")

    resp = s3.put_object_tagging(
        Bucket=vbucket, Key="k", VersionId=v1, Tagging={"TagSet": [{"Key": "gen", "Value": "old"}]}
    )
    assert resp["VersionId"] == v1
    old = s3.get_object_tagging(Bucket=vbucket, Key="k", VersionId=v1)
    assert old["VersionId"] == v1 and tagset(old) == {"gen": "old"}
    latest = s3.get_object_tagging(Bucket=vbucket, Key="k")
    assert latest["VersionId"] == v2 and tagset(latest) == {"gen": "2"}

    # Without a version id, tagging applies to the latest version.
    s3.put_object_tagging(Bucket=vbucket, Key="k", Tagging={"TagSet": [{"Key": "gen", "Value": "new"}]})
    assert tagset(s3.get_object_tagging(Bucket=vbucket, Key="k", VersionId=v2)) == {"gen": "new"}
    assert tagset(s3.get_object_tagging(Bucket=vbucket, Key="k", VersionId=v1)) == {"gen": "old"}

    resp = s3.delete_object_tagging(Bucket=vbucket, Key="k", VersionId=v1)
    assert resp["VersionId"] == v1
    assert s3.get_object_tagging(Bucket=vbucket, Key="k", VersionId=v1)["TagSet"] == []
    assert tagset(s3.get_object_tagging(Bucket=vbucket, Key="k")) == {"gen": "new"}
    assert s3.get_object(Bucket=vbucket, Key="k", VersionId=v2)["TagCount"] == 1
    assert "TagCount" not in s3.get_object(Bucket=vbucket, Key="k", VersionId=v1)


# --------------------------------------------------------------------------
# Many versions of one key
# --------------------------------------------------------------------------


def test_many_versions_of_one_key(s3, vbucket):
    for i in range(10):
        s3.put_object(Bucket=vbucket, Key=f"key{i:02d}", Body=b"x")
    last = None
    for i in range(300):
        last = put_version(s3, vbucket, "hot", f"body {i}".encode())

    listed = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=vbucket)
        for o in page.get("Contents", [])
    ]
    assert listed == ["hot"] + [f"key{i:02d}" for i in range(10)]
    resp = s3.list_objects_v2(Bucket=vbucket)
    assert resp["KeyCount"] == 11 and resp["IsTruncated"] is False
    # Small pages step over the 300 versions without repeating the key.
    paged = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=vbucket, PaginationConfig={"PageSize": 3})
        for o in page.get("Contents", [])
    ]
    assert paged == listed
    assert [o["Key"] for o in s3.list_objects(Bucket=vbucket)["Contents"]] == listed

    got = s3.get_object(Bucket=vbucket, Key="hot")
    assert got["Body"].read() == b"body 299" and got["VersionId"] == last

    versions, _ = versions_of(s3, vbucket, Prefix="hot")
    assert len(versions) == 300
    assert len({v["VersionId"] for v in versions}) == 300
    assert [v["IsLatest"] for v in versions] == [True] + [False] * 299
    assert versions[0]["VersionId"] == last


# --------------------------------------------------------------------------
# aws CLI
# --------------------------------------------------------------------------


def test_cli_versioning(aws, s3, plain_bucket, tmp_path):
    aws("s3api", "put-bucket-versioning", "--bucket", plain_bucket, "--versioning-configuration", "Status=Enabled")
    status = json.loads(aws("s3api", "get-bucket-versioning", "--bucket", plain_bucket).stdout)
    assert status["Status"] == "Enabled"

    first, second = tmp_path / "one.txt", tmp_path / "two.txt"
    first.write_bytes(b"first version\n")
    second.write_bytes(b"second version, longer\n")
    aws("s3", "cp", first, f"s3://{plain_bucket}/file.txt")
    aws("s3", "cp", second, f"s3://{plain_bucket}/file.txt")

    out = json.loads(aws("s3api", "list-object-versions", "--bucket", plain_bucket).stdout)
    versions = out["Versions"]
    assert len(versions) == 2
    assert {v["Key"] for v in versions} == {"file.txt"}
    assert [v["IsLatest"] for v in versions] == [True, False]
    assert [v["Size"] for v in versions] == [len(second.read_bytes()), len(first.read_bytes())]
    assert len({v["VersionId"] for v in versions}) == 2
    assert not out.get("DeleteMarkers")

    old = tmp_path / "old.txt"
    aws(
        "s3api", "get-object", "--bucket", plain_bucket, "--key", "file.txt",
        "--version-id", versions[1]["VersionId"], old,
    )
    assert old.read_bytes() == first.read_bytes()


def test_mfa_delete_cannot_be_enabled_without_an_mfa_device(s3, bucket):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_versioning(
            Bucket=bucket,
            VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"},
        )
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
