"""TLS on the listeners (docs/tls.md): a private CA and server certificates made here,
the real binary started with --tls-cert/--tls-key, and real clients (the aws CLI,
boto3, curl, Python's ssl, `hafiz admin`) checking what they connect to: HTTP/2 by
ALPN, aws:SecureTransport in bucket policies, SSE-C refused over plain HTTP off
loopback unless allowed, certificate reload on SIGHUP and on file change with
connections made before left alone, node-to-node rpc over TLS."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
import requests
from botocore.config import Config

from pki import Issued, Pki
from conftest import REGION, Server, _aws_executable, free_port, hafiz_bin, require_bin, seeded_body

def write_pair(issued: Issued, cert: Path, key: Path) -> None:
    """Replaces both files by rename, as certificate managers do."""
    for path, data in ((cert, issued.cert_pem), (key, issued.key_pem)):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


# --------------------------------------------------------------------------
# Servers with TLS
# --------------------------------------------------------------------------


@dataclass
class TlsNode:
    server: Server
    cert: Path
    key: Path
    issued: Issued
    ca: Path

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.server.port}"

    @property
    def admin_endpoint(self) -> str:
        return f"https://127.0.0.1:{self.server.admin_port}"

    def client(self, **config):
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.server.access_key,
            aws_secret_access_key=self.server.secret_key,
            verify=str(self.ca),
            config=Config(s3={"addressing_style": "path"}, **config),
        )


def wait_https_ready(server: Server, ca: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"hafiz exited with {server.proc.returncode}:\n{server.log_tail()}")
        try:
            r = requests.get(f"https://127.0.0.1:{server.port}/health/ready", verify=str(ca), timeout=2)
            if r.status_code == 200:
                return
            last = f"status {r.status_code}"
        except requests.RequestException as e:
            last = repr(e)
        time.sleep(0.1)
    raise RuntimeError(f"hafiz not ready over https after {timeout}s ({last}):\n{server.log_tail()}")


def start_tls(server_factory, pki: Pki, *, extra_args=(), env_extra=None, key_format="pkcs8-ec",
              wait=True, access_key="", secret_key="") -> TlsNode:
    require_bin()
    data = server_factory.new_data_dir()
    tls_dir = data.parent / f"{data.name}-tls"
    tls_dir.mkdir()
    cert, key = tls_dir / "tls.crt", tls_dir / "tls.key"
    issued = pki.issue(f"hafiz {uuid.uuid4().hex[:6]}", key_format)
    write_pair(issued, cert, key)
    server = server_factory.start(
        data,
        extra_args=["--tls-cert", str(cert), "--tls-key", str(key), *extra_args],
        env_extra=env_extra,
        wait=False,
        access_key=access_key,
        secret_key=secret_key,
    )
    node = TlsNode(server=server, cert=cert, key=key, issued=issued, ca=pki.ca_path)
    if wait:
        wait_https_ready(server, pki.ca_path)
    return node


@pytest.fixture(scope="module")
def tls_node(server_factory, pki) -> TlsNode:
    node = start_tls(server_factory, pki)
    yield node
    assert node.server.stop() == 0, node.server.log_tail()


def ssl_context(ca: Path, alpn: list[str] | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def handshake(port: int, ca: Path, alpn: list[str] | None = None) -> tuple[bytes, str | None]:
    """(the certificate served, DER; the ALPN protocol chosen) of a new connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ssl_context(ca, alpn).wrap_socket(raw, server_hostname="localhost") as s:
            return s.getpeercert(binary_form=True), s.selected_alpn_protocol()


# --------------------------------------------------------------------------
# Clients over TLS
# --------------------------------------------------------------------------


