"""Tiering end to end: a second Hafiz process is the remote tier. Tiers are added
with `hafiz admin tier`, lifecycle Transition and NoncurrentVersionTransition rules
move data there (lifecycle day of 2 s), GET streams it back transparently, an archive
class answers InvalidObjectState until RestoreObject brings a copy back (with
x-amz-restore, and the copy expires), deleting removes the remote copy, operator age
policies and access-based promotion work on a local tier, and a SIGKILL during
transitions loses nothing and leaves no orphan in the remote bucket."""

from __future__ import annotations

import os

import botocore.exceptions
import pytest

from conftest import error_code, make_client, seeded_body, unique_bucket_name, wait_for
from test_admin_cli import Cli

DAY = 2.0
SIZE = 300 * 1024  # above the inline threshold: objects of 128 KiB or less stay hot
ENV = {"HAFIZ_LIFECYCLE_DAY_SECONDS": str(DAY)}
ARGS = ["--lifecycle-interval", "every 1s"]


def body(seed: str, size: int = SIZE) -> bytes:
    return seeded_body(seed, size)


@pytest.fixture(scope="module")
def remote(server_factory):
    """The remote tier: another Hafiz."""
    return server_factory.start()


@pytest.fixture(scope="module")
def rc(remote):
    c = make_client(remote.endpoint, remote.access_key, remote.secret_key)
    for b in ("cold-tier", "warm-tier"):
        c.create_bucket(Bucket=b)
    return c


@pytest.fixture(scope="module")
def node(server_factory):
    return server_factory.start(env_extra=ENV, extra_args=ARGS)


@pytest.fixture(scope="module")
def s3c(node):
    return make_client(node.endpoint, node.access_key, node.secret_key)


@pytest.fixture(scope="module")
def cli(node, tmp_path_factory):
    c = Cli(tmp_path_factory.mktemp("tier-cli"))
    c("alias", "set", "n", node.admin_endpoint, node.access_key, node.secret_key)
    return c


def add_s3_tier(cli, alias, name, cls, remote, bucket, prefix, *extra):
    return cli.json(
        "tier", "add", alias, name, "--type", "s3", "--storage-class", cls,
        "--endpoint", remote.endpoint, "--bucket", bucket, "--prefix", prefix,
        "--access-key", remote.access_key, "--secret-key", remote.secret_key, *extra,
    )


@pytest.fixture(scope="module")
def tiers(cli, node, remote, rc):
    add_s3_tier(cli, "n", "cold", "GLACIER", remote, "cold-tier", "hafiz")
    add_s3_tier(cli, "n", "warm", "STANDARD_IA", remote, "warm-tier", "hafiz")
    return cli


def remote_keys(rc, bucket, prefix="hafiz/"):
    out = []
    for page in rc.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out += [o["Key"] for o in page.get("Contents", [])]
    return out


def storage_class(s3c, bucket, key, **kw):
    return s3c.head_object(Bucket=bucket, Key=key, **kw).get("StorageClass", "STANDARD")


def put_rules(s3c, bucket, *rules):
    s3c.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": list(rules)}
    )


def transition_rule(rule_id, cls, prefix="", days=1, **more):
    return {
        "ID": rule_id,
        "Status": "Enabled",
        "Filter": {"Prefix": prefix},
        "Transitions": [{"Days": days, "StorageClass": cls}],
        **more,
    }


