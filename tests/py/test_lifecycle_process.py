"""The server process: root credentials on first start, health endpoints,
graceful SIGTERM, persistence across restarts, virtual-host addressing."""

from __future__ import annotations

import os
import stat
import time
import tomllib
import uuid

import requests

from conftest import credentials_dir, make_client
from s3util import parse_xml, s3_error, signed_request, strip_ns, xml_find_all_text

CREDENTIALS_FILE = "root-credentials.toml"


def start_section(log: str, index: int) -> str:
    """The log of the index-th start (0-based) of a server."""
    sections = log.split("\n=== start: ")[1:]
    return sections[index]


def test_generated_root_credentials(server_factory):
    first = server_factory.start(access_key=None, secret_key=None)
    cred_path = credentials_dir(first.data_dir) / CREDENTIALS_FILE
    assert cred_path.is_file(), f"{CREDENTIALS_FILE} not written:\n{first.log_tail()}"
    assert stat.S_IMODE(cred_path.stat().st_mode) == 0o600
    raw = cred_path.read_bytes()
    creds = tomllib.loads(raw.decode())
    access_key, secret_key = creds["access_key"], creds["secret_key"]
    assert len(access_key) >= 16 and len(secret_key) >= 30
    assert access_key != secret_key

    # Printed once, at generation.
    log = start_section(first.log(), 0)
    assert access_key in log
    assert log.count(secret_key) == 1

    client = make_client(first.endpoint, access_key, secret_key)
    bucket = f"gen-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="k", Body=b"persisted")
    wrong = make_client(first.endpoint, "AKIDNOTTHEROOTKEY000", secret_key)
    with s3_error("InvalidAccessKeyId", 403):
        wrong.list_buckets()
    assert first.stop() == 0

    # The restart reuses them and does not print the secret again.
    second = server_factory.start(first.data_dir, access_key=None, secret_key=None)
    assert cred_path.read_bytes() == raw
    assert stat.S_IMODE(cred_path.stat().st_mode) == 0o600
    assert secret_key not in start_section(second.log(), 1)
    client = make_client(second.endpoint, access_key, secret_key)
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"persisted"
    assert second.stop() == 0


def test_health_endpoints_unauthenticated(hafiz):
    for path in ("/health/live", "/health/ready"):
        r = requests.get(hafiz.endpoint + path, timeout=10)
        assert r.status_code == 200, (path, r.status_code, r.text)
        r = requests.head(hafiz.endpoint + path, timeout=10)
        assert r.status_code == 200, (path, r.status_code)


def test_sigterm_exits_zero_and_data_survives(server_factory):
    server = server_factory.start()
    client = server.client()
    client.create_bucket(Bucket="survivor")
    data = os.urandom(300_000)
    client.put_object(Bucket="survivor", Key="obj", Body=data)
    upload_id = client.create_multipart_upload(Bucket="survivor", Key="pending")["UploadId"]
    client.upload_part(Bucket="survivor", Key="pending", UploadId=upload_id, PartNumber=1, Body=b"part one")

    started = time.monotonic()
    assert server.stop() == 0, server.log_tail()
    assert time.monotonic() - started < 10, "graceful shutdown of an idle server should be quick"

    again = server_factory.start(server.data_dir, access_key=server.access_key, secret_key=server.secret_key)
    client = again.client()
    assert client.get_object(Bucket="survivor", Key="obj")["Body"].read() == data
    assert [b["Name"] for b in client.list_buckets()["Buckets"]] == ["survivor"]
    parts = client.list_parts(Bucket="survivor", Key="pending", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 8)]
    assert again.stop() == 0


def test_sigterm_while_requests_in_flight(server_factory):
    """SIGTERM during uploads still exits 0 (in-flight requests may fail)."""
    import threading

    server = server_factory.start()
    client = server.client(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=10)
    client.create_bucket(Bucket="busy")
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            try:
                client.put_object(Bucket="busy", Key=f"k{i % 5}", Body=os.urandom(256 * 1024))
            except Exception:
                pass
            i += 1

    threads = [threading.Thread(target=writer, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    try:
        assert server.stop() == 0, server.log_tail()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)


# --------------------------------------------------------------------------
# Virtual-host addressing
# --------------------------------------------------------------------------


def vhost_request(server, method, host, path="/", query="", body=b""):
    url = f"{server.endpoint}{path}" + (f"?{query}" if query else "")
    return signed_request(
        method,
        url,
        access_key=server.access_key,
        secret_key=server.secret_key,
        headers={"Host": f"{host}:{server.port}"},
        body=body,
    )


def test_virtual_host_addressing(server_factory):
    server = server_factory.start(extra_args=["--domain", "hafiz.test"])
    bucket = f"vh-{uuid.uuid4().hex[:10]}"
    vhost = f"{bucket}.hafiz.test"

    r = vhost_request(server, "PUT", vhost)
    assert r.status_code == 200, r.text
    r = vhost_request(server, "PUT", vhost, "/dir/hello%20world.txt", body=b"virtual hello")
    assert r.status_code == 200, r.text
    r = vhost_request(server, "GET", vhost, "/dir/hello%20world.txt")
    assert (r.status_code, r.content) == (200, b"virtual hello")
    r = vhost_request(server, "HEAD", vhost, "/dir/hello%20world.txt")
    assert r.status_code == 200 and r.headers["Content-Length"] == str(len(b"virtual hello"))

    r = vhost_request(server, "GET", vhost, "/", query="list-type=2")
    assert r.status_code == 200, r.text
    root = parse_xml(r.content)
    assert strip_ns(root.tag) == "ListBucketResult"
    assert xml_find_all_text(root, "Name") == [bucket]
    assert xml_find_all_text(root, "Key") == ["dir/hello world.txt"]

    # Missing key and missing bucket through the virtual host.
    r = vhost_request(server, "GET", vhost, "/nope")
    assert r.status_code == 404 and b"NoSuchKey" in r.content
    r = vhost_request(server, "GET", f"missing-{bucket}.hafiz.test", "/", query="list-type=2")
    assert r.status_code == 404 and b"NoSuchBucket" in r.content

    # The bare domain is the service endpoint: path-style and ListBuckets.
    r = vhost_request(server, "GET", "hafiz.test", f"/{bucket}/dir/hello%20world.txt")
    assert (r.status_code, r.content) == (200, b"virtual hello")
    r = vhost_request(server, "GET", "hafiz.test", "/")
    assert r.status_code == 200 and bucket.encode() in r.content

    # Path-style on the plain address still works on a server with a domain.
    client = server.client()
    assert client.get_object(Bucket=bucket, Key="dir/hello world.txt")["Body"].read() == b"virtual hello"
    assert server.stop() == 0


def test_virtual_host_bucket_with_dots(server_factory):
    server = server_factory.start(extra_args=["--domain", "hafiz.test"])
    bucket = f"dotted.{uuid.uuid4().hex[:8]}.bucket"
    r = vhost_request(server, "PUT", f"{bucket}.hafiz.test")
    assert r.status_code == 200, r.text
    r = vhost_request(server, "PUT", f"{bucket}.hafiz.test", "/k", body=b"dots")
    assert r.status_code == 200, r.text
    assert server.client().get_object(Bucket=bucket, Key="k")["Body"].read() == b"dots"
    assert server.stop() == 0
