"""Fault tests of the erasure-coded storage, against the real `hafiz` binary on
several drive directories: lost drives, replaced (blank) drives, bit rot in
shard files, more drives lost than the parity covers, SIGKILL during writes,
and the offline `hafiz admin heal` / `hafiz admin status` commands.

Layouts: 4 drives are coded 2+2 (k data + m parity), 6 drives 4+2. Every object
is read back in full and compared by MD5; the shard files are checked directly
(header, length, per-chunk CRC32C) to see what the scanner rebuilt.

Shard file format (crates/hafiz-storage/src/shard.rs): a 32-byte header
("HZSHARD1", version, codec, checksum kind, k, m, shard index, ..., block size
u32 LE), then per 1 MiB object block one chunk of ceil(block_len / k) bytes and
its CRC32C (4 bytes LE). Shard i of blob `id` lives on slot (i + rot) % n, where
rot = int(id[-8:], 16) % n. Objects of at most 128 KiB are inline in metadata.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import math
import os
import random
import re
import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from awscrt import checksums
from botocore.exceptions import ClientError

from conftest import Server, ServerFactory, require_bin
from s3util import MIB, md5_hex, parse_error, s3_quote, sign_request, signed_request

KIB = 1024
HEADER_LEN = 32
BLOCK = MIB
INLINE_MAX = 128 * KIB
LAYOUTS = {4: (2, 2), 6: (4, 2)}  # drives -> (k, m), the default parity
# One large object per node; smaller on 6 drives to keep the suite's time down.
BIG = {4: 64 * MIB, 6: 24 * MIB}
BUCKET = "erasure"

REBUILD_TIMEOUT = 60.0  # a blank replacement drive is rebuilt completely
READ_HEAL_TIMEOUT = 15.0  # damage found by a read is healed on the next ticks (~2-4 s)
SCANNER_HEAL_TIMEOUT = 30.0  # with --scanner-interval 2
BACK_ONLINE_TIMEOUT = 12.0  # drives moved back are seen on the next tick (~2 s)
ADMIN_TIMEOUT = 180.0


# --------------------------------------------------------------------------
# A node on its own drive directories
# --------------------------------------------------------------------------


class Node:
    """A `hafiz server` on n drive directories `<base>/drive1..n` (slot i-1 is
    drive i on a fresh node)."""

    def __init__(self, factory: ServerFactory, n: int, *, extra_args=(), ellipsis: bool = True):
        self.factory = factory
        self.n = n
        self.k, self.m = LAYOUTS[n]
        self.base = factory.new_data_dir()
        self.drives = [self.base / f"drive{i}" for i in range(1, n + 1)]
        # Both ways of naming drives: hafiz's own {a...b} expansion, or one --data each.
        self.data = [f"{self.base}/drive{{1...{n}}}"] if ellipsis else [str(d) for d in self.drives]
        self.extra_args = list(extra_args)
        self.server: Server = factory.start(self.base, data=self.data, extra_args=self.extra_args)
        self.access_key, self.secret_key = self.server.access_key, self.server.secret_key

    def client(self, **config):
        # No retries: a 503 must not be hidden by the SDK's retry loop.
        return self.server.client(retries={"total_max_attempts": 1}, read_timeout=120, **config)

    def restart(self) -> Server:
        self.server = self.factory.start(
            self.base,
            data=self.data,
            extra_args=self.extra_args,
            access_key=self.access_key,
            secret_key=self.secret_key,
        )
        return self.server

    def admin(self, *args: str, timeout: float = ADMIN_TIMEOUT) -> subprocess.CompletedProcess:
        """Run `hafiz admin ...` on this node's drives (no HAFIZ_* from our env)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAFIZ_")}
        data_args = [a for d in self.data for a in ("--data", d)]
        cmd = [str(require_bin()), "admin", args[0], *data_args, *args[1:]]
        return subprocess.run(
            cmd,
            env=env,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def url(self, bucket: str, key: str) -> str:
        return f"{self.server.endpoint}/{bucket}/{s3_quote(key)}"

    def raw(self, method: str, bucket: str, key: str, *, body: bytes = b"", headers=None):
        return signed_request(
            method,
            self.url(bucket, key),
            access_key=self.access_key,
            secret_key=self.secret_key,
            body=body,
            headers=headers,
            timeout=60,
        )

    # -- drives ------------------------------------------------------------

    def slot_of(self, drive: Path) -> int:
        return self.drives.index(drive)

    def shard_files(self, drive: Path) -> dict[str, Path]:
        """Blob id -> shard file on one drive."""
        return {p.name: p for p in drive.glob("shards/*/*") if p.is_file()}

    def blob_ids(self) -> set[str]:
        return {blob for d in self.drives for blob in self.shard_files(d)}

    def tmp_files(self, drives=None) -> list[Path]:
        return [p for d in (drives or self.drives) for p in (d / "tmp").rglob("*") if p.is_file()]

    def shard_problems(self, blobs: set[str], sizes: list[int], drives=None) -> list[str]:
        """Everything wrong with the shards of `blobs` on `drives`: missing files,
        bad headers, wrong shard index for the slot, wrong length, bad CRCs."""
        lens = {expected_shard_len(s, self.k) for s in sizes if s > INLINE_MAX}
        problems = []
        for d in drives or self.drives:
            slot = self.slot_of(d)
            files = self.shard_files(d)
            for blob in sorted(blobs):
                path = files.get(blob)
                if path is None:
                    problems.append(f"{d.name}: no shard of blob {blob}")
                    continue
                want_index = (slot - int(blob[-8:], 16) % self.n) % self.n
                problems += [
                    f"{d.name}/{blob}: {p}" for p in check_shard(path.read_bytes(), self.k, self.m, want_index, lens)
                ]
        return problems


def drive_id(path: Path) -> str:
    return json.loads((path / "format.json").read_text())["this"]


def lose_drive(path: Path) -> None:
    """Delete a drive directory. Renamed away first so the server never sees it
    half-deleted (an empty directory would be taken for a blank replacement)."""
    gone = path.with_name(f"{path.name}.gone-{uuid.uuid4().hex[:6]}")
    path.rename(gone)
    shutil.rmtree(gone)


def wait_until(problems_fn, timeout: float, what: str, interval: float = 1.0, log=None) -> None:
    """Poll until problems_fn() returns an empty list."""
    deadline = time.monotonic() + timeout
    while True:
        problems = problems_fn()
        if not problems:
            return
        if time.monotonic() >= deadline:
            msg = f"{what}: still wrong after {timeout:.0f}s ({len(problems)} problem(s)):\n" + "\n".join(problems[:15])
            if log is not None:
                msg += f"\n--- server log ---\n{log()}"
            pytest.fail(msg)
        time.sleep(interval)


# --------------------------------------------------------------------------
# Shard files
# --------------------------------------------------------------------------


def crc32c_le(data) -> bytes:
    return checksums.crc32c(data).to_bytes(4, "little")


def full_chunk_len(k: int) -> int:
    return math.ceil(BLOCK / k)


def expected_shard_len(size: int, k: int) -> int:
    blocks = math.ceil(size / BLOCK)
    if blocks == 0:
        return HEADER_LEN
    last = size - (blocks - 1) * BLOCK
    return HEADER_LEN + (blocks - 1) * (full_chunk_len(k) + 4) + math.ceil(last / k) + 4


def chunks_of(file_len: int, k: int) -> list[tuple[int, int]]:
    """(offset, length) of every chunk in a shard file of this length (the last
    chunk is the only short one, so the length alone says where chunks are)."""
    c = full_chunk_len(k)
    body = file_len - HEADER_LEN
    if body <= 0:
        return []
    q, r = divmod(body, c + 4)
    if r == 0:
        blocks, last = q, c
    else:
        blocks, last = q + 1, r - 4
        if not 1 <= last <= c:
            raise ValueError(f"impossible shard length {file_len}")
    return [(HEADER_LEN + b * (c + 4), c if b < blocks - 1 else last) for b in range(blocks)]


def check_shard(raw: bytes, k: int, m: int, index: int, lens: set[int]) -> list[str]:
    h = raw[:HEADER_LEN]
    if len(h) < HEADER_LEN or h[:8] != b"HZSHARD1":
        return ["bad header magic"]
    problems = []
    if (h[8], h[9], h[10]) != (1, 1, 1):
        problems.append(f"format/codec/checksum {h[8]}/{h[9]}/{h[10]}")
    if (h[11], h[12]) != (k, m):
        problems.append(f"header says {h[11]}+{h[12]}, expected {k}+{m}")
    if h[13] != index:
        problems.append(f"shard index {h[13]} on a slot that holds shard {index}")
    if int.from_bytes(h[16:20], "little") != BLOCK:
        problems.append(f"block size {int.from_bytes(h[16:20], 'little')}")
    if len(raw) not in lens:
        return problems + [f"length {len(raw)} is no complete shard of a stored object {sorted(lens)}"]
    view = memoryview(raw)
    bad = [
        b
        for b, (off, n) in enumerate(chunks_of(len(raw), k))
        if crc32c_le(view[off : off + n]) != raw[off + n : off + n + 4]
    ]
    if bad:
        problems.append(f"CRC mismatch in block(s) {bad[:10]}")
    return problems


def corrupt_shard(path: Path, k: int, rng: random.Random, blocks: int = 3) -> None:
    """Flip one random byte inside the data of up to `blocks` chunks (first, last,
    random others); never the header nor a stored CRC."""
    chunks = chunks_of(path.stat().st_size, k)
    picks = {0, len(chunks) - 1} | {rng.randrange(len(chunks)) for _ in range(max(0, blocks - 2))}
    with open(path, "r+b") as f:
        for b in sorted(picks):
            off, n = chunks[b]
            pos = off + rng.randrange(n)
            f.seek(pos)
            byte = f.read(1)[0]
            f.seek(pos)
            f.write(bytes([byte ^ rng.randrange(1, 256)]))


def shard_index(path: Path) -> int:
    with open(path, "rb") as f:
        return f.read(HEADER_LEN)[13]


# --------------------------------------------------------------------------
# Objects
# --------------------------------------------------------------------------


@dataclass
class Obj:
    size: int
    md5: str
    data: bytes | None = None  # kept for ranged reads (not for the big one)


def object_sizes(n: int, big: bool = True) -> list[int]:
    sizes = [0, 1, INLINE_MAX, INLINE_MAX + 1, 256 * KIB, MIB + 1, 2 * MIB, 3 * MIB + 5]
    return sizes + ([BIG[n]] if big else [])


def populate(client, sizes: list[int], bucket: str = BUCKET) -> dict[str, Obj]:
    client.create_bucket(Bucket=bucket)
    objects = {}
    for size in sizes:
        key = f"obj-{size}"
        data = os.urandom(size)
        resp = client.put_object(Bucket=bucket, Key=key, Body=data)
        assert resp["ETag"] == f'"{md5_hex(data)}"', (key, resp["ETag"])
        objects[key] = Obj(size, md5_hex(data), data if size < 8 * MIB else None)
    return objects


def coded(objects: dict[str, Obj]) -> dict[str, Obj]:
    return {k: o for k, o in objects.items() if o.size > INLINE_MAX}


def read_problems(client, objects: dict[str, Obj], bucket: str = BUCKET, ranges: bool = False) -> list[str]:
    """Every object read in full (and, with ranges, across block boundaries)."""
    problems = []
    for key, obj in objects.items():
        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as e:
            problems.append(f"GET {key}: {e.response.get('Error')} HTTP {e.response['ResponseMetadata']['HTTPStatusCode']}")
            continue
        except Exception as e:  # a body cut short, a reset connection
            problems.append(f"GET {key}: {e!r}")
            continue
        if len(body) != obj.size or md5_hex(body) != obj.md5:
            problems.append(f"GET {key}: {len(body)} bytes with MD5 {md5_hex(body)}, expected {obj.size} bytes {obj.md5}")
        if ranges and obj.data is not None and obj.size > MIB:
            start, end = MIB - 7, min(obj.size - 1, MIB + 9)
            try:
                part = client.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end}")["Body"].read()
            except ClientError as e:
                problems.append(f"GET {key} range {start}-{end}: {e.response.get('Error')}")
                continue
            if part != obj.data[start : end + 1]:
                problems.append(f"GET {key} range {start}-{end}: wrong bytes")
    return problems


