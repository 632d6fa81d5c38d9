#!/usr/bin/env python3
"""Notification delivery to a webhook on loopback, against the same PUTs without
notifications in the same run (machines here are noisy: only the ratio and the
latency distribution mean something).

    HAFIZ_BIN=target/release/hafiz .venv/bin/python benches/notify.py [N] [CONCURRENCY]

Starts one hafiz on fresh temp dirs and a threaded webhook receiver; PUTs N small
objects into a bucket without a notification rule (baseline), then N into a bucket
whose rule sends every ObjectCreated event to the webhook. Prints PUT throughput of
both and their ratio, event delivery throughput (first PUT to last event received),
and latency p50/p99 from the PUT's response to the event's arrival.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "py"))

import brokers  # noqa: E402
from conftest import ServerFactory, make_client, wait_for  # noqa: E402


def put_all(s3, bucket, keys, conc):
    done = {}

    def one(k):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x" * 1024)
        done[k] = time.monotonic()

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(conc) as pool:
        list(pool.map(one, keys))
    return t0, time.monotonic() - t0, done


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    conc = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    base = Path(tempfile.mkdtemp(prefix="hafiz-notify-bench-"))
    factory = ServerFactory(base)
    hook = brokers.Webhook()
    arrivals = {}
    status = hook.status

    def stamp(ev):
        rec = (ev.get("Records") or [{}])[0]
        key = rec.get("s3", {}).get("object", {}).get("key")
        if key:
            arrivals[key] = time.monotonic()
        return status(ev)

    hook.status = stamp
    try:
        node = factory.start()
        cfg = base / "cli"
        cfg.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAFIZ_")}
        env["HAFIZ_CONFIG_DIR"] = str(cfg)
        admin = lambda *a: subprocess.run([os.environ["HAFIZ_BIN"], "admin", *a], env=env,  # noqa: E731
                                          check=True, capture_output=True, text=True).stdout
        admin("alias", "set", "b", node.admin_endpoint, node.access_key, node.secret_key)
        arn = json.loads(admin("notify", "add", "b", "bench", "--kind", "webhook", "--endpoint", hook.url,
                               "--json"))["arn"]
        s3 = make_client(node.endpoint, node.access_key, node.secret_key,
                         max_pool_connections=conc * 2)
        s3.create_bucket(Bucket="plain")
        s3.create_bucket(Bucket="notified")
        s3.put_bucket_notification_configuration(Bucket="notified", NotificationConfiguration={
            "QueueConfigurations": [{"Id": "all", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
        keys = [f"k{i:06d}" for i in range(n)]
        _, plain_s, _ = put_all(s3, "plain", keys, conc)
        t0, notified_s, acked = put_all(s3, "notified", keys, conc)
        wait_for("every event", lambda: len(arrivals) >= n, timeout=600, every=0.05)
        last = max(arrivals.values())
        lat = sorted(max(0.0, arrivals[k] - acked[k]) * 1000 for k in keys)
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
        print(f"PUT 1 KiB x{n} c{conc}: plain {n / plain_s:.0f} op/s, with notifications "
              f"{n / notified_s:.0f} op/s, ratio {plain_s / notified_s:.2f}")
        print(f"delivery to a loopback webhook: {n / (last - t0):.0f} events/s "
              f"(first PUT to last event), latency after the PUT's response "
              f"p50 {p(0.50):.1f} ms, p99 {p(0.99):.1f} ms, max {lat[-1]:.1f} ms")
    finally:
        factory.cleanup()
        hook.close()


if __name__ == "__main__":
    main()
