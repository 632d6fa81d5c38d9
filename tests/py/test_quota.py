"""Bucket and account quotas (docs/admin.md, "Quotas"): set through the admin API,
enforced on S3 writes with `QuotaExceeded` (HTTP 400), and exact usage counters."""

from __future__ import annotations

import random
import threading

import botocore.exceptions
import requests
import pytest

from test_admin_api import code_of, root_admin, s3_once, status_of, uid

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def admin(hafiz):
    return root_admin(hafiz)


@pytest.fixture(scope="module")
def s3(hafiz):
    """Root, no retries: an error is answered once."""
    return s3_once(hafiz)


def new_bucket(admin, **body) -> str:
    name = uid("quota")
    admin.ok("POST", "/v1/buckets", {"name": name, **body}, expect=201)
    return name


def usage(admin, bucket: str) -> dict:
    """Object versions' bytes and count (parts of incomplete uploads aside)."""
    u = admin.ok("GET", f"/v1/buckets/{bucket}")["usage"]
    return {"bytes": u["bytes"], "objects": u["objects"]}


def multipart_bytes(admin, bucket: str) -> int:
    return admin.ok("GET", f"/v1/buckets/{bucket}")["usage"]["multipart_bytes"]


def assert_quota_exceeded(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    assert code_of(e) == "QuotaExceeded", e.value.response
    assert status_of(e) == 400
    return e


def missing(s3, bucket, key) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return False
    except botocore.exceptions.ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e.response
        return True


def listed_usage(s3, bucket) -> dict:
    """Bytes and versions as S3 lists them (every version, no delete markers)."""
    total, count = 0, 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for v in page.get("Versions", []):
            total += v["Size"]
            count += 1
    return {"bytes": total, "objects": count}


def test_quota_configuration_round_trip(admin):
    b = new_bucket(admin)
    assert admin.ok("GET", f"/v1/buckets/{b}")["quota"] is None
    assert admin.ok("GET", f"/v1/buckets/{b}/quota") == {"max_bytes": None, "max_objects": None}
    q = admin.ok("PUT", f"/v1/buckets/{b}/quota", {"max_bytes": 1000, "max_objects": 7})
    assert q == {"max_bytes": 1000, "max_objects": 7}
    assert admin.ok("GET", f"/v1/buckets/{b}/quota") == q
    assert admin.ok("GET", f"/v1/buckets/{b}")["quota"] == q
    # A partial quota leaves the other limit out.
    assert admin.ok("PUT", f"/v1/buckets/{b}/quota", {"max_objects": 3}) == {"max_bytes": None, "max_objects": 3}
    assert admin.ok("GET", f"/v1/buckets/{b}/quota") == {"max_bytes": None, "max_objects": 3}
    assert admin.error("PUT", f"/v1/buckets/{b}/quota", {"max_bytes": -1}) == (400, "InvalidRequest")
    assert admin.error("PUT", f"/v1/buckets/{b}/quota", {"max_bytes": "lots"}) == (400, "InvalidRequest")
    admin.ok("DELETE", f"/v1/buckets/{b}/quota", expect=204)
    assert admin.ok("GET", f"/v1/buckets/{b}")["quota"] is None
    for method in ("GET", "PUT", "DELETE"):
        body = {"max_bytes": 1} if method == "PUT" else None
        assert admin.error(method, f"/v1/buckets/{b}-nope/quota", body) == (404, "NoSuchBucket"), method


def test_max_bytes_refuses_a_put_that_would_exceed_it(admin, s3):
    b = new_bucket(admin)
    admin.ok("PUT", f"/v1/buckets/{b}/quota", {"max_bytes": 1000})
    s3.put_object(Bucket=b, Key="a", Body=b"a" * 600)
    assert_quota_exceeded(lambda: s3.put_object(Bucket=b, Key="b", Body=b"b" * 401))
    assert missing(s3, b, "b")
    assert usage(admin, b) == {"bytes": 600, "objects": 1}
    # Exactly up to the limit is fine.
    s3.put_object(Bucket=b, Key="b", Body=b"b" * 400)
    assert usage(admin, b) == {"bytes": 1000, "objects": 2}
    assert_quota_exceeded(lambda: s3.put_object(Bucket=b, Key="c", Body=b"c"))
    assert missing(s3, b, "c")
    # An empty object adds no bytes.
    s3.put_object(Bucket=b, Key="empty", Body=b"")
    # Overwriting in an unversioned bucket frees the old bytes first: 1000 - 600 + 500 fits.
    s3.put_object(Bucket=b, Key="a", Body=b"A" * 500)
    assert s3.get_object(Bucket=b, Key="a")["Body"].read() == b"A" * 500
    assert usage(admin, b) == {"bytes": 900, "objects": 3}
    # ... but an overwrite that grows past the limit does not, and the old object stays.
    assert_quota_exceeded(lambda: s3.put_object(Bucket=b, Key="a", Body=b"Z" * 601))
    assert s3.get_object(Bucket=b, Key="a")["Body"].read() == b"A" * 500
    # Deleting frees room.
    s3.delete_object(Bucket=b, Key="b")
    assert usage(admin, b) == {"bytes": 500, "objects": 2}
    s3.put_object(Bucket=b, Key="c", Body=b"c" * 500)
    assert usage(admin, b) == {"bytes": 1000, "objects": 3}
    # Copies count too.
    assert_quota_exceeded(lambda: s3.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "c"}))
    assert missing(s3, b, "copy")
    # Removing the quota lifts the limit.
    admin.ok("DELETE", f"/v1/buckets/{b}/quota", expect=204)
    s3.put_object(Bucket=b, Key="big", Body=b"x" * 5000)
    s3.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "c"})
    assert usage(admin, b) == {"bytes": 6500, "objects": 5}
    # A quota below the current usage refuses growth but allows deletes.
    admin.ok("PUT", f"/v1/buckets/{b}/quota", {"max_bytes": 100})
    assert_quota_exceeded(lambda: s3.put_object(Bucket=b, Key="more", Body=b"m"))
    s3.delete_object(Bucket=b, Key="big")
    assert usage(admin, b) == {"bytes": 1500, "objects": 4}


