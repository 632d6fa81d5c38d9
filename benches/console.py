#!/usr/bin/env python3
"""The console's first page of a large bucket against the S3 call it is made of, in
the same run (machines here are noisy: only the ratio means something).

    HAFIZ_BIN=target/release/hafiz .venv/bin/python benches/console.py [OBJECTS] [ROUNDS]

Starts one hafiz with its console on fresh temp dirs, puts OBJECTS (default 100,000)
empty objects into one bucket with hafiz-bench (HAFIZ_BENCH, default next to
HAFIZ_BIN), then times, ROUNDS times each (default 30), alternating:
- the baseline: ListObjectsV2 of the bucket's first page as the console asks for it
  (delimiter "/", 200 keys), presigned by botocore, the XML fetched over HTTP
  (not parsed: the client's parse time is not the server's);
- the console: GET /browse/BUCKET, the whole HTML page (signed in-process call,
  parse, render).
Prints the medians and p90s, and console / baseline.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "py"))

from conftest import ServerFactory, free_port, make_client  # noqa: E402

BUCKET = "console-bench"


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    hafiz = Path(os.environ.get("HAFIZ_BIN", "target/release/hafiz")).resolve()
    bench = Path(os.environ.get("HAFIZ_BENCH", hafiz.parent / "hafiz-bench"))
    assert bench.exists(), f"{bench}: build it (cargo build --release -p hafiz-bench) or set HAFIZ_BENCH"
    os.environ["HAFIZ_BIN"] = str(hafiz)
    base = Path(tempfile.mkdtemp(prefix="hafiz-console-bench-"))
    factory = ServerFactory(base)
    port = free_port()
    server = factory.start(extra_args=["--console-address", f"127.0.0.1:{port}"])
    console = f"http://127.0.0.1:{port}"
    try:
        s3 = make_client(server.endpoint, server.access_key, server.secret_key)
        s3.create_bucket(Bucket=BUCKET)
        t0 = time.monotonic()
        env = dict(os.environ, AWS_ACCESS_KEY_ID=server.access_key, AWS_SECRET_ACCESS_KEY=server.secret_key)
        subprocess.run(
            [str(bench), "--endpoint", server.endpoint, "--bucket", BUCKET, "--op", "put", "--size", "0",
             "--count", str(n), "--concurrency", "32", "--label", "populate", "--prefix", "o/"],
            check=True, env=env, stdout=subprocess.DEVNULL,
        )
        print(f"# {n} objects put in {time.monotonic() - t0:.1f} s")
        web = requests.Session()
        r = web.post(console + "/signin", data={"access_key": server.access_key, "secret_key": server.secret_key})
        assert r.ok, r.status_code
        page_url = f"{console}/browse/{BUCKET}?prefix=o%2F"
        first = web.get(page_url)
        assert first.ok and first.text.count('<tr class="object">') == 200, first.status_code

        raw = requests.Session()
        base_t, page_t = [], []
        for _ in range(rounds):
            url = s3.generate_presigned_url("list_objects_v2", Params={
                "Bucket": BUCKET, "Prefix": "o/", "Delimiter": "/", "MaxKeys": 200}, ExpiresIn=300)
            t = time.perf_counter()
            resp = raw.get(url)
            base_t.append(time.perf_counter() - t)
            assert resp.ok and resp.text.count("<Contents>") == 200
            t = time.perf_counter()
            page = web.get(page_url)
            page_t.append(time.perf_counter() - t)
            assert page.ok
        b50, p50 = statistics.median(base_t), statistics.median(page_t)
        print(f"{'case':44} {'p50 ms':>8} {'p90 ms':>8}")
        print(f"{'ListObjectsV2, 200 keys (raw XML)':44} {b50 * 1000:8.2f} {pct(base_t, 0.9) * 1000:8.2f}")
        print(f"{'console first page, 200 keys (HTML)':44} {p50 * 1000:8.2f} {pct(page_t, 0.9) * 1000:8.2f}")
        print(f"console / ListObjectsV2 = {p50 / b50:.2f} (median; {n} objects in the bucket)")
        print(f'{{"bench":"console","objects":{n},"list_ms":{b50 * 1000:.3f},"page_ms":{p50 * 1000:.3f},"ratio":{p50 / b50:.3f}}}')
    finally:
        factory.cleanup()
        # 100,000 objects' drives: gigabytes on a shared disk.
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
