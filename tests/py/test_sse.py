"""Server-side encryption (SSE-S3, SSE-KMS, SSE-C) against the real binary, with
boto3 and the aws CLI: headers as AWS sends them, ranges across the 64 KiB sealed
chunks, multipart, copies between every pair of modes, AWS's errors for wrong or
missing keys, bucket default encryption and policies that require encryption,
tampered ciphertext on a drive (an error, never wrong bytes), a restart, and no key
or plaintext on the drives or in the logs."""

import base64
import hashlib
import json
import os
import random
from pathlib import Path

import botocore
import pytest
import requests

from conftest import seeded_body, unique_bucket_name

CHUNK = 64 * 1024
KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def code_of(exc) -> str:
    return exc.response["Error"]["Code"]


def ssec_raw(key: bytes = KEY) -> dict:
    """boto3 base64-encodes SSECustomerKey and fills the MD5 itself."""
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


def ssec_copy_source(key: bytes = KEY) -> dict:
    return {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": key}


MODES = {
    "none": {},
    "sse-s3": {"ServerSideEncryption": "AES256"},
    "sse-kms": {"ServerSideEncryption": "aws:kms"},
    "sse-c": ssec_raw(),
}


def read_args(mode: str) -> dict:
    return ssec_raw() if mode == "sse-c" else {}


@pytest.fixture
def enc_bucket(s3):
    name = unique_bucket_name("sse")
    s3.create_bucket(Bucket=name)
    yield name
    for v in s3.list_object_versions(Bucket=name).get("Versions", []):
        s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
    for u in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=u["Key"], UploadId=u["UploadId"])
    s3.delete_bucket(Bucket=name)


def check_headers(resp: dict, mode: str, hafiz=None):
    if mode == "none":
        assert "ServerSideEncryption" not in resp
        assert "SSECustomerAlgorithm" not in resp
    elif mode == "sse-s3":
        assert resp["ServerSideEncryption"] == "AES256"
        assert "SSEKMSKeyId" not in resp
    elif mode == "sse-kms":
        assert resp["ServerSideEncryption"] == "aws:kms"
        assert resp["SSEKMSKeyId"].startswith("arn:aws:kms:us-east-1:")
        assert ":key/" in resp["SSEKMSKeyId"]
    else:
        assert resp["SSECustomerAlgorithm"] == "AES256"
        assert resp["SSECustomerKeyMD5"] == base64.b64encode(hashlib.md5(KEY).digest()).decode()
        assert "ServerSideEncryption" not in resp


@pytest.mark.parametrize("mode", ["sse-s3", "sse-kms", "sse-c"])
def test_put_get_head_and_response_headers(s3, enc_bucket, mode):
    body = seeded_body(mode, 3 * CHUNK + 1234)
    put = s3.put_object(Bucket=enc_bucket, Key="k", Body=body, **MODES[mode])
    check_headers(put, mode)
    md5 = hashlib.md5(body).hexdigest()
    if mode == "sse-s3":
        assert put["ETag"] == f'"{md5}"'
    else:
        # As on AWS: the ETag of an SSE-KMS or SSE-C object is not its MD5.
        assert put["ETag"] != f'"{md5}"' and len(put["ETag"]) == 34
    head = s3.head_object(Bucket=enc_bucket, Key="k", **read_args(mode))
    check_headers(head, mode)
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == put["ETag"]
    got = s3.get_object(Bucket=enc_bucket, Key="k", **read_args(mode))
    check_headers(got, mode)
    assert got["Body"].read() == body


