"""Multi-process clusters on 127.0.0.1: formation, any node serving any request,
failover under load, partitions, membership changes, refused peers, and a
linearizability check of concurrent clients while nodes die, objects coded across
nodes and rebuilt by a node that was down. Each test is bounded in time."""

from __future__ import annotations

import os
import random
import threading
import time
import uuid

import pytest
import requests

from cluster_util import SECRET, Cluster, signed_rpc
from conftest import free_port
from linearizability import Op, check


def bucket_name() -> str:
    return "c-" + uuid.uuid4().hex[:12]


@pytest.fixture
def cluster3(server_factory):
    c = Cluster(server_factory, 3).start()
    yield c
    for s in c.nodes.values():
        if getattr(s, "stopped", False):
            c.resume(next(i for i, n in c.nodes.items() if n is s))
        s.kill()


def test_three_nodes_form_a_cluster_and_any_node_serves_any_request(cluster3):
    c = cluster3
    st = c.status(1)
    assert st["cluster_id"] and st["leader"] in (1, 2, 3)
    assert sorted((m["id"], m["role"]) for m in st["members"]) == [
        (1, "voter"), (2, "voter"), (3, "voter")]
    assert {c.status(i)["cluster_id"] for i in (1, 2, 3)} == {st["cluster_id"]}
    b = bucket_name()
    c.client(2).create_bucket(Bucket=b)
    for i in (1, 2, 3):
        c.client(i).put_object(Bucket=b, Key=f"from-{i}", Body=f"written via {i}".encode())
    for i in (1, 2, 3):
        keys = [o["Key"] for o in c.client(i).list_objects_v2(Bucket=b)["Contents"]]
        assert keys == ["from-1", "from-2", "from-3"]
        for j in (1, 2, 3):
            body = c.client(i).get_object(Bucket=b, Key=f"from-{j}")["Body"].read()
            assert body == f"written via {j}".encode()
    # Read-after-delete from another node.
    c.client(3).delete_object(Bucket=b, Key="from-1")
    one = c.client(1)
    with pytest.raises(one.exceptions.NoSuchKey):
        one.get_object(Bucket=b, Key="from-1")
    # IAM is cluster-wide metadata.
    a = c.admin(1)
    a.ok("POST", "/v1/users", {"name": "alice"})
    assert "alice" in [u["name"] for u in c.admin(3).ok("GET", "/v1/users")]


def writer(c: Cluster, bucket: str, stop: threading.Event, acked: dict, errors: list, nodes=None):
    n = 0
    while not stop.is_set():
        node = random.choice(nodes or c.live())
        key = f"w{n:05d}"
        body = uuid.uuid4().bytes * 64
        try:
            c.client(node).put_object(Bucket=bucket, Key=key, Body=body)
            acked[key] = (body, time.monotonic())
        except Exception as e:  # noqa: BLE001 - any failure is recorded, none is fatal
            errors.append((time.monotonic(), node, repr(e)[:200]))
        n += 1


def test_leader_sigkill_during_puts_loses_no_acknowledged_write(cluster3):
    c = cluster3
    b = bucket_name()
    c.client(1).create_bucket(Bucket=b)
    leader = c.wait_leader()
    survivors = [i for i in (1, 2, 3) if i != leader]
    stop, acked, errors = threading.Event(), {}, []
    t = threading.Thread(target=writer, args=(c, b, stop, acked, errors, survivors))
    t.start()
    try:
        time.sleep(1.5)
        before = len(acked)
        assert before > 0, errors[:3]
        killed_at = time.monotonic()
        c.kill(leader)
        deadline = killed_at + 15
        while time.monotonic() < deadline:
            if any(at > killed_at for _, at in acked.values()):
                break
            time.sleep(0.02)
        first = min((at for _, at in acked.values() if at > killed_at), default=None)
        assert first is not None, f"no write succeeded after the leader died: {errors[-3:]}"
        failover = first - killed_at
        print(f"failover: {failover:.2f}s")
        assert failover < 5, failover
        new_leader = c.wait_leader(exclude=leader)
        assert new_leader in survivors
        time.sleep(1)
    finally:
        stop.set()
        t.join(30)
    # Every acknowledged object, byte-exact, from every node (the killed one too,
    # once restarted).
    c.restart(leader)
    for node in (1, 2, 3):
        cl = c.client(node)
        for key, (body, _) in acked.items():
            assert cl.get_object(Bucket=b, Key=key)["Body"].read() == body, (node, key)