def assert_all_exact(node: Node, objects: dict[str, Obj], what: str, ranges: bool = False) -> None:
    problems = read_problems(node.client(), objects, ranges=ranges)
    assert not problems, f"{what}:\n" + "\n".join(problems) + f"\n--- server log ---\n{node.server.log_tail(30)}"


def start_with_objects(server_factory, n: int, *, big: bool = True, **node_args) -> tuple[Node, dict[str, Obj], set[str]]:
    node = Node(server_factory, n, **node_args)
    objects = populate(node.client(), object_sizes(n, big))
    blobs = node.blob_ids()
    assert len(blobs) == len(coded(objects)), (
        f"{len(blobs)} blobs on disk for {len(coded(objects))} objects above {INLINE_MAX} bytes"
    )
    # A healthy write puts one shard on every drive, each complete and valid.
    problems = node.shard_problems(blobs, [o.size for o in objects.values()])
    assert not problems, "\n".join(problems)
    return node, objects, blobs


# --------------------------------------------------------------------------
# (a) lost drives, replaced by blank ones while running
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 6])
def test_lost_drives_are_rebuilt_when_replaced(server_factory, n):
    """Lose m drives: every object reads exact. Put blank directories in their
    place: the running node formats them and rebuilds every shard on them. Then
    lose the m OTHER drives (including two of the three metadata mirrors): every
    object still reads exact, which needs the rebuilt shards."""
    node, objects, blobs = start_with_objects(server_factory, n)
    sizes = [o.size for o in objects.values()]
    m = node.m
    first, second = node.drives[n - m :], node.drives[:m]
    ids = {d: drive_id(d) for d in first}

    for d in first:
        lose_drive(d)
    assert_all_exact(node, objects, f"reads with {[d.name for d in first]} deleted", ranges=True)

    for d in first:  # blank replacement disks, mounted in place
        d.mkdir()
    wait_until(
        lambda: node.shard_problems(blobs, sizes, drives=first),
        REBUILD_TIMEOUT,
        f"rebuild of blank drives {[d.name for d in first]}",
        log=lambda: node.server.log_tail(30),
    )
    assert {d: drive_id(d) for d in first} == ids, "a replaced drive did not get its old slot's id"

    for d in second:
        lose_drive(d)
    assert_all_exact(node, objects, f"reads after the rebuild, with {[d.name for d in second]} deleted", ranges=True)
    node.server.stop()


