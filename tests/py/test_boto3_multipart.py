"""Multipart uploads through boto3."""

from __future__ import annotations

import io
import os

import pytest
from boto3.s3.transfer import TransferConfig

from s3util import (
    MIB,
    checksum_b64,
    composite_checksum_b64,
    md5_hex,
    multipart_etag,
    quoted_md5,
    s3_error,
)


@pytest.fixture(scope="module")
def three_parts():
    return [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(1 * MIB)]


def upload_parts(s3, bucket, key, upload_id, parts, **extra):
    done = []
    for number, data in enumerate(parts, start=1):
        resp = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data, **extra)
        assert resp["ETag"] == quoted_md5(data)
        done.append({"PartNumber": number, "ETag": resp["ETag"]})
    return done


def test_three_part_upload(s3, bucket, three_parts):
    create = s3.create_multipart_upload(
        Bucket=bucket, Key="mp", ContentType="application/x-mp", Metadata={"origin": "multipart"}
    )
    assert create["Bucket"] == bucket and create["Key"] == "mp"
    upload_id = create["UploadId"]
    assert upload_id
    parts = upload_parts(s3, bucket, "mp", upload_id, three_parts)
    # Nothing is visible before completion.
    with s3_error("404", 404):
        s3.head_object(Bucket=bucket, Key="mp")

    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    expected_etag = multipart_etag(three_parts)
    assert done["ETag"] == expected_etag
    assert done["Bucket"] == bucket and done["Key"] == "mp"

    whole = b"".join(three_parts)
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["ETag"] == expected_etag
    assert got["ContentLength"] == len(whole)
    assert got["ContentType"] == "application/x-mp"
    assert got["Metadata"] == {"origin": "multipart"}
    assert md5_hex(got["Body"].read()) == md5_hex(whole)

    # The upload is gone once completed.
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    with s3_error("NoSuchUpload", 404):
        s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)


def test_get_and_head_part_number(s3, bucket, three_parts):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    parts = upload_parts(s3, bucket, "mp", upload_id, three_parts)
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": parts})
    total = sum(len(p) for p in three_parts)

    got = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["PartsCount"] == 3
    assert got["ContentLength"] == 5 * MIB
    assert got["ContentRange"] == f"bytes {5 * MIB}-{10 * MIB - 1}/{total}"
    assert got["Body"].read() == three_parts[1]

    head = s3.head_object(Bucket=bucket, Key="mp", PartNumber=3)
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert head["PartsCount"] == 3
    assert head["ContentLength"] == 1 * MIB

    with s3_error("InvalidPartNumber", 416):
        s3.get_object(Bucket=bucket, Key="mp", PartNumber=4)


def test_list_parts(s3, bucket, three_parts):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="lp")["UploadId"]
    upload_parts(s3, bucket, "lp", upload_id, three_parts)
    resp = s3.list_parts(Bucket=bucket, Key="lp", UploadId=upload_id)
    assert resp["UploadId"] == upload_id
    assert resp["IsTruncated"] is False
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in resp["Parts"]] == [
        (i + 1, len(d), quoted_md5(d)) for i, d in enumerate(three_parts)
    ]
    page = s3.list_parts(Bucket=bucket, Key="lp", UploadId=upload_id, MaxParts=2)
    assert [p["PartNumber"] for p in page["Parts"]] == [1, 2]
    assert page["IsTruncated"] is True
    assert page["NextPartNumberMarker"] == 2
    rest = s3.list_parts(Bucket=bucket, Key="lp", UploadId=upload_id, PartNumberMarker=2)
    assert [p["PartNumber"] for p in rest["Parts"]] == [3]
    s3.abort_multipart_upload(Bucket=bucket, Key="lp", UploadId=upload_id)


def test_reuploading_a_part_replaces_it(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="re")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="re", UploadId=upload_id, PartNumber=1, Body=b"old")
    new = os.urandom(1000)
    etag = s3.upload_part(Bucket=bucket, Key="re", UploadId=upload_id, PartNumber=1, Body=new)["ETag"]
    (part,) = s3.list_parts(Bucket=bucket, Key="re", UploadId=upload_id)["Parts"]
    assert (part["Size"], part["ETag"]) == (1000, quoted_md5(new))
    s3.complete_multipart_upload(
        Bucket=bucket, Key="re", UploadId=upload_id, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
    )
    assert s3.get_object(Bucket=bucket, Key="re")["Body"].read() == new