@pytest.mark.parametrize("mode", ["sse-s3", "sse-kms", "sse-c"])
def test_ranges_across_chunk_boundaries(s3, enc_bucket, mode):
    size = 5 * CHUNK + 77
    body = seeded_body("ranges" + mode, size)
    s3.put_object(Bucket=enc_bucket, Key="r", Body=body, **MODES[mode])
    rng = random.Random(7)
    cases = [
        (0, 0),
        (CHUNK - 1, CHUNK),
        (CHUNK, CHUNK),
        (CHUNK - 10, 2 * CHUNK + 10),
        (size - 1, size - 1),
        (size - 100, size - 1),
        (0, size - 1),
    ] + [tuple(sorted((rng.randrange(size), rng.randrange(size)))) for _ in range(12)]
    for start, end in cases:
        got = s3.get_object(Bucket=enc_bucket, Key="r", Range=f"bytes={start}-{end}", **read_args(mode))
        assert got["ContentRange"] == f"bytes {start}-{end}/{size}"
        assert got["Body"].read() == body[start : end + 1], (start, end)
    tail = s3.get_object(Bucket=enc_bucket, Key="r", Range="bytes=-1000", **read_args(mode))
    assert tail["Body"].read() == body[-1000:]


@pytest.mark.parametrize("mode", ["sse-s3", "sse-kms", "sse-c"])
def test_multipart_with_a_part_sent_twice(s3, enc_bucket, mode):
    part = 5 * 1024 * 1024
    parts = [seeded_body(f"mp{mode}{i}", part) for i in range(2)] + [seeded_body(f"mp{mode}last", 300_000)]
    up = s3.create_multipart_upload(Bucket=enc_bucket, Key="mp", **MODES[mode])
    check_headers(up, mode)
    uid = up["UploadId"]
    etags = []
    for i, p in enumerate(parts, start=1):
        r = s3.upload_part(Bucket=enc_bucket, Key="mp", UploadId=uid, PartNumber=i, Body=p, **read_args(mode))
        check_headers(r, mode)
        etags.append(r["ETag"])
    # Part 2 again, other bytes: the later one counts.
    parts[1] = seeded_body(f"mp{mode}again", part)
    etags[1] = s3.upload_part(
        Bucket=enc_bucket, Key="mp", UploadId=uid, PartNumber=2, Body=parts[1], **read_args(mode)
    )["ETag"]
    done = s3.complete_multipart_upload(
        Bucket=enc_bucket,
        Key="mp",
        UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]},
        **(read_args(mode) if mode == "sse-c" else {}),
    )
    assert done["ETag"].endswith('-3"')
    whole = b"".join(parts)
    got = s3.get_object(Bucket=enc_bucket, Key="mp", **read_args(mode))
    check_headers(got, mode)
    assert got["Body"].read() == whole
    # A range over the part boundaries, and a part by number.
    s, e = part - 5, 2 * part + 5
    r = s3.get_object(Bucket=enc_bucket, Key="mp", Range=f"bytes={s}-{e}", **read_args(mode))
    assert r["Body"].read() == whole[s : e + 1]
    p2 = s3.get_object(Bucket=enc_bucket, Key="mp", PartNumber=2, **read_args(mode))
    assert p2["Body"].read() == parts[1]


def test_sse_c_part_without_the_key_is_refused(s3, enc_bucket):
    uid = s3.create_multipart_upload(Bucket=enc_bucket, Key="c", **ssec_raw())["UploadId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part(Bucket=enc_bucket, Key="c", UploadId=uid, PartNumber=1, Body=b"x")
    assert code_of(e.value) == "InvalidRequest"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part(Bucket=enc_bucket, Key="c", UploadId=uid, PartNumber=1, Body=b"x", **ssec_raw(OTHER_KEY))
    assert code_of(e.value) == "InvalidRequest"


@pytest.mark.parametrize("src", list(MODES))
@pytest.mark.parametrize("dst", list(MODES))
def test_copy_between_every_pair_of_modes(s3, enc_bucket, src, dst):
    body = seeded_body(f"copy{src}", 2 * CHUNK + 5)
    s3.put_object(Bucket=enc_bucket, Key="src", Body=body, **MODES[src])
    extra = dict(MODES[dst])
    if src == "sse-c":
        extra.update(ssec_copy_source())
    r = s3.copy_object(Bucket=enc_bucket, Key="dst", CopySource={"Bucket": enc_bucket, "Key": "src"}, **extra)
    check_headers(r, dst)
    got = s3.get_object(Bucket=enc_bucket, Key="dst", **read_args(dst))
    check_headers(got, dst)
    assert got["Body"].read() == body


def test_copy_of_sse_c_source_needs_its_key(s3, enc_bucket):
    s3.put_object(Bucket=enc_bucket, Key="src", Body=b"secret", **ssec_raw())
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket=enc_bucket, Key="dst", CopySource={"Bucket": enc_bucket, "Key": "src"})
    assert code_of(e.value) == "InvalidRequest"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(
            Bucket=enc_bucket, Key="dst", CopySource={"Bucket": enc_bucket, "Key": "src"}, **ssec_copy_source(OTHER_KEY)
        )
    assert code_of(e.value) == "AccessDenied"