@pytest.mark.parametrize("n", [4])
def test_deleted_drives_are_recreated_and_healed_at_restart(server_factory, n):
    """Deleted drive directories are not recreated while the node runs (they may be
    unmounted disks), but are at the next start, blank, and then rebuilt. Drives
    2 and 4 go first (one holds a metadata mirror), then 1 and 3."""
    node, objects, blobs = start_with_objects(server_factory, n, big=False)
    sizes = [o.size for o in objects.values()]
    first = [node.drives[1], node.drives[3]]
    second = [node.drives[0], node.drives[2]]
    ids = {d: drive_id(d) for d in first}
    for d in first:
        lose_drive(d)
    time.sleep(4.5)  # two drive checks
    assert [d.name for d in first if d.exists()] == [], "a deleted drive directory was recreated while running"
    assert_all_exact(node, objects, f"reads with {[d.name for d in first]} deleted")
    assert node.server.stop() == 0, node.server.log_tail()

    node.restart()
    for d in first:
        assert (d / "format.json").is_file(), f"{d.name} was not recreated at start"
    assert {d: drive_id(d) for d in first} == ids, "a recreated drive did not get its old slot's id"
    wait_until(
        lambda: node.shard_problems(blobs, sizes, drives=first),
        REBUILD_TIMEOUT,
        f"rebuild of the recreated drives {[d.name for d in first]}",
        log=lambda: node.server.log_tail(30),
    )
    for d in second:
        lose_drive(d)
    assert_all_exact(node, objects, f"reads after the rebuild, with {[d.name for d in second]} deleted")
    node.server.stop()