def test_list_multipart_uploads(s3, bucket):
    ids = {key: s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"] for key in ("a/1", "a/2", "b/1")}
    resp = s3.list_multipart_uploads(Bucket=bucket)
    assert resp["Bucket"] == bucket
    assert sorted((u["Key"], u["UploadId"]) for u in resp["Uploads"]) == sorted(ids.items())
    assert all(u["Initiated"].year >= 2024 for u in resp["Uploads"])
    prefixed = s3.list_multipart_uploads(Bucket=bucket, Prefix="a/")
    assert sorted(u["Key"] for u in prefixed["Uploads"]) == ["a/1", "a/2"]
    grouped = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert sorted(p["Prefix"] for p in grouped.get("CommonPrefixes", [])) == ["a/", "b/"]
    for key, upload_id in ids.items():
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_abort_then_upload_part(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="ab")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="ab", UploadId=upload_id, PartNumber=1, Body=b"x")
    aborted = s3.abort_multipart_upload(Bucket=bucket, Key="ab", UploadId=upload_id)
    assert aborted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with s3_error("NoSuchUpload", 404):
        s3.upload_part(Bucket=bucket, Key="ab", UploadId=upload_id, PartNumber=2, Body=b"y")
    with s3_error("NoSuchUpload", 404):
        s3.complete_multipart_upload(
            Bucket=bucket, Key="ab", UploadId=upload_id, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]}
        )
    with s3_error("NoSuchUpload", 404):
        s3.upload_part(Bucket=bucket, Key="ab", UploadId="no-such-upload-id", PartNumber=1, Body=b"y")


def test_small_part_not_last(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    parts = upload_parts(s3, bucket, "small", upload_id, [os.urandom(1 * MIB), os.urandom(1 * MIB)])
    with s3_error("EntityTooSmall", 400):
        s3.complete_multipart_upload(Bucket=bucket, Key="small", UploadId=upload_id, MultipartUpload={"Parts": parts})
    s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=upload_id)


def test_single_small_part_is_fine(s3, bucket):
    data = os.urandom(100)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="one")["UploadId"]
    parts = upload_parts(s3, bucket, "one", upload_id, [data])
    done = s3.complete_multipart_upload(Bucket=bucket, Key="one", UploadId=upload_id, MultipartUpload={"Parts": parts})
    assert done["ETag"] == multipart_etag([data])
    assert s3.get_object(Bucket=bucket, Key="one")["Body"].read() == data


def test_wrong_part_order(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="order")["UploadId"]
    parts = upload_parts(s3, bucket, "order", upload_id, [os.urandom(5 * MIB), os.urandom(5 * MIB)])
    with s3_error("InvalidPartOrder", 400):
        s3.complete_multipart_upload(
            Bucket=bucket, Key="order", UploadId=upload_id, MultipartUpload={"Parts": [parts[1], parts[0]]}
        )
    s3.abort_multipart_upload(Bucket=bucket, Key="order", UploadId=upload_id)


def test_wrong_part_etag_or_number(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="inv")["UploadId"]
    parts = upload_parts(s3, bucket, "inv", upload_id, [os.urandom(5 * MIB), os.urandom(1000)])
    bad_etag = [parts[0], {"PartNumber": 2, "ETag": '"0123456789abcdef0123456789abcdef"'}]
    with s3_error("InvalidPart", 400):
        s3.complete_multipart_upload(Bucket=bucket, Key="inv", UploadId=upload_id, MultipartUpload={"Parts": bad_etag})
    missing = [parts[0], {"PartNumber": 3, "ETag": parts[1]["ETag"]}]
    with s3_error("InvalidPart", 400):
        s3.complete_multipart_upload(Bucket=bucket, Key="inv", UploadId=upload_id, MultipartUpload={"Parts": missing})
    # The failed completions left the upload usable.
    done = s3.complete_multipart_upload(Bucket=bucket, Key="inv", UploadId=upload_id, MultipartUpload={"Parts": parts})
    assert done["ETag"].endswith('-2"')


def test_complete_with_subset_of_parts(s3, bucket):
    # Parts left out of CompleteMultipartUpload are discarded.
    data = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(100)]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="subset")["UploadId"]
    parts = upload_parts(s3, bucket, "subset", upload_id, data)
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="subset", UploadId=upload_id, MultipartUpload={"Parts": [parts[0], parts[2]]}
    )
    assert done["ETag"] == multipart_etag([data[0], data[2]])
    assert md5_hex(s3.get_object(Bucket=bucket, Key="subset")["Body"].read()) == md5_hex(data[0] + data[2])