def test_max_objects_counts_versions_but_not_delete_markers(admin, s3):
    b = new_bucket(admin, versioning=True)
    admin.ok("PUT", f"/v1/buckets/{b}/quota", {"max_objects": 3})
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"1")["VersionId"]
    s3.put_object(Bucket=b, Key="k", Body=b"22")
    s3.put_object(Bucket=b, Key="other", Body=b"333")
    assert usage(admin, b) == {"bytes": 6, "objects": 3}
    # A fourth version of an existing key is refused: versions count, not keys.
    assert_quota_exceeded(lambda: s3.put_object(Bucket=b, Key="k", Body=b"4444"))
    assert len(s3.list_object_versions(Bucket=b, Prefix="k")["Versions"]) == 2
    # A delete marker does not count, so it can be written at the limit.
    marker = s3.delete_object(Bucket=b, Key="k")
    assert marker["DeleteMarker"] is True
    assert usage(admin, b) == {"bytes": 6, "objects": 3}
    assert_quota_exceeded(lambda: s3.put_object(Bucket=b, Key="new", Body=b"n"))
    # Deleting a version for good frees a slot.
    s3.delete_object(Bucket=b, Key="k", VersionId=v1)
    assert usage(admin, b) == {"bytes": 5, "objects": 2}
    s3.put_object(Bucket=b, Key="new", Body=b"n")
    assert usage(admin, b) == listed_usage(s3, b) == {"bytes": 6, "objects": 3}
    admin.ok("DELETE", f"/v1/buckets/{b}/quota", expect=204)
    s3.put_object(Bucket=b, Key="new", Body=b"nn")
    assert usage(admin, b) == {"bytes": 8, "objects": 4}


def test_versioned_overwrites_keep_the_old_bytes(admin, s3):
    b = new_bucket(admin, versioning=True)
    admin.ok("PUT", f"/v1/buckets/{b}/quota", {"max_bytes": 1000})
    s3.put_object(Bucket=b, Key="k", Body=b"x" * 600)
    # In a versioned bucket the old version stays, so 600 + 500 does not fit.
    assert_quota_exceeded(lambda: s3.put_object(Bucket=b, Key="k", Body=b"y" * 500))
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"x" * 600
    assert usage(admin, b) == {"bytes": 600, "objects": 1}