def test_aws_cli_with_ca_bundle_round_trips_bytes(tls_node, tmp_path):
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID=tls_node.server.access_key,
        AWS_SECRET_ACCESS_KEY=tls_node.server.secret_key,
        AWS_DEFAULT_REGION=REGION,
    )
    env.pop("AWS_CA_BUNDLE", None)

    def aws(*args):
        cmd = [_aws_executable(), "--endpoint-url", tls_node.endpoint, "--ca-bundle", str(tls_node.ca), *args]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, f"{cmd}: {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p.stdout

    bucket = f"tls-cli-{uuid.uuid4().hex[:10]}"
    body = seeded_body("tls-cli", 9 * 1024 * 1024 + 123)  # multipart upload too
    src, back = tmp_path / "src.bin", tmp_path / "back.bin"
    src.write_bytes(body)
    aws("s3", "mb", f"s3://{bucket}")
    aws("s3", "cp", str(src), f"s3://{bucket}/dir/obj.bin")
    assert "obj.bin" in aws("s3", "ls", f"s3://{bucket}/dir/")
    aws("s3", "cp", f"s3://{bucket}/dir/obj.bin", str(back))
    assert back.read_bytes() == body

    # Without the CA the certificate is not trusted.
    cmd = [_aws_executable(), "--endpoint-url", tls_node.endpoint, "s3", "ls"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert p.returncode != 0 and "SSL" in p.stderr.upper(), p.stderr


def test_boto3_with_verify(tls_node):
    s3 = tls_node.client()
    bucket = f"tls-boto-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    body = seeded_body("tls-boto3", 300_000)
    s3.put_object(Bucket=bucket, Key="k", Body=body)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]


def test_http2_is_negotiated_by_alpn(tls_node):
    _, chosen = handshake(tls_node.port, tls_node.ca, ["h2", "http/1.1"])
    assert chosen == "h2"
    _, chosen = handshake(tls_node.port, tls_node.ca, ["http/1.1"])
    assert chosen == "http/1.1"
    if not shutil.which("curl"):
        pytest.skip("no curl for a real HTTP/2 request")
    s3 = tls_node.client()
    bucket = f"tls-h2-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    body = seeded_body("tls-h2", 70_000)
    s3.put_object(Bucket=bucket, Key="h2.bin", Body=body)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "h2.bin"}, ExpiresIn=300)

    def curl(*args):
        p = subprocess.run(
            ["curl", "-sS", "--cacert", str(tls_node.ca), *args],
            capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
        )
        assert p.returncode == 0, p.stderr.decode(errors="replace")
        return p.stdout

    # A signed S3 request over HTTP/2; the body is written after the -w line's marker.
    out = curl("--http2", "-w", "\n%{http_version} %{http_code}", url)
    got, _, meta = out.rpartition(b"\n")
    assert meta.decode() == "2 200" and got == body
    assert curl("--http1.1", "-o", os.devnull, "-w", "%{http_version}", f"{tls_node.endpoint}/health/ready") == b"1.1"


def test_plain_http_to_the_tls_port_fails_and_leaves_it_serving(tls_node):
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{tls_node.port}/health/ready", timeout=5)
    # A client that never starts its handshake does not hold up the others.
    with socket.create_connection(("127.0.0.1", tls_node.port), timeout=5):
        r = requests.get(f"{tls_node.endpoint}/health/ready", verify=str(tls_node.ca), timeout=5)
        assert r.status_code == 200


# --------------------------------------------------------------------------
# aws:SecureTransport
# --------------------------------------------------------------------------


def secure_transport_policy(bucket: str, denied_when: str) -> str:
    arn = f"arn:aws:s3:::{bucket}/*"
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": arn},
            {"Sid": "Transport", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": arn,
             "Condition": {"Bool": {"aws:SecureTransport": denied_when}}},
        ],
    })


def test_secure_transport_is_true_over_tls(tls_node):
    s3 = tls_node.client()
    bucket = f"tls-pol-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="pub.txt", Body=b"over tls")
    url = f"{tls_node.endpoint}/{bucket}/pub.txt"
    s3.put_bucket_policy(Bucket=bucket, Policy=secure_transport_policy(bucket, "false"))
    r = requests.get(url, verify=str(tls_node.ca), timeout=10)
    assert r.status_code == 200 and r.content == b"over tls"
    # The key is there and true (a missing key would match neither Deny).
    s3.put_bucket_policy(Bucket=bucket, Policy=secure_transport_policy(bucket, "true"))
    assert requests.get(url, verify=str(tls_node.ca), timeout=10).status_code == 403


