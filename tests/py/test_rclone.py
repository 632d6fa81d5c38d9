"""rclone (Debian's package) against Hafiz: sync, check, incremental sync."""

from __future__ import annotations

import os
from pathlib import Path

MIB = 1024 * 1024


def write_tree(root: Path) -> None:
    files = {
        "readme.txt": b"hello rclone\n",
        "empty": b"",
        "nested/a/b/c.bin": os.urandom(100_000),
        "nested/a/sibling.bin": os.urandom(3_000),
        "space dir/file with spaces.txt": os.urandom(500),
        "ünïcödé/😀.bin": os.urandom(64),
        "multipart/twelve-mib.bin": os.urandom(12 * MIB),
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


# Small cutoff/chunk so the 12 MiB file goes through rclone's multipart path.
MULTIPART_FLAGS = ["--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"]


def test_sync_check_modify_sync(rclone, s3, bucket, tmp_path):
    src = tmp_path / "src"
    write_tree(src)
    remote = f"hafiz:{bucket}/dir"

    rclone("sync", src, remote, *MULTIPART_FLAGS)
    rclone("check", src, remote)

    listed = rclone("lsf", "-R", "--files-only", remote).stdout.splitlines()
    local = sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())
    assert sorted(listed) == local
    head = s3.head_object(Bucket=bucket, Key="dir/multipart/twelve-mib.bin")
    assert head["ContentLength"] == 12 * MIB
    assert head["ETag"].endswith('-3"')

    # Modify one file, add one, delete one; sync again and check.
    (src / "readme.txt").write_bytes(b"hello again, now longer than before\n")
    (src / "nested/new.bin").write_bytes(os.urandom(2_000))
    (src / "nested/a/sibling.bin").unlink()
    rclone("sync", src, remote, *MULTIPART_FLAGS)
    rclone("check", src, remote)
    got = s3.get_object(Bucket=bucket, Key="dir/readme.txt")["Body"].read()
    assert got == b"hello again, now longer than before\n"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert "dir/nested/a/sibling.bin" not in keys
    assert "dir/nested/new.bin" in keys

    # A difference made behind rclone's back is detected by check.
    s3.put_object(Bucket=bucket, Key="dir/readme.txt", Body=b"tampered")
    assert rclone("check", src, remote, check=False).returncode != 0

    # And a copy back reproduces the tree.
    back = tmp_path / "back"
    rclone("sync", src, remote)
    rclone("copy", remote, back)
    rclone("check", src, back)


def test_rclone_mkdir_purge(rclone, s3):
    from conftest import unique_bucket_name

    name = unique_bucket_name("rc")
    rclone("mkdir", f"hafiz:{name}")
    s3.head_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="x/y.txt", Body=b"x")
    assert sorted(rclone("lsf", "-R", f"hafiz:{name}").stdout.split()) == ["x/", "x/y.txt"]
    rclone("purge", f"hafiz:{name}")
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
