"""Fixtures for Hafiz's end-to-end tests: the real `hafiz` binary on a free
loopback port with a temporary data directory, and real clients (boto3, the
`aws` CLI, rclone) pointed at it.

Environment:
  HAFIZ_BIN   path of the server binary (default: target/debug/hafiz under
              the repository root).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0

# Keep the clients hermetic: no profile, config file or endpoint override
# from whoever runs the suite may change what is sent to the server.
for _var in list(os.environ):
    if _var.startswith("AWS_") or _var.startswith("RCLONE_"):
        del os.environ[_var]
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def hafiz_bin() -> Path:
    path = Path(os.environ.get("HAFIZ_BIN", "target/debug/hafiz"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


# HAFIZ_TEST_DRIVES=N runs every server on N drive directories inside its data dir
# (erasure-coded with the default parity), so the whole suite checks multi-drive nodes.
TEST_DRIVES = int(os.environ.get("HAFIZ_TEST_DRIVES", "1"))


def data_arg(data_dir) -> str:
    if TEST_DRIVES <= 1:
        return str(data_dir)
    return f"{data_dir}/drive{{1...{TEST_DRIVES}}}"


def credentials_dir(data_dir):
    """Where the root credentials file lives (the first drive)."""
    return data_dir if TEST_DRIVES <= 1 else data_dir / "drive1"


def require_bin() -> Path:
    path = hafiz_bin()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"hafiz binary not found at {path} (build it with `cargo build -p hafiz` or set HAFIZ_BIN)")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """One `hafiz server` process."""

    data_dir: Path
    log_path: Path
    port: int
    access_key: str | None
    secret_key: str | None
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    # `--data` values to pass instead of data_arg(data_dir) (tests choosing their own drives).
    data: list[str] | None = None
    # Extra environment for the server process (e.g. HAFIZ_* knobs).
    env_extra: dict[str, str] = field(default_factory=dict)
    # The admin API's port (`--admin-address`).
    admin_port: int = field(default_factory=lambda: free_port())

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-n:])

    def start(self) -> "Server":
        # Flags can also come from HAFIZ_* variables: only ours reach the server.
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAFIZ_")}
        if self.access_key is not None:
            env["HAFIZ_ROOT_ACCESS_KEY"] = self.access_key
        if self.secret_key is not None:
            env["HAFIZ_ROOT_SECRET_KEY"] = self.secret_key
        env.setdefault("RUST_BACKTRACE", "1")
        env.update(self.env_extra)
        args = [
            str(require_bin()),
            "server",
            "--address",
            f"127.0.0.1:{self.port}",
            "--admin-address",
            f"127.0.0.1:{self.admin_port}",
            *[a for d in (self.data or [data_arg(self.data_dir)]) for a in ("--data", d)],
            *self.extra_args,
        ]
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== start: {' '.join(args)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> "Server":
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise RuntimeError(f"hafiz exited with {code} before ready:\n{self.log_tail()}")
            try:
                r = requests.get(f"{self.endpoint}/health/ready", timeout=2)
                if r.status_code == 200:
                    return self
                last = f"status {r.status_code}"
            except requests.RequestException as e:  # not listening yet
                last = repr(e)
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"hafiz not ready after {timeout}s ({last}):\n{self.log_tail()}")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and wait; returns the exit code (kills it on timeout)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"hafiz did not exit within {timeout}s of SIGTERM:\n{self.log_tail()}")
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT)

    def client(self, **config):
        return make_client(self.endpoint, self.access_key, self.secret_key, **config)


def make_client(endpoint: str, access_key: str, secret_key: str, **config):
    """A boto3 S3 client with default settings except path-style addressing
    (checksums, retries and signing are left as boto3 ships them)."""
    s3_config = {"addressing_style": "path"}
    s3_config.update(config.pop("s3", {}))
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(s3=s3_config, **config),
    )


class ServerFactory:
    """Starts extra servers for restart/crash tests; stops leftovers at teardown."""

    def __init__(self, base: Path):
        self.base = base
        self.servers: list[Server] = []

    def new_data_dir(self) -> Path:
        path = self.base / f"data-{uuid.uuid4().hex[:8]}"
        path.mkdir(parents=True)
        return path

    def start(
        self,
        data_dir: Path | None = None,
        *,
        access_key: str | None = "",
        secret_key: str | None = "",
        extra_args: list[str] | None = None,
        wait: bool = True,
        port: int | None = None,
        data: list[str] | None = None,
        env_extra: dict[str, str] | None = None,
    ) -> Server:
        """Start a server. access_key/secret_key "" means fresh random keys,
        None means leave the env vars unset (the server generates or reuses
        its own)."""
        if access_key == "":
            access_key = "AK" + uuid.uuid4().hex[:18].upper()
        if secret_key == "":
            secret_key = uuid.uuid4().hex + uuid.uuid4().hex[:8]
        data_dir = data_dir or self.new_data_dir()
        last_error = None
        for _attempt in range(3):
            server = Server(
                data_dir=data_dir,
                log_path=data_dir.parent / f"{data_dir.name}.log",
                port=port or free_port(),
                access_key=access_key,
                secret_key=secret_key,
                extra_args=list(extra_args or []),
                data=list(data) if data else None,
                env_extra=dict(env_extra or {}),
            )
            server.start()
            self.servers.append(server)
            if not wait:
                return server
            try:
                return server.wait_ready()
            except RuntimeError as e:  # e.g. the port was taken meanwhile
                last_error = e
                server.kill()
                if port is not None:
                    break
        raise last_error

    def cleanup(self) -> None:
        for server in self.servers:
            if server.running():
                try:
                    server.stop(timeout=5)
                except AssertionError:
                    pass
                server.kill()


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def server_factory(tmp_path_factory):
    factory = ServerFactory(tmp_path_factory.mktemp("servers"))
    yield factory
    factory.cleanup()


@pytest.fixture(scope="session")
def hafiz(server_factory):
    """The shared server: yields a Server (endpoint, access_key, secret_key)."""
    require_bin()
    server = server_factory.start(
        access_key="HAFIZTESTROOTKEY0001",
        secret_key="hafiz-test-root-secret-key-0123456789abcd",
    )
    yield server
    code = server.stop()
    assert code == 0, f"hafiz exited with {code} after SIGTERM:\n{server.log_tail()}"


@pytest.fixture(scope="session")
def endpoint(hafiz) -> str:
    return hafiz.endpoint


@pytest.fixture(scope="session")
def s3(hafiz):
    return hafiz.client()


@pytest.fixture(scope="session")
def s3_once(hafiz):
    """Like `s3` but without retries: boto3 retries some 400s (BadDigest),
    which only slows down tests that expect them."""
    return hafiz.client(retries={"total_max_attempts": 1})


def wait_for(what, check, timeout: float = 60.0, every: float = 0.3):
    """Poll `check` until it returns something truthy (returned), or fail."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def seeded_body(seed: str, size: int) -> bytes:
    """`size` bytes derived from `seed`: the same seed always gives the same bytes."""
    out = bytearray()
    block = hashlib.sha256(seed.encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:size])


