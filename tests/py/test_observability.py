"""Prometheus metrics on the S3 listener and JSON logs, against the real binary."""

from __future__ import annotations

import json
import re
import uuid

import botocore.exceptions
import pytest
import requests

SAMPLE = re.compile(r'^([a-z_0-9]+)(\{[^}]*\})? ([0-9.eE+-]+)$')


def scrape(server) -> dict[str, float]:
    r = requests.get(f"{server.endpoint}/metrics", timeout=10)
    assert r.status_code == 200
    out = {}
    for line in r.text.splitlines():
        m = SAMPLE.match(line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def value(samples: dict[str, float], name: str, **labels) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for key, v in samples.items():
        metric, _, rest = key.partition("{")
        if metric != name:
            continue
        if all(f'{k}="{val}"' in rest for k, val in labels.items()):
            total += v
    return total


def test_metrics_move_with_a_scripted_session(server_factory):
    server = server_factory.start(extra_args=["--log-format", "json"])
    s3 = server.client()
    before = scrape(server)
    bucket = f"m-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    body = b"x" * 300_000
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=body)
    for i in range(2):
        assert s3.get_object(Bucket=bucket, Key=f"k{i}")["Body"].read() == body
    with pytest.raises(botocore.exceptions.ClientError):
        s3.get_object(Bucket=bucket, Key="missing")
    after = scrape(server)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("hafiz_s3_requests_total", op="PutObject", status="200") == 3
    assert delta("hafiz_s3_requests_total", op="GetObject", status="200") == 2
    assert delta("hafiz_s3_requests_total", op="GetObject", status="404") == 1
    assert delta("hafiz_s3_requests_total", op="CreateBucket", status="200") == 1
    assert delta("hafiz_s3_request_duration_seconds_count", op="PutObject") == 3
    assert delta("hafiz_s3_request_duration_seconds_sum", op="PutObject") > 0
    # histogram buckets are cumulative: the +Inf bucket holds every request
    assert delta("hafiz_s3_request_duration_seconds_bucket", op="GetObject", le="+Inf") == 3
    assert delta("hafiz_s3_received_bytes_total") == 3 * len(body)
    assert delta("hafiz_s3_sent_bytes_total", op="GetObject") >= 2 * len(body)
    assert value(after, "hafiz_s3_requests_in_flight") == 0
    assert value(after, "hafiz_drive_online") >= 1
    # The metadata engine: CreateBucket and three PUTs are four commands, made durable
    # by one to four group syncs of the WAL.
    assert delta("hafiz_meta_commands_total") == 4
    assert 1 <= delta("hafiz_meta_wal_syncs_total") <= 4
    assert value(after, "hafiz_meta_memtable_bytes", mirror="0") > 0
    assert value(after, "hafiz_meta_write_stopped") == 0
    for name in ("hafiz_meta_block_cache_hits_total", "hafiz_meta_block_cache_misses_total",
                 "hafiz_meta_compaction_pending_bytes", "hafiz_meta_write_stall_seconds_total"):
        assert f'{name}{{mirror="0"}}' in after, name

    # JSON logs: one object per line.
    assert server.stop() == 0
    lines = [l for l in server.log().splitlines() if l.startswith("{")]
    assert lines, server.log_tail()
    records = [json.loads(l) for l in lines]
    assert any(r.get("fields", {}).get("message") == "hafiz S3 listening" for r in records)
    assert all("level" in r and "timestamp" in r for r in records)


def test_request_spans_are_exported_over_otlp_http(server_factory):
    """A collector stand-in on loopback receives the request spans (OTLP/HTTP protobuf)."""
    import http.server
    import threading

    received: list[tuple[str, str, bytes]] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.append((self.path, self.headers.get("Content-Type", ""), body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    collector = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    try:
        port = collector.server_address[1]
        server = server_factory.start(extra_args=["--otlp-endpoint", f"http://127.0.0.1:{port}"])
        s3 = server.client()
        bucket = f"otlp-{uuid.uuid4().hex[:10]}"
        resp = s3.create_bucket(Bucket=bucket)
        request_id = resp["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
        # Shutdown flushes the batch exporter.
        assert server.stop() == 0, server.log_tail()
        assert received, "no OTLP export reached the collector"
        paths = {p for p, _, _ in received}
        assert paths == {"/v1/traces"}, paths
        assert all(ct == "application/x-protobuf" for _, ct, _ in received)
        payload = b"".join(b for _, _, b in received)
        assert b"s3.request" in payload
        assert request_id.encode() in payload, "the span carries the request id"
        assert b"CreateBucket" in payload, "the span carries the operation"
        assert b"hafiz" in payload, "service.name resource attribute"
    finally:
        collector.shutdown()


def test_every_dashboard_metric_is_exported(server_factory):
    """The Grafana dashboard only charts names the server exports."""
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[2]
    dashboard = json.loads((root / "deploy/grafana/hafiz.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    names = {n for e in exprs for n in re.findall(r"\bhafiz_[a-z_0-9]+", e)}
    assert len(names) >= 15, names
    server = server_factory.start()
    s3 = server.client()
    bucket = f"d-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.get_object(Bucket=bucket, Key="k")["Body"].read()
    exported = {k.partition("{")[0] for k in scrape(server)}
    # Counters that appear once their event happened (a heal, a scanner pass).
    on_event = {"hafiz_heal_shards_rebuilt_total", "hafiz_scanner_blobs_checked_total",
                "hafiz_scanner_orphans_removed_total"}
    sources = "".join(p.read_text() for p in (root / "crates").rglob("*.rs"))
    for name in sorted(names):
        base = re.sub(r"_(bucket|count|sum)$", "", name)
        if name in on_event:
            assert f'"{name}"' in sources, name
        else:
            assert name in exported or f"{base}_bucket" in exported, name
