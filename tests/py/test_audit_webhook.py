"""The audit webhook sink and masking, against the real binary and a real HTTP
receiver on loopback: batches survive a failing or absent receiver, requests never
wait for it, and masked metadata and keys never reach the file or the webhook."""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import ssl
import threading
import time
import uuid

import botocore.exceptions
import pytest

from conftest import free_port
from test_audit import read_records
from test_observability import scrape, value


class Receiver:
    """An HTTP server that answers the first `fail_first` POSTs with 500, then 200,
    and keeps every request it saw."""

    def __init__(self, port: int = 0, fail_first: int = 0, tls: tuple | None = None):
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    status = 500 if len(receiver.requests) < receiver.fail_first else 200
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "content_type": self.headers.get("Content-Type"),
                            "authorization": self.headers.get("Authorization"),
                            "body": body,
                            "status": status,
                        }
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/audit"

    def accepted(self) -> list[dict]:
        """Records of the batches answered 200."""
        with self.lock:
            return [r for req in self.requests if req["status"] == 200 for r in json.loads(req["body"])]

    def wait_for(self, request_ids: set[str], timeout: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = {r["requestID"] for r in self.accepted()}
            if request_ids <= got:
                return self.accepted()
            time.sleep(0.1)
        missing = request_ids - {r["requestID"] for r in self.accepted()}
        raise AssertionError(f"{len(missing)} records never arrived: {sorted(missing)[:5]}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def rid(resp) -> str:
    return resp["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]


def test_webhook_delivers_every_record_despite_failures(server_factory):
    receiver = Receiver(fail_first=3)
    try:
        server = server_factory.start(
            extra_args=["--audit-webhook", receiver.url],
            env_extra={"HAFIZ_AUDIT_WEBHOOK_TOKEN": "tok-7d1f"},
        )
        s3 = server.client()
        b = f"hook-{uuid.uuid4().hex[:8]}"
        ids = {rid(s3.create_bucket(Bucket=b))}
        for i in range(5):
            ids.add(rid(s3.put_object(Bucket=b, Key=f"k{i}", Body=b"v" * i)))
            # Spread the requests over several batches, some of them retried.
            time.sleep(0.3)
        ids.add(rid(s3.get_object(Bucket=b, Key="k3")))
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.get_object(Bucket=b, Key="missing")
        ids.add(e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"])

        records = receiver.wait_for(ids)
        with receiver.lock:
            seen = list(receiver.requests)
        assert [r["status"] for r in seen[:3]] == [500, 500, 500]
        for req in seen:
            assert req["path"] == "/audit"
            assert req["content_type"] == "application/json"
            assert req["authorization"] == "Bearer tok-7d1f"
            batch = json.loads(req["body"])
            assert isinstance(batch, list) and batch and len(batch) <= 100
        # A failed batch is sent again as it was: the first accepted body repeats it.
        assert seen[3]["body"] == seen[0]["body"]
        by_id = {}
        for r in records:
            by_id.setdefault(r["requestID"], []).append(r)
        for i in ids:
            assert len(by_id[i]) == 1, f"{i} delivered {len(by_id[i])} times"
        missing = [r for r in records if r["requestParameters"].get("key") == "missing"][0]
        assert missing["errorCode"] == "NoSuchKey" and missing["eventName"] == "GetObject"
        assert any(r["eventName"] == "PutObject" for r in records)

        samples = scrape(server)
        assert value(samples, "hafiz_audit_webhook_failures_total") >= 3
        assert value(samples, "hafiz_audit_records_total", sink="webhook") >= len(ids)
        assert value(samples, "hafiz_audit_dropped_total", sink="webhook") == 0
        assert "tok-7d1f" not in server.log()
        assert server.stop() == 0
    finally:
        receiver.close()


def test_requests_do_not_wait_for_an_absent_receiver(server_factory):
    port = free_port()
    # First a receiver that accepts the connection and never answers (the sink
    # stuck in its 5 s timeout), then none at all (refused), then a real one.
    blackhole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blackhole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blackhole.bind(("127.0.0.1", port))
    blackhole.listen(64)
    blackhole.settimeout(10)
    receiver = None
    stuck = None
    try:
        server = server_factory.start(
            extra_args=["--audit-webhook", f"http://127.0.0.1:{port}/audit"]
        )
        s3 = server.client()
        b = f"down-{uuid.uuid4().hex[:8]}"
        ids = {rid(s3.create_bucket(Bucket=b))}
        # The sink's first POST is now open and will get no answer.
        stuck, _ = blackhole.accept()
        slowest = 0.0
        started = time.monotonic()
        for i in range(50):
            t = time.monotonic()
            ids.add(rid(s3.put_object(Bucket=b, Key=f"k{i}", Body=b"x")))
            slowest = max(slowest, time.monotonic() - t)
        total = time.monotonic() - started
        # A request that waited on the webhook would take its 5 s timeout.
        assert slowest < 2.0, f"slowest PUT took {slowest:.2f}s"
        assert total < 20.0, f"50 PUTs took {total:.2f}s"

        stuck.close()
        blackhole.close()
        deadline = time.monotonic() + 15
        while value(scrape(server), "hafiz_audit_webhook_failures_total") < 2:
            assert time.monotonic() < deadline, "the webhook never failed"
            time.sleep(0.1)
        t = time.monotonic()
        listed = s3.list_objects_v2(Bucket=b)
        assert listed["KeyCount"] == 50 and time.monotonic() - t < 2.0
        ids.add(rid(listed))

        receiver = Receiver(port=port)
        records = receiver.wait_for(ids, timeout=60)
        assert {r["requestID"] for r in records} >= ids
        assert value(scrape(server), "hafiz_audit_dropped_total", sink="webhook") == 0
        assert server.stop() == 0
    finally:
        if stuck:
            stuck.close()
        blackhole.close()
        if receiver:
            receiver.close()


def test_shutdown_delivers_queued_records(server_factory):
    receiver = Receiver()
    try:
        server = server_factory.start(extra_args=["--audit-webhook", receiver.url])
        s3 = server.client()
        b = f"exit-{uuid.uuid4().hex[:8]}"
        ids = {rid(s3.create_bucket(Bucket=b)), rid(s3.put_object(Bucket=b, Key="k", Body=b"v"))}
        # Stopped within the 1 s a batch gathers records: only draining at exit
        # gets them out.
        assert server.stop() == 0
        assert ids <= {r["requestID"] for r in receiver.accepted()}
    finally:
        receiver.close()


def masked(key: str) -> str:
    return "masked:" + hashlib.sha256(key.encode()).hexdigest()[:16]


def test_masking_reaches_neither_file_nor_webhook(server_factory, tmp_path):
    audit_dir = tmp_path / "audit"
    receiver = Receiver()
    try:
        server = server_factory.start(
            extra_args=[
                "--audit-dir", str(audit_dir),
                "--audit-webhook", receiver.url,
                "--audit-mask-metadata", "Email,ssn",
                "--audit-mask-key", "customers/*/pii/*",
                "--audit-mask-key", "tmp/??.bin",
            ]
        )
        s3 = server.client()
        b = f"mask-{uuid.uuid4().hex[:8]}"
        secret_key = "customers/42/pii/card-4111.txt"
        public_key = "customers/42/public/readme.txt"
        email = "alice.7f3a@example.com"
        s3.create_bucket(Bucket=b)
        put = s3.put_object(
            Bucket=b, Key=secret_key, Body=b"p", Metadata={"email": email, "colour": "blue"}
        )
        get = s3.get_object(Bucket=b, Key=secret_key)
        get["Body"].read()
        public = s3.put_object(Bucket=b, Key=public_key, Body=b"q", Metadata={"colour": "red"})
        listing = s3.list_objects_v2(Bucket=b, StartAfter=secret_key)
        ids = {rid(put), rid(get), rid(public), rid(listing)}
        hooked = receiver.wait_for(ids)
        assert server.stop() == 0
        filed = read_records(audit_dir)

        file_text = "".join(f.read_text() for f in audit_dir.iterdir())
        hook_text = "".join(r["body"].decode() for r in receiver.requests)
        for text in (file_text, hook_text):
            assert email not in text
            assert secret_key not in text
            assert masked(secret_key) in text
            assert public_key in text, "a key matching no pattern is kept"

        for records in (filed, hooked):
            by_id = {r["requestID"]: r for r in records}
            p = by_id[rid(put)]
            assert p["requestParameters"]["key"] == masked(secret_key)
            assert p["requestParameters"]["metadata"] == {"email": "***", "colour": "blue"}
            assert {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{b}/{masked(secret_key)}"} in p["resources"]
            g = by_id[rid(get)]
            assert g["requestParameters"]["key"] == masked(secret_key)
            assert "metadata" not in g["requestParameters"]
            q = by_id[rid(public)]
            assert q["requestParameters"]["key"] == public_key
            assert q["requestParameters"]["metadata"] == {"colour": "red"}
            assert by_id[rid(listing)]["requestParameters"]["start-after"] == masked(secret_key)
    finally:
        receiver.close()


def test_an_https_receiver_is_verified_against_the_trusted_roots(server_factory, tmp_path):
    from test_sts_web_identity import tls_files

    ca, cert, key = tls_files(tmp_path)
    receiver = Receiver(tls=(cert, key))
    try:
        server = server_factory.start(
            extra_args=["--audit-webhook", receiver.url], env_extra={"SSL_CERT_FILE": str(ca)}
        )
        s3 = server.client()
        ids = {rid(s3.create_bucket(Bucket=f"tls-{uuid.uuid4().hex[:8]}"))}
        assert {r["requestID"] for r in receiver.wait_for(ids)} >= ids
        server.stop()
        # Without the CA the receiver's certificate is not trusted: nothing arrives.
        before = len(receiver.accepted())
        untrusting = server_factory.start(extra_args=["--audit-webhook", receiver.url])
        untrusting.client().list_buckets()
        time.sleep(2.5)
        assert len(receiver.accepted()) == before
        assert value(scrape(untrusting), "hafiz_audit_webhook_failures_total") >= 1
        untrusting.stop()
    finally:
        receiver.close()
