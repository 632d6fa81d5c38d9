"""The `aws` CLI (v1, as installed from PyPI) against Hafiz, plus the
`hafiz` binary's own non-server commands."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import require_bin
from s3util import md5_hex, parse_error

TREE = {
    "top.txt": 100,
    "empty.bin": 0,
    "a/b/c/deep.bin": 70_000,
    "a/sibling.txt": 10,
    "with space/file name.txt": 2_000,
    "ünïcödé/日本語.txt": 333,
    "emoji 😀/x+y=z.dat": 4_096,
    "big/nine-mib.bin": 9 * 1024 * 1024,
}


def make_tree(root: Path) -> dict[str, bytes]:
    # Modification times an hour in the past: `aws s3 sync` re-uploads a file
    # whose local mtime is newer than the object's (second-granular) LastModified.
    past = time.time() - 3600
    contents = {}
    for rel, size in TREE.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = os.urandom(size)
        path.write_bytes(data)
        os.utime(path, (past, past))
        contents[rel] = data
    return contents


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_cp_large_file_round_trip(aws, s3, bucket, tmp_path):
    data = os.urandom(20 * 1024 * 1024)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    aws("s3", "cp", src, f"s3://{bucket}/big.bin")
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"'), "20 MiB with the CLI's 8 MiB parts is a 3-part upload"
    dst = tmp_path / "down.bin"
    aws("s3", "cp", f"s3://{bucket}/big.bin", dst)
    assert md5_hex(dst.read_bytes()) == md5_hex(data)


def test_cp_small_file_stdout_and_server_side_copy(aws, s3, bucket, tmp_path):
    data = os.urandom(1000)
    src = tmp_path / "small.bin"
    src.write_bytes(data)
    aws("s3", "cp", src, f"s3://{bucket}/small.bin", "--content-type", "application/x-small")
    assert s3.head_object(Bucket=bucket, Key="small.bin")["ContentType"] == "application/x-small"
    s3.put_object(Bucket=bucket, Key="text.txt", Body="plain text ✓\n".encode())
    assert aws("s3", "cp", f"s3://{bucket}/text.txt", "-").stdout == "plain text ✓\n"
    dst = tmp_path / "copy.bin"
    aws("s3", "cp", f"s3://{bucket}/small.bin", dst)
    assert dst.read_bytes() == data
    # Server-side copy between keys.
    aws("s3", "cp", f"s3://{bucket}/small.bin", f"s3://{bucket}/copy of small.bin")
    assert s3.get_object(Bucket=bucket, Key="copy of small.bin")["Body"].read() == data


def test_sync_tree_up_and_back(aws, s3, bucket, tmp_path):
    src = tmp_path / "src"
    contents = make_tree(src)
    out = aws("s3", "sync", "--no-progress", src, f"s3://{bucket}/tree")
    assert out.stdout.count("upload:") == len(TREE)
    listed = {
        o["Key"]: o["Size"]
        for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in p.get("Contents", [])
    }
    assert listed == {f"tree/{rel}": len(data) for rel, data in contents.items()}

    # Nothing changed: a second sync transfers nothing.
    again = aws("s3", "sync", "--no-progress", src, f"s3://{bucket}/tree")
    assert "upload:" not in again.stdout, again.stdout

    dst = tmp_path / "dst"
    aws("s3", "sync", "--no-progress", f"s3://{bucket}/tree", dst)
    assert read_tree(dst) == contents

    # A changed and a deleted file are propagated with --delete.
    (src / "top.txt").write_bytes(b"changed and longer than before " * 10)
    (src / "a/sibling.txt").unlink()
    out = aws("s3", "sync", "--no-progress", src, f"s3://{bucket}/tree", "--delete")
    assert "upload:" in out.stdout and "top.txt" in out.stdout
    assert "delete:" in out.stdout and "sibling.txt" in out.stdout
    aws("s3", "sync", "--no-progress", f"s3://{bucket}/tree", dst, "--delete")
    assert read_tree(dst) == read_tree(src)


def test_ls_recursive(aws, s3, bucket):
    keys = {"one.txt": 1, "dir/two.txt": 22, "dir/sub/three.txt": 333, "sp ace/ü.txt": 4}
    for key, size in keys.items():
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * size)
    out = aws("s3", "ls", f"s3://{bucket}", "--recursive").stdout
    rows = {}
    for line in out.splitlines():
        # "2024-01-01 12:00:00        333 dir/sub/three.txt"
        date, clock, size, key = line.split(None, 3)
        assert len(date) == 10 and len(clock) == 8
        rows[key] = int(size)
    assert rows == keys

    top = aws("s3", "ls", f"s3://{bucket}/").stdout
    assert "PRE dir/" in top and "PRE sp ace/" in top and "one.txt" in top
    buckets = aws("s3", "ls").stdout
    assert bucket in buckets


def test_rm_recursive(aws, s3, bucket):
    for i in range(30):
        s3.put_object(Bucket=bucket, Key=f"d/{i % 3}/f{i}", Body=b"x")
    s3.put_object(Bucket=bucket, Key="keep", Body=b"x")
    out = aws("s3", "rm", f"s3://{bucket}/d", "--recursive")
    assert out.stdout.count("delete:") == 30
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["keep"]


def test_mb_and_rb(aws, s3):
    from conftest import unique_bucket_name

    name = unique_bucket_name("cli")
    aws("s3", "mb", f"s3://{name}")
    s3.head_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="x", Body=b"x")
    failed = aws("s3", "rb", f"s3://{name}", check=False)
    assert failed.returncode != 0 and "BucketNotEmpty" in failed.stderr
    aws("s3", "rb", f"s3://{name}", "--force")
    with pytest.raises(Exception):
        s3.head_bucket(Bucket=name)


def _curl(url: str, out: Path) -> int:
    proc = subprocess.run(
        ["curl", "-s", "-g", "-o", str(out), "-w", "%{http_code}", "--max-time", "30", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout)


@pytest.fixture(params=["sigv2-default", "sigv4"])
def presign_env(request, tmp_path):
    """`aws s3 presign` makes SigV2 URLs unless the config asks for s3v4."""
    if request.param == "sigv2-default":
        return {}
    cfg = tmp_path / "aws-config"
    cfg.write_text("[default]\ns3 =\n    signature_version = s3v4\n")
    return {"AWS_CONFIG_FILE": str(cfg)}


def test_presign_with_curl(aws, s3, bucket, tmp_path, presign_env):
    data = os.urandom(5000)
    s3.put_object(Bucket=bucket, Key="shared file.bin", Body=data)
    url = aws(
        "s3", "presign", f"s3://{bucket}/shared file.bin", "--expires-in", "300", env_extra=presign_env
    ).stdout.strip()
    assert ("X-Amz-Signature=" in url) == bool(presign_env), url
    out = tmp_path / "got.bin"
    assert _curl(url, out) == 200
    assert out.read_bytes() == data


def test_presign_expired_with_curl(aws, s3, bucket, tmp_path, presign_env):
    s3.put_object(Bucket=bucket, Key="short", Body=b"short-lived")
    url = aws("s3", "presign", f"s3://{bucket}/short", "--expires-in", "1", env_extra=presign_env).stdout.strip()
    time.sleep(2.5)
    out = tmp_path / "err.xml"
    assert _curl(url, out) == 403
    assert parse_error(out.read_bytes())["Code"] == "AccessDenied"


def test_s3api_head_object(aws, s3, bucket):
    data = os.urandom(777)
    s3.put_object(Bucket=bucket, Key="h", Body=data, Metadata={"k": "v"}, ContentType="text/x-h")
    head = json.loads(aws("s3api", "head-object", "--bucket", bucket, "--key", "h").stdout)
    assert head["ContentLength"] == 777
    assert head["ETag"] == f'"{md5_hex(data)}"'
    assert head["Metadata"] == {"k": "v"}
    assert head["ContentType"] == "text/x-h"
    missing = aws("s3api", "head-object", "--bucket", bucket, "--key", "nope", check=False)
    assert missing.returncode != 0
    assert "404" in missing.stderr


def test_s3api_get_object_attributes(aws, s3, bucket):
    data = os.urandom(4321)
    s3.put_object(Bucket=bucket, Key="ga", Body=data)
    attrs = json.loads(
        aws(
            "s3api", "get-object-attributes", "--bucket", bucket, "--key", "ga", "--object-attributes", "ETag", "ObjectSize"
        ).stdout
    )
    assert attrs["ObjectSize"] == 4321
    assert attrs["ETag"] == md5_hex(data)


def test_s3api_list_objects_v2_delimiter(aws, s3, bucket):
    for key in ("a/1", "a/2", "b/1", "c", "d"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    out = json.loads(aws("s3api", "list-objects-v2", "--bucket", bucket, "--delimiter", "/").stdout)
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a/", "b/"]
    assert [o["Key"] for o in out["Contents"]] == ["c", "d"]
    # The CLI paginates on its own with a small page size.
    out = json.loads(
        aws("s3api", "list-objects-v2", "--bucket", bucket, "--page-size", "2").stdout
    )
    assert [o["Key"] for o in out["Contents"]] == ["a/1", "a/2", "b/1", "c", "d"]


def test_s3api_put_get_object(aws, s3, bucket, tmp_path):
    src = tmp_path / "in.bin"
    data = os.urandom(10_000)
    src.write_bytes(data)
    put = json.loads(
        aws("s3api", "put-object", "--bucket", bucket, "--key", "api", "--body", src, "--checksum-algorithm", "SHA256").stdout
    )
    assert put["ETag"] == f'"{md5_hex(data)}"'
    dst = tmp_path / "out.bin"
    got = json.loads(aws("s3api", "get-object", "--bucket", bucket, "--key", "api", "--checksum-mode", "ENABLED", dst).stdout)
    assert dst.read_bytes() == data
    assert got["ChecksumSHA256"] == put["ChecksumSHA256"]


# --------------------------------------------------------------------------
# The hafiz binary's own commands
# --------------------------------------------------------------------------


def run_hafiz(*args, timeout=30):
    return subprocess.run(
        [str(require_bin()), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_hafiz_version():
    proc = run_hafiz("--version")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.strip()
    assert out.startswith("hafiz ")
    assert any(ch.isdigit() for ch in out)


def test_config_check_good(tmp_path):
    cfg = tmp_path / "good.toml"
    cfg.write_text(
        'address = "127.0.0.1:9000"\n'
        f'data = "{tmp_path / "data"}"\n'
        'region = "us-east-1"\n'
        'domain = "s3.example.test"\n'
    )
    proc = run_hafiz("config", "check", cfg)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "text",
    [
        'address = "127.0.0.1:9000"\ndata = \n',  # TOML syntax error
        'address = 9000\ndata = "/tmp/x"\n',  # wrong type
        'address = "not an address"\ndata = "/tmp/x"\n',  # unparsable address
    ],
    ids=["syntax", "type", "address"],
)
def test_config_check_bad(tmp_path, text):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    proc = run_hafiz("config", "check", cfg)
    assert proc.returncode != 0
    assert (proc.stdout + proc.stderr).strip(), "a failed check must say why"


def test_config_check_missing_file(tmp_path):
    proc = run_hafiz("config", "check", tmp_path / "does-not-exist.toml")
    assert proc.returncode != 0
    assert (proc.stdout + proc.stderr).strip()