def test_drives_replaced_one_at_a_time_then_restart(server_factory):
    """Drives 1, 2 and 3 (the metadata mirrors) fail and are replaced one after
    another, each rebuilt before the next fails, so the node is never more than one
    drive short; objects are written in between. After a clean restart every
    object is still there, byte for byte."""
    node, objects, blobs = start_with_objects(server_factory, 4, big=False)
    client = node.client()
    for d in node.drives[:3]:
        lose_drive(d)
        d.mkdir()
        sizes = [o.size for o in objects.values()]
        wait_until(
            lambda: node.shard_problems(blobs, sizes, drives=[d]),
            REBUILD_TIMEOUT,
            f"rebuild of the replaced {d.name}",
            log=lambda: node.server.log_tail(30),
        )
        data = os.urandom(300 * KIB)
        key = f"after-{d.name}"
        client.put_object(Bucket=BUCKET, Key=key, Body=data)
        objects[key] = Obj(len(data), md5_hex(data), data)
        blobs = node.blob_ids()
        assert_all_exact(node, objects, f"reads after replacing {d.name}")
    assert node.server.stop() == 0, node.server.log_tail()
    node.restart()
    assert_all_exact(node, objects, "reads after a restart of the node whose three metadata drives were replaced")
    node.server.stop()