def test_upload_part_copy_from_sse_c_into_kms(s3, enc_bucket):
    body = seeded_body("upc", 6 * 1024 * 1024)
    s3.put_object(Bucket=enc_bucket, Key="src", Body=body, **ssec_raw())
    uid = s3.create_multipart_upload(Bucket=enc_bucket, Key="dst", ServerSideEncryption="aws:kms")["UploadId"]
    p1 = s3.upload_part_copy(
        Bucket=enc_bucket, Key="dst", UploadId=uid, PartNumber=1,
        CopySource={"Bucket": enc_bucket, "Key": "src"}, CopySourceRange=f"bytes=0-{5 * 1024 * 1024 - 1}",
        **ssec_copy_source(),
    )
    p2 = s3.upload_part_copy(
        Bucket=enc_bucket, Key="dst", UploadId=uid, PartNumber=2,
        CopySource={"Bucket": enc_bucket, "Key": "src"}, CopySourceRange=f"bytes={5 * 1024 * 1024}-{len(body) - 1}",
        **ssec_copy_source(),
    )
    s3.complete_multipart_upload(
        Bucket=enc_bucket, Key="dst", UploadId=uid,
        MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
            {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]},
        ]},
    )
    got = s3.get_object(Bucket=enc_bucket, Key="dst")
    assert got["ServerSideEncryption"] == "aws:kms"
    assert got["Body"].read() == body


