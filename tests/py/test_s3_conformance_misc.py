"""S3 behaviours matched to AWS: listing with encoding-type=url and control
characters, CORS without a configuration, CreateBucket of an existing name,
CompleteMultipartUpload retries and conditional writes, DeleteObject and
GetObjectAttributes version headers, bucket policy resources and policy status.
Each test names where AWS's behaviour comes from."""

from __future__ import annotations

import json

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import error_code, unique_bucket_name
from s3util import empty_versioned_bucket, parse_error, signed_request

MIB = 1024 * 1024


@pytest.fixture
def versioned(s3):
    name = unique_bucket_name("ver")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    yield name
    empty_versioned_bucket(s3, name)


# --------------------------------------------------------------------------
# 3. encoding-type=url and control characters
# --------------------------------------------------------------------------

# ceph s3-tests test_bucket_list_encoding_basic / test_bucket_listv2_encoding_basic
KEYS = ["foo+1/bar", "foo/bar/xyzzy", "quux ab/thud", "asdf+b"]


@pytest.fixture
def listed(s3, bucket):
    for k in KEYS:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    return bucket


def test_list_v1_v2_encoding(s3, listed):
    # EncodingType given by the caller: botocore leaves the values as sent.
    for call in (s3.list_objects, s3.list_objects_v2):
        out = call(Bucket=listed, Delimiter="/", EncodingType="url")
        assert out["EncodingType"] == "url"
        assert out["Delimiter"] == "/"
        assert [o["Key"] for o in out["Contents"]] == ["asdf%2Bb"]
        assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["foo%2B1/", "foo/", "quux%20ab/"]
    out = s3.list_objects(Bucket=listed, Prefix="quux ab/", Marker="quux ab/a", EncodingType="url")
    assert (out["Prefix"], out["Marker"]) == ("quux%20ab/", "quux%20ab/a")
    assert [o["Key"] for o in out["Contents"]] == ["quux%20ab/thud"]
    out = s3.list_objects(Bucket=listed, MaxKeys=1, Delimiter=" ", EncodingType="url")
    assert out["IsTruncated"] and out["NextMarker"] == "asdf%2Bb"
    assert out["Delimiter"] == "%20"
    out = s3.list_objects_v2(Bucket=listed, StartAfter="foo+1/", Prefix="quux", EncodingType="url")
    assert (out["StartAfter"], out["Prefix"]) == ("foo%2B1/", "quux")
    # Without EncodingType boto3 asks for it and decodes: the keys come back whole.
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=listed)["Contents"]) == sorted(KEYS)


def test_list_versions_encoding(s3, listed):
    out = s3.list_object_versions(Bucket=listed, Delimiter="/", EncodingType="url", KeyMarker="a b")
    assert out["KeyMarker"] == "a%20b"
    assert [v["Key"] for v in out["Versions"]] == ["asdf%2Bb"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["foo%2B1/", "foo/", "quux%20ab/"]
    out = s3.list_object_versions(Bucket=listed, MaxKeys=1, EncodingType="url")
    assert out["NextKeyMarker"] == "asdf%2Bb"


def test_list_uploads_encoding(s3, bucket):
    ids = [s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"] for k in KEYS]
    try:
        out = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/", EncodingType="url", KeyMarker="a b")
        assert out["KeyMarker"] == "a%20b"
        assert [u["Key"] for u in out["Uploads"]] == ["asdf%2Bb"]
        assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["foo%2B1/", "foo/", "quux%20ab/"]
        out = s3.list_multipart_uploads(Bucket=bucket, Prefix="quux ab", EncodingType="url")
        assert out["Prefix"] == "quux%20ab"
        assert [u["Key"] for u in out["Uploads"]] == ["quux%20ab/thud"]
    finally:
        for k, up in zip(KEYS, ids):
            s3.abort_multipart_upload(Bucket=bucket, Key=k, UploadId=up)


def test_control_characters_in_keys(hafiz, s3, bucket):
    key = "ctl\x01key\x1fend"
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    # boto3 lists with encoding-type=url and decodes: the key comes back as stored.
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]] == [key]
    assert [v["Key"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]] == [key]
    out = s3.list_objects_v2(Bucket=bucket, EncodingType="url")
    assert [o["Key"] for o in out["Contents"]] == ["ctl%01key%1Fend"]
    # Without it, the characters are written as character references, as S3 does.
    r = signed_request(
        "GET", f"{hafiz.endpoint}/{bucket}?list-type=2", access_key=hafiz.access_key, secret_key=hafiz.secret_key
    )
    assert r.status_code == 200
    assert b"<Key>ctl&#x1;key&#x1f;end</Key>" in r.content
    assert b"\x01" not in r.content