# --------------------------------------------------------------------------
# (b) bit rot inside shard files
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 6])
def test_bitrot_found_by_reads_is_healed(server_factory, n):
    """Flip bytes in the data chunks of shards on m drives (the data shards, which
    a read always verifies): GETs return the right bytes, and the blobs the reads
    found damaged are rewritten within seconds (default scanner interval, so no
    full pass helps). Then rot the m other drives: reads are still exact."""
    node, objects, blobs = start_with_objects(server_factory, n)
    sizes = [o.size for o in objects.values()]
    rng = random.Random(1000 + n)
    m, k = node.m, node.k
    first, second = node.drives[n - m :], node.drives[:m]

    rotten = 0
    for d in first:
        for path in node.shard_files(d).values():
            if shard_index(path) < k:  # a data shard: read on every GET
                corrupt_shard(path, k, rng)
                rotten += 1
    assert rotten > 0, "no data shard on the chosen drives"
    assert node.shard_problems(blobs, sizes), "the corruption did not show in the shard CRCs"

    assert_all_exact(node, objects, "reads with rotten data shards", ranges=True)
    wait_until(
        lambda: node.shard_problems(blobs, sizes),
        READ_HEAL_TIMEOUT,
        "healing of the shards reads found rotten",
        log=lambda: node.server.log_tail(30),
    )

    for d in second:
        for path in node.shard_files(d).values():
            corrupt_shard(path, k, rng)
    assert_all_exact(node, objects, f"reads after healing, with every shard on {[d.name for d in second]} rotten")
    node.server.stop()


@pytest.mark.parametrize("n", [4, 6])
def test_bitrot_is_healed_by_the_scanner(server_factory, n):
    """With --scanner-interval 2 and no reads at all, rot in any shard (data or
    parity) on m drives is found and rebuilt by the scanner's full pass."""
    node, objects, blobs = start_with_objects(server_factory, n, big=False, extra_args=["--scanner-interval", "2"])
    sizes = [o.size for o in objects.values()]
    rng = random.Random(2000 + n)
    m, k = node.m, node.k
    first, second = node.drives[:m], node.drives[n - m :]

    for d in first:
        for path in node.shard_files(d).values():
            corrupt_shard(path, k, rng)
    assert node.shard_problems(blobs, sizes), "the corruption did not show in the shard CRCs"
    wait_until(
        lambda: node.shard_problems(blobs, sizes),
        SCANNER_HEAL_TIMEOUT,
        "scanner healing of rotten shards",
        log=lambda: node.server.log_tail(30),
    )

    for d in second:
        for path in node.shard_files(d).values():
            corrupt_shard(path, k, rng)
    assert_all_exact(node, objects, f"reads with every shard on {[d.name for d in second]} rotten", ranges=True)
    node.server.stop()


# --------------------------------------------------------------------------
# (c) more drives lost than the parity covers
# --------------------------------------------------------------------------


def expect_s3_error(resp, status: int, code: str, what: str) -> None:
    assert resp.status_code == status, f"{what}: HTTP {resp.status_code}, expected {status} {code}: {resp.content[:300]!r}"
    err = parse_error(resp.content)
    assert err.get("Code") == code, f"{what}: error {err}, expected {code}"


@pytest.mark.parametrize("n", [4, 6])
def test_too_many_lost_drives_fail_cleanly_then_recover(server_factory, n):
    """m+1 drives renamed away: GETs of erasure-coded objects fail with 503
    ServiceUnavailable (never 200 with wrong bytes), large PUTs with 503 SlowDown;
    inline objects are served exactly if at all. Renamed back: everything reads
    exact again within seconds, and writes work.

    The metadata lives on drives 1-3: on 4 drives drive1 is kept (it holds the
    mirror reads are served from); on 6 drives the removed ones hold no mirror."""
    node, objects, _ = start_with_objects(server_factory, n, big=False)
    m = node.m
    victims = node.drives[n - (m + 1) :]
    away = {d: d.with_name(d.name + ".away") for d in victims}
    for d, a in away.items():
        d.rename(a)

    def check_outage(when: str):
        for key, obj in objects.items():
            resp = node.raw("GET", BUCKET, key)
            if obj.size > INLINE_MAX:
                expect_s3_error(resp, 503, "ServiceUnavailable", f"{when}: GET {key}")
                ranged = node.raw("GET", BUCKET, key, headers={"Range": "bytes=0-0"})
                expect_s3_error(ranged, 503, "ServiceUnavailable", f"{when}: GET {key} bytes=0-0")
            elif resp.status_code == 200:
                assert md5_hex(resp.content) == obj.md5, f"{when}: GET {key} answered 200 with wrong bytes"
            else:
                expect_s3_error(resp, 503, "ServiceUnavailable", f"{when}: GET {key} (inline)")
        big = os.urandom(MIB + 1)
        resp = node.raw("PUT", BUCKET, "put-during-outage", body=big)
        expect_s3_error(resp, 503, "SlowDown", f"{when}: PUT of {len(big)} bytes")

    check_outage("right after the rename")
    time.sleep(2.5)  # the drive check has run: the drives are marked offline now
    check_outage("with the drives marked offline")

    for d, a in away.items():
        a.rename(d)
    wait_until(
        lambda: read_problems(node.client(), objects),
        BACK_ONLINE_TIMEOUT,
        "reads after the drives came back",
        interval=0.5,
        log=lambda: node.server.log_tail(30),
    )
    data = os.urandom(2 * MIB + 3)
    client = node.client()
    client.put_object(Bucket=BUCKET, Key="after-outage", Body=data)
    assert md5_hex(client.get_object(Bucket=BUCKET, Key="after-outage")["Body"].read()) == md5_hex(data)
    assert client.list_objects_v2(Bucket=BUCKET, Prefix="put-during-outage")["KeyCount"] == 0
    node.server.stop()