def test_multipart_parts_and_completion_respect_the_quota(admin, s3):
    b = new_bucket(admin)
    part = b"p" * (5 * MiB)
    # A part larger than the whole quota is refused before it is stored.
    admin.ok("PUT", f"/v1/buckets/{b}/quota", {"max_bytes": 4 * MiB})
    up = s3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    assert_quota_exceeded(lambda: s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=1, Body=part))
    assert s3.list_parts(Bucket=b, Key="mp", UploadId=up).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=b, Key="mp", UploadId=up)

    # Parts uploaded without a quota; a quota set before completion refuses the commit.
    admin.ok("DELETE", f"/v1/buckets/{b}/quota", expect=204)
    up = s3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    etags = []
    for n in (1, 2):
        etags.append(s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=n, Body=part)["ETag"])
    parts = {"Parts": [{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), etags)]}
    admin.ok("PUT", f"/v1/buckets/{b}/quota", {"max_bytes": 8 * MiB})
    assert_quota_exceeded(
        lambda: s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up, MultipartUpload=parts)
    )
    assert missing(s3, b, "mp")
    assert usage(admin, b) == {"bytes": 0, "objects": 0}
    # The upload is still there and completes once the quota allows it.
    admin.ok("PUT", f"/v1/buckets/{b}/quota", {"max_bytes": 10 * MiB})
    s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up, MultipartUpload=parts)
    assert s3.head_object(Bucket=b, Key="mp")["ContentLength"] == 10 * MiB
    assert usage(admin, b) == {"bytes": 10 * MiB, "objects": 1}


def test_usage_is_exact_after_mixed_writes(admin, s3):
    b = new_bucket(admin)
    s3.put_object(Bucket=b, Key="a", Body=b"a" * 100)
    s3.put_object(Bucket=b, Key="b", Body=b"b" * 200)
    s3.put_object(Bucket=b, Key="a", Body=b"a" * 50)  # overwrite shrinks
    s3.copy_object(Bucket=b, Key="c", CopySource={"Bucket": b, "Key": "b"})
    s3.delete_object(Bucket=b, Key="b")
    s3.delete_object(Bucket=b, Key="nonexistent")
    s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "c"}, {"Key": "zzz"}]})
    s3.put_object(Bucket=b, Key="d", Body=b"d" * 300 * 1024)  # a blob, not inline
    assert usage(admin, b) == listed_usage(s3, b) == {"bytes": 50 + 300 * 1024, "objects": 2}

    v = new_bucket(admin, versioning=True)
    s3.put_object(Bucket=v, Key="k", Body=b"1" * 10)
    s3.put_object(Bucket=v, Key="k", Body=b"2" * 20)
    s3.delete_object(Bucket=v, Key="k")  # marker
    s3.put_object(Bucket=v, Key="j", Body=b"3" * 30)
    assert usage(admin, v) == listed_usage(s3, v) == {"bytes": 60, "objects": 3}
    admin.ok("PUT", f"/v1/buckets/{v}/versioning", {"status": "Suspended"})
    s3.put_object(Bucket=v, Key="j", Body=b"4" * 5)  # a null version next to the old one
    s3.put_object(Bucket=v, Key="j", Body=b"5" * 7)  # replaces the null version
    assert usage(admin, v) == listed_usage(s3, v) == {"bytes": 67, "objects": 4}