# --------------------------------------------------------------------------
# 4. CORS on a bucket without a configuration
# --------------------------------------------------------------------------


def test_preflight_without_cors_configuration(hafiz, bucket):
    # AWS: 403, "CORSResponse: CORS is not enabled for this bucket." (S3 user guide,
    # "Troubleshooting CORS"), with the Method and ResourceType elements.
    r = requests.options(
        f"{hafiz.endpoint}/{bucket}/k",
        headers={"Origin": "http://example.com", "Access-Control-Request-Method": "GET"},
        timeout=10,
    )
    assert r.status_code == 403
    err = parse_error(r.content)
    assert err["Code"] == "AccessForbidden"
    assert err["Message"] == "CORSResponse: CORS is not enabled for this bucket."
    assert (err.get("Method"), err.get("ResourceType")) == ("GET", "BUCKET")
    assert b"<Other>" not in r.content
    assert not [h for h in r.headers if h.lower().startswith("access-control-")]


def test_request_with_origin_without_cors_configuration(hafiz, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    r = signed_request(
        "GET",
        f"{hafiz.endpoint}/{bucket}/k",
        access_key=hafiz.access_key,
        secret_key=hafiz.secret_key,
        headers={"Origin": "http://example.com"},
    )
    assert (r.status_code, r.content) == (200, b"data")
    assert not [h for h in r.headers if h.lower().startswith("access-control-")]


def test_error_elements_keep_their_names(hafiz, bucket):
    # Every extra element of an error is written under its own name.
    r = signed_request(
        "GET", f"{hafiz.endpoint}/{bucket}?versionId=nope", access_key=hafiz.access_key, secret_key=hafiz.secret_key
    )
    assert b"<Other>" not in r.content


# --------------------------------------------------------------------------
# 5. CreateBucket of an existing name
# --------------------------------------------------------------------------


def test_recreate_own_bucket_us_east_1(s3, bucket):
    # CreateBucket API reference, BucketAlreadyOwnedByYou: in us-east-1 S3 answers
    # 200 OK for legacy compatibility. Nothing of the bucket changes.
    s3.put_object(Bucket=bucket, Key="keep", Body=b"1")
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
            ],
        }
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    acl_before = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    resp = s3.create_bucket(Bucket=bucket)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["Location"] == f"/{bucket}"
    assert s3.get_bucket_acl(Bucket=bucket)["Grants"] == acl_before
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(policy)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["keep"]
    s3.delete_bucket_policy(Bucket=bucket)


def test_recreate_own_bucket_other_region(server_factory):
    # Every region but us-east-1: 409 BucketAlreadyOwnedByYou.
    server = server_factory.start(extra_args=["--region", "eu-west-1"])
    import boto3
    from botocore.config import Config

    c = boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="eu-west-1",
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )
    name = unique_bucket_name("eu")
    c.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    c.put_object(Bucket=name, Key="keep", Body=b"1")
    with pytest.raises(ClientError) as e:
        c.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert error_code(e) == ("BucketAlreadyOwnedByYou", 409)
    assert [o["Key"] for o in c.list_objects_v2(Bucket=name)["Contents"]] == ["keep"]
    server.stop()