def test_tier_admin_and_secrets(tiers, node, remote, cli):
    listed = cli.json("tier", "list", "n")["tiers"]
    by_name = {t["name"]: t for t in listed}
    assert by_name["cold"]["storage_class"] == "GLACIER" and by_name["cold"]["archive"] is True
    assert by_name["warm"]["archive"] is False
    assert by_name["warm"]["endpoint"] == remote.endpoint
    table = cli("tier", "list", "n").stdout
    assert "GLACIER" in table and "STANDARD_IA" in table
    # The secret never comes out, and is not stored in the clear.
    for out in (cli("tier", "list", "n", "--json").stdout, cli("tier", "info", "n", "cold").stdout):
        assert remote.secret_key not in out
    secret = remote.secret_key.encode()
    for root, _, files in os.walk(node.data_dir):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                assert secret not in fh.read(), f"the tier secret is in {f} in the clear"
    # Refusals, with their codes: a taken name, a taken class, the hot class, then a
    # bucket that does not exist and wrong keys (checked before the tier is kept).
    for name, cls, bucket, secret, code in [
        ("cold", "OTHER", "cold-tier", remote.secret_key, "TierAlreadyExists"),
        ("dup", "GLACIER", "cold-tier", remote.secret_key, "InvalidRequest"),
        ("hot", "STANDARD", "cold-tier", remote.secret_key, "InvalidRequest"),
        ("nobucket", "NB", "no-such-bucket", remote.secret_key, "InvalidRequest"),
        ("badkey", "BK", "cold-tier", "wrong", "InvalidRequest"),
    ]:
        cli.fails("tier", "add", "n", name, "--type", "s3", "--storage-class", cls,
                  "--endpoint", remote.endpoint, "--bucket", bucket,
                  "--access-key", remote.access_key, "--secret-key", secret, code=code)
    cli.fails("tier", "remove", "n", "nope", code="NoSuchTier")
    assert {t["name"] for t in cli.json("tier", "list", "n")["tiers"]} == {"cold", "warm"}


def test_lifecycle_names_only_configured_classes(tiers, s3c):
    b = unique_bucket_name("tc")
    s3c.create_bucket(Bucket=b)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put_rules(s3c, b, transition_rule("x", "DEEP_ARCHIVE"))
    assert error_code(e) == ("InvalidRequest", 400)
    put_rules(s3c, b, transition_rule("x", "GLACIER"))


def test_transition_keeps_metadata_and_get_is_transparent(tiers, s3c, rc):
    b = unique_bucket_name("tw")
    s3c.create_bucket(Bucket=b)
    data = body("warm")
    put = s3c.put_object(Bucket=b, Key="docs/a.bin", Body=data, Metadata={"owner": "ada"},
                         ContentType="application/x-test", ChecksumAlgorithm="SHA256")
    small = b"tiny" * 10
    s3c.put_object(Bucket=b, Key="docs/small", Body=small)
    before = s3c.head_object(Bucket=b, Key="docs/a.bin", ChecksumMode="ENABLED")
    put_rules(s3c, b, transition_rule("to-ia", "STANDARD_IA", "docs/"))
    wait_for("the transition", lambda: storage_class(s3c, b, "docs/a.bin") == "STANDARD_IA")
    after = s3c.head_object(Bucket=b, Key="docs/a.bin", ChecksumMode="ENABLED")
    for k in ("ETag", "ContentLength", "ContentType", "Metadata", "LastModified", "ChecksumSHA256"):
        assert after.get(k) == before.get(k), k
    assert after["ETag"] == put["ETag"]
    # Bytes in the remote bucket, read back through Hafiz whole and by range.
    copies = remote_keys(rc, "warm-tier")
    assert len(copies) == 1
    assert rc.get_object(Bucket="warm-tier", Key=copies[0])["Body"].read() == data
    assert s3c.get_object(Bucket=b, Key="docs/a.bin")["Body"].read() == data
    r = s3c.get_object(Bucket=b, Key="docs/a.bin", Range="bytes=1000-70999")
    assert r["Body"].read() == data[1000:71000] and r["ContentRange"] == f"bytes 1000-70999/{SIZE}"
    listed = s3c.list_objects_v2(Bucket=b)["Contents"]
    assert {o["Key"]: o["StorageClass"] for o in listed}["docs/a.bin"] == "STANDARD_IA"
    # Small objects are not transitioned (as AWS's 128 KiB minimum).
    assert storage_class(s3c, b, "docs/small") == "STANDARD"
    # A copy of a tiered object is a hot object with the same bytes.
    s3c.copy_object(Bucket=b, Key="copy.bin", CopySource={"Bucket": b, "Key": "docs/a.bin"})
    assert s3c.get_object(Bucket=b, Key="copy.bin")["Body"].read() == data
    assert storage_class(s3c, b, "copy.bin") == "STANDARD"


