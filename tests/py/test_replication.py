"""Bucket replication end to end, between two real Hafiz processes (A, the source,
and B, the destination): targets registered on A with `hafiz admin replicate`,
rules set with boto3's PutBucketReplication (and its refusals), then PUT, COPY and
multipart versions replicated with the same version id, ETag, metadata, tags and
bytes (source PENDING then COMPLETED, destination REPLICA), version order, delete
markers (replicated only when DeleteMarkerReplication is Enabled; deletes of a
version never), tag changes, prefix and tag filters, a destination that is down
(queued, in order per key, delivered once it is back), a SIGKILL of the source with
items queued and one while it replicates (every acknowledged PUT arrives once), two-way replication without loops
and a fail-over write, resyncs of objects older than the rule (`replicate resync`,
the admin API's resync, and ExistingObjectReplication), refused items (FAILED and a
`replicate-retry` job) and the replication metrics."""

from __future__ import annotations

import re
import time
import uuid

import botocore.exceptions
import pytest
import requests

from admin_client import AdminClient
from conftest import error_code, make_client, seeded_body, unique_bucket_name, wait_for
from test_admin_cli import Cli

SMALL = 1024
BIG = 300 * 1024  # above the inline threshold
PART = 5 * 1024 * 1024
SETTLE = 1.0  # after a later item arrived: time for anything wrongly sent to show


body = seeded_body


# --------------------------------------------------------------------------
# Servers: A replicates to B (and, in the two-way test, B to A).
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def srv_b(server_factory):
    return server_factory.start()


@pytest.fixture(scope="module")
def srv_a(server_factory):
    return server_factory.start()


@pytest.fixture(scope="module")
def a(srv_a):
    return make_client(srv_a.endpoint, srv_a.access_key, srv_a.secret_key)


@pytest.fixture(scope="module")
def b(srv_b):
    return make_client(srv_b.endpoint, srv_b.access_key, srv_b.secret_key)


@pytest.fixture(scope="module")
def cli(srv_a, srv_b, tmp_path_factory):
    c = Cli(tmp_path_factory.mktemp("replicate-cli"))
    c("alias", "set", "a", srv_a.admin_endpoint, srv_a.access_key, srv_a.secret_key)
    c("alias", "set", "b", srv_b.admin_endpoint, srv_b.access_key, srv_b.secret_key)
    return c


def restart(server):
    """Start a stopped or killed server again on its port and data directory."""
    assert not server.running()
    server.start().wait_ready()


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def versioned_bucket(c, prefix: str) -> str:
    name = unique_bucket_name(prefix)
    c.create_bucket(Bucket=name)
    c.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def add_target(cli, alias, dest, bucket, *extra, secret_key=None, target_id=None):
    """Register `dest`'s `bucket` as a target on `alias`'s server; returns the target."""
    target_id = target_id or f"t{uuid.uuid4().hex[:10]}"
    t = cli.json(
        "replicate", "add", alias, target_id, "--endpoint", dest.endpoint, "--bucket", bucket,
        "--access-key", dest.access_key, "--secret-key", secret_key or dest.secret_key,
        "--timeout-ms", "5000", *extra,
    )
    assert t["arn"] == f"arn:hafiz:replication::{target_id}:{bucket}", t
    return t


def rule(arn, prefix="", rule_id="r", priority=1, delete_markers=True, existing=False, **more):
    r = {
        "ID": rule_id,
        "Priority": priority,
        "Status": "Enabled",
        "Filter": {"Prefix": prefix},
        "DeleteMarkerReplication": {"Status": "Enabled" if delete_markers else "Disabled"},
        "Destination": {"Bucket": arn},
        **more,
    }
    if existing:
        r["ExistingObjectReplication"] = {"Status": "Enabled"}
    return r


def put_replication(c, bucket, *rules):
    c.put_bucket_replication(
        Bucket=bucket,
        ReplicationConfiguration={"Role": "arn:aws:iam::000000000000:role/replication", "Rules": list(rules)},
    )


def pair(a, b, cli, srv_b, name="r", **rule_kw):
    """A versioned source bucket on A replicating (one rule) to a versioned bucket on B."""
    src = versioned_bucket(a, f"{name}s")
    dst = versioned_bucket(b, f"{name}d")
    arn = add_target(cli, "a", srv_b, dst)["arn"]
    put_replication(a, src, rule(arn, **rule_kw))
    return src, dst, arn


def head(c, bucket, key, version_id=None):
    """HEAD, or None when there is no such object (version)."""
    kw = {"VersionId": version_id} if version_id else {}
    try:
        return c.head_object(Bucket=bucket, Key=key, **kw)
    except botocore.exceptions.ClientError as e:
        if e.response["ResponseMetadata"]["HTTPStatusCode"] in (404, 405):
            return None
        raise


def status(c, bucket, key, version_id=None):
    h = head(c, bucket, key, version_id)
    return None if h is None else h.get("ReplicationStatus")


def version_ids(c, bucket, key):
    """Object version ids of `key` in the listing's order (newest first)."""
    r = c.list_object_versions(Bucket=bucket, Prefix=key)
    return [v["VersionId"] for v in r.get("Versions", []) if v["Key"] == key]


def marker_ids(c, bucket, key):
    r = c.list_object_versions(Bucket=bucket, Prefix=key)
    return [m["VersionId"] for m in r.get("DeleteMarkers", []) if m["Key"] == key]


def tags(c, bucket, key, version_id):
    ts = c.get_object_tagging(Bucket=bucket, Key=key, VersionId=version_id)["TagSet"]
    return {t["Key"]: t["Value"] for t in ts}