def test_a_paused_leader_does_not_split_the_brain(cluster3):
    c = cluster3
    b = bucket_name()
    c.client(1).create_bucket(Bucket=b)
    c.client(1).put_object(Bucket=b, Key="doomed", Body=b"old")
    leader = c.wait_leader()
    others = [i for i in (1, 2, 3) if i != leader]
    c.pause(leader)
    try:
        new = c.wait_leader(timeout=15, exclude=leader)
        assert new in others
        c.client(others[0]).put_object(Bucket=b, Key="during", Body=b"while paused")
        c.client(others[1]).delete_object(Bucket=b, Key="doomed")
    finally:
        c.resume(leader)
    # The old leader learns it was deposed; it serves the new state, never its own.
    cl = c.client(leader)
    assert cl.get_object(Bucket=b, Key="during")["Body"].read() == b"while paused"
    with pytest.raises(cl.exceptions.NoSuchKey):
        cl.get_object(Bucket=b, Key="doomed")
    cl.put_object(Bucket=b, Key="after", Body=b"ok")
    assert c.client(others[0]).get_object(Bucket=b, Key="after")["Body"].read() == b"ok"
    st = c.status(leader)
    assert st["leader"] != leader or st["term"] > 1


def test_add_and_remove_a_node_while_a_client_writes(cluster3):
    c = cluster3
    b = bucket_name()
    c.client(1).create_bucket(Bucket=b)
    stop, acked, errors = threading.Event(), {}, []
    t = threading.Thread(target=writer, args=(c, b, stop, acked, errors, [1, 2]))
    t.start()
    try:
        c.start_node(4, wait=False, peers=[1, 2, 3, 4])
        time.sleep(1)
        st = c.admin(2).ok("POST", "/v1/cluster/nodes",
                           {"id": 4, "rpc_address": f"127.0.0.1:{c.rpc_ports[4]}"})
        roles = {m["id"]: m["role"] for m in st["raft"]["members"]}
        assert roles == {1: "voter", 2: "voter", 3: "voter", 4: "voter"}
        c.nodes[4].wait_ready(timeout=30)
        st = c.admin(1).ok("DELETE", "/v1/cluster/nodes/3")
        assert sorted(m["id"] for m in st["raft"]["members"]) == [1, 2, 4]
        settle = time.monotonic() + 10
        n = len(acked)
        while len(acked) < n + 10 and time.monotonic() < settle:
            time.sleep(0.1)
    finally:
        stop.set()
        t.join(30)
    assert len(acked) > 10 and not errors, (len(acked), errors[:3])
    cl = c.client(4)
    for key, (body, _) in acked.items():
        assert cl.get_object(Bucket=b, Key=key)["Body"].read() == body
    # The removed node is no longer asked: the cluster works without it.
    c.kill(3)
    c.client(4).put_object(Bucket=b, Key="after-removal", Body=b"x")
    assert c.client(1).get_object(Bucket=b, Key="after-removal")["Body"].read() == b"x"