def test_put_refused_for_lost_quorum_leaves_no_temporaries(server_factory):
    """A PUT refused for want of a write quorum leaves no temporary shard file on
    the drives that are still there (tmp/ holds in-flight writes only; the writer
    removes its temporaries when a write fails, not at the next restart)."""
    node = Node(server_factory, 4)
    node.client().create_bucket(Bucket=BUCKET)
    victims = node.drives[1:]
    for d in victims:
        d.rename(d.with_name(d.name + ".away"))
    resp = node.raw("PUT", BUCKET, "refused", body=os.urandom(MIB + 1))
    expect_s3_error(resp, 503, "SlowDown", "PUT with 3 of 4 drives gone")
    wait_until(
        lambda: [str(p) for p in node.tmp_files(node.drives[:1])],
        3.0,
        "temporary shard files of the refused PUT on drive1/tmp",
        interval=0.25,
    )
    node.server.stop()


# --------------------------------------------------------------------------
# (d) SIGKILL during parallel writes
# --------------------------------------------------------------------------

WRITERS = 8
KEYS_PER_WRITER = 4
KILL_CYCLES = 2
WRITE_SECONDS = 2.5
MIN_SIZE, MAX_SIZE = 200 * KIB, 3 * MIB


@dataclass
class KeyState:
    acked: str | None = None  # MD5 of the last acknowledged body (None: absent)
    pending: set[str] = field(default_factory=set)  # sent after it, never acknowledged

    def allowed(self) -> set[str | None]:
        return {self.acked} | self.pending


def crash_writer(client, wid, states, sizes, stop, counts, seed):
    rng = random.Random(seed)
    keys = [f"w{wid}/k{i}" for i in range(KEYS_PER_WRITER)]
    while not stop.is_set():
        key = rng.choice(keys)
        body = os.urandom(int(MIN_SIZE * (MAX_SIZE / MIN_SIZE) ** rng.random()))
        digest = md5_hex(body)
        state = states[key]  # each thread owns its keys
        state.pending.add(digest)
        sizes[digest] = len(body)
        try:
            resp = client.put_object(Bucket=BUCKET, Key=key, Body=body)
        except Exception:
            counts["failed"] += 1
            continue
        if resp["ETag"] != f'"{digest}"':
            counts["errors"].append(f"{key}: ETag {resp['ETag']} for MD5 {digest}")
        state.acked, state.pending = digest, set()
        counts["acked"] += 1