def wait_replicated(a, src, key, vid, b, dst, timeout=30.0):
    """Wait until version `vid` is on the destination and COMPLETED on the source."""
    wait_for(f"{key}@{vid} on the destination", lambda: head(b, dst, key, vid) is not None, timeout=timeout)
    wait_for(f"{key}@{vid} COMPLETED on the source",
             lambda: status(a, src, key, vid) == "COMPLETED", timeout=timeout)


def check_replica(a, src, b, dst, key, vid, data):
    """The destination's copy of `key`@`vid` matches the source's in every way."""
    s = a.head_object(Bucket=src, Key=key, VersionId=vid)
    d = b.head_object(Bucket=dst, Key=key, VersionId=vid)
    assert d["VersionId"] == vid
    assert s.get("ReplicationStatus") == "COMPLETED", s.get("ReplicationStatus")
    assert d.get("ReplicationStatus") == "REPLICA", d.get("ReplicationStatus")
    for field in ("ETag", "ContentLength", "ContentType", "Metadata"):
        assert d.get(field) == s.get(field), (key, field, s.get(field), d.get(field))
    assert tags(b, dst, key, vid) == tags(a, src, key, vid), key
    got = b.get_object(Bucket=dst, Key=key, VersionId=vid)["Body"].read()
    assert len(got) == len(data) and got == data, key


