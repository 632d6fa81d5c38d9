"""Edge cases found in review: each used to misbehave (act on the wrong object, panic,
loop a paginator, or drop headers)."""

from __future__ import annotations

import base64
import zlib

from s3util import parse_xml, s3_error, signed_request, xml_find_all_text, xml_find_text


def test_version_ids_other_than_null_never_touch_the_current_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"current")
    with s3_error("InvalidArgument", 400):
        s3.delete_object(Bucket=bucket, Key="k", VersionId="3HL4kqtJlcpXroDTDmJ")
    with s3_error("InvalidArgument", 400):
        s3.get_object(Bucket=bucket, Key="k", VersionId="3HL4kqtJlcpXroDTDmJ")
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k", "VersionId": "someversion"}]})
    assert [e["Code"] for e in out.get("Errors", [])] == ["InvalidArgument"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"current"
    # the null version is the current one in an unversioned bucket
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"current"


def test_not_modified_names_the_representation(s3, bucket, hafiz):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ETag"]
    r = signed_request(
        "GET",
        f"{hafiz.endpoint}/{bucket}/k",
        access_key=hafiz.access_key,
        secret_key=hafiz.secret_key,
        headers={"If-None-Match": etag},
    )
    assert r.status_code == 304
    assert r.headers["ETag"] == etag
    assert "Last-Modified" in r.headers
    assert r.content == b""


def test_put_with_upload_id_but_no_part_number_is_refused(s3, bucket, hafiz):
    s3.put_object(Bucket=bucket, Key="k", Body=b"keep me")
    r = signed_request(
        "PUT",
        f"{hafiz.endpoint}/{bucket}/k?uploadId=abc",
        access_key=hafiz.access_key,
        secret_key=hafiz.secret_key,
        body=b"overwrite?",
    )
    assert r.status_code == 400, r.content
    assert xml_find_text(parse_xml(r.content), "Code") == "InvalidArgument"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"keep me"


def test_delete_objects_body_checksum_is_verified(s3, bucket, hafiz):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    body = f"<Delete><Object><Key>k</Key></Object></Delete>".encode()
    wrong = base64.b64encode(zlib.crc32(b"something else").to_bytes(4, "big")).decode()
    r = signed_request(
        "POST",
        f"{hafiz.endpoint}/{bucket}?delete",
        access_key=hafiz.access_key,
        secret_key=hafiz.secret_key,
        headers={"x-amz-checksum-crc32": wrong},
        body=body,
    )
    assert r.status_code == 400, r.content
    assert xml_find_text(parse_xml(r.content), "Code") == "BadDigest"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_markers_outside_the_prefix_do_not_break_listing(s3, bucket):
    for k in ["abc/1", "abd", "b/2", "é/3"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    # a marker after the prefix range: empty page, not a crash
    r = s3.list_objects(Bucket=bucket, Prefix="abc", Marker="b", Delimiter="/")
    assert r.get("Contents", []) == [] and r.get("CommonPrefixes", []) == []
    r = s3.list_objects_v2(Bucket=bucket, Prefix="a", StartAfter="é", Delimiter="/")
    assert r["KeyCount"] == 0
    # a marker before the prefix range: the whole prefix
    r = s3.list_objects_v2(Bucket=bucket, Prefix="b", StartAfter="a", Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/"]


def test_list_multipart_uploads_pages_through_common_prefixes(s3, bucket):
    keys = ["0", "a/1", "a/2", "b", "c/3"]
    for k in keys:
        s3.create_multipart_upload(Bucket=bucket, Key=k)
    seen_keys, seen_prefixes = [], []
    kwargs = {"Bucket": bucket, "Delimiter": "/", "MaxUploads": 1}
    for _ in range(20):
        r = s3.list_multipart_uploads(**kwargs)
        seen_keys += [u["Key"] for u in r.get("Uploads", [])]
        seen_prefixes += [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        if not r["IsTruncated"]:
            break
        kwargs["KeyMarker"] = r["NextKeyMarker"]
        if r.get("NextUploadIdMarker"):
            kwargs["UploadIdMarker"] = r["NextUploadIdMarker"]
        else:
            kwargs.pop("UploadIdMarker", None)
    else:
        raise AssertionError("pagination did not end")
    assert seen_keys == ["0", "b"]
    assert seen_prefixes == ["a/", "c/"]
    for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