def test_upload_part_copy_with_ranges(s3, bucket):
    source = os.urandom(12 * MIB)
    s3.put_object(Bucket=bucket, Key="src", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="copied")["UploadId"]
    ranges = [(0, 5 * MIB - 1), (5 * MIB, 10 * MIB - 1), (10 * MIB, 12 * MIB - 1)]
    parts = []
    for number, (start, end) in enumerate(ranges, start=1):
        resp = s3.upload_part_copy(
            Bucket=bucket,
            Key="copied",
            UploadId=upload_id,
            PartNumber=number,
            CopySource={"Bucket": bucket, "Key": "src"},
            CopySourceRange=f"bytes={start}-{end}",
        )
        assert resp["CopyPartResult"]["ETag"] == quoted_md5(source[start : end + 1])
        parts.append({"PartNumber": number, "ETag": resp["CopyPartResult"]["ETag"]})
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="copied", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert done["ETag"] == multipart_etag([source[s : e + 1] for s, e in ranges])
    assert md5_hex(s3.get_object(Bucket=bucket, Key="copied")["Body"].read()) == md5_hex(source)


def test_upload_part_copy_whole_object_and_missing_source(s3, bucket):
    source = os.urandom(6 * MIB)
    s3.put_object(Bucket=bucket, Key="src", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    resp = s3.upload_part_copy(
        Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=1, CopySource=f"{bucket}/src"
    )
    assert resp["CopyPartResult"]["ETag"] == quoted_md5(source)
    with s3_error("NoSuchKey", 404):
        s3.upload_part_copy(
            Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=2, CopySource=f"{bucket}/no-such-key"
        )
    s3.abort_multipart_upload(Bucket=bucket, Key="dst", UploadId=upload_id)


def test_composite_crc32_checksum(s3, bucket, three_parts):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="ck", ChecksumAlgorithm="CRC32")["UploadId"]
    parts = []
    for number, data in enumerate(three_parts, start=1):
        resp = s3.upload_part(
            Bucket=bucket, Key="ck", UploadId=upload_id, PartNumber=number, Body=data, ChecksumAlgorithm="CRC32"
        )
        assert resp["ChecksumCRC32"] == checksum_b64("CRC32", data)
        parts.append({"PartNumber": number, "ETag": resp["ETag"], "ChecksumCRC32": resp["ChecksumCRC32"]})
    listed = s3.list_parts(Bucket=bucket, Key="ck", UploadId=upload_id)
    assert [p["ChecksumCRC32"] for p in listed["Parts"]] == [p["ChecksumCRC32"] for p in parts]

    expected = composite_checksum_b64("CRC32", three_parts)
    assert expected.endswith("-3")
    done = s3.complete_multipart_upload(Bucket=bucket, Key="ck", UploadId=upload_id, MultipartUpload={"Parts": parts})
    assert done["ChecksumCRC32"] == expected

    head = s3.head_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == expected
    assert head["ChecksumType"] == "COMPOSITE"
    got = s3.get_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == expected
    assert md5_hex(got["Body"].read()) == md5_hex(b"".join(three_parts))

    attrs = s3.get_object_attributes(
        Bucket=bucket, Key="ck", ObjectAttributes=["ETag", "Checksum", "ObjectParts", "ObjectSize"]
    )
    assert attrs["ETag"] == multipart_etag(three_parts).strip('"')
    assert attrs["ObjectSize"] == sum(len(p) for p in three_parts)
    assert attrs["ObjectParts"]["TotalPartsCount"] == 3
    # Whether the "-3" suffix is kept here differs between implementations;
    # the checksum itself must match.
    assert attrs["Checksum"]["ChecksumCRC32"].split("-")[0] == expected.split("-")[0]


def test_get_object_attributes_parts(s3, bucket, three_parts):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="ga")["UploadId"]
    parts = upload_parts(s3, bucket, "ga", upload_id, three_parts)
    s3.complete_multipart_upload(Bucket=bucket, Key="ga", UploadId=upload_id, MultipartUpload={"Parts": parts})
    attrs = s3.get_object_attributes(Bucket=bucket, Key="ga", ObjectAttributes=["ETag", "ObjectParts", "ObjectSize"])
    assert attrs["ETag"] == multipart_etag(three_parts).strip('"')
    assert attrs["ObjectParts"]["TotalPartsCount"] == 3
    assert attrs["ObjectSize"] == 11 * MIB


def test_transfer_manager_upload_download(s3, bucket):
    """boto3's managed transfer (as applications use it): multipart upload
    with its default checksum settings and ranged parallel download."""
    data = os.urandom(20 * MIB + 17)
    config = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=4)
    s3.upload_fileobj(io.BytesIO(data), bucket, "managed", Config=config)
    head = s3.head_object(Bucket=bucket, Key="managed")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"')
    out = io.BytesIO()
    s3.download_fileobj(bucket, "managed", out, Config=config)
    assert md5_hex(out.getvalue()) == md5_hex(data)