def test_noncurrent_transition(tiers, s3c, rc):
    b = unique_bucket_name("tn")
    s3c.create_bucket(Bucket=b)
    s3c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    old = s3c.put_object(Bucket=b, Key="k", Body=body("old"))["VersionId"]
    new = s3c.put_object(Bucket=b, Key="k", Body=body("new"))["VersionId"]
    put_rules(s3c, b, {
        "ID": "nc", "Status": "Enabled", "Filter": {},
        "NoncurrentVersionTransitions": [{"NoncurrentDays": 1, "StorageClass": "STANDARD_IA"}],
    })
    wait_for("the noncurrent version moved",
             lambda: storage_class(s3c, b, "k", VersionId=old) == "STANDARD_IA")
    assert storage_class(s3c, b, "k", VersionId=new) == "STANDARD"
    got = s3c.get_object(Bucket=b, Key="k", VersionId=old)
    assert got["VersionId"] == old and got["Body"].read() == body("old")


def test_archive_needs_restore_and_the_copy_expires(tiers, s3c):
    b = unique_bucket_name("ta")
    s3c.create_bucket(Bucket=b)
    data = body("cold")
    s3c.put_object(Bucket=b, Key="arch", Body=data)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3c.restore_object(Bucket=b, Key="arch", RestoreRequest={"Days": 1})
    assert error_code(e) == ("InvalidObjectState", 403), "a hot object cannot be restored"
    put_rules(s3c, b, transition_rule("to-glacier", "GLACIER"))
    wait_for("the archive transition", lambda: storage_class(s3c, b, "arch") == "GLACIER")
    head = s3c.head_object(Bucket=b, Key="arch")
    assert head["ContentLength"] == SIZE and "Restore" not in head
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3c.get_object(Bucket=b, Key="arch")
    assert error_code(e) == ("InvalidObjectState", 403)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3c.copy_object(Bucket=b, Key="c", CopySource={"Bucket": b, "Key": "arch"})
    assert error_code(e)[0] == "InvalidObjectState"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3c.restore_object(Bucket=b, Key="arch", RestoreRequest={"Days": 0})
    assert error_code(e)[1] == 400
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3c.restore_object(Bucket=b, Key="arch", RestoreRequest={"Days": 1, "Type": "SELECT"})
    assert error_code(e) == ("InvalidArgument", 400), "SELECT restores are refused"
    r = s3c.restore_object(Bucket=b, Key="arch", RestoreRequest={
        "Days": 2, "GlacierJobParameters": {"Tier": "Standard"}})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 202
    # Asked again: in progress (409) or, once the copy is there, extended (200).
    try:
        again = s3c.restore_object(Bucket=b, Key="arch", RestoreRequest={"Days": 2})
        assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "RestoreAlreadyInProgress"
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    restored = wait_for("the restored copy", lambda: (
        h := s3c.head_object(Bucket=b, Key="arch")).get("Restore", "").startswith('ongoing-request="false"') and h)
    assert "expiry-date=" in restored["Restore"] and restored["StorageClass"] == "GLACIER"
    assert s3c.get_object(Bucket=b, Key="arch")["Body"].read() == data
    # Two 2-second days later the copy is gone and reads are refused again.
    wait_for("the restored copy to expire",
             lambda: "Restore" not in s3c.head_object(Bucket=b, Key="arch"), timeout=30)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3c.get_object(Bucket=b, Key="arch")
    assert error_code(e) == ("InvalidObjectState", 403)