def test_usage_stays_exact_under_concurrent_writers(hafiz, admin):
    b = new_bucket(admin)
    errors = []

    def writer(t: int):
        client = s3_once(hafiz)
        rnd = random.Random(t)
        try:
            for i in range(20):
                # Keys shared between threads: concurrent overwrites of the same key.
                key = f"k{rnd.randrange(30)}"
                client.put_object(Bucket=b, Key=key, Body=bytes([65 + t]) * rnd.randrange(0, 4000))
                if i % 7 == 6:
                    client.delete_object(Bucket=b, Key=f"k{rnd.randrange(30)}")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    s3 = s3_once(hafiz)
    got = usage(admin, b)
    assert got == listed_usage(s3, b), got
    assert got["objects"] > 0

    # The same under a quota: concurrent writers never push usage over it.
    q = new_bucket(admin)
    limit = 20_000
    admin.ok("PUT", f"/v1/buckets/{q}/quota", {"max_bytes": limit})
    refused = []

    def filler(t: int):
        client = s3_once(hafiz)
        for i in range(20):
            try:
                client.put_object(Bucket=q, Key=f"t{t}-{i}", Body=b"x" * 999)
            except botocore.exceptions.ClientError as e:
                refused.append(code_of_error(e))

    threads = [threading.Thread(target=filler, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = usage(admin, q)
    assert got == listed_usage(s3, q)
    assert got["bytes"] <= limit and got["objects"] == limit // 999, got
    assert len(refused) == 160 - got["objects"] and set(refused) == {"QuotaExceeded"}


def code_of_error(e) -> str:
    return e.response["Error"]["Code"]


def test_account_quota_spans_the_accounts_buckets(admin, s3):
    acct = uid("acct")
    r = admin.request("POST", "/v1/accounts", {"name": acct, "quota": {"max_bytes": 1500, "max_objects": None}})
    assert r.status_code == 201, r.text
    assert r.json()["quota"] == {"max_bytes": 1500, "max_objects": None}
    b1 = new_bucket(admin, account=acct)
    b2 = new_bucket(admin, account=acct)
    other = new_bucket(admin)  # the default account's: not limited
    assert admin.ok("GET", f"/v1/buckets/{b1}")["account"] == acct
    s3.put_object(Bucket=b1, Key="a", Body=b"a" * 1000)
    e = assert_quota_exceeded(lambda: s3.put_object(Bucket=b2, Key="b", Body=b"b" * 600))
    assert missing(s3, b2, "b")
    s3.put_object(Bucket=b2, Key="b", Body=b"b" * 500)
    s3.put_object(Bucket=other, Key="big", Body=b"o" * 5000)
    a = admin.ok("GET", f"/v1/accounts/{acct}")
    assert a["usage"] == {"bytes": 1500, "objects": 2, "multipart_bytes": 0}
    assert a["buckets"] == 2
    assert_quota_exceeded(lambda: s3.put_object(Bucket=b1, Key="c", Body=b"c"))
    # An object-count quota on the account.
    assert admin.ok("PUT", f"/v1/accounts/{acct}/quota", {"max_bytes": None, "max_objects": 3}) == {
        "max_bytes": None,
        "max_objects": 3,
    }
    s3.put_object(Bucket=b1, Key="c", Body=b"c" * 10)
    assert_quota_exceeded(lambda: s3.put_object(Bucket=b2, Key="d", Body=b"d"))
    # Deleting in one bucket frees room in the other.
    s3.delete_object(Bucket=b1, Key="a")
    s3.put_object(Bucket=b2, Key="d", Body=b"d")
    assert admin.ok("GET", f"/v1/accounts/{acct}")["usage"] == {"bytes": 511, "objects": 3, "multipart_bytes": 0}
    # Removing the quota lifts it.
    admin.ok("DELETE", f"/v1/accounts/{acct}/quota", expect=204)
    assert admin.ok("GET", f"/v1/accounts/{acct}")["quota"] is None
    s3.put_object(Bucket=b2, Key="e", Body=b"e" * 4000)
    assert admin.ok("GET", f"/v1/accounts/{acct}")["usage"] == {"bytes": 4511, "objects": 4, "multipart_bytes": 0}
    assert admin.error("PUT", f"/v1/accounts/{acct}-nope/quota", {"max_bytes": 1}) == (404, "NoSuchAccount")
    assert admin.error("DELETE", f"/v1/accounts/{acct}-nope/quota") == (404, "NoSuchAccount")


def test_bucket_and_account_quotas_both_apply(admin, s3):
    acct = uid("acct")
    admin.ok("POST", "/v1/accounts", {"name": acct, "quota": {"max_bytes": 10_000}}, expect=201)
    b = new_bucket(admin, account=acct)
    admin.ok("PUT", f"/v1/buckets/{b}/quota", {"max_bytes": 100})
    assert_quota_exceeded(lambda: s3.put_object(Bucket=b, Key="k", Body=b"k" * 101))
    s3.put_object(Bucket=b, Key="k", Body=b"k" * 100)
    admin.ok("DELETE", f"/v1/buckets/{b}/quota", expect=204)
    s3.put_object(Bucket=b, Key="k2", Body=b"k" * 9900)
    assert_quota_exceeded(lambda: s3.put_object(Bucket=b, Key="k3", Body=b"k"))


def test_upload_part_copy_is_checked_like_upload_part(admin, s3):
    b = new_bucket(admin)
    s3.put_object(Bucket=b, Key="src", Body=b"s" * (5 * MiB))
    admin.ok("PUT", f"/v1/buckets/{b}/quota", {"max_bytes": 6 * MiB})
    up = s3.create_multipart_upload(Bucket=b, Key="dst")["UploadId"]
    try:
        # UploadPart of 5 MiB with 1 MiB of room is refused before it is stored ...
        assert_quota_exceeded(
            lambda: s3.upload_part(Bucket=b, Key="dst", UploadId=up, PartNumber=1, Body=b"p" * (5 * MiB))
        )
        # ... and so must be UploadPartCopy of 5 MiB: its size is known up front too.
        assert_quota_exceeded(
            lambda: s3.upload_part_copy(
                Bucket=b, Key="dst", UploadId=up, PartNumber=2, CopySource={"Bucket": b, "Key": "src"}
            )
        )
        assert s3.list_parts(Bucket=b, Key="dst", UploadId=up).get("Parts", []) == []
    finally:
        s3.abort_multipart_upload(Bucket=b, Key="dst", UploadId=up)


def test_a_multipart_overwrite_that_fits_after_replacing_is_allowed(admin, s3):
    b = new_bucket(admin)
    s3.put_object(Bucket=b, Key="k", Body=b"o" * (10 * MiB))
    up = s3.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    parts = []
    for n in (1, 2):
        etag = s3.upload_part(Bucket=b, Key="k", UploadId=up, PartNumber=n, Body=b"n" * (5 * MiB))["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    # 10 MiB stored + 10 MiB new > 12 MiB, but the new object replaces the old one.
    admin.ok("PUT", f"/v1/buckets/{b}/quota", {"max_bytes": 12 * MiB})
    s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=up, MultipartUpload={"Parts": parts})
    assert s3.get_object(Bucket=b, Key="k", Range="bytes=0-0")["Body"].read() == b"n"
    assert usage(admin, b) == {"bytes": 10 * MiB, "objects": 1}


def test_replacing_an_object_in_place_at_the_limit_is_allowed(admin, s3):
    b = new_bucket(admin)
    s3.put_object(Bucket=b, Key="k", Body=b"o" * 1000)
    admin.ok("PUT", f"/v1/buckets/{b}/quota", {"max_bytes": 1000, "max_objects": 1})
    s3.copy_object(
        Bucket=b, Key="k", CopySource={"Bucket": b, "Key": "k"}, MetadataDirective="REPLACE", Metadata={"a": "b"}
    )
    assert s3.head_object(Bucket=b, Key="k")["Metadata"] == {"a": "b"}
    s3.put_object(Bucket=b, Key="k", Body=b"p" * 1000)
    assert usage(admin, b) == {"bytes": 1000, "objects": 1}
    assert_quota_exceeded(lambda: s3.put_object(Bucket=b, Key="other", Body=b""))


def test_a_write_of_unknown_length_is_refused_at_commit(hafiz, admin):
    b = new_bucket(admin)
    admin.ok("PUT", f"/v1/buckets/{b}/quota", {"max_bytes": 1000})
    # Anonymous writes (granted by the bucket policy) with Transfer-Encoding: chunked
    # and no length: the size is only known once the body has been read.
    admin.ok(
        "PUT",
        f"/v1/buckets/{b}/policy",
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{b}/*"}
            ],
        },
    )

    def body(n):
        for _ in range(n):
            yield b"z" * 500

    r = requests.put(f"{hafiz.endpoint}/{b}/too-big", data=body(3), timeout=30)
    assert r.status_code == 400 and "<Code>QuotaExceeded</Code>" in r.text, r.text
    assert usage(admin, b) == {"bytes": 0, "objects": 0}
    r = requests.put(f"{hafiz.endpoint}/{b}/fits", data=body(2), timeout=30)
    assert r.status_code == 200, r.text
    assert usage(admin, b) == {"bytes": 1000, "objects": 1}


def test_abandoned_multipart_uploads_count_against_the_quota(s3, admin):
    """Parts of uploads never completed hold bytes too: they cannot get round a quota."""
    bucket = new_bucket(admin)
    admin.ok("PUT", f"/v1/buckets/{bucket}/quota", {"max_bytes": 12 * MiB, "max_objects": None})
    part = b"p" * (5 * MiB)
    ids = [s3.create_multipart_upload(Bucket=bucket, Key=f"k{i}")["UploadId"] for i in range(3)]
    s3.upload_part(Bucket=bucket, Key="k0", UploadId=ids[0], PartNumber=1, Body=part)
    s3.upload_part(Bucket=bucket, Key="k1", UploadId=ids[1], PartNumber=1, Body=part)
    assert_quota_exceeded(
        lambda: s3.upload_part(Bucket=bucket, Key="k2", UploadId=ids[2], PartNumber=1, Body=part)
    )
    assert usage(admin, bucket) == {"bytes": 0, "objects": 0}
    assert multipart_bytes(admin, bucket) == 10 * MiB
    # Aborting one frees its parts.
    s3.abort_multipart_upload(Bucket=bucket, Key="k0", UploadId=ids[0])
    s3.upload_part(Bucket=bucket, Key="k2", UploadId=ids[2], PartNumber=1, Body=part)
    assert multipart_bytes(admin, bucket) == 10 * MiB