# --------------------------------------------------------------------------
# 6. Multipart: retried Complete, parts uploaded twice, checksum type, conditions
# --------------------------------------------------------------------------


def _upload(s3, bucket, key, parts: list[bytes], **create):
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    done = []
    for i, body in enumerate(parts, 1):
        extra = {"ChecksumAlgorithm": create["ChecksumAlgorithm"]} if "ChecksumAlgorithm" in create else {}
        p = s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=i, Body=body, **extra)
        entry = {"PartNumber": i, "ETag": p["ETag"]}
        for name in ("ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME", "ChecksumSHA1", "ChecksumSHA256"):
            if name in p:
                entry[name] = p[name]
        done.append(entry)
    return up, done


def _fields(resp, *names):
    return {n: resp.get(n) for n in names}


def test_complete_retried_after_success(s3, versioned):
    # AWS answers a Complete retried after it succeeded with the same result.
    up, parts = _upload(s3, versioned, "retry", [b"a" * (5 * MIB), b"b"], ChecksumAlgorithm="CRC32")
    first = s3.complete_multipart_upload(Bucket=versioned, Key="retry", UploadId=up, MultipartUpload={"Parts": parts})
    again = s3.complete_multipart_upload(Bucket=versioned, Key="retry", UploadId=up, MultipartUpload={"Parts": parts})
    names = ("Location", "Bucket", "Key", "ETag", "VersionId", "ChecksumCRC32", "ChecksumType")
    assert _fields(again, *names) == _fields(first, *names)
    assert first["VersionId"] and first["ChecksumType"] == "COMPOSITE"
    # One object version, not two.
    assert len(s3.list_object_versions(Bucket=versioned, Prefix="retry")["Versions"]) == 1
    # The upload itself is gone: ListParts and Abort still say so.
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=versioned, Key="retry", UploadId=up)
    assert error_code(e) == ("NoSuchUpload", 404)
    # Another key with the same upload id is not the completed upload.
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=versioned, Key="other", UploadId=up, MultipartUpload={"Parts": parts})
    assert error_code(e) == ("NoSuchUpload", 404)


def test_complete_retried_unversioned(s3, bucket):
    up, parts = _upload(s3, bucket, "retry", [b"x"])
    first = s3.complete_multipart_upload(Bucket=bucket, Key="retry", UploadId=up, MultipartUpload={"Parts": parts})
    again = s3.complete_multipart_upload(Bucket=bucket, Key="retry", UploadId=up, MultipartUpload={"Parts": parts})
    assert again["ETag"] == first["ETag"] and "VersionId" not in again
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="retry", UploadId="no-such-upload", MultipartUpload={"Parts": parts})
    assert error_code(e) == ("NoSuchUpload", 404)


def test_part_uploaded_twice_the_later_counts(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="twice")["UploadId"]
    old = s3.upload_part(Bucket=bucket, Key="twice", UploadId=up, PartNumber=1, Body=b"first")["ETag"]
    new = s3.upload_part(Bucket=bucket, Key="twice", UploadId=up, PartNumber=1, Body=b"second")["ETag"]
    assert [(p["PartNumber"], p["ETag"]) for p in s3.list_parts(Bucket=bucket, Key="twice", UploadId=up)["Parts"]] == [
        (1, new)
    ]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="twice", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": old}]}
        )
    assert error_code(e) == ("InvalidPart", 400)
    s3.complete_multipart_upload(
        Bucket=bucket, Key="twice", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": new}]}
    )
    assert s3.get_object(Bucket=bucket, Key="twice")["Body"].read() == b"second"