def queued(cli, arn):
    return cli.json("replicate", "info", "a", arn)["queued"]


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(server):
    """[(metric, {label: value}, value)] from the server's /metrics."""
    r = requests.get(f"{server.endpoint}/metrics", timeout=10)
    assert r.status_code == 200, r.status_code
    out = []
    for line in r.text.splitlines():
        m = SAMPLE.match(line)
        if m:
            out.append((m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def metric(samples, name, **labels):
    """The samples of `name` with these labels (None when there is none)."""
    found = [v for n, ls, v in samples if n == name and all(ls.get(k) == w for k, w in labels.items())]
    return sum(found) if found else None


# --------------------------------------------------------------------------
# 1. The configuration API
# --------------------------------------------------------------------------


def test_configuration_round_trip_and_refusals(a, b, cli, srv_b):
    src = versioned_bucket(a, "cfg")
    dst = versioned_bucket(b, "cfgd")
    t = add_target(cli, "a", srv_b, dst)
    arn = t["arn"]
    assert t["queued"] == 0 and t["queued_bytes"] == 0
    assert t["bucket"] == dst and t["endpoint"] == srv_b.endpoint
    # Targets are listed and shown, never with their secret.
    listed = {x["arn"]: x for x in cli.json("replicate", "list", "a")["targets"]}
    assert arn in listed
    for out in (cli("replicate", "list", "a", "--json").stdout, cli("replicate", "info", "a", arn).stdout):
        assert srv_b.secret_key not in out
    assert cli.json("replicate", "info", "a", arn)["bucket"] == dst
    # The same target twice; a destination bucket that is not there (HeadBucket first).
    cli.fails("replicate", "add", "a", t["id"], "--endpoint", srv_b.endpoint, "--bucket", dst,
              "--access-key", srv_b.access_key, "--secret-key", srv_b.secret_key,
              code="ReplicationTargetExists")
    cli.fails("replicate", "add", "a", "nobucket", "--endpoint", srv_b.endpoint,
              "--bucket", unique_bucket_name("none"), "--access-key", srv_b.access_key,
              "--secret-key", srv_b.secret_key, code="InvalidRequest")

    # No configuration yet.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        a.get_bucket_replication(Bucket=src)
    assert error_code(e) == ("ReplicationConfigurationNotFoundError", 404)

    rules = [
        rule(arn, prefix="docs/", rule_id="docs", priority=2),
        {
            "ID": "tagged",
            "Priority": 1,
            "Status": "Enabled",
            "Filter": {"And": {"Prefix": "img/", "Tags": [{"Key": "rep", "Value": "yes"}]}},
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "Destination": {"Bucket": arn, "StorageClass": "STANDARD_IA"},
        },
    ]
    put_replication(a, src, *rules)
    got = a.get_bucket_replication(Bucket=src)["ReplicationConfiguration"]
    assert got["Role"] == "arn:aws:iam::000000000000:role/replication"
    by_id = {r["ID"]: r for r in got["Rules"]}
    assert set(by_id) == {"docs", "tagged"}
    for want in rules:
        have = by_id[want["ID"]]
        for k, v in want.items():
            assert have.get(k) == v, (want["ID"], k, v, have.get(k))

    # Refusals: an unknown destination ARN; an unversioned source bucket.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put_replication(a, src, rule("arn:hafiz:replication::nope:nobucket"))
    assert error_code(e) == ("InvalidArgument", 400)
    plain = unique_bucket_name("cfgu")
    a.create_bucket(Bucket=plain)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put_replication(a, plain, rule(arn))
    assert error_code(e) == ("InvalidRequest", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        a.get_bucket_replication(Bucket=plain)
    assert error_code(e) == ("ReplicationConfigurationNotFoundError", 404)
    # The refused configurations changed nothing.
    assert {r["ID"] for r in a.get_bucket_replication(Bucket=src)["ReplicationConfiguration"]["Rules"]} == {
        "docs", "tagged"}

    # Versioning cannot be suspended under replication.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        a.put_bucket_versioning(Bucket=src, VersioningConfiguration={"Status": "Suspended"})
    assert error_code(e) == ("InvalidBucketState", 409)
    assert a.get_bucket_versioning(Bucket=src)["Status"] == "Enabled"

    # A target a rule names cannot be removed; once the configuration is gone it can.
    cli.fails("replicate", "remove", "a", arn, code="ReplicationTargetInUse")
    assert arn in {x["arn"] for x in cli.json("replicate", "list", "a")["targets"]}
    a.delete_bucket_replication(Bucket=src)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        a.get_bucket_replication(Bucket=src)
    assert error_code(e) == ("ReplicationConfigurationNotFoundError", 404)
    a.put_bucket_versioning(Bucket=src, VersioningConfiguration={"Status": "Suspended"})
    cli("replicate", "remove", "a", arn)
    assert arn not in {x["arn"] for x in cli.json("replicate", "list", "a")["targets"]}
    cli.fails("replicate", "info", "a", arn, code="NoSuchReplicationTarget")


# --------------------------------------------------------------------------
# 2-6. What is replicated, and how
# --------------------------------------------------------------------------


def test_put_copy_and_multipart_are_replicated_identically(a, b, cli, srv_b):
    src, dst, _ = pair(a, b, cli, srv_b, "obj")
    small, big = body("small", SMALL), body("big", BIG)
    written = {}
    r = a.put_object(Bucket=src, Key="small.txt", Body=small, ContentType="text/plain",
                     Metadata={"owner": "ada", "color": "blue"}, Tagging="t1=v1&t2=v2")
    assert a.head_object(Bucket=src, Key="small.txt")["ReplicationStatus"] in ("PENDING", "COMPLETED")
    written["small.txt"] = (r["VersionId"], small)
    r = a.put_object(Bucket=src, Key="dir/big.bin", Body=big, ContentType="application/x-big",
                     Metadata={"owner": "bob"}, Tagging="size=big")
    written["dir/big.bin"] = (r["VersionId"], big)
    r = a.copy_object(Bucket=src, Key="copied.txt", CopySource={"Bucket": src, "Key": "small.txt"})
    written["copied.txt"] = (r["VersionId"], small)
    assert r["CopyObjectResult"]["ETag"] == a.head_object(Bucket=src, Key="small.txt")["ETag"]
    mpu = a.create_multipart_upload(Bucket=src, Key="multi.bin", ContentType="application/x-mpu",
                                    Metadata={"parts": "two"}, Tagging="kind=mpu")
    parts = []
    data = b""
    for n in (1, 2):
        chunk = body(f"part{n}", PART)
        data += chunk
        p = a.upload_part(Bucket=src, Key="multi.bin", UploadId=mpu["UploadId"], PartNumber=n, Body=chunk)
        parts.append({"ETag": p["ETag"], "PartNumber": n})
    r = a.complete_multipart_upload(Bucket=src, Key="multi.bin", UploadId=mpu["UploadId"],
                                    MultipartUpload={"Parts": parts})
    assert r["ETag"].strip('"').endswith("-2")
    written["multi.bin"] = (r["VersionId"], data)

    for key, (vid, _) in written.items():
        wait_replicated(a, src, key, vid, b, dst)
    for key, (vid, data) in written.items():
        check_replica(a, src, b, dst, key, vid, data)
    d = b.head_object(Bucket=dst, Key="multi.bin")
    assert d["ETag"] == r["ETag"] and d["ETag"].strip('"').endswith("-2")
    assert b.head_object(Bucket=dst, Key="copied.txt")["Metadata"] == {"owner": "ada", "color": "blue"}
    assert tags(b, dst, "small.txt", written["small.txt"][0]) == {"t1": "v1", "t2": "v2"}
    # Exactly one version of each on the destination.
    for key in written:
        assert version_ids(b, dst, key) == [written[key][0]], key


def test_versions_keep_their_ids_and_order(a, b, cli, srv_b):
    src, dst, _ = pair(a, b, cli, srv_b, "ver")
    ids = []
    for i in range(4):
        ids.append(a.put_object(Bucket=src, Key="doc", Body=f"v{i}".encode() * 100)["VersionId"])
    wait_for("four versions on the destination", lambda: len(version_ids(b, dst, "doc")) == 4, timeout=30)
    assert version_ids(b, dst, "doc") == version_ids(a, src, "doc") == ids[::-1]
    latest = b.get_object(Bucket=dst, Key="doc")
    assert latest["VersionId"] == ids[-1] and latest["Body"].read() == b"v3" * 100
    for i, vid in enumerate(ids):
        wait_for("COMPLETED", lambda vid=vid: status(a, src, "doc", vid) == "COMPLETED", timeout=20)
        assert b.get_object(Bucket=dst, Key="doc", VersionId=vid)["Body"].read() == f"v{i}".encode() * 100


def test_delete_markers_follow_the_rule_and_version_deletes_stay(a, b, cli, srv_b):
    src, dst, _ = pair(a, b, cli, srv_b, "dm")
    v1 = a.put_object(Bucket=src, Key="k", Body=b"one")["VersionId"]
    v2 = a.put_object(Bucket=src, Key="k", Body=b"two")["VersionId"]
    wait_replicated(a, src, "k", v1, b, dst)
    wait_replicated(a, src, "k", v2, b, dst)
    d = a.delete_object(Bucket=src, Key="k")
    assert d.get("DeleteMarker") is True
    marker = d["VersionId"]
    wait_for("the delete marker on the destination", lambda: marker_ids(b, dst, "k") == [marker], timeout=30)
    assert head(b, dst, "k") is None, "the key reads as deleted on the destination"
    listing = b.list_object_versions(Bucket=dst, Prefix="k")
    assert [m["IsLatest"] for m in listing["DeleteMarkers"]] == [True]
    assert version_ids(b, dst, "k") == [v2, v1]
    # Deleting a version is not replicated (as AWS): v1 stays on the destination.
    a.delete_object(Bucket=src, Key="k", VersionId=v1)
    assert version_ids(a, src, "k") == [v2]
    sentinel = a.put_object(Bucket=src, Key="k-after", Body=b"s")["VersionId"]
    wait_replicated(a, src, "k-after", sentinel, b, dst)
    time.sleep(SETTLE)
    assert version_ids(b, dst, "k") == [v2, v1]
    assert head(b, dst, "k", v1) is not None
    # Deleting the marker itself (a version delete) is not replicated either.
    a.delete_object(Bucket=src, Key="k", VersionId=marker)
    assert head(a, src, "k")["VersionId"] == v2
    sentinel = a.put_object(Bucket=src, Key="k-after2", Body=b"s")["VersionId"]
    wait_replicated(a, src, "k-after2", sentinel, b, dst)
    time.sleep(SETTLE)
    assert marker_ids(b, dst, "k") == [marker]

    # DeleteMarkerReplication Disabled: the marker stays on the source.
    src2, dst2, _ = pair(a, b, cli, srv_b, "dmoff", delete_markers=False)
    v = a.put_object(Bucket=src2, Key="k", Body=b"kept")["VersionId"]
    wait_replicated(a, src2, "k", v, b, dst2)
    marker2 = a.delete_object(Bucket=src2, Key="k")["VersionId"]
    assert marker_ids(a, src2, "k") == [marker2]
    sentinel = a.put_object(Bucket=src2, Key="k-after", Body=b"s")["VersionId"]
    wait_replicated(a, src2, "k-after", sentinel, b, dst2)
    time.sleep(SETTLE)
    assert marker_ids(b, dst2, "k") == []
    assert b.get_object(Bucket=dst2, Key="k")["Body"].read() == b"kept"


def test_tag_changes_are_replicated(a, b, cli, srv_b):
    src, dst, _ = pair(a, b, cli, srv_b, "tag")
    old = a.put_object(Bucket=src, Key="t", Body=b"old", Tagging="a=1")["VersionId"]
    vid = a.put_object(Bucket=src, Key="t", Body=b"x", Tagging="a=1")["VersionId"]
    wait_replicated(a, src, "t", old, b, dst)
    wait_replicated(a, src, "t", vid, b, dst)
    assert tags(b, dst, "t", vid) == {"a": "1"}
    a.put_object_tagging(Bucket=src, Key="t", Tagging={"TagSet": [{"Key": "x", "Value": "y"},
                                                                  {"Key": "a", "Value": "2"}]})
    wait_for("the new tags on the destination", lambda: tags(b, dst, "t", vid) == {"x": "y", "a": "2"}, timeout=30)
    # A tag change on an older version goes to that version.
    a.put_object_tagging(Bucket=src, Key="t", VersionId=old, Tagging={"TagSet": [{"Key": "old", "Value": "yes"}]})
    wait_for("the old version's tags", lambda: tags(b, dst, "t", old) == {"old": "yes"}, timeout=30)
    assert tags(b, dst, "t", vid) == {"x": "y", "a": "2"}
    a.delete_object_tagging(Bucket=src, Key="t")
    wait_for("the tags removed on the destination", lambda: tags(b, dst, "t", vid) == {}, timeout=30)
    # Still one replica per version: a tag change is not a new version.
    assert version_ids(b, dst, "t") == [vid, old]
    wait_for("COMPLETED after the tag changes", lambda: status(a, src, "t", vid) == "COMPLETED", timeout=20)


def test_prefix_filter_selects_keys(a, b, cli, srv_b):
    src, dst, _ = pair(a, b, cli, srv_b, "pfx", prefix="logs/")
    out = a.put_object(Bucket=src, Key="other/b", Body=b"no")["VersionId"]
    also_out = a.put_object(Bucket=src, Key="log", Body=b"no")["VersionId"]
    vid = a.put_object(Bucket=src, Key="logs/a", Body=b"yes")["VersionId"]
    wait_replicated(a, src, "logs/a", vid, b, dst)
    time.sleep(SETTLE)
    for key, v in (("other/b", out), ("log", also_out)):
        h = a.head_object(Bucket=src, Key=key, VersionId=v)
        assert "ReplicationStatus" not in h, (key, h.get("ReplicationStatus"))
        assert head(b, dst, key) is None, key
    assert [o["Key"] for o in b.list_objects_v2(Bucket=dst).get("Contents", [])] == ["logs/a"]


def test_tag_filter_selects_objects(a, b, cli, srv_b):
    src = versioned_bucket(a, "tfs")
    dst = versioned_bucket(b, "tfd")
    arn = add_target(cli, "a", srv_b, dst)["arn"]
    put_replication(a, src, {
        "ID": "tagged", "Priority": 1, "Status": "Enabled",
        "Filter": {"And": {"Prefix": "img/", "Tags": [{"Key": "rep", "Value": "yes"}]}},
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "Destination": {"Bucket": arn},
    })
    untagged = a.put_object(Bucket=src, Key="img/plain", Body=b"no")["VersionId"]
    other = a.put_object(Bucket=src, Key="img/other", Body=b"no", Tagging="rep=no")["VersionId"]
    outside = a.put_object(Bucket=src, Key="doc/tagged", Body=b"no", Tagging="rep=yes")["VersionId"]
    vid = a.put_object(Bucket=src, Key="img/tagged", Body=b"yes", Tagging="rep=yes&x=1")["VersionId"]
    wait_replicated(a, src, "img/tagged", vid, b, dst)
    assert tags(b, dst, "img/tagged", vid) == {"rep": "yes", "x": "1"}
    time.sleep(SETTLE)
    for key, v in (("img/plain", untagged), ("img/other", other), ("doc/tagged", outside)):
        assert status(a, src, key, v) is None, key
        assert head(b, dst, key) is None, key


# --------------------------------------------------------------------------
# 7-9. Outages
# --------------------------------------------------------------------------


def test_destination_down_queues_in_order_and_delivers(a, b, cli, srv_b):
    src, dst, arn = pair(a, b, cli, srv_b, "down")
    assert srv_b.stop() == 0
    try:
        keys = [f"k{i}" for i in range(6)]
        expected = {k: [] for k in keys}
        for i in range(20):
            k = keys[i % len(keys)] if i < 12 else keys[i % 3]  # k0..k2 overwritten most
            vid = a.put_object(Bucket=src, Key=k, Body=f"{k}-{i}".encode() * 50)["VersionId"]
            expected[k].insert(0, vid)
        assert sum(len(v) for v in expected.values()) == 20
        info = cli.json("replicate", "info", "a", arn)
        assert info["queued"] > 0 and info["queued_bytes"] > 0, info
        assert status(a, src, "k0") == "PENDING"
        time.sleep(1.0)  # the worker tries (and fails) meanwhile
        assert status(a, src, "k0") == "PENDING"
        assert queued(cli, arn) > 0
    finally:
        restart(srv_b)
    for k, ids in expected.items():
        wait_for(f"every version of {k} on the destination",
                 lambda k=k, ids=ids: version_ids(b, dst, k) == ids, timeout=45)
    for k, ids in expected.items():
        assert version_ids(a, src, k) == ids
        assert b.head_object(Bucket=dst, Key=k)["VersionId"] == a.head_object(Bucket=src, Key=k)["VersionId"] == ids[0]
        wait_for(f"{k} COMPLETED", lambda k=k: status(a, src, k) == "COMPLETED", timeout=20)
    wait_for("the queue drained", lambda: queued(cli, arn) == 0, timeout=20)


def test_sigkill_of_the_source_with_items_queued_loses_nothing(a, b, cli, srv_a, srv_b):
    src, dst, arn = pair(a, b, cli, srv_b, "kill")
    assert srv_b.stop() == 0
    try:
        expected = {}
        for i in range(15):
            k = f"o{i % 10}"
            data = body(f"kill{i}", SMALL if i % 2 else BIG)
            vid = a.put_object(Bucket=src, Key=k, Body=data)["VersionId"]
            expected.setdefault(k, []).insert(0, (vid, data))
        assert queued(cli, arn) > 0
        srv_a.kill()
        restart(srv_a)
        # Everything acknowledged is still there, still PENDING.
        for k, vs in expected.items():
            assert version_ids(a, src, k) == [v for v, _ in vs], k
        assert status(a, src, "o0") == "PENDING"
        assert queued(cli, arn) > 0
    finally:
        if not srv_a.running():
            restart(srv_a)
        restart(srv_b)
    for k, vs in expected.items():
        wait_for(f"{k} on the destination",
                 lambda k=k, vs=vs: version_ids(b, dst, k) == [v for v, _ in vs], timeout=45)
    for k, vs in expected.items():
        for vid, data in vs:
            assert b.get_object(Bucket=dst, Key=k, VersionId=vid)["Body"].read() == data, (k, vid)
        wait_for(f"{k} COMPLETED", lambda k=k: status(a, src, k) == "COMPLETED", timeout=20)
    wait_for("the queue drained", lambda: queued(cli, arn) == 0, timeout=20)


def test_sigkill_of_the_source_while_replicating_loses_nothing(a, b, cli, srv_a, srv_b):
    """The destination is up and the replicator busy when the source dies: what was
    in flight (sent or not, acknowledged or not) arrives once, after the restart."""
    src, dst, arn = pair(a, b, cli, srv_b, "busy")
    expected = {}
    for i in range(30):
        k = f"b{i % 20}"
        data = body(f"busy{i}", BIG)
        vid = a.put_object(Bucket=src, Key=k, Body=data)["VersionId"]
        expected.setdefault(k, []).insert(0, (vid, data))
    # Killed right after the last acknowledged PUT, while the replicator works on
    # the writes before it.
    srv_a.kill()
    there = sum(len(version_ids(b, dst, k)) for k in expected)
    restart(srv_a)
    for k, vs in expected.items():
        wait_for(f"{k} on the destination",
                 lambda k=k, vs=vs: version_ids(b, dst, k) == [v for v, _ in vs], timeout=45)
        for vid, data in vs:
            assert b.get_object(Bucket=dst, Key=k, VersionId=vid)["Body"].read() == data, (k, vid)
    for k in expected:
        wait_for(f"{k} COMPLETED", lambda k=k: status(a, src, k) == "COMPLETED", timeout=20)
    wait_for("the queue drained", lambda: queued(cli, arn) == 0, timeout=20)
    print(f"{there} of 30 versions were at the destination when the source was killed")


def test_two_way_replication_does_not_loop_and_survives_failover(a, b, cli, srv_a, srv_b):
    bucket_a = versioned_bucket(a, "twa")
    bucket_b = versioned_bucket(b, "twb")
    to_b = add_target(cli, "a", srv_b, bucket_b)["arn"]
    to_a = add_target(cli, "b", srv_a, bucket_a)["arn"]
    put_replication(a, bucket_a, rule(to_b))
    put_replication(b, bucket_b, rule(to_a))

    va = a.put_object(Bucket=bucket_a, Key="from-a", Body=b"written on A")["VersionId"]
    wait_replicated(a, bucket_a, "from-a", va, b, bucket_b)
    vb = b.put_object(Bucket=bucket_b, Key="from-b", Body=b"written on B")["VersionId"]
    wait_replicated(b, bucket_b, "from-b", vb, a, bucket_a)
    time.sleep(2 * SETTLE)
    # One version of each key on each side: replicas were not sent back.
    for c, bk in ((a, bucket_a), (b, bucket_b)):
        assert version_ids(c, bk, "from-a") == [va], (bk, "from-a")
        assert version_ids(c, bk, "from-b") == [vb], (bk, "from-b")
    assert b.head_object(Bucket=bucket_b, Key="from-a")["ReplicationStatus"] == "REPLICA"
    assert a.head_object(Bucket=bucket_a, Key="from-b")["ReplicationStatus"] == "REPLICA"
    assert a.head_object(Bucket=bucket_a, Key="from-a")["ReplicationStatus"] == "COMPLETED"
    assert b.head_object(Bucket=bucket_b, Key="from-b")["ReplicationStatus"] == "COMPLETED"
    assert b.get_object(Bucket=bucket_b, Key="from-a")["Body"].read() == b"written on A"
    assert a.get_object(Bucket=bucket_a, Key="from-b")["Body"].read() == b"written on B"
    # B's queue to A holds nothing of A's (the replica from A was not queued there).
    assert cli.json("replicate", "info", "b", to_a)["queued"] == 0

    # Fail-over: B goes down, clients write to A, B comes back and catches up.
    assert srv_b.stop() == 0
    try:
        written = {f"fo{i}": a.put_object(Bucket=bucket_a, Key=f"fo{i}", Body=f"failover {i}".encode())["VersionId"]
                   for i in range(5)}
        # An overwrite of a key B had replicated to A.
        written["from-b"] = a.put_object(Bucket=bucket_a, Key="from-b", Body=b"new on A")["VersionId"]
        assert queued(cli, to_b) > 0
    finally:
        restart(srv_b)
    for k, vid in written.items():
        wait_replicated(a, bucket_a, k, vid, b, bucket_b, timeout=45)
    time.sleep(SETTLE)
    for k, vid in written.items():
        assert b.head_object(Bucket=bucket_b, Key=k)["VersionId"] == vid, k
    assert b.get_object(Bucket=bucket_b, Key="from-b")["Body"].read() == b"new on A"
    assert version_ids(b, bucket_b, "from-b") == [written["from-b"], vb]
    assert version_ids(a, bucket_a, "from-b") == [written["from-b"], vb]
    for i in range(5):
        assert version_ids(a, bucket_a, f"fo{i}") == [written[f"fo{i}"]]


# --------------------------------------------------------------------------
# 10. Existing objects
# --------------------------------------------------------------------------


def test_resync_replicates_objects_older_than_the_rule(a, b, cli, srv_b):
    src = versioned_bucket(a, "rs")
    dst = versioned_bucket(b, "rsd")
    arn = add_target(cli, "a", srv_b, dst)["arn"]
    old = {}
    for i in range(3):
        old[f"old{i}"] = a.put_object(Bucket=src, Key=f"old{i}", Body=f"old {i}".encode())["VersionId"]
    older = a.put_object(Bucket=src, Key="old0", Body=b"older still")["VersionId"]
    put_replication(a, src, rule(arn))
    new = a.put_object(Bucket=src, Key="new", Body=b"new")["VersionId"]
    wait_replicated(a, src, "new", new, b, dst)
    time.sleep(SETTLE)
    # Without a resync, what was there before the rule stays where it is.
    for k in old:
        assert head(b, dst, k) is None, k
        assert status(a, src, k) is None, k
    job = cli.json("replicate", "resync", "a", src)["job"]
    assert job
    for k, vid in old.items():
        wait_replicated(a, src, k, vid, b, dst)
    wait_replicated(a, src, "old0", older, b, dst)
    assert version_ids(b, dst, "old0") == version_ids(a, src, "old0") == [older, old["old0"]]
    assert b.get_object(Bucket=dst, Key="old1")["Body"].read() == b"old 1"
    info = wait_for("the resync job succeeded",
                    lambda: (j := cli.json("jobs", "info", "a", job))["state"] == "succeeded" and j, timeout=30)
    assert info["kind"] == "replicate-resync", info
    assert any(j["id"] == job for j in cli.json("jobs", "list", "a", "--kind", "replicate-resync")["jobs"])
    assert version_ids(b, dst, "new") == [new]
    # --all sends everything again: the replicas are written again, not doubled.
    again = cli.json("replicate", "resync", "a", src, "--all")["job"]
    wait_for("the --all resync job succeeded",
             lambda: cli.json("jobs", "info", "a", again)["state"] == "succeeded", timeout=30)
    wait_for("the --all resync drained", lambda: cli.json("replicate", "info", "a", arn)["queued"] == 0, timeout=30)
    assert version_ids(b, dst, "old0") == [older, old["old0"]]
    assert version_ids(b, dst, "new") == [new]


def test_existing_object_replication_runs_by_itself(a, b, cli, srv_a, srv_b):
    src = versioned_bucket(a, "eo")
    dst = versioned_bucket(b, "eod")
    arn = add_target(cli, "a", srv_b, dst)["arn"]
    old = {}
    for i in range(3):
        data = body(f"eo{i}", BIG if i == 0 else SMALL)
        old[f"e{i}"] = (a.put_object(Bucket=src, Key=f"e{i}", Body=data)["VersionId"], data)
    put_replication(a, src, rule(arn, existing=True))
    for k, (vid, data) in old.items():
        wait_replicated(a, src, k, vid, b, dst)
        check_replica(a, src, b, dst, k, vid, data)
    # The admin API's own resync (here: nothing left to send, by default).
    admin = AdminClient(srv_a.admin_endpoint, srv_a.access_key, srv_a.secret_key)
    assert arn in {t["arn"] for t in admin.ok("GET", "/v1/replication/targets")["targets"]}
    assert admin.ok("GET", f"/v1/replication/targets/{arn}")["queued"] == 0
    r = admin.request("POST", "/v1/replication/resync", {"bucket": src, "all": False})
    assert r.status_code == 202, (r.status_code, r.text)
    job = r.json()["job"]
    done = wait_for("the admin API's resync job", lambda: (
        j := admin.ok("GET", f"/v1/jobs/{job}"))["state"] == "succeeded" and j, timeout=30)
    assert done["kind"] == "replicate-resync"
    time.sleep(SETTLE)
    for k, (vid, _) in old.items():
        assert version_ids(b, dst, k) == [vid], k


# --------------------------------------------------------------------------
# 11-12. Refusals and metrics
# --------------------------------------------------------------------------


def test_refused_items_fail_into_retry_jobs(a, b, cli, srv_a, srv_b):
    dst = versioned_bucket(b, "badd")
    # The check catches wrong keys; --no-check saves the target anyway.
    cli.fails("replicate", "add", "a", "badcheck", "--endpoint", srv_b.endpoint, "--bucket", dst,
              "--access-key", srv_b.access_key, "--secret-key", "wrong" * 8, code="InvalidRequest")
    arn = add_target(cli, "a", srv_b, dst, "--no-check", secret_key="wrong" * 8)["arn"]
    src = versioned_bucket(a, "bads")
    put_replication(a, src, rule(arn))
    before = {j["id"] for j in cli.json("jobs", "list", "a", "--kind", "replicate-retry")["jobs"]}
    vid = a.put_object(Bucket=src, Key="refused", Body=b"nope")["VersionId"]
    wait_for("FAILED on the source", lambda: status(a, src, "refused", vid) == "FAILED", timeout=30)
    jobs = wait_for("a replicate-retry job", lambda: [
        j for j in cli.json("jobs", "list", "a", "--kind", "replicate-retry")["jobs"] if j["id"] not in before
    ], timeout=20)
    assert len(jobs) == 1, jobs
    assert jobs[0]["kind"] == "replicate-retry"
    assert jobs[0]["state"] in ("queued", "leased", "failed", "dead"), jobs[0]
    # The queue moved on: the refused item does not block the ones behind it.
    wait_for("the queue moved on", lambda: queued(cli, arn) == 0, timeout=20)
    vid2 = a.put_object(Bucket=src, Key="refused2", Body=b"nope")["VersionId"]
    wait_for("the second one FAILED too", lambda: status(a, src, "refused2", vid2) == "FAILED", timeout=30)
    assert head(b, dst, "refused") is None
    assert (metric(scrape(srv_a), "hafiz_replication_failures_total", target=arn) or 0) >= 2


def test_replication_metrics(a, b, cli, srv_a, srv_b):
    src, dst, arn = pair(a, b, cli, srv_b, "met")
    sizes = [SMALL, BIG]
    for i, n in enumerate(sizes):
        vid = a.put_object(Bucket=src, Key=f"m{i}", Body=body(f"m{i}", n))["VersionId"]
        wait_replicated(a, src, f"m{i}", vid, b, dst)
    a.delete_object(Bucket=src, Key="m0")
    wait_for("the marker replicated", lambda: len(marker_ids(b, dst, "m0")) == 1, timeout=30)
    wait_for("the queue gauge at zero", lambda: metric(scrape(srv_a), "hafiz_replication_queued_ops", target=arn) == 0,
             timeout=20)
    s = scrape(srv_a)
    assert metric(s, "hafiz_replication_ops_total", target=arn, op="version") == 2
    assert metric(s, "hafiz_replication_ops_total", target=arn, op="delete-marker") == 1
    assert metric(s, "hafiz_replication_bytes_total", target=arn) >= sum(sizes)
    assert metric(s, "hafiz_replication_queued_bytes", target=arn) == 0
    assert metric(s, "hafiz_replication_lag_seconds", target=arn) is not None
    assert metric(s, "hafiz_replication_failures_total", target=arn) in (None, 0)


# --------------------------------------------------------------------------
# 13. A cluster as the source
# --------------------------------------------------------------------------


def test_replication_from_a_three_node_cluster_survives_leader_sigkill(server_factory, b, srv_b, tmp_path):
    """The replicator runs on the metadata leader and its queues are Raft-replicated:
    with the destination down and items queued, the leader is SIGKILLed, and the new
    leader's replicator delivers every acknowledged version (same ids, same order)."""
    from cluster_util import Cluster

    c = Cluster(server_factory, 3).start()
    killed = None
    try:
        cli = Cli(tmp_path / "cfg")
        for i in (1, 2, 3):
            cli("alias", "set", f"n{i}", c.nodes[i].admin_endpoint, c.access_key, c.secret_key)
        clients = {i: c.client(i) for i in (1, 2, 3)}
        src = versioned_bucket(clients[2], "clrs")
        dst = versioned_bucket(b, "clrd")
        arn = add_target(cli, "n1", srv_b, dst)["arn"]
        put_replication(clients[3], src, rule(arn))

        expected: dict[str, list[tuple[str, bytes]]] = {}
        assert srv_b.stop() == 0
        try:
            for i in range(12):
                node = 1 + i % 3
                k = f"c{i % 8}"  # c0..c3 written twice
                data = body(f"cluster{i}", BIG if i % 3 == 1 else SMALL)
                vid = clients[node].put_object(Bucket=src, Key=k, Body=data)["VersionId"]
                expected.setdefault(k, []).insert(0, (vid, data))
            assert sum(len(v) for v in expected.values()) == 12
            leader = c.wait_leader()
            survivors = [i for i in (1, 2, 3) if i != leader]
            assert cli.json("replicate", "info", f"n{survivors[0]}", arn)["queued"] > 0
            assert status(clients[survivors[0]], src, "c0") == "PENDING"
            killed = leader
            c.kill(leader)
            new_leader = c.wait_leader(timeout=20, exclude=leader)
            assert new_leader in survivors
        finally:
            restart(srv_b)

        s = clients[survivors[0]]
        back_at = time.monotonic()
        try:
            for k, vs in expected.items():
                want = [v for v, _ in vs]
                wait_for(f"every version of {k} on the destination",
                         lambda k=k, want=want: version_ids(b, dst, k) == want, timeout=45)
            for k, vs in expected.items():
                for vid, data in vs:
                    assert b.get_object(Bucket=dst, Key=k, VersionId=vid)["Body"].read() == data, (k, vid)
                    wait_for(f"{k}@{vid} COMPLETED through node {survivors[0]}",
                             lambda k=k, vid=vid: status(s, src, k, vid) == "COMPLETED", timeout=20)
                assert b.head_object(Bucket=dst, Key=k)["ReplicationStatus"] == "REPLICA"
            wait_for("the queue drained",
                     lambda: cli.json("replicate", "info", f"n{survivors[1]}", arn)["queued"] == 0, timeout=20)
            print(f"leader {killed} killed, new leader {new_leader}; "
                  f"delivered {time.monotonic() - back_at:.1f}s after the destination came back")
        except AssertionError as e:
            tails = "\n".join(f"--- node {i} (leader was {killed}) ---\n{n.log_tail(40)}"
                              for i, n in c.nodes.items())
            raise AssertionError(f"{e}\n{tails}") from e

        # The killed node comes back and serves the replicated state too.
        c.restart(killed)
        back = c.client(killed)
        wait_for("COMPLETED through the restarted node",
                 lambda: status(back, src, "c0", expected["c0"][0][0]) == "COMPLETED", timeout=20)
    finally:
        for n in c.nodes.values():
            if n.running():
                try:
                    n.stop(timeout=10)
                except AssertionError:
                    pass
            n.kill()


def test_replication_targets_from_the_config_file(server_factory, b, srv_b, tmp_path):
    """`[[replication_target]]` tables are added at start (as `replicate add` would),
    their secret sealed, and rules can name them at once."""
    dst = versioned_bucket(b, "cfg")
    config = tmp_path / "hafiz.toml"
    config.write_text(
        "[[replication_target]]\n"
        'id = "fromfile"\n'
        f'endpoint = "{srv_b.endpoint}"\n'
        f'bucket = "{dst}"\n'
        f'access_key = "{srv_b.access_key}"\n'
        f'secret_key = "{srv_b.secret_key}"\n'
    )
    node = server_factory.start(extra_args=["--config", str(config)])
    try:
        c = Cli(tmp_path / "cli")
        c.config_dir.mkdir(exist_ok=True)
        c("alias", "set", "f", node.admin_endpoint, node.access_key, node.secret_key)
        arn = f"arn:hafiz:replication::fromfile:{dst}"
        listed = wait_for("the target from the config file",
                          lambda: [t for t in c.json("replicate", "list", "f")["targets"] if t["arn"] == arn],
                          timeout=20)
        assert srv_b.secret_key not in str(listed)
        s = node.client()
        src = versioned_bucket(s, "cfgsrc")
        put_replication(s, src, rule(arn))
        vid = s.put_object(Bucket=src, Key="k", Body=b"from the config file")["VersionId"]
        wait_replicated(s, src, "k", vid, b, dst)
        assert b.get_object(Bucket=dst, Key="k")["Body"].read() == b"from the config file"
    finally:
        node.stop()


def test_encrypted_versions_replicate_as_plaintext_reencrypted_and_sse_c_fails(a, b, cli, srv_b):
    """SSE-S3 and SSE-KMS versions (a multipart one too) are opened at the source and
    encrypted again at the destination with its own keys; an SSE-C version, whose
    key is never kept, is not replicated and is marked FAILED."""
    src, dst, _ = pair(a, b, cli, srv_b, "enc")
    data = body("enc-s3", SMALL)
    r1 = a.put_object(Bucket=src, Key="s3.bin", Body=data, ServerSideEncryption="AES256")
    r2 = a.put_object(Bucket=src, Key="kms.bin", Body=data, ServerSideEncryption="aws:kms")
    mpu = a.create_multipart_upload(Bucket=src, Key="mp.bin", ServerSideEncryption="AES256")
    p1, p2 = body("enc-p1", PART), body("enc-p2", 1000)
    parts = [
        {"ETag": a.upload_part(Bucket=src, Key="mp.bin", UploadId=mpu["UploadId"], PartNumber=n,
                               Body=chunk)["ETag"], "PartNumber": n}
        for n, chunk in ((1, p1), (2, p2))
    ]
    r3 = a.complete_multipart_upload(Bucket=src, Key="mp.bin", UploadId=mpu["UploadId"],
                                     MultipartUpload={"Parts": parts})
    for key, r, want in (("s3.bin", r1, data), ("kms.bin", r2, data), ("mp.bin", r3, p1 + p2)):
        wait_replicated(a, src, key, r["VersionId"], b, dst)
        got = b.get_object(Bucket=dst, Key=key, VersionId=r["VersionId"])
        assert got["Body"].read() == want, key
        assert got.get("ServerSideEncryption") == "AES256", key
    key = bytes(range(32))
    r4 = a.put_object(Bucket=src, Key="c.bin", Body=data, SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    wait_for("the SSE-C version FAILED",
             lambda: a.head_object(Bucket=src, Key="c.bin", VersionId=r4["VersionId"],
                                   SSECustomerAlgorithm="AES256", SSECustomerKey=key
                                   ).get("ReplicationStatus") == "FAILED", timeout=30)
    assert head(b, dst, "c.bin") is None