def test_put_naming_an_archive_class_is_archived(tiers, s3c):
    b = unique_bucket_name("tg")
    s3c.create_bucket(Bucket=b)
    data = body("direct")
    s3c.put_object(Bucket=b, Key="direct", Body=data, StorageClass="GLACIER")
    assert storage_class(s3c, b, "direct") == "GLACIER"

    def archived():
        try:
            s3c.get_object(Bucket=b, Key="direct")["Body"].read()
            return False
        except botocore.exceptions.ClientError as e:
            return e.response["Error"]["Code"] == "InvalidObjectState"

    # No bucket rule: the next scan moves it to the tier of its class.
    wait_for("the PUT's class honoured", archived, timeout=30)
    s3c.restore_object(Bucket=b, Key="direct", RestoreRequest={"Days": 1})
    wait_for("the restore", lambda: s3c.head_object(Bucket=b, Key="direct").get("Restore", "")
             .startswith('ongoing-request="false"'))
    assert s3c.get_object(Bucket=b, Key="direct")["Body"].read() == data


def test_delete_removes_the_remote_copy(tiers, s3c, rc, cli):
    b = unique_bucket_name("td")
    s3c.create_bucket(Bucket=b)
    start = set(remote_keys(rc, "cold-tier"))
    for i in range(3):
        s3c.put_object(Bucket=b, Key=f"d{i}", Body=body(f"d{i}"))
    put_rules(s3c, b, transition_rule("to-glacier", "GLACIER"))
    for i in range(3):
        wait_for("transitions", lambda i=i: storage_class(s3c, b, f"d{i}") == "GLACIER")
    mine = set(remote_keys(rc, "cold-tier")) - start
    assert len(mine) == 3
    held = {t["name"]: t for t in cli.json("tier", "list", "n")["tiers"]}["cold"]["objects"]
    s3c.delete_object(Bucket=b, Key="d0")
    s3c.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "d1"}]})
    wait_for("the remote copies deleted (by jobs)",
             lambda: len(set(remote_keys(rc, "cold-tier")) & mine) == 1, timeout=40)
    now = {t["name"]: t for t in cli.json("tier", "list", "n")["tiers"]}["cold"]["objects"]
    assert now == held - 2
    jobs = cli.json("jobs", "list", "n", "--kind", "tier-delete")["jobs"]
    assert sum(j["state"] == "succeeded" for j in jobs) >= 2
    # A tier that holds copies cannot be removed.
    cli.fails("tier", "remove", "n", "cold", code="TierInUse")


def test_age_policy_and_promotion_on_a_local_tier(server_factory, tmp_path):
    node = server_factory.start(env_extra=ENV, extra_args=ARGS)
    c = make_client(node.endpoint, node.access_key, node.secret_key)
    cli = Cli(tmp_path / "cfg")
    cli("alias", "set", "p", node.admin_endpoint, node.access_key, node.secret_key)
    drives = [tmp_path / "hdd1", tmp_path / "hdd2"]
    for d in drives:
        d.mkdir()
    cli("tier", "add", "p", "hdd", "--type", "local", "--storage-class", "WARM_HDD",
        "--drive", str(drives[0]), "--drive", str(drives[1]),
        "--after-days", "2", "--promote-reads", "3")
    b = unique_bucket_name("tp")
    c.create_bucket(Bucket=b)
    data = body("policy")
    c.put_object(Bucket=b, Key="aging", Body=data)
    # No bucket rule: the operator's age policy moves it after two days.
    wait_for("the age policy", lambda: storage_class(c, b, "aging") == "WARM_HDD", timeout=30)
    assert any(f.is_file() for d in drives for f in d.rglob("*")), "data on the tier's drives"
    # Read three times within a day: promoted back to the hot drives.
    for _ in range(3):
        assert c.get_object(Bucket=b, Key="aging")["Body"].read() == data
    wait_for("the promotion", lambda: storage_class(c, b, "aging") == "STANDARD", every=0.1, timeout=20)
    assert c.get_object(Bucket=b, Key="aging")["Body"].read() == data
    jobs = cli.json("jobs", "list", "p", "--kind", "tier-promote")["jobs"]
    assert any(j["state"] == "succeeded" for j in jobs)


