"""Crash consistency: SIGKILL the server while 8 writers PUT objects, restart
it on the same data directory, and check that every acknowledged write is
there byte for byte and that no object holds anything but a body that was
fully sent for its key. Three kill/restart cycles, into a plain bucket and into
one whose default encryption (SSE-S3) seals every object."""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from dataclasses import dataclass, field

import pytest

WRITERS = 8
KEYS_PER_WRITER = 6
CYCLES = 3
WRITE_SECONDS = 2.0
MIN_SIZE, MAX_SIZE = 1024, 4 * 1024 * 1024
BUCKET = "crash"


@dataclass
class KeyState:
    """What a key may hold after a crash: the last acknowledged body, or any
    body whose PUT was sent after it and never acknowledged."""

    acked: str | None = None  # MD5 of the last acknowledged PUT (None: absent)
    pending: set[str] = field(default_factory=set)  # MD5s sent after it, unacknowledged

    def allowed(self) -> set[str | None]:
        return {self.acked} | self.pending


def random_size(rng: random.Random) -> int:
    # Log-uniform between 1 KiB and 4 MiB: mostly small, some large.
    return int(MIN_SIZE * (MAX_SIZE / MIN_SIZE) ** rng.random())


def writer(client, wid: int, states: dict[str, KeyState], stop: threading.Event, counts: dict, seed: int):
    rng = random.Random(seed)
    keys = [f"w{wid}/k{i}" for i in range(KEYS_PER_WRITER)]
    while not stop.is_set():
        key = rng.choice(keys)
        body = os.urandom(random_size(rng))
        digest = hashlib.md5(body).hexdigest()
        state = states[key]  # only this thread touches its own keys
        state.pending.add(digest)
        try:
            resp = client.put_object(Bucket=BUCKET, Key=key, Body=body)
        except Exception:
            counts["failed"] += 1
            continue  # in flight when the server died: outcome unknown
        if resp["ETag"] != f'"{digest}"':
            counts["errors"].append(f"{key}: PUT answered ETag {resp['ETag']} for a body with MD5 {digest}")
        state.acked = digest
        state.pending = set()
        counts["acked"] += 1


def read_all(client) -> dict[str, str]:
    """MD5 of every object in the bucket, read back in full."""
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            body = client.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
            assert len(body) == obj["Size"], f"{obj['Key']}: listed size {obj['Size']}, read {len(body)}"
            found[obj["Key"]] = hashlib.md5(body).hexdigest()
    return found


def stored_size(size: int, encrypted: bool) -> int:
    """Bytes on the drives: sealed 64 KiB chunks carry 28 bytes each."""
    return size + (-(-size // 65536)) * 28 if encrypted else size


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "sse-s3"])
def test_sigkill_during_writes(server_factory, encrypted):
    server = server_factory.start()
    access_key, secret_key, data_dir = server.access_key, server.secret_key, server.data_dir
    server.client().create_bucket(Bucket=BUCKET)
    if encrypted:
        server.client().put_bucket_encryption(
            Bucket=BUCKET,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )

    states = {f"w{w}/k{i}": KeyState() for w in range(WRITERS) for i in range(KEYS_PER_WRITER)}
    total_acked = 0
    for cycle in range(CYCLES):
        client = server.client(
            max_pool_connections=WRITERS,
            retries={"total_max_attempts": 1},
            connect_timeout=3,
            read_timeout=20,
        )
        stop = threading.Event()
        counts = {"acked": 0, "failed": 0, "errors": []}
        threads = [
            threading.Thread(
                target=writer, args=(client, w, states, stop, counts, cycle * 100 + w), daemon=True
            )
            for w in range(WRITERS)
        ]
        for t in threads:
            t.start()
        time.sleep(WRITE_SECONDS)
        server.kill()  # SIGKILL mid-stream
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads), "writer threads did not stop after the kill"
        assert not counts["errors"], counts["errors"][:5]
        assert counts["acked"] > 0, f"cycle {cycle}: no PUT was acknowledged in {WRITE_SECONDS}s:\n{server.log_tail()}"
        total_acked += counts["acked"]

        server = server_factory.start(data_dir, access_key=access_key, secret_key=secret_key)
        client = server.client()

        # Temporary files of interrupted writes are gone after restart, on every drive.
        for tmp in [data_dir / "tmp", *data_dir.glob("*/tmp")]:
            if tmp.is_dir():
                leftovers = [p for p in tmp.rglob("*") if p.is_file()]
                assert not leftovers, f"cycle {cycle}: leftover temp files after restart: {leftovers[:10]}"

        found = read_all(client)
        # No orphan shards: every blob on disk belongs to a listed object. Objects
        # above the inline threshold (128 KiB) are one blob each (single PUTs).
        stored = {
            o["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            for o in page.get("Contents", [])
            if stored_size(o["Size"], encrypted) > 128 * 1024
        }
        blob_ids = {p.name for p in data_dir.rglob("shards/*/*") if p.is_file()}
        assert len(blob_ids) == len(stored), f"cycle {cycle}: {len(blob_ids)} blobs on disk for {len(stored)} stored objects"

        assert set(found) <= set(states), f"unexpected keys: {set(found) - set(states)}"
        for key, state in states.items():
            got = found.get(key)
            assert got in state.allowed(), (
                f"cycle {cycle}: {key} holds {got}, expected the last acknowledged body {state.acked} "
                f"or one of {len(state.pending)} unacknowledged ones"
            )
            # What is there now is the baseline for the next cycle.
            state.acked, state.pending = got, set()

        # The store still works after the crash.
        client.put_object(Bucket=BUCKET, Key="after-crash", Body=b"ok")
        assert client.get_object(Bucket=BUCKET, Key="after-crash")["Body"].read() == b"ok"
        client.delete_object(Bucket=BUCKET, Key="after-crash")

    assert total_acked >= CYCLES
    assert server.stop() == 0, server.log_tail()


def test_sigkill_during_multipart(server_factory):
    """Parts acknowledged before a crash survive it; the upload can be
    completed after restart."""
    server = server_factory.start()
    access_key, secret_key, data_dir = server.access_key, server.secret_key, server.data_dir
    client = server.client()
    client.create_bucket(Bucket=BUCKET)
    upload_id = client.create_multipart_upload(Bucket=BUCKET, Key="mp")["UploadId"]
    parts = [os.urandom(5 * 1024 * 1024), os.urandom(5 * 1024 * 1024)]
    etags = []
    for n, data in enumerate(parts, start=1):
        etags.append(client.upload_part(Bucket=BUCKET, Key="mp", UploadId=upload_id, PartNumber=n, Body=data)["ETag"])
    server.kill()

    server = server_factory.start(data_dir, access_key=access_key, secret_key=secret_key)
    client = server.client()
    listed = client.list_parts(Bucket=BUCKET, Key="mp", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in listed] == [(1, etags[0]), (2, etags[1])]
    tail = os.urandom(1000)
    etags.append(client.upload_part(Bucket=BUCKET, Key="mp", UploadId=upload_id, PartNumber=3, Body=tail)["ETag"])
    client.complete_multipart_upload(
        Bucket=BUCKET,
        Key="mp",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]},
    )
    body = client.get_object(Bucket=BUCKET, Key="mp")["Body"].read()
    assert hashlib.md5(body).digest() == hashlib.md5(b"".join(parts) + tail).digest()
    assert server.stop() == 0, server.log_tail()
