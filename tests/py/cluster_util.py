"""Multi-process Hafiz clusters on 127.0.0.1 for the cluster suites."""

from __future__ import annotations

import hashlib
import hmac
import os
import signal
import time
import uuid

import requests

from admin_client import AdminClient
from conftest import Server, ServerFactory, free_port, make_client

SECRET = "test-cluster-secret"


class Cluster:
    def __init__(self, factory: ServerFactory, n: int, secret: str = SECRET, *,
                 env: dict[str, str] | None = None, args: list[str] | None = None):
        self.factory = factory
        self.secret = secret
        # More environment and flags for every node (e.g. a short lifecycle day).
        self.env = dict(env or {})
        self.args = list(args or [])
        self.access_key = "AK" + uuid.uuid4().hex[:18].upper()
        self.secret_key = uuid.uuid4().hex + uuid.uuid4().hex[:8]
        self.rpc_ports = {i: free_port() for i in range(1, n + 1)}
        self.nodes: dict[int, Server] = {}
        self.data_dirs = {i: factory.new_data_dir() for i in self.rpc_ports}

    def peer_args(self, ids=None) -> list[str]:
        args = []
        for i in sorted(ids or self.rpc_ports):
            args += ["--peer", f"{i}=127.0.0.1:{self.rpc_ports[i]}"]
        return args

    def start_node(self, i: int, *, wait: bool = True, peers=None, secret=None, port=None,
                   root: bool = True) -> Server:
        if i not in self.rpc_ports:
            self.rpc_ports[i] = free_port()
            self.data_dirs[i] = self.factory.new_data_dir()
        s = self.factory.start(
            self.data_dirs[i],
            access_key=self.access_key if root else None,
            secret_key=self.secret_key if root else None,
            extra_args=["--node-id", str(i), "--rpc-address", f"127.0.0.1:{self.rpc_ports[i]}",
                        *self.peer_args(peers), *self.args],
            env_extra={"HAFIZ_CLUSTER_SECRET": secret or self.secret, **self.env},
            wait=False,
            port=port or (self.nodes[i].port if i in self.nodes else None),
        )
        self.nodes[i] = s
        if wait:
            s.wait_ready(timeout=30)
        return s

    def start(self) -> "Cluster":
        for i in self.rpc_ports:
            self.start_node(i, wait=False)
        for s in self.nodes.values():
            s.wait_ready(timeout=30)
        self.wait_leader()
        return self

    def client(self, i: int, **config):
        config.setdefault("retries", {"max_attempts": 0})
        config.setdefault("read_timeout", 20)
        return make_client(self.nodes[i].endpoint, self.access_key, self.secret_key, **config)

    def admin(self, i: int) -> AdminClient:
        return AdminClient(self.nodes[i].admin_endpoint, self.access_key, self.secret_key)

    def status(self, i: int) -> dict:
        return self.admin(i).ok("GET", "/v1/cluster")["raft"]

    def live(self) -> list[int]:
        return [i for i, s in self.nodes.items() if s.running() and not getattr(s, "stopped", False)]

    def leader(self) -> int | None:
        for i in self.live():
            try:
                r = self.status(i)
            except (requests.RequestException, AssertionError):
                continue
            if r["leader"] is not None and r["leader"] in self.live():
                return r["leader"]
        return None

    def wait_leader(self, timeout: float = 20, exclude: int | None = None) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lead = self.leader()
            if lead is not None and lead != exclude:
                return lead
            time.sleep(0.1)
        raise AssertionError(f"no leader within {timeout}s")

    def kill(self, i: int) -> None:
        self.nodes[i].kill()

    def pause(self, i: int) -> None:
        os.kill(self.nodes[i].proc.pid, signal.SIGSTOP)
        self.nodes[i].stopped = True

    def resume(self, i: int) -> None:
        os.kill(self.nodes[i].proc.pid, signal.SIGCONT)
        self.nodes[i].stopped = False

    def restart(self, i: int) -> Server:
        return self.start_node(i)


def signed_rpc(port: int, path: str, body: bytes, secret: str, *, from_id: int = 1,
               cluster: str = "", headers: dict | None = None):
    """A node-to-node request signed as the server signs them (auth.rs)."""
    if headers is None:
        nonce = uuid.uuid4().hex
        t = str(int(time.time() * 1000))
        head = f"HAFIZ-RPC-1\nPOST\n{path}\n{from_id}\n{cluster}\n{t}\n{nonce}\n".encode()
        sig = hmac.new(secret.encode(), head + body, hashlib.sha256).hexdigest()
        headers = {"x-hafiz-time": t, "x-hafiz-nonce": nonce, "x-hafiz-from": str(from_id),
                   "x-hafiz-cluster": cluster, "x-hafiz-signature": sig}
    # The listener speaks HTTP/2 and, through hyper's auto detection, HTTP/1.1.
    r = requests.post(f"http://127.0.0.1:{port}{path}", data=body, headers=headers, timeout=5)
    return r, headers