def test_sigkill_during_transitions_loses_nothing_and_leaves_no_orphan(server_factory, remote, rc, tmp_path):
    rc.create_bucket(Bucket="crash-tier")
    node = server_factory.start(env_extra=ENV, extra_args=ARGS)
    c = make_client(node.endpoint, node.access_key, node.secret_key)
    cli = Cli(tmp_path / "cfg")
    cli("alias", "set", "k", node.admin_endpoint, node.access_key, node.secret_key)
    add_s3_tier(cli, "k", "crash", "STANDARD_IA", remote, "crash-tier", "hafiz")
    b = unique_bucket_name("tk")
    c.create_bucket(Bucket=b)
    n = 24
    blobs = {f"o{i:02d}": body(f"k{i}", 2 * 1024 * 1024 + i) for i in range(n)}
    for k, v in blobs.items():
        c.put_object(Bucket=b, Key=k, Body=v)
    put_rules(c, b, transition_rule("all", "STANDARD_IA"))
    # Kill it once the first transitions landed, with the rest in flight.
    wait_for("a first transition", lambda: any(
        storage_class(c, b, k) == "STANDARD_IA" for k in blobs), every=0.05)
    node.kill()
    node = server_factory.start(node.data_dir, access_key=node.access_key,
                                secret_key=node.secret_key, env_extra=ENV, extra_args=ARGS)
    c = make_client(node.endpoint, node.access_key, node.secret_key)
    wait_for("every transition after the restart", lambda: all(
        storage_class(c, b, k) == "STANDARD_IA" for k in blobs), timeout=90)
    for k, v in blobs.items():
        assert c.get_object(Bucket=b, Key=k)["Body"].read() == v, k
    # One copy per object in the remote bucket: a transition cut short was run again
    # under the same name, not beside it.
    assert len(remote_keys(rc, "crash-tier")) == n


def test_tiering_on_a_three_node_cluster(server_factory, remote, rc, tmp_path):
    """Tiers are cluster metadata: added through one node, used by the jobs of any
    node, read through every node; a local tier is refused on a cluster."""
    from cluster_util import Cluster

    rc.create_bucket(Bucket="cluster-tier")
    c = Cluster(server_factory, 3, env=ENV, args=ARGS).start()
    try:
        cli = Cli(tmp_path / "cfg")
        for i in (1, 2):
            cli("alias", "set", f"n{i}", c.nodes[i].admin_endpoint, c.access_key, c.secret_key)
        add_s3_tier(cli, "n1", "shared", "STANDARD_IA", remote, "cluster-tier", "hafiz")
        assert [t["name"] for t in cli.json("tier", "list", "n2")["tiers"]] == ["shared"]
        drive = tmp_path / "local"
        drive.mkdir()
        cli.fails("tier", "add", "n2", "local", "--type", "local", "--storage-class", "LOCAL_HDD",
                  "--drive", str(drive), code="InvalidRequest")
        s1, s3n = c.client(1), c.client(3)
        b = unique_bucket_name("tcl")
        s1.create_bucket(Bucket=b)
        data = body("cluster")
        s1.put_object(Bucket=b, Key="k", Body=data)
        put_rules(s1, b, transition_rule("all", "STANDARD_IA"))
        wait_for("the transition on the cluster",
                 lambda: storage_class(c.client(2), b, "k") == "STANDARD_IA")
        assert len(remote_keys(rc, "cluster-tier")) == 1
        for i in (1, 2, 3):
            assert c.client(i).get_object(Bucket=b, Key="k")["Body"].read() == data, i
        s3n.delete_object(Bucket=b, Key="k")
        wait_for("the remote copy deleted", lambda: not remote_keys(rc, "cluster-tier"), timeout=40)
    finally:
        for s in c.nodes.values():
            s.kill()