def test_concurrent_clients_stay_linearizable_while_nodes_die(cluster3):
    c = cluster3
    b = bucket_name()
    c.client(1).create_bucket(Bucket=b)
    keys = ["k0", "k1", "k2"]
    history: list[Op] = []
    lock = threading.Lock()
    stop = threading.Event()
    per_key = {k: 0 for k in keys}

    def client_loop(seed: int):
        rnd = random.Random(seed)
        while not stop.is_set():
            key = rnd.choice(keys)
            with lock:
                if per_key[key] >= 40:
                    if all(v >= 40 for v in per_key.values()):
                        return
                    continue
                per_key[key] += 1
            node = rnd.choice(c.live())
            cl = c.client(node, read_timeout=5, connect_timeout=2)
            kind = rnd.choice(["put", "put", "get", "get", "delete"])
            value = uuid.uuid4().hex[:8] if kind == "put" else None
            start = time.monotonic()
            try:
                if kind == "put":
                    cl.put_object(Bucket=b, Key=key, Body=value.encode())
                elif kind == "delete":
                    cl.delete_object(Bucket=b, Key=key)
                else:
                    try:
                        value = cl.get_object(Bucket=b, Key=key)["Body"].read().decode()
                    except cl.exceptions.NoSuchKey:
                        value = None
                end = time.monotonic()
            except Exception:  # noqa: BLE001 - outcome unknown
                end = None
            with lock:
                history.append(Op(key, kind, value, start, end))

    threads = [threading.Thread(target=client_loop, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1)
        victim = c.wait_leader()
        c.kill(victim)
        time.sleep(2)
        c.restart(victim)
        follower = next(i for i in (1, 2, 3) if i != c.wait_leader())
        c.kill(follower)
        time.sleep(1)
        c.restart(follower)
    finally:
        deadline = time.monotonic() + 60
        for t in threads:
            t.join(max(0, deadline - time.monotonic()))
        stop.set()
    completed = [o for o in history if o.end is not None]
    assert len(completed) > 50, len(completed)
    ok, key = check(history)
    assert ok, f"history of {key} is not linearizable: " + repr(
        sorted((o for o in history if o.key == key), key=lambda o: o.start))


def test_five_nodes_survive_losing_two(server_factory):
    c = Cluster(server_factory, 5).start()
    try:
        b = bucket_name()
        c.client(3).create_bucket(Bucket=b)
        c.client(5).put_object(Bucket=b, Key="a", Body=b"1")
        leader = c.wait_leader()
        doomed = [leader, next(i for i in range(1, 6) if i != leader)]
        for i in doomed:
            c.kill(i)
        rest = [i for i in range(1, 6) if i not in doomed]
        c.client(rest[0]).put_object(Bucket=b, Key="b", Body=b"2")
        for i in rest:
            cl = c.client(i)
            assert cl.get_object(Bucket=b, Key="a")["Body"].read() == b"1"
            assert cl.get_object(Bucket=b, Key="b")["Body"].read() == b"2"
    finally:
        for s in c.nodes.values():
            s.kill()


def test_sigterm_on_the_leader_hands_off_and_exits_cleanly(cluster3):
    c = cluster3
    b = bucket_name()
    c.client(1).create_bucket(Bucket=b)
    leader = c.wait_leader()
    t0 = time.monotonic()
    assert c.nodes[leader].stop(timeout=40) == 0
    new = c.wait_leader(exclude=leader, timeout=10)
    print(f"handoff + drain: {time.monotonic() - t0:.2f}s")
    c.client(new).put_object(Bucket=b, Key="after-drain", Body=b"ok")
    assert "stepped down as metadata leader" in c.nodes[leader].log()


def test_a_node_with_the_wrong_secret_is_refused(cluster3, server_factory):
    c = cluster3
    bad = c.start_node(4, wait=False, peers=[1, 2, 3, 4], secret="not-the-secret")
    assert bad.proc.wait(timeout=20) != 0
    assert "cluster secret does not match" in bad.log()
    # And forged or replayed RPCs are refused and counted.
    port = c.rpc_ports[1]
    r, _ = signed_rpc(port, "/cluster/status", b"\xc0", "wrong")
    assert r.status_code == 401
    r, headers = signed_rpc(port, "/cluster/status", b"\xc0", SECRET)
    assert r.status_code == 200, r.text
    r, _ = signed_rpc(port, "/cluster/status", b"\xc0", SECRET, headers=headers)
    assert r.status_code == 401 and "replay" in r.text
    old = dict(headers, **{"x-hafiz-time": str(int(time.time() * 1000) - 120_000)})
    r, _ = signed_rpc(port, "/cluster/status", b"\xc0", SECRET, headers=old)
    assert r.status_code == 401
    metrics = requests.get(f"{c.nodes[1].endpoint}/metrics", timeout=5).text
    counted = {line.split("{")[1].split("}")[0]: float(line.rsplit(" ", 1)[1])
               for line in metrics.splitlines()
               if line.startswith("hafiz_cluster_rpc_rejected_total{")}
    assert counted.get('reason="signature"', 0) >= 2, counted
    assert counted.get('reason="replayed"', 0) >= 1, counted


def test_a_contradicting_peer_list_or_a_foreign_data_directory_is_refused(cluster3, server_factory):
    c = cluster3
    # Node 4 claims node 2 lives elsewhere.
    liar = Cluster(server_factory, 0)
    liar.secret, liar.access_key, liar.secret_key = c.secret, c.access_key, c.secret_key
    liar.rpc_ports = dict(c.rpc_ports)
    liar.rpc_ports[2] = free_port()
    s = liar.start_node(4, wait=False)
    assert s.proc.wait(timeout=20) != 0
    assert "peer list disagrees" in s.log(), s.log_tail()
    # A data directory of another cluster cannot join this one.
    other = Cluster(server_factory, 1).start()
    other_dir = other.data_dirs[1]
    other.nodes[1].stop()
    intruder = Cluster(server_factory, 0)
    intruder.secret, intruder.access_key, intruder.secret_key = c.secret, c.access_key, c.secret_key
    intruder.rpc_ports = dict(c.rpc_ports)
    intruder.rpc_ports[9] = other.rpc_ports[1]
    intruder.data_dirs = {9: other_dir}
    s = intruder.start_node(9, wait=False, peers=[1, 2, 3, 9])
    assert s.proc.wait(timeout=20) != 0
    assert "belongs to cluster" in s.log(), s.log_tail()


def test_large_objects_are_coded_across_nodes_and_survive_a_dead_node(cluster3):
    """Objects above the inline threshold: a shard per node (2+1 on 3 nodes), any
    node reads them, a dead node's shard is reconstructed, and a node that was
    down while objects were written rebuilds its shards when it returns."""
    c = cluster3
    b = bucket_name()
    c.client(1).create_bucket(Bucket=b)
    big = os.urandom(3 * 1024 * 1024 + 4321)
    c.client(1).put_object(Bucket=b, Key="big", Body=big)
    # Every node holds one shard file, none the whole object.
    for i in (1, 2, 3):
        shards = [p for p in (c.data_dirs[i] / "shards").rglob("*") if p.is_file()]
        assert len(shards) == 1, (i, shards)
        assert shards[0].stat().st_size < len(big) * 0.6
    for i in (1, 2, 3):
        assert c.client(i).get_object(Bucket=b, Key="big")["Body"].read() == big
    rng = c.client(2).get_object(Bucket=b, Key="big", Range="bytes=1048000-2100000")["Body"].read()
    assert rng == big[1048000:2100001]

    c.kill(3)
    for i in (1, 2):
        assert c.client(i).get_object(Bucket=b, Key="big")["Body"].read() == big
    while_down = os.urandom(2 * 1024 * 1024)
    c.client(2).put_object(Bucket=b, Key="while-down", Body=while_down)

    c.restart(3)
    deadline = time.monotonic() + 30
    while "rebuilt this node's missing shards" not in c.nodes[3].log() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "rebuilt this node's missing shards" in c.nodes[3].log(), c.nodes[3].log_tail()
    # Now node 3's rebuilt shard is needed: another node goes.
    other = 1 if c.wait_leader() != 1 else 2
    c.kill(other)
    survivor = next(i for i in (1, 2) if i != other)
    for i in (survivor, 3):
        assert c.client(i).get_object(Bucket=b, Key="while-down")["Body"].read() == while_down
        assert c.client(i).get_object(Bucket=b, Key="big")["Body"].read() == big


def test_a_forged_shard_body_is_not_committed(cluster3):
    c = cluster3
    port = c.rpc_ports[2]
    shard_id = "0000" + uuid.uuid4().hex
    path = f"/shard/put?id={shard_id}"
    # Genuine headers, but a body whose trailer is not the MAC.
    nonce = uuid.uuid4().hex
    t = str(int(time.time() * 1000))
    import hashlib
    import hmac as hmaclib
    head = f"HAFIZ-RPC-1\nPOST\n{path}\n1\n\n{t}\n{nonce}\n".encode()
    sig = hmaclib.new(SECRET.encode(), head, hashlib.sha256).hexdigest()
    headers = {"x-hafiz-time": t, "x-hafiz-nonce": nonce, "x-hafiz-from": "1",
               "x-hafiz-cluster": "", "x-hafiz-signature": sig}
    r = requests.post(f"http://127.0.0.1:{port}{path}", data=b"evil" * 100 + b"\0" * 32,
                      headers=headers, timeout=5)
    assert r.status_code == 401, r.text
    assert not list((c.data_dirs[2] / "shards").rglob(shard_id))


def test_root_credentials_are_cluster_wide(server_factory):
    """Nodes started without root keys agree on one pair: the first node's."""
    c = Cluster(server_factory, 3)
    for i in c.rpc_ports:
        c.start_node(i, wait=False, root=False)
    try:
        for s in c.nodes.values():
            s.wait_ready(timeout=30)
        pairs = set()
        for i in (1, 2, 3):
            text = (c.data_dirs[i] / "root-credentials.toml").read_text()
            pairs.add(text)
        assert len(pairs) == 1, pairs
        access = next(line.split('"')[1] for line in pairs.pop().splitlines() if line.startswith("access_key"))
        printed = [i for i in (1, 2, 3) if f"access key: {access}" in c.nodes[i].log()]
        assert len(printed) == 1, "exactly one node printed the cluster's keys"
        assert sum("Generated root credentials" in c.nodes[i].log() for i in (1, 2, 3)) == 1
    finally:
        for s in c.nodes.values():
            s.kill()