def test_sigkill_during_parallel_puts_leaves_no_orphans(server_factory):
    """8 writers PUT 200 KiB..3 MiB objects on a 4-drive node; SIGKILL; restart.
    Every acknowledged object is intact, and the drives hold exactly the shards of
    the listed objects (one blob each, on all 4 drives), and no temporaries."""
    node = Node(server_factory, 4)
    node.client().create_bucket(Bucket=BUCKET)
    states = {f"w{w}/k{i}": KeyState() for w in range(WRITERS) for i in range(KEYS_PER_WRITER)}
    sizes: dict[str, int] = {}
    for cycle in range(KILL_CYCLES):
        client = node.server.client(
            max_pool_connections=WRITERS, retries={"total_max_attempts": 1}, connect_timeout=3, read_timeout=30
        )
        stop = threading.Event()
        counts = {"acked": 0, "failed": 0, "errors": []}
        threads = [
            threading.Thread(
                target=crash_writer, args=(client, w, states, sizes, stop, counts, cycle * 100 + w), daemon=True
            )
            for w in range(WRITERS)
        ]
        for t in threads:
            t.start()
        time.sleep(WRITE_SECONDS)
        node.server.kill()
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads), "writers did not stop after the kill"
        assert not counts["errors"], counts["errors"][:5]
        assert counts["acked"] > 0, f"cycle {cycle}: nothing acknowledged in {WRITE_SECONDS}s:\n{node.server.log_tail()}"

        node.restart()
        client = node.client()
        assert not node.tmp_files(), f"cycle {cycle}: temporaries left after restart: {node.tmp_files()[:10]}"

        listed = {
            o["Key"]: o["Size"]
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            for o in page.get("Contents", [])
        }
        assert set(listed) <= set(states), f"unexpected keys {set(listed) - set(states)}"
        for key, state in states.items():
            got = None
            if key in listed:
                body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
                assert len(body) == listed[key], f"{key}: listed {listed[key]} bytes, read {len(body)}"
                got = md5_hex(body)
            assert got in state.allowed(), (
                f"cycle {cycle}: {key} holds {got}, expected the acknowledged {state.acked} "
                f"or one of {len(state.pending)} unacknowledged bodies"
            )
            state.acked, state.pending = got, set()

        coded_objects = [s for s in listed.values() if s > INLINE_MAX]
        blobs = node.blob_ids()
        assert len(blobs) == len(coded_objects), (
            f"cycle {cycle}: {len(blobs)} distinct blobs on the drives for {len(coded_objects)} listed objects "
            f"above {INLINE_MAX} bytes (orphan shards survived the restart)"
        )
        problems = node.shard_problems(blobs, list(listed.values()))
        assert not problems, f"cycle {cycle}:\n" + "\n".join(problems[:15])
    assert node.server.stop() == 0, node.server.log_tail()


# --------------------------------------------------------------------------
# (e) offline `hafiz admin heal` and `hafiz admin status`
# --------------------------------------------------------------------------

SUMMARY = re.compile(r"(\d+) blob\(s\) checked, (\d+) damaged, (\d+) shard\(s\) rebuilt, (\d+) unrecoverable")


def heal_summary(proc: subprocess.CompletedProcess) -> tuple[int, int, int, int]:
    found = SUMMARY.findall(proc.stdout)
    assert found, f"no summary line in `hafiz admin heal` output:\n{proc.stdout}\n{proc.stderr}"
    return tuple(int(x) for x in found[-1])


def snapshot(drives: list[Path]) -> dict[str, str]:
    """Digest of every file a heal may write (shards, temporaries, format files)."""
    out = {}
    for d in drives:
        for p in [d / "format.json", *d.glob("shards/**/*"), *d.glob("tmp/**/*")]:
            if p.is_file():
                out[str(p.relative_to(d.parent))] = hashlib.md5(p.read_bytes()).hexdigest()
    return out


@pytest.mark.parametrize("n", [4, 6])
def test_offline_admin_heal(server_factory, n):
    """Stopped node: one drive's shard files deleted, another's rotten. `admin heal
    --dry-run` reports the damage and writes nothing; `admin heal` rebuilds it;
    `admin status --json` shows every drive online; the restarted node then
    serves every object exactly with the m other drives gone."""
    node, objects, blobs = start_with_objects(server_factory, n, ellipsis=(n == 4))
    sizes = [o.size for o in objects.values()]
    e = len(blobs)
    assert node.server.stop() == 0, node.server.log_tail()

    wiped, rotten = node.drives[-1], node.drives[-2]
    for path in node.shard_files(wiped).values():
        path.unlink()
    rng = random.Random(3000 + n)
    for path in node.shard_files(rotten).values():
        corrupt_shard(path, node.k, rng)
    before = snapshot(node.drives)

    dry = node.admin("heal", "--dry-run")
    assert dry.returncode == 0, f"heal --dry-run exited {dry.returncode}:\n{dry.stdout}\n{dry.stderr}"
    assert heal_summary(dry) == (e, e, 0, 0), dry.stdout
    assert snapshot(node.drives) == before, "heal --dry-run changed the drives"

    only = node.admin("heal", "--dry-run", "--bucket", BUCKET)
    assert only.returncode == 0 and heal_summary(only) == (e, e, 0, 0), only.stdout + only.stderr

    heal = node.admin("heal")
    assert heal.returncode == 0, f"heal exited {heal.returncode}:\n{heal.stdout}\n{heal.stderr}"
    assert heal_summary(heal) == (e, e, 2 * e, 0), heal.stdout
    problems = node.shard_problems(blobs, sizes)
    assert not problems, "after admin heal:\n" + "\n".join(problems[:15])
    assert not node.tmp_files(), node.tmp_files()

    again = node.admin("heal")
    assert again.returncode == 0 and heal_summary(again) == (e, 0, 0, 0), again.stdout + again.stderr

    status = node.admin("status", "--json")
    assert status.returncode == 0, status.stderr
    drives = json.loads(status.stdout)
    assert len(drives) == n, drives
    assert sorted((d["set"], d["slot"]) for d in drives) == [(0, i) for i in range(n)], drives
    assert {Path(d["path"]) for d in drives} == set(node.drives), drives
    assert [d["state"] for d in drives] == ["online"] * n, drives
    assert all(isinstance(d["free_bytes"], int) and d["free_bytes"] > 0 for d in drives), drives
    assert len({d["id"] for d in drives}) == n, drives

    node.restart()
    for d in node.drives[: node.m]:
        lose_drive(d)
    assert_all_exact(node, objects, f"reads after admin heal, with {[d.name for d in node.drives[: node.m]]} deleted")
    node.server.stop()