def test_secure_transport_is_false_over_plain_http(s3, hafiz, bucket):
    s3.put_object(Bucket=bucket, Key="pub.txt", Body=b"in the clear")
    url = f"{hafiz.endpoint}/{bucket}/pub.txt"
    s3.put_bucket_policy(Bucket=bucket, Policy=secure_transport_policy(bucket, "false"))
    assert requests.get(url, timeout=10).status_code == 403
    s3.put_bucket_policy(Bucket=bucket, Policy=secure_transport_policy(bucket, "true"))
    r = requests.get(url, timeout=10)
    assert r.status_code == 200 and r.content == b"in the clear"


# --------------------------------------------------------------------------
# SSE-C over plain HTTP
# --------------------------------------------------------------------------


class ExposedServer:
    """A server whose S3 listener is on 0.0.0.0, not a loopback address (conftest's
    servers all listen on 127.0.0.1, where SSE-C over HTTP is allowed)."""

    def __init__(self, base: Path, *extra: str, env_extra: dict | None = None):
        self.port = free_port()
        self.access_key = "AK" + uuid.uuid4().hex[:18].upper()
        self.secret_key = uuid.uuid4().hex
        self.log_path = base / f"exposed-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAFIZ_")}
        env.update(HAFIZ_ROOT_ACCESS_KEY=self.access_key, HAFIZ_ROOT_SECRET_KEY=self.secret_key, **(env_extra or {}))
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [str(require_bin()), "server", "--address", f"0.0.0.0:{self.port}",
                 "--admin-address", f"127.0.0.1:{free_port()}", "--data", str(base / f"data-{self.port}"), *extra],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )

    def log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-40:])

    def wait_ready(self, scheme: str, ca: Path | None) -> "ExposedServer":
        deadline = time.monotonic() + 30
        while True:
            assert self.proc.poll() is None, self.log_tail()
            try:
                r = requests.get(f"{scheme}://127.0.0.1:{self.port}/health/ready", verify=str(ca) if ca else True,
                                 timeout=2)
                if r.status_code == 200:
                    return self
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, self.log_tail()
            time.sleep(0.1)

    def client(self, scheme: str, ca: Path | None):
        return boto3.session.Session().client(
            "s3", endpoint_url=f"{scheme}://127.0.0.1:{self.port}", region_name=REGION,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
            verify=str(ca) if ca else None, config=Config(s3={"addressing_style": "path"}),
        )

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def test_ssec_over_http_needs_tls_or_the_flag_off_loopback(tmp_path, pki):
    issued = pki.issue("exposed")
    cert, key = tmp_path / "e.crt", tmp_path / "e.key"
    write_pair(issued, cert, key)
    cases = {
        "plain": ("http", None, ExposedServer(tmp_path)),
        "flag": ("http", None, ExposedServer(tmp_path, "--allow-ssec-over-http")),
        "env": ("http", None, ExposedServer(tmp_path, env_extra={"HAFIZ_ALLOW_SSEC_OVER_HTTP": "true"})),
        "tls": ("https", pki.ca_path, ExposedServer(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key))),
    }
    customer_key = os.urandom(32)
    try:
        for name, (scheme, ca, server) in cases.items():
            server.wait_ready(scheme, ca)
            s3 = server.client(scheme, ca)
            s3.create_bucket(Bucket="ssec")
            put = dict(Bucket="ssec", Key="k", SSECustomerAlgorithm="AES256", SSECustomerKey=customer_key)
            if name == "plain":
                with pytest.raises(botocore.exceptions.ClientError) as e:
                    s3.put_object(Body=b"secret", **put)
                assert e.value.response["Error"]["Code"] == "InvalidRequest"
                assert "secure connection" in e.value.response["Error"]["Message"]
            else:
                s3.put_object(Body=b"secret", **put)
                assert s3.get_object(**put)["Body"].read() == b"secret", name
    finally:
        for _, _, server in cases.values():
            server.stop()


# --------------------------------------------------------------------------
# Certificate reload
# --------------------------------------------------------------------------