def test_sse_c_errors_as_aws(s3, enc_bucket, hafiz):
    s3.put_object(Bucket=enc_bucket, Key="c", Body=b"customer data", **ssec_raw())
    s3.put_object(Bucket=enc_bucket, Key="plain", Body=b"plain")
    cases = [
        # No key for an SSE-C object: 400 InvalidRequest.
        (lambda: s3.get_object(Bucket=enc_bucket, Key="c"), "InvalidRequest"),
        # The wrong key: 403 AccessDenied.
        (lambda: s3.get_object(Bucket=enc_bucket, Key="c", **ssec_raw(OTHER_KEY)), "AccessDenied"),
        # A key for an object stored without one: 400 InvalidRequest.
        (lambda: s3.get_object(Bucket=enc_bucket, Key="plain", **ssec_raw()), "InvalidRequest"),
    ]
    for call, code in cases:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert code_of(e.value) == code
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=enc_bucket, Key="c")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=enc_bucket, Key="c", **ssec_raw(OTHER_KEY))
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    # Malformed SSE-C headers, sent raw (boto3 would fix them up).
    url = f"{hafiz.endpoint}/{enc_bucket}/bad"
    good_key = base64.b64encode(KEY).decode()
    good_md5 = base64.b64encode(hashlib.md5(KEY).digest()).decode()
    bad = [
        ({"x-amz-server-side-encryption-customer-algorithm": "AES128",
          "x-amz-server-side-encryption-customer-key": good_key,
          "x-amz-server-side-encryption-customer-key-MD5": good_md5}, 400, "InvalidEncryptionAlgorithmError"),
        ({"x-amz-server-side-encryption-customer-algorithm": "AES256",
          "x-amz-server-side-encryption-customer-key": base64.b64encode(b"short").decode(),
          "x-amz-server-side-encryption-customer-key-MD5": good_md5}, 400, "InvalidArgument"),
        ({"x-amz-server-side-encryption-customer-algorithm": "AES256",
          "x-amz-server-side-encryption-customer-key": good_key,
          "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(b"0" * 16).decode()}, 400, "InvalidArgument"),
        ({"x-amz-server-side-encryption-customer-algorithm": "AES256",
          "x-amz-server-side-encryption-customer-key": good_key}, 400, "InvalidArgument"),
        ({"x-amz-server-side-encryption": "AES256",
          "x-amz-server-side-encryption-customer-algorithm": "AES256",
          "x-amz-server-side-encryption-customer-key": good_key,
          "x-amz-server-side-encryption-customer-key-MD5": good_md5}, 400, "InvalidArgument"),
        ({"x-amz-server-side-encryption": "DES"}, 400, "InvalidArgument"),
        ({"x-amz-server-side-encryption": "AES256",
          "x-amz-server-side-encryption-aws-kms-key-id": "k"}, 400, "InvalidArgument"),
        ({"x-amz-server-side-encryption": "aws:kms",
          "x-amz-server-side-encryption-aws-kms-key-id": "no-such-key"}, 400, "KMS.NotFoundException"),
        ({"x-amz-server-side-encryption": "aws:kms",
          "x-amz-server-side-encryption-context": "not base64 json"}, 400, "InvalidArgument"),
    ]
    for headers, status, code in bad:
        r = signed_put(hafiz, url, b"data", headers)
        assert r.status_code == status, (headers, r.text)
        assert f"<Code>{code}</Code>" in r.text, (headers, r.text)
    # Nothing half-written.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=enc_bucket, Key="bad")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def signed_put(hafiz, url: str, body: bytes, headers: dict) -> requests.Response:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method="PUT", url=url, data=body, headers=dict(headers))
    req.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    SigV4Auth(Credentials(hafiz.access_key, hafiz.secret_key), "s3", "us-east-1").add_auth(req)
    return requests.put(url, data=body, headers=dict(req.headers.items()), timeout=30)


def test_kms_context_is_bound_and_echoed(s3, enc_bucket):
    ctx = base64.b64encode(json.dumps({"project": "alpha"}).encode()).decode()
    r = s3.put_object(Bucket=enc_bucket, Key="ctx", Body=b"with context",
                      ServerSideEncryption="aws:kms", SSEKMSEncryptionContext=ctx, BucketKeyEnabled=True)
    assert r["ServerSideEncryption"] == "aws:kms"
    assert json.loads(base64.b64decode(r["SSEKMSEncryptionContext"])) == {"project": "alpha"}
    assert r["BucketKeyEnabled"] is True
    got = s3.get_object(Bucket=enc_bucket, Key="ctx")
    assert got["Body"].read() == b"with context"
    assert got["BucketKeyEnabled"] is True


def test_get_refuses_sse_headers(hafiz, s3, enc_bucket):
    s3.put_object(Bucket=enc_bucket, Key="x", Body=b"x", ServerSideEncryption="AES256")
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{hafiz.endpoint}/{enc_bucket}/x"
    req = AWSRequest(method="GET", url=url, headers={"x-amz-server-side-encryption": "AES256"})
    req.headers["x-amz-content-sha256"] = hashlib.sha256(b"").hexdigest()
    SigV4Auth(Credentials(hafiz.access_key, hafiz.secret_key), "s3", "us-east-1").add_auth(req)
    r = requests.get(url, headers=dict(req.headers.items()), timeout=30)
    assert r.status_code == 400 and "<Code>InvalidArgument</Code>" in r.text


def test_bucket_default_encryption(s3, enc_bucket):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_encryption(Bucket=enc_bucket)
    assert code_of(e.value) == "ServerSideEncryptionConfigurationNotFoundError"
    s3.put_bucket_encryption(
        Bucket=enc_bucket,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}]},
    )
    cfg = s3.get_bucket_encryption(Bucket=enc_bucket)["ServerSideEncryptionConfiguration"]
    assert cfg["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert cfg["Rules"][0]["BucketKeyEnabled"] is True
    r = s3.put_object(Bucket=enc_bucket, Key="d", Body=b"default")
    assert r["ServerSideEncryption"] == "aws:kms" and r["BucketKeyEnabled"] is True
    # A request's own choice wins over the default.
    r = s3.put_object(Bucket=enc_bucket, Key="e", Body=b"explicit", ServerSideEncryption="AES256")
    assert r["ServerSideEncryption"] == "AES256"
    # Multipart uploads take the default too.
    up = s3.create_multipart_upload(Bucket=enc_bucket, Key="m")
    assert up["ServerSideEncryption"] == "aws:kms"
    s3.abort_multipart_upload(Bucket=enc_bucket, Key="m", UploadId=up["UploadId"])
    s3.put_bucket_encryption(
        Bucket=enc_bucket,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
    )
    assert s3.put_object(Bucket=enc_bucket, Key="f", Body=b"s3")["ServerSideEncryption"] == "AES256"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_encryption(
            Bucket=enc_bucket,
            ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256", "KMSMasterKeyID": "k"}}]},
        )
    assert code_of(e.value) == "InvalidArgument"
    s3.delete_bucket_encryption(Bucket=enc_bucket)
    assert "ServerSideEncryption" not in s3.put_object(Bucket=enc_bucket, Key="g", Body=b"plain")
    for k, want in [("d", b"default"), ("e", b"explicit"), ("f", b"s3"), ("g", b"plain")]:
        assert s3.get_object(Bucket=enc_bucket, Key=k)["Body"].read() == want


def test_bucket_policy_requiring_encryption(s3, hafiz, enc_bucket):
    """The policy AWS documents for requiring SSE-KMS: a Deny on s3:PutObject unless
    s3:x-amz-server-side-encryption is aws:kms (here for an IAM user allowed s3:*)."""
    from test_iam import iam_client, new_user, policy, s3_for

    iam = iam_client(hafiz)
    _, key = new_user(iam, policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    user = s3_for(hafiz, key)
    s3.put_bucket_policy(
        Bucket=enc_bucket,
        Policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "DenyUnencrypted",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{enc_bucket}/*",
                "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
            }],
        }),
    )
    try:
        for extra in ({}, {"ServerSideEncryption": "AES256"}):
            with pytest.raises(botocore.exceptions.ClientError) as e:
                user.put_object(Bucket=enc_bucket, Key="p", Body=b"x", **extra)
            assert code_of(e.value) == "AccessDenied"
        r = user.put_object(Bucket=enc_bucket, Key="p", Body=b"x", ServerSideEncryption="aws:kms")
        assert r["ServerSideEncryption"] == "aws:kms"
    finally:
        s3.delete_bucket_policy(Bucket=enc_bucket)


def test_aws_cli_sse_flags(aws, s3, enc_bucket, tmp_path):
    src = tmp_path / "big.bin"
    body = seeded_body("cli", 9 * 1024 * 1024 + 17)  # over the CLI's 8 MiB multipart threshold
    src.write_bytes(body)
    key_hex = "0123456789abcdef0123456789abcdef"
    aws("s3", "cp", src, f"s3://{enc_bucket}/s3", "--sse", "AES256")
    aws("s3", "cp", src, f"s3://{enc_bucket}/kms", "--sse", "aws:kms")
    aws("s3", "cp", src, f"s3://{enc_bucket}/c", "--sse-c", "AES256", "--sse-c-key", key_hex)
    assert s3.head_object(Bucket=enc_bucket, Key="s3")["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=enc_bucket, Key="kms")["ServerSideEncryption"] == "aws:kms"
    for key, extra in [("s3", []), ("kms", []), ("c", ["--sse-c", "AES256", "--sse-c-key", key_hex])]:
        out = tmp_path / f"out-{key}"
        aws("s3", "cp", f"s3://{enc_bucket}/{key}", out, *extra)
        assert out.read_bytes() == body, key
    # Without the key the CLI gets AWS's 400.
    r = aws("s3", "cp", f"s3://{enc_bucket}/c", tmp_path / "nokey", check=False)
    assert r.returncode != 0 and "400" in r.stderr
    # A copy from SSE-C to SSE-S3 with the CLI.
    aws("s3", "cp", f"s3://{enc_bucket}/c", f"s3://{enc_bucket}/c2",
        "--sse-c-copy-source", "AES256", "--sse-c-copy-source-key", key_hex, "--sse", "AES256")
    assert s3.get_object(Bucket=enc_bucket, Key="c2")["Body"].read() == body


def drive_files(data_dir: Path):
    for p in data_dir.rglob("*"):
        if p.is_file():
            yield p


def test_tampered_ciphertext_is_an_error_never_wrong_bytes(server_factory):
    server = server_factory.start()
    s3 = server.client()
    s3.create_bucket(Bucket="tamper")
    body = seeded_body("tamper", 3 * 1024 * 1024)
    s3.put_object(Bucket="tamper", Key="t", Body=body, ServerSideEncryption="AES256")
    shards = [p for p in drive_files(server.data_dir) if "shards" in p.parts and p.stat().st_size > 1024 * 1024]
    assert shards, "no shard file found"
    server.stop()
    for p in shards:
        raw = bytearray(p.read_bytes())
        for at in range(100_000, len(raw), 400_000):
            raw[at] ^= 0x5A
        p.write_bytes(bytes(raw))
    server.start().wait_ready()
    try:
        got = s3.get_object(Bucket="tamper", Key="t")["Body"].read()
    except Exception:  # an error status, or a body cut off mid-stream
        got = None
    assert got is None or got == body, "tampered ciphertext returned wrong bytes"
    server.stop()


def test_restart_and_no_key_material_on_drives_or_in_logs(server_factory):
    server = server_factory.start()
    s3 = server.client()
    s3.create_bucket(Bucket="keys")
    marker = b"PLAINTEXT-MARKER-" + os.urandom(8).hex().encode()
    body = marker * 4000
    s3.put_object(Bucket="keys", Key="s3", Body=body, ServerSideEncryption="AES256")
    s3.put_object(Bucket="keys", Key="kms", Body=body, ServerSideEncryption="aws:kms")
    s3.put_object(Bucket="keys", Key="c", Body=body, **ssec_raw())
    # Small objects live in the metadata row: sealed there too.
    s3.put_object(Bucket="keys", Key="small", Body=marker, ServerSideEncryption="AES256")
    server.stop()
    server.start().wait_ready()
    for key, extra in [("s3", {}), ("kms", {}), ("c", ssec_raw())]:
        assert s3.get_object(Bucket="keys", Key=key, **extra)["Body"].read() == body
    assert s3.get_object(Bucket="keys", Key="small")["Body"].read() == marker
    server.stop()
    # One copy per metadata drive (the data dir itself, or its drives d1..dN).
    masters = sorted(server.data_dir.rglob("kms-master.key"))
    assert masters, "no kms-master.key under the data directory"
    assert all((m.stat().st_mode & 0o777) == 0o600 for m in masters)
    master = masters[0]
    master_b64 = [l for l in master.read_text().splitlines() if l and not l.startswith("#")][0]
    master_raw = base64.b64decode(master_b64)
    forbidden = {
        "plaintext": marker,
        "customer key": KEY,
        "customer key (base64)": base64.b64encode(KEY),
        "master key": master_raw,
    }
    for p in drive_files(server.data_dir):
        if p in masters:
            continue
        data = p.read_bytes()
        for what, needle in forbidden.items():
            assert needle not in data, f"{what} found in {p}"
    log = server.log_path.read_bytes()
    for what, needle in [("customer key (base64)", base64.b64encode(KEY)), ("master key", master_b64.encode())]:
        assert needle not in log, f"{what} found in the server log"


def test_sse_c_over_plain_http_needs_loopback_or_the_flag(tmp_path):
    """A listener on a non-loopback address refuses SSE-C over HTTP, as AWS does;
    --allow-ssec-over-http (or HAFIZ_ALLOW_SSEC_OVER_HTTP) lifts it. The listener is
    bound on all interfaces; the test's traffic still goes to 127.0.0.1."""
    import subprocess
    import time

    from conftest import data_arg, free_port, make_client, require_bin

    for allow in (False, True):
        data = tmp_path / f"d{allow}"
        data.mkdir()
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAFIZ_")}
        env.update(HAFIZ_ROOT_ACCESS_KEY="SSECTESTKEY", HAFIZ_ROOT_SECRET_KEY="ssec-test-secret-0123456789")
        if allow:
            env["HAFIZ_ALLOW_SSEC_OVER_HTTP"] = "true"
        proc = subprocess.Popen(
            [str(require_bin()), "server", "--address", f"0.0.0.0:{port}",
             "--admin-address", f"127.0.0.1:{free_port()}", "--data", data_arg(data)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
        )
        try:
            endpoint = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if requests.get(f"{endpoint}/health/ready", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                time.sleep(0.1)
            s3 = make_client(endpoint, "SSECTESTKEY", "ssec-test-secret-0123456789")
            s3.create_bucket(Bucket="ssec")
            if allow:
                s3.put_object(Bucket="ssec", Key="k", Body=b"x", **ssec_raw())
                assert s3.get_object(Bucket="ssec", Key="k", **ssec_raw())["Body"].read() == b"x"
            else:
                with pytest.raises(botocore.exceptions.ClientError) as e:
                    s3.put_object(Bucket="ssec", Key="k", Body=b"x", **ssec_raw())
                assert code_of(e.value) == "InvalidRequest"
                assert "secure connection" in e.value.response["Error"]["Message"]
                # SSE-S3 needs no key on the wire: allowed.
                s3.put_object(Bucket="ssec", Key="k", Body=b"x", ServerSideEncryption="AES256")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def test_rclone_sse_options(rclone, s3, enc_bucket, tmp_path):
    src = tmp_path / "r.bin"
    body = seeded_body("rclone-sse", 300_000)
    src.write_bytes(body)
    rclone("copyto", src, f"hafiz:{enc_bucket}/s3.bin", "--s3-server-side-encryption", "AES256")
    rclone("copyto", src, f"hafiz:{enc_bucket}/kms.bin", "--s3-server-side-encryption", "aws:kms")
    # (rclone, like the Go SDK, refuses to send SSE-C keys over plain HTTP itself.)
    assert s3.head_object(Bucket=enc_bucket, Key="s3.bin")["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=enc_bucket, Key="kms.bin")["ServerSideEncryption"] == "aws:kms"
    for name in ["s3.bin", "kms.bin"]:
        out = tmp_path / f"out-{name}"
        rclone("copyto", f"hafiz:{enc_bucket}/{name}", out)
        assert out.read_bytes() == body, name


def test_object_attributes_of_an_sse_c_object_need_its_key(s3, enc_bucket):
    s3.put_object(Bucket=enc_bucket, Key="attrs", Body=b"12345", **ssec_raw())
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object_attributes(Bucket=enc_bucket, Key="attrs", ObjectAttributes=["ObjectSize"])
    assert code_of(e.value) == "InvalidRequest"
    # boto3 does not encode the key for this call: base64 and its MD5 by hand.
    encoded = {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(KEY).decode(),
        "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(KEY).digest()).decode(),
    }
    got = s3.get_object_attributes(Bucket=enc_bucket, Key="attrs", ObjectAttributes=["ObjectSize"], **encoded)
    assert got["ObjectSize"] == 5