# --------------------------------------------------------------------------
# The offline admin commands must not touch a running node's drives
# --------------------------------------------------------------------------


def test_admin_status_on_a_running_node_changes_nothing(server_factory):
    """`hafiz admin status` only reports: run while the node is up and a drive
    directory is missing (an unmounted disk), it must not recreate and format it
    behind the server's back; and a drive that does come back blank is rebuilt."""
    node, objects, blobs = start_with_objects(server_factory, 4, big=False)
    sizes = [o.size for o in objects.values()]
    lost = node.drives[3]
    lose_drive(lost)
    time.sleep(2.5)  # the node has marked it offline
    status = node.admin("status", "--json")
    assert status.returncode == 0, status.stderr
    states = {Path(d["path"]).name: d["state"] for d in json.loads(status.stdout)}
    created = lost.exists()
    # Whatever status did, the slot must end up rebuilt (a blank drive gets healed).
    if created:
        wait_until(
            lambda: node.shard_problems(blobs, sizes, drives=[lost]),
            8.0,
            f"rebuild of {lost.name}, recreated blank by `admin status` while the node ran (status said {states})",
            log=lambda: node.server.log_tail(8),
        )
    assert not created, f"`hafiz admin status` recreated the missing drive directory {lost.name} (status said {states})"
    node.server.stop()


def test_admin_heal_on_a_running_node_refuses_and_harms_nothing(server_factory):
    """`hafiz admin heal` is offline-only (the node holds the metadata lock): run
    against a running node it must refuse without disturbing it, in particular
    without deleting the temporaries of a PUT in flight."""
    node = Node(server_factory, 4)
    node.client().create_bucket(Bucket=BUCKET)
    data = os.urandom(2 * MIB + 11)
    first, rest = data[: 300 * KIB], data[300 * KIB :]
    signed = sign_request(
        "PUT",
        node.url(BUCKET, "in-flight"),
        access_key=node.access_key,
        secret_key=node.secret_key,
        payload_hash="UNSIGNED-PAYLOAD",
    )
    # http.client: a declared Content-Length, sent in two pieces with a pause.
    conn = http.client.HTTPConnection("127.0.0.1", node.server.port, timeout=60)
    try:
        conn.putrequest("PUT", signed.url.split(str(node.server.port), 1)[1], skip_accept_encoding=True)
        for name, value in signed.headers.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(data)))
        conn.endheaders()
        conn.send(first)  # past the inline threshold: the shard temporaries are open now
        wait_until(lambda: [] if node.tmp_files() else ["no temporaries yet"], 10, "the PUT's shard temporaries")
        heal = node.admin("heal", "--dry-run")
        conn.send(rest)
        resp = conn.getresponse()
        status, content = resp.status, resp.read()
    finally:
        conn.close()
    assert heal.returncode != 0, f"admin heal ran against a running node:\n{heal.stdout}"
    assert status == 200, (
        f"a PUT in flight while `hafiz admin heal` ran (and was refused) failed: HTTP {status} {content[:300]!r}\n"
        f"{node.server.log_tail(10)}"
    )
    got = node.client().get_object(Bucket=BUCKET, Key="in-flight")["Body"].read()
    assert md5_hex(got) == md5_hex(data)
    node.server.stop()