def wait_served(node: TlsNode, der: bytes, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        served, _ = handshake(node.port, node.ca)
        if served == der:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the new certificate is not served after {timeout}s:\n{node.server.log_tail()}")
        time.sleep(0.2)


def test_certificate_reload_on_sighup_and_on_file_change(server_factory, pki):
    node = start_tls(server_factory, pki)
    first = node.issued.der
    assert handshake(node.port, node.ca)[0] == first
    # A keep-alive connection made before any reload.
    before = http.client.HTTPSConnection("127.0.0.1", node.port, context=ssl_context(node.ca), timeout=10)
    before.request("GET", "/health/ready")
    assert before.getresponse().read() is not None
    sock = before.sock

    # SIGHUP: a certificate with another subject, serial and key type (RSA, PKCS#1).
    second = pki.issue("hafiz reloaded", "pkcs1-rsa")
    write_pair(second, node.cert, node.key)
    os.kill(node.server.proc.pid, signal.SIGHUP)
    wait_served(node, second.der)
    assert node.server.running()
    assert "SIGHUP" in node.server.log()

    # The old connection is the same socket, still on the first certificate.
    before.request("GET", "/health/ready")
    r = before.getresponse()
    assert r.status == 200 and r.read() is not None
    assert before.sock is sock and sock.getpeercert(binary_form=True) == first
    before.close()

    # Garbage PEM: the reload fails and the second certificate stays.
    node.cert.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n")
    os.kill(node.server.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "TLS certificate not reloaded" not in node.server.log():
        assert time.monotonic() < deadline, node.server.log_tail()
        time.sleep(0.1)
    assert handshake(node.port, node.ca)[0] == second.der
    s3 = node.client()
    s3.list_buckets()

    # No signal: the files' change is noticed by itself (EC key in SEC1 form).
    third = pki.issue("hafiz watched", "sec1-ec")
    write_pair(third, node.cert, node.key)
    wait_served(node, third.der, timeout=15)
    assert node.server.stop() == 0, node.server.log_tail()


# --------------------------------------------------------------------------
# The admin API and its CLI
# --------------------------------------------------------------------------


def test_admin_cli_over_tls_with_ca_bundle(tls_node, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAFIZ_")}
    env["HAFIZ_CONFIG_DIR"] = str(tmp_path / "conf")

    def admin(*args, extra_env=None):
        return subprocess.run(
            [str(hafiz_bin()), "admin", *args], env={**env, **(extra_env or {})}, capture_output=True,
            text=True, timeout=60, stdin=subprocess.DEVNULL,
        )

    p = admin("alias", "set", "tls", tls_node.admin_endpoint, tls_node.server.access_key,
              tls_node.server.secret_key)
    assert p.returncode == 0, p.stderr
    # reqwest negotiates HTTP/2, whose requests carry no Host header (SigV4 signs it).
    p = admin("--json", "info", "tls", "--ca-bundle", str(tls_node.ca))
    assert p.returncode == 0, p.stderr
    assert "version" in json.loads(p.stdout)
    p = admin("bucket", "list", "tls", extra_env={"HAFIZ_CA_BUNDLE": str(tls_node.ca)})
    assert p.returncode == 0, p.stderr
    # The system's roots do not know the private CA.
    p = admin("info", "tls")
    assert p.returncode != 0 and "cannot reach" in p.stderr, p.stderr
    p = admin("info", "tls", "--ca-bundle", str(tmp_path / "missing.pem"))
    assert p.returncode != 0 and "--ca-bundle" in p.stderr, p.stderr


# --------------------------------------------------------------------------
# Configuration errors
# --------------------------------------------------------------------------


def run_server(tmp_path, *args, env_extra=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAFIZ_")}
    env.update(env_extra or {})
    return subprocess.run(
        [str(require_bin()), "server", "--data", str(tmp_path / "data"),
         "--address", f"127.0.0.1:{free_port()}", "--admin-address", f"127.0.0.1:{free_port()}", *args],
        env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )


def test_cert_without_key_is_refused_with_a_clear_message(tmp_path, pki):
    issued = pki.issue("lonely")
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    write_pair(issued, cert, key)
    p = run_server(tmp_path, "--tls-cert", str(cert))
    assert p.returncode != 0 and "--tls-key" in p.stderr, p.stderr
    p = run_server(tmp_path, env_extra={"HAFIZ_TLS_KEY": str(key)})
    assert p.returncode != 0 and "--tls-cert" in p.stderr, p.stderr
    p = run_server(tmp_path, "--tls-ca", str(pki.ca_path))
    assert p.returncode != 0 and "--tls-ca needs --tls-cert" in p.stderr, p.stderr
    config = tmp_path / "hafiz.toml"
    config.write_text(f'tls_cert = "{cert}"\n')
    p = run_server(tmp_path, "--config", str(config))
    assert p.returncode != 0 and "tls_key" in p.stderr, p.stderr
    # A key that is not a key, and a certificate that is not PEM: named, at start.
    p = run_server(tmp_path, "--tls-cert", str(cert), "--tls-key", str(cert))
    assert p.returncode != 0 and "no PEM private key" in p.stderr and str(cert) in p.stderr, p.stderr
    bad = tmp_path / "bad.pem"
    bad.write_text("hello\n")
    p = run_server(tmp_path, "--tls-cert", str(bad), "--tls-key", str(key))
    assert p.returncode != 0 and "no PEM certificate" in p.stderr, p.stderr


def test_tls_from_the_config_file(server_factory, pki, tmp_path):
    issued = pki.issue("from the file")
    cert, key = tmp_path / "f.crt", tmp_path / "f.key"
    write_pair(issued, cert, key)
    config = tmp_path / "hafiz.toml"
    config.write_text(f'tls_cert = "{cert}"\ntls_key = "{key}"\n')
    server = server_factory.start(extra_args=["--config", str(config)], wait=False)
    wait_https_ready(server, pki.ca_path)
    assert handshake(server.port, pki.ca_path)[0] == issued.der
    # The admin listener too.
    assert handshake(server.admin_port, pki.ca_path)[0] == issued.der
    assert server.stop() == 0


# --------------------------------------------------------------------------
# Node-to-node rpc
# --------------------------------------------------------------------------


def test_cluster_rpc_over_tls(server_factory, pki):
    n = 3
    rpc = {i: free_port() for i in range(1, n + 1)}
    peers = [a for i in rpc for a in ("--peer", f"{i}=127.0.0.1:{rpc[i]}")]
    access_key = "AK" + uuid.uuid4().hex[:18].upper()
    secret_key = uuid.uuid4().hex
    nodes = {}
    for i in rpc:
        node = start_tls(
            server_factory, pki,
            extra_args=["--node-id", str(i), "--rpc-address", f"127.0.0.1:{rpc[i]}", "--tls-ca", str(pki.ca_path),
                        *peers],
            env_extra={"HAFIZ_CLUSTER_SECRET": "tls-cluster-secret"},
            wait=False,
            access_key=access_key,
            secret_key=secret_key,
        )
        nodes[i] = node
    for node in nodes.values():
        wait_https_ready(node.server, pki.ca_path, timeout=60)
    # The rpc listeners speak TLS with the node's certificate, h2 only.
    for i, node in nodes.items():
        served, alpn = handshake(rpc[i], pki.ca_path, ["h2"])
        assert served == node.issued.der and alpn == "h2"

    bucket = f"tls-cluster-{uuid.uuid4().hex[:8]}"
    body = seeded_body("tls-cluster", 2 * 1024 * 1024 + 7)
    s3_1 = nodes[1].client(retries={"max_attempts": 0}, read_timeout=20)
    deadline = time.monotonic() + 60
    while True:
        try:
            s3_1.create_bucket(Bucket=bucket)
            break
        except botocore.exceptions.ClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    s3_1.put_object(Bucket=bucket, Key="shared", Body=body)
    for i in (2, 3):
        got = nodes[i].client().get_object(Bucket=bucket, Key="shared")["Body"].read()
        assert got == body, f"node {i}"
    for node in nodes.values():
        assert node.server.stop() == 0, node.server.log_tail()
