"""The KMS master key on an external KMS over KMIP (docs/encryption.md, "External KMS
(KMIP)"): PyKMIP's server, run here on loopback with mutual TLS and a CA made by the
test, holds an AES-256 key; `hafiz server --kms-kmip-*` fetches it at start and keeps
it in memory only. SSE-S3 and SSE-KMS objects then work as with a local master key;
no drive holds the key; a server whose KMIP server is down, whose key id is unknown
or whose certificate the KMIP server refuses does not start; a running server keeps
serving while the KMIP server is down; moving to a new KMIP key re-seals the key
service's key versions, and every object stays readable."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import base64

import botocore.exceptions
import pytest
import requests

from admin_client import AdminClient
from conftest import free_port, make_client, unique_bucket_name, wait_for
from pki import Pki

kmip_client_mod = pytest.importorskip("kmip.pie.client", reason="PyKMIP (tests/py/requirements.txt)")
from kmip.core import enums  # noqa: E402


class KmipServer:
    """PyKMIP's software KMIP server; its keys stay in a SQLite file across restarts."""

    def __init__(self, base: Path, pki: Pki):
        self.base = base
        self.port = free_port()
        server = pki.issue("127.0.0.1")
        (base / "server.pem").write_bytes(server.cert_pem)
        (base / "server.key").write_bytes(server.key_pem)
        client = pki.issue("hafiz", client=True)
        self.client_cert = base / "client.pem"
        self.client_key = base / "client.key"
        self.client_cert.write_bytes(client.cert_pem)
        self.client_key.write_bytes(client.key_pem)
        self.ca = pki.ca_path
        (base / "policies").mkdir(exist_ok=True)
        self.conf = base / "server.conf"
        self.conf.write_text(
            "[server]\n"
            "hostname=127.0.0.1\n"
            f"port={self.port}\n"
            f"certificate_path={base / 'server.pem'}\n"
            f"key_path={base / 'server.key'}\n"
            f"ca_path={self.ca}\n"
            "auth_suite=TLS1.2\n"
            f"policy_path={base / 'policies'}\n"
            "enable_tls_client_auth=True\n"
            "logging_level=INFO\n"
            f"database_path={base / 'pykmip.db'}\n"
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> "KmipServer":
        log = open(self.base / "kmip-server.out", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from kmip.services.server.server import main; main()",
             "-f", str(self.conf), "-l", str(self.base / "kmip-server.log")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        wait_for("the KMIP server", self._answers, timeout=30, every=0.2)
        return self

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError((self.base / "kmip-server.out").read_text(errors="replace"))
        try:
            with self.client() as c:
                c.locate()
            return True
        except Exception:  # not listening yet
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def client(self, cert: Path | None = None, key: Path | None = None):
        return kmip_client_mod.ProxyKmipClient(
            hostname="127.0.0.1", port=self.port, cert=str(cert or self.client_cert),
            key=str(key or self.client_key), ca=str(self.ca), config_file="/dev/null",
        )

    def create_aes256(self) -> str:
        with self.client() as c:
            uid = c.create(enums.CryptographicAlgorithm.AES, 256, name=f"hafiz-master-{uuid.uuid4().hex[:6]}",
                           cryptographic_usage_mask=[enums.CryptographicUsageMask.ENCRYPT,
                                                     enums.CryptographicUsageMask.DECRYPT])
            c.activate(uid)
            return uid

    def key_bytes(self, uid: str) -> bytes:
        with self.client() as c:
            return bytes(c.get(uid).value)

    def flags(self, key_id: str, previous: list[str] | None = None) -> list[str]:
        args = ["--kms-kmip-endpoint", f"127.0.0.1:{self.port}", "--kms-kmip-key-id", key_id,
                "--kms-kmip-cert", str(self.client_cert), "--kms-kmip-key", str(self.client_key),
                "--kms-kmip-ca", str(self.ca)]
        if previous:
            args += ["--kms-kmip-previous-key-ids", ",".join(previous)]
        return args


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("kmip-pki"))


@pytest.fixture(scope="module")
def kmip(tmp_path_factory, pki):
    server = KmipServer(tmp_path_factory.mktemp("kmip"), pki).start()
    yield server
    server.stop()


def admin_of(server) -> AdminClient:
    return AdminClient(server.admin_endpoint, server.access_key, server.secret_key)


def s3_of(server):
    return make_client(server.endpoint, server.access_key, server.secret_key, retries={"total_max_attempts": 1})


def put_encrypted(s3, bucket: str) -> dict[str, bytes]:
    """One object per server-side mode; returns key -> body."""
    bodies = {}
    for mode, extra in (("sse-s3", {"ServerSideEncryption": "AES256"}),
                        ("sse-kms", {"ServerSideEncryption": "aws:kms"})):
        body = f"{mode} {uuid.uuid4().hex} ".encode() * 5000
        r = s3.put_object(Bucket=bucket, Key=mode, Body=body, **extra)
        assert r["ServerSideEncryption"] == extra["ServerSideEncryption"]
        bodies[mode] = body
    return bodies


def check_readable(s3, bucket: str, bodies: dict[str, bytes]) -> None:
    for key, body in bodies.items():
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == body, key
        part = s3.get_object(Bucket=bucket, Key=key, Range="bytes=70000-70100")["Body"].read()
        assert part == body[70000:70101], key


def restart(server_factory, server, extra_args: list[str], wait: bool = True):
    if server.running():
        assert server.stop() == 0, server.log_tail()
    return server_factory.start(server.data_dir, access_key=server.access_key, secret_key=server.secret_key,
                                extra_args=extra_args, wait=wait)


def exits_with_error(server, timeout: float = 60) -> str:
    """Waits for a server that must not start; returns its log."""
    try:
        code = server.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.kill()
        raise AssertionError(f"hafiz started without its master key:\n{server.log_tail()}")
    assert code != 0
    with pytest.raises(requests.RequestException):
        requests.get(f"{server.endpoint}/health/ready", timeout=1)
    return server.log()


def test_objects_encrypted_under_a_kmip_master_key(server_factory, kmip):
    uid = kmip.create_aes256()
    server = server_factory.start(extra_args=kmip.flags(uid))
    status = admin_of(server).ok("GET", "/v1/kms/status")
    assert status["master_source"] == "kmip"
    assert status["kmip_key_id"] == uid
    assert status["kmip_endpoint"] == f"127.0.0.1:{kmip.port}"
    s3 = s3_of(server)
    bucket = unique_bucket_name("kmip")
    s3.create_bucket(Bucket=bucket)
    bodies = put_encrypted(s3, bucket)
    check_readable(s3, bucket, bodies)

    # The key is the KMIP server's: no copy on a drive, nor in the log.
    assert not list(server.data_dir.rglob("kms-master.key"))
    raw = kmip.key_bytes(uid)
    assert len(raw) == 32
    needles = [raw, raw.hex().encode(), base64.b64encode(raw)]
    for path in server.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for n in needles:
                assert n not in data, f"the master key is in {path}"
            for body in bodies.values():
                assert body[:4096] not in data, f"plaintext in {path}"
    log = server.log().encode()
    for n in needles:
        assert n not in log

    # A restart fetches the same key: everything still opens.
    server = restart(server_factory, server, kmip.flags(uid))
    check_readable(s3_of(server), bucket, bodies)

    # The server cannot replace a key that is not its own.
    r = admin_of(server).request("POST", "/v1/kms/master/rotate")
    assert r.status_code == 409, r.text
    assert "HAFIZ_KMS_KMIP_KEY_ID" in r.json()["message"]


def test_running_server_keeps_serving_while_the_kmip_server_is_down(server_factory, kmip):
    uid = kmip.create_aes256()
    server = server_factory.start(extra_args=kmip.flags(uid))
    s3 = s3_of(server)
    bucket = unique_bucket_name("kmipdown")
    s3.create_bucket(Bucket=bucket)
    before = put_encrypted(s3, bucket)
    kmip.stop()
    try:
        # The key is in memory: reads and new encrypted writes go on.
        check_readable(s3, bucket, before)
        s3.put_object(Bucket=bucket, Key="during", Body=b"written while the KMS was down",
                      ServerSideEncryption="AES256")
        # A restart now cannot fetch the key: the server refuses to start rather
        # than serve objects it cannot open (it tries a few times first).
        assert server.stop() == 0
        t0 = time.monotonic()
        down = restart(server_factory, server, kmip.flags(uid), wait=False)
        log = exits_with_error(down)
        assert "cannot fetch the KMS master key" in log and "cannot connect" in log, log[-2000:]
        assert time.monotonic() - t0 >= 4, "gave up at once: a KMS that is starting gets retries"
    finally:
        kmip.start()
    server = restart(server_factory, down, kmip.flags(uid))
    s3 = s3_of(server)
    check_readable(s3, bucket, before)
    assert s3.get_object(Bucket=bucket, Key="during")["Body"].read() == b"written while the KMS was down"


def test_unknown_key_id_or_refused_certificate_does_not_start(server_factory, kmip, tmp_path):
    server = server_factory.start(extra_args=kmip.flags("no-such-key-42"), wait=False)
    log = exits_with_error(server, timeout=30)
    assert "no-such-key-42" in log and "Get" in log, log[-2000:]

    # A client certificate from a CA the KMIP server does not trust.
    other = Pki(tmp_path).issue("intruder", client=True)
    (tmp_path / "c.pem").write_bytes(other.cert_pem)
    (tmp_path / "c.key").write_bytes(other.key_pem)
    uid = kmip.create_aes256()
    flags = kmip.flags(uid)
    flags[flags.index("--kms-kmip-cert") + 1] = str(tmp_path / "c.pem")
    flags[flags.index("--kms-kmip-key") + 1] = str(tmp_path / "c.key")
    server = server_factory.start(extra_args=flags, wait=False)
    log = exits_with_error(server, timeout=30)
    assert "KMIP" in log, log[-2000:]

    # A KMIP server whose certificate is not from the CA given: refused too.
    flags = kmip.flags(uid)
    (tmp_path / "ca2").mkdir()
    flags[flags.index("--kms-kmip-ca") + 1] = str(Pki(tmp_path / "ca2").ca_path)
    server = server_factory.start(extra_args=flags, wait=False)
    log = exits_with_error(server, timeout=30)
    assert "KMIP" in log, log[-2000:]


def test_moving_to_a_new_kmip_key_reseals_and_keeps_every_object(server_factory, kmip):
    old = kmip.create_aes256()
    server = server_factory.start(extra_args=kmip.flags(old))
    admin = admin_of(server)
    admin.ok("POST", "/v1/kms/keys", {"id": "app-key"}, expect=201)
    s3 = s3_of(server)
    bucket = unique_bucket_name("kmiprot")
    s3.create_bucket(Bucket=bucket)
    bodies = put_encrypted(s3, bucket)
    body = b"app key " * 10000
    s3.put_object(Bucket=bucket, Key="app", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId="app-key")
    bodies["app"] = body
    old_id = admin.ok("GET", "/v1/kms/status")["master_key_id"]

    # Without the old key the new one cannot open what the old one sealed: an
    # error, never other bytes.
    new = kmip.create_aes256()
    server = restart(server_factory, server, kmip.flags(new))
    for key in bodies:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3_of(server).get_object(Bucket=bucket, Key=key)["Body"].read()
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500, key

    # With it named as previous, the key versions are re-sealed on start ...
    server = restart(server_factory, server, kmip.flags(new, previous=[old]))
    status = admin_of(server).ok("GET", "/v1/kms/status")
    assert status["master_key_id"] != old_id and status["kmip_key_id"] == new
    wait_for("re-sealed key versions", lambda: "re-sealed" in server.log(), timeout=30)
    check_readable(s3_of(server), bucket, bodies)
    # ... so that the old key is no longer needed.
    server = restart(server_factory, server, kmip.flags(new))
    check_readable(s3_of(server), bucket, bodies)