@pytest.mark.parametrize("algorithm, kind", [("CRC32", "COMPOSITE"), ("SHA256", "COMPOSITE"), ("CRC64NVME", "FULL_OBJECT")])
def test_checksum_type_in_list_parts_and_complete(s3, bucket, algorithm, kind):
    up, parts = _upload(s3, bucket, "ck", [b"z" * 10], ChecksumAlgorithm=algorithm)
    listed = s3.list_parts(Bucket=bucket, Key="ck", UploadId=up)
    assert (listed["ChecksumAlgorithm"], listed["ChecksumType"]) == (algorithm, kind)
    done = s3.complete_multipart_upload(Bucket=bucket, Key="ck", UploadId=up, MultipartUpload={"Parts": parts})
    assert done["ChecksumType"] == kind and done[f"Checksum{algorithm}"]


def test_no_checksum_type_without_algorithm(s3, bucket):
    up, parts = _upload(s3, bucket, "plain", [b"p"])
    assert "ChecksumType" not in s3.list_parts(Bucket=bucket, Key="plain", UploadId=up)
    done = s3.complete_multipart_upload(Bucket=bucket, Key="plain", UploadId=up, MultipartUpload={"Parts": parts})
    assert "ChecksumType" not in done


def test_conditional_put_object(s3, bucket):
    # PutObject API reference: If-None-Match "*" only, 412 when the key exists;
    # If-Match: 412 when the ETag differs, 404 NoSuchKey when there is no object.
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"1", IfNoneMatch="*")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="c", Body=b"2", IfNoneMatch="*")
    assert error_code(e) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="c", Body=b"2", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert error_code(e) == ("PreconditionFailed", 412)
    s3.put_object(Bucket=bucket, Key="c", Body=b"3", IfMatch=etag)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="missing", Body=b"2", IfMatch=etag)
    assert error_code(e) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="c", Body=b"2", IfNoneMatch=etag)
    assert error_code(e) == ("NotImplemented", 501)
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"3"


def test_conditional_complete(s3, bucket):
    s3.put_object(Bucket=bucket, Key="exists", Body=b"1")
    up, parts = _upload(s3, bucket, "exists", [b"x"])
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="exists", UploadId=up, MultipartUpload={"Parts": parts}, IfNoneMatch="*"
        )
    assert error_code(e) == ("PreconditionFailed", 412)
    # The upload survives a failed condition and completes without it.
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="exists", UploadId=up, MultipartUpload={"Parts": parts}, IfMatch='"nope"'
        )
    assert error_code(e) == ("PreconditionFailed", 412)
    s3.complete_multipart_upload(Bucket=bucket, Key="exists", UploadId=up, MultipartUpload={"Parts": parts})
    up, parts = _upload(s3, bucket, "absent", [b"x"])
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="absent", UploadId=up, MultipartUpload={"Parts": parts}, IfMatch='"nope"'
        )
    assert error_code(e) == ("NoSuchKey", 404)
    s3.complete_multipart_upload(
        Bucket=bucket, Key="absent", UploadId=up, MultipartUpload={"Parts": parts}, IfNoneMatch="*"
    )


# --------------------------------------------------------------------------
# 7. DeleteObject and GetObjectAttributes version headers
# --------------------------------------------------------------------------


def _amz(resp) -> dict[str, str]:
    h = resp["ResponseMetadata"]["HTTPHeaders"]
    return {k: v for k, v in h.items() if k in ("x-amz-version-id", "x-amz-delete-marker")}


def test_delete_unversioned(s3, bucket):
    # DeleteObject API reference: the version headers belong to versioning buckets.
    s3.put_object(Bucket=bucket, Key="d", Body=b"1")
    r = s3.delete_object(Bucket=bucket, Key="d")
    assert (r["ResponseMetadata"]["HTTPStatusCode"], _amz(r)) == (204, {})
    r = s3.delete_object(Bucket=bucket, Key="never-there")
    assert (r["ResponseMetadata"]["HTTPStatusCode"], _amz(r)) == (204, {})