def error_code(e):
    """(S3 error code, HTTP status) of a pytest.raises(ClientError) result."""
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def unique_bucket_name(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def empty_and_delete_bucket(client, name: str) -> None:
    """Best effort: tests must not fail because cleanup of a broken bucket did."""
    try:
        paginator = client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=name):
            for up in page.get("Uploads", []):
                client.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
    except Exception:
        pass
    try:
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=name):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
        client.delete_bucket(Bucket=name)
    except Exception as e:  # pragma: no cover - reported, not fatal
        sys.stderr.write(f"warning: could not clean up bucket {name}: {e!r}\n")


@pytest.fixture
def bucket(s3):
    name = unique_bucket_name()
    s3.create_bucket(Bucket=name)
    yield name
    empty_and_delete_bucket(s3, name)


def _aws_executable() -> str:
    beside = Path(sys.executable).parent / "aws"
    if beside.exists():
        return str(beside)
    found = shutil.which("aws")
    if not found:
        pytest.fail("the aws CLI is not installed (pip install -r tests/py/requirements.txt)")
    return found


@pytest.fixture(scope="session")
def aws(hafiz):
    """aws(*args, check=True, timeout=180, endpoint=True, cwd=None, env_extra=None) -> CompletedProcess."""
    exe = _aws_executable()
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID=hafiz.access_key,
        AWS_SECRET_ACCESS_KEY=hafiz.secret_key,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        PYTHONIOENCODING="utf-8",
        PYTHONUTF8="1",
    )

    def run(*args: str, check: bool = True, timeout: float = 180, endpoint: bool = True, cwd=None, env_extra=None):
        cmd = [exe]
        if endpoint:
            cmd += ["--endpoint-url", hafiz.endpoint]
        cmd += [str(a) for a in args]
        proc = subprocess.run(
            cmd,
            env={**env, **(env_extra or {})},
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    return run


@pytest.fixture(scope="session")
def rclone(hafiz, tmp_path_factory):
    """rclone(*args, check=True, timeout=180) -> CompletedProcess; the remote is `hafiz:`."""
    exe = shutil.which("rclone")
    if not exe:
        pytest.fail("rclone is not installed (apt-get install rclone)")
    config = tmp_path_factory.mktemp("rclone") / "rclone.conf"
    config.write_text("")
    env = dict(os.environ)
    env.update(
        RCLONE_CONFIG=str(config),
        RCLONE_CONFIG_HAFIZ_TYPE="s3",
        RCLONE_CONFIG_HAFIZ_PROVIDER="Other",
        RCLONE_CONFIG_HAFIZ_ENV_AUTH="false",
        RCLONE_CONFIG_HAFIZ_ENDPOINT=hafiz.endpoint,
        RCLONE_CONFIG_HAFIZ_ACCESS_KEY_ID=hafiz.access_key,
        RCLONE_CONFIG_HAFIZ_SECRET_ACCESS_KEY=hafiz.secret_key,
        RCLONE_CONFIG_HAFIZ_REGION=REGION,
        RCLONE_CONFIG_HAFIZ_FORCE_PATH_STYLE="true",
    )

    def run(*args: str, check: bool = True, timeout: float = 180):
        cmd = [exe, "--config", str(config), *[str(a) for a in args]]
        proc = subprocess.run(
            cmd,
            env=env,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    return run


@pytest.fixture
def creds(hafiz) -> dict[str, str]:
    return {"access_key": hafiz.access_key, "secret_key": hafiz.secret_key}