def test_delete_versioned(s3, versioned):
    v1 = s3.put_object(Bucket=versioned, Key="d", Body=b"1")["VersionId"]
    r = s3.delete_object(Bucket=versioned, Key="d")
    marker = _amz(r)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert marker["x-amz-delete-marker"] == "true" and marker["x-amz-version-id"] not in ("", v1)
    r = s3.delete_object(Bucket=versioned, Key="d", VersionId=v1)
    assert _amz(r) == {"x-amz-version-id": v1}
    r = s3.delete_object(Bucket=versioned, Key="d", VersionId=marker["x-amz-version-id"])
    assert _amz(r) == {"x-amz-version-id": marker["x-amz-version-id"], "x-amz-delete-marker": "true"}


def test_get_object_attributes_version_headers(s3, bucket, versioned):
    vid = s3.put_object(Bucket=versioned, Key="a", Body=b"abc")["VersionId"]
    r = s3.get_object_attributes(Bucket=versioned, Key="a", ObjectAttributes=["ETag", "ObjectSize"])
    assert r["VersionId"] == vid and r["ObjectSize"] == 3
    r = s3.get_object_attributes(Bucket=versioned, Key="a", VersionId=vid, ObjectAttributes=["ETag"])
    assert r["VersionId"] == vid
    marker = s3.delete_object(Bucket=versioned, Key="a")["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket=versioned, Key="a", ObjectAttributes=["ETag"])
    assert error_code(e) == ("NoSuchKey", 404)
    h = e.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert (h.get("x-amz-delete-marker"), h.get("x-amz-version-id")) == ("true", marker)
    # Unversioned: no version header (the null version is not named).
    s3.put_object(Bucket=bucket, Key="u", Body=b"1")
    r = s3.get_object_attributes(Bucket=bucket, Key="u", ObjectAttributes=["ETag"])
    assert "VersionId" not in r


# --------------------------------------------------------------------------
# 8. Bucket policy resources and policy status
# --------------------------------------------------------------------------


def _policy(resources, principal="*", condition=None, action="s3:GetObject"):
    statement = {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_policy_resources(s3, bucket):
    other = unique_bucket_name("other")
    # ceph s3-tests test_bucket_policy_another_bucket: patterns that cover the bucket.
    for resources in (
        ["arn:aws:s3:::*", "arn:aws:s3:::*/*"],
        [f"arn:aws:s3:::{bucket}/*"],
        [f"arn:aws:s3:::{bucket[:4]}*"],
        [f"arn:aws:s3::*:{bucket}"],
    ):
        s3.put_bucket_policy(Bucket=bucket, Policy=_policy(resources))
    # A resource that can only name another bucket: "Policy has invalid resource".
    for resources in ([f"arn:aws:s3:::{other}/*"], [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{other}"]):
        with pytest.raises(ClientError) as e:
            s3.put_bucket_policy(Bucket=bucket, Policy=_policy(resources))
        assert error_code(e) == ("MalformedPolicy", 400)
        assert e.value.response["Error"]["Message"] == "Policy has invalid resource"
    s3.delete_bucket_policy(Bucket=bucket)


def test_policy_status(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy_status(Bucket=bucket)
    assert error_code(e) == ("NoSuchBucketPolicy", 404)
    res = [f"arn:aws:s3:::{bucket}/*"]
    # "The meaning of public" (S3 user guide): public unless pinned to fixed values.
    cases = [
        (_policy(res), True),
        (_policy(res, principal={"AWS": ["*"]}), True),
        (_policy(res, condition={"Bool": {"aws:SecureTransport": "true"}}), True),
        (_policy(res, condition={"StringLike": {"aws:SourceArn": "arn:aws:sns:*"}}), True),
        (_policy(res, condition={"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}), True),
        (_policy(res, condition={"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}), False),
        (_policy(res, condition={"StringEquals": {"aws:SourceAccount": "123456789012"}}), False),
        (_policy(res, condition={"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}), False),
        (_policy(res, principal={"AWS": "arn:aws:iam::123456789012:root"}), False),
    ]
    for doc, public in cases:
        s3.put_bucket_policy(Bucket=bucket, Policy=doc)
        assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is public, doc
    s3.delete_bucket_policy(Bucket=bucket)
