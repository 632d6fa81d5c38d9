"""Bucket notifications delivered end to end: targets added with `hafiz admin
notify`, bucket rules set with boto3, events in AWS's S3 event JSON at a webhook
(signed) and at real Redis, NATS, Mosquitto, RabbitMQ and Kafka (Tansu) brokers and a
PostgreSQL server on loopback;
filters (prefix, suffix, glob), chains, order per key while a target is down,
dead letters for refused events, and a SIGKILL with events queued: every one is
delivered after the restart."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import subprocess
import threading
import time

import botocore.exceptions
import pytest

import brokers
from conftest import make_client, unique_bucket_name, wait_for
from test_admin_cli import Cli

HMAC_KEY = "s3cret-hmac"


@pytest.fixture(scope="module")
def node(server_factory):
    return server_factory.start()


@pytest.fixture(scope="module")
def s3c(node):
    return make_client(node.endpoint, node.access_key, node.secret_key)


@pytest.fixture(scope="module")
def cli(node, tmp_path_factory):
    c = Cli(tmp_path_factory.mktemp("notify-cli"))
    c("alias", "set", "n", node.admin_endpoint, node.access_key, node.secret_key)
    return c


@pytest.fixture(scope="module")
def hook():
    h = brokers.Webhook()
    yield h
    h.close()


@pytest.fixture(scope="module")
def hook_arn(cli, hook):
    t = cli.json("notify", "add", "n", "main", "--kind", "webhook", "--endpoint", hook.url,
                 "--hmac-secret", HMAC_KEY)
    assert t["arn"] == "arn:hafiz:sqs::main:webhook"
    assert t["has_hmac_secret"] is True and HMAC_KEY not in json.dumps(t)
    return t["arn"]


def configure(s3c, bucket, arn, events=("s3:ObjectCreated:*", "s3:ObjectRemoved:*"), rules=(), id_="r1"):
    cfg = {"Id": id_, "QueueArn": arn, "Events": list(events)}
    if rules:
        cfg["Filter"] = {"Key": {"FilterRules": [{"Name": n, "Value": v} for n, v in rules]}}
    s3c.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [cfg]})


def new_bucket(s3c, versioned=False):
    name = unique_bucket_name("ev")
    s3c.create_bucket(Bucket=name)
    if versioned:
        s3c.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def test_webhook_events_in_aws_shape(s3c, hook, hook_arn):
    b = new_bucket(s3c, versioned=True)
    configure(s3c, b, hook_arn, events=("s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:ObjectTagging:*"),
              rules=[("prefix", "in/")])
    put = s3c.put_object(Bucket=b, Key="in/a b+1.txt", Body=b"hello")
    s3c.put_object(Bucket=b, Key="out/skipped.txt", Body=b"x")
    s3c.copy_object(Bucket=b, Key="in/copy.txt", CopySource={"Bucket": b, "Key": "in/a b+1.txt"})
    mpu = s3c.create_multipart_upload(Bucket=b, Key="in/big.bin")
    part = s3c.upload_part(Bucket=b, Key="in/big.bin", UploadId=mpu["UploadId"], PartNumber=1, Body=b"p" * 1024)
    s3c.complete_multipart_upload(Bucket=b, Key="in/big.bin", UploadId=mpu["UploadId"],
                                  MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
    s3c.put_object_tagging(Bucket=b, Key="in/copy.txt", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    s3c.delete_object(Bucket=b, Key="in/copy.txt")
    s3c.delete_object(Bucket=b, Key="in/big.bin", VersionId=s3c.head_object(Bucket=b, Key="in/big.bin")["VersionId"])

    want = ["ObjectCreated:Put", "ObjectCreated:Copy", "ObjectCreated:CompleteMultipartUpload",
            "ObjectTagging:Put", "ObjectRemoved:DeleteMarkerCreated", "ObjectRemoved:Delete"]
    mine = lambda: [r for r in hook.records() if r["s3"]["bucket"]["name"] == b]  # noqa: E731
    wait_for("six events", lambda: len(mine()) >= len(want), timeout=30)
    time.sleep(0.5)
    arrived = mine()
    # Order holds per key (different keys are delivered concurrently); the sequencer
    # gives the commit order across keys, as on AWS.
    seq = lambda r: int(r["s3"]["object"]["sequencer"], 16)  # noqa: E731
    for key in {r["s3"]["object"]["key"] for r in arrived}:
        per_key = [seq(r) for r in arrived if r["s3"]["object"]["key"] == key]
        assert per_key == sorted(per_key), f"the events of {key} in commit order"
    recs = sorted(arrived, key=seq)
    assert [r["eventName"] for r in recs] == want
    assert all(r["s3"]["object"]["key"].startswith("in/") for r in recs), "the prefix filter selects"
    first = recs[0]
    assert first["eventVersion"] == "2.1" and first["eventSource"] == "aws:s3"
    assert first["awsRegion"] == "us-east-1"
    assert first["s3"]["object"]["key"] == "in/a+b%2B1.txt"
    assert first["s3"]["object"]["size"] == 5
    assert first["s3"]["object"]["eTag"] == put["ETag"].strip('"')
    assert first["s3"]["object"]["versionId"] == put["VersionId"]
    assert first["s3"]["configurationId"] == "r1"
    assert first["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{b}"
    assert first["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
    assert first["responseElements"]["x-amz-request-id"] == put["ResponseMetadata"]["RequestId"]
    seqs = [int(r["s3"]["object"]["sequencer"], 16) for r in recs]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # Signed: the receiver can check each body against the shared key.
    for headers, _, body in [x for x in hook.received if b.encode() in x[2]]:
        sig = {k.lower(): v for k, v in headers.items()}["x-hafiz-signature"]
        assert sig == "sha256=" + hmac.new(HMAC_KEY.encode(), body, hashlib.sha256).hexdigest()


def test_glob_filter_and_unknown_targets(s3c, hook, hook_arn):
    b = new_bucket(s3c)
    configure(s3c, b, hook_arn, events=("s3:ObjectCreated:Put",), rules=[("glob", "uploads/**/*.csv")])
    for k in ("uploads/2026/12/a.csv", "uploads/a.csv.gz", "uploads/x/y/z/b.csv", "other/c.csv"):
        s3c.put_object(Bucket=b, Key=k, Body=b"1,2\n")
    wait_for("glob events", lambda: len(hook.keys(b)) >= 2, timeout=30)
    time.sleep(0.5)
    assert sorted(hook.keys(b)) == ["uploads/2026/12/a.csv", "uploads/x/y/z/b.csv"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        configure(s3c, b, "arn:hafiz:sqs::nope:webhook")
    assert e.value.response["Error"]["Code"] == "InvalidArgument"


def test_target_admin(cli, hook, hook_arn, s3c):
    listed = cli.json("notify", "list", "n")["targets"]
    assert [t["arn"] for t in listed] == [hook_arn]
    assert cli.json("notify", "info", "n", hook_arn)["kind"] == "webhook"
    cli.fails("notify", "add", "n", "main", "--kind", "webhook", "--endpoint", hook.url, code="TargetAlreadyExists")
    err = cli.fails("notify", "add", "n", "bad", "--kind", "redis", "--endpoint", "redis://127.0.0.1:1")
    assert "destination" in err
    err = cli.fails("notify", "add", "n", "down", "--kind", "webhook", "--endpoint", "http://127.0.0.1:1/x")
    assert "unreachable" in err
    # A target a bucket sends to cannot go.
    cli.fails("notify", "remove", "n", hook_arn, code="TargetInUse")
    cli("notify", "add", "n", "spare", "--kind", "webhook", "--endpoint", "http://127.0.0.1:1/x", "--no-check")
    cli("notify", "remove", "n", "arn:hafiz:sqs::spare:webhook")
    assert "spare" not in cli("notify", "list", "n").stdout


def test_order_per_key_while_the_target_is_down(s3c, cli, hook):
    down = threading.Event()
    down.set()
    hook2 = brokers.Webhook()
    hook2.status = lambda ev: 503 if down.is_set() else 200
    arn = cli.json("notify", "add", "n", "flaky", "--kind", "webhook", "--endpoint", hook2.url)["arn"]
    b = new_bucket(s3c, versioned=True)
    configure(s3c, b, arn)
    written = []
    for i in range(20):
        key = f"k{i % 3}"
        v = s3c.put_object(Bucket=b, Key=key, Body=f"{i}".encode())["VersionId"]
        written.append((key, v))
    wait_for("queued while down", lambda: cli.json("notify", "info", "n", arn)["queued"] == 20, timeout=20)
    time.sleep(2)
    assert hook2.records() == []
    down.clear()
    wait_for("all delivered after the target came back", lambda: len(hook2.records()) >= 20, timeout=60)
    got = [(r["s3"]["object"]["key"], r["s3"]["object"]["versionId"]) for r in hook2.records()]
    assert sorted(set(got)) == sorted(written), "every event, none invented"
    for key in ("k0", "k1", "k2"):
        assert [v for k, v in got if k == key][: len([1 for k, _ in written if k == key])] == \
            [v for k, v in written if k == key], f"order of {key}"
    wait_for("queue empty", lambda: cli.json("notify", "info", "n", arn)["queued"] == 0, timeout=20)
    hook2.close()


def test_refused_event_is_dead_lettered_and_others_pass(s3c, cli):
    refuse = {"on": True}
    hook3 = brokers.Webhook()
    hook3.status = lambda ev: 400 if refuse["on"] and ev["Records"][0]["s3"]["object"]["key"] == "poison" else 200
    arn = cli.json("notify", "add", "n", "picky", "--kind", "webhook", "--endpoint", hook3.url)["arn"]
    b = new_bucket(s3c)
    configure(s3c, b, arn)
    for k in ("before", "poison", "after"):
        s3c.put_object(Bucket=b, Key=k, Body=b"x")
    # Sent once each (the other keys' events are not sent again around the refusal).
    wait_for("the events behind the refused one", lambda: sorted(hook3.keys(b)) == ["after", "before"], timeout=30)
    jobs = lambda: cli.json("jobs", "list", "n", "--kind", "notify-redeliver")["jobs"]  # noqa: E731
    wait_for("a redelivery job", lambda: len(jobs()) == 1, timeout=10)
    refuse["on"] = False
    wait_for("redelivered", lambda: "poison" in hook3.keys(b), timeout=60)
    wait_for("job succeeded", lambda: jobs()[0]["state"] == "succeeded", timeout=20)
    hook3.close()


def test_chain_routes_by_key(s3c, cli):
    images, rest = brokers.Webhook(), brokers.Webhook()
    a = cli.json("notify", "add", "n", "images", "--kind", "webhook", "--endpoint", images.url)["arn"]
    r = cli.json("notify", "add", "n", "rest", "--kind", "webhook", "--endpoint", rest.url)["arn"]
    routes = [{"target": a, "key": "**/*.jpg"}, {"target": r, "events": ["s3:ObjectCreated:*"], "key": "docs/**"}]
    chain = cli.json("notify", "add", "n", "fan", "--kind", "chain", "--routes", json.dumps(routes))["arn"]
    assert chain == "arn:hafiz:sqs::fan:chain"
    b = new_bucket(s3c)
    configure(s3c, b, chain)
    for k in ("pics/cat.jpg", "docs/readme.md", "docs/logo.jpg", "misc/none.txt"):
        s3c.put_object(Bucket=b, Key=k, Body=b"x")
    wait_for("routed", lambda: len(images.keys(b)) >= 2 and len(rest.keys(b)) >= 2, timeout=30)
    time.sleep(0.5)
    assert sorted(images.keys(b)) == ["docs/logo.jpg", "pics/cat.jpg"]
    assert sorted(rest.keys(b)) == ["docs/logo.jpg", "docs/readme.md"]
    cli.fails("notify", "remove", "n", a, code="TargetInUse")
    images.close()
    rest.close()


def test_sigkill_with_events_queued_delivers_all_after_restart(server_factory):
    node = server_factory.start()
    c = Cli(node.data_dir.parent / f"cli-{node.port}")
    c.config_dir.mkdir(exist_ok=True)
    c("alias", "set", "k", node.admin_endpoint, node.access_key, node.secret_key)
    down = threading.Event()
    down.set()
    hook4 = brokers.Webhook()
    hook4.status = lambda ev: 503 if down.is_set() else 200
    arn = c.json("notify", "add", "k", "crash", "--kind", "webhook", "--endpoint", hook4.url)["arn"]
    s3 = make_client(node.endpoint, node.access_key, node.secret_key)
    b = new_bucket(s3)
    configure(s3, b, arn)
    keys = [f"obj-{i:03d}" for i in range(150)]
    stop = threading.Event()

    def writer(part):
        for k in part:
            s3.put_object(Bucket=b, Key=k, Body=k.encode())

    threads = [threading.Thread(target=writer, args=(keys[i::3],)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    node.kill()  # SIGKILL with all 150 events queued, none delivered
    assert hook4.records() == []
    down.clear()
    node.start()
    node.wait_ready()
    wait_for("every acknowledged write's event", lambda: set(hook4.keys(b)) >= set(keys), timeout=90)
    assert set(hook4.keys(b)) == set(keys)
    hook4.close()


# --- real brokers --------------------------------------------------------------------


def put_three(s3c, arn):
    b = new_bucket(s3c)
    configure(s3c, b, arn)
    for k in ("one", "two", "three"):
        s3c.put_object(Bucket=b, Key=k, Body=k.encode())
    return b


def keys_of(messages):
    return [json.loads(m)["Records"][0]["s3"]["object"]["key"] for m in messages]


def test_redis_stream_and_list(s3c, cli, tmp_path):
    broker = brokers.redis(tmp_path)
    try:
        url = f"redis://127.0.0.1:{broker.port}"
        stream = cli.json("notify", "add", "n", "rs", "--kind", "redis", "--endpoint", url,
                          "--destination", "hafiz-events")["arn"]
        lst = cli.json("notify", "add", "n", "rl", "--kind", "redis", "--endpoint", url,
                       "--destination", "hafiz-list", "--format", "list")["arn"]
        put_three(s3c, stream)
        put_three(s3c, lst)
        cli_ = lambda *a: subprocess.run(["redis-cli", "-p", str(broker.port), "--no-raw", *a],  # noqa: E731
                                         capture_output=True, text=True, check=True).stdout
        import redis as redis_client
        r = redis_client.Redis(port=broker.port)
        wait_for("stream entries", lambda: r.xlen("hafiz-events") >= 3, timeout=30)
        wait_for("list entries", lambda: r.llen("hafiz-list") >= 3, timeout=30)
        assert keys_of([e[1][b"event"] for e in r.xrange("hafiz-events")]) == ["one", "two", "three"]
        assert keys_of(r.lrange("hafiz-list", 0, -1)) == ["one", "two", "three"]
        assert cli_("ping").strip().strip('"') == "PONG"
    finally:
        broker.stop()


def test_nats(s3c, cli, tmp_path):
    broker = brokers.nats(tmp_path)
    try:
        import nats as nats_client

        got: list[bytes] = []

        async def consume():
            nc = await nats_client.connect(f"nats://127.0.0.1:{broker.port}")
            sub = await nc.subscribe("hafiz.events")
            ready.set()
            while len(got) < 3:
                msg = await sub.next_msg(timeout=30)
                got.append(msg.data)
            await nc.close()

        ready = threading.Event()
        t = threading.Thread(target=lambda: asyncio.run(consume()))
        t.start()
        assert ready.wait(20)
        arn = cli.json("notify", "add", "n", "nt", "--kind", "nats", "--endpoint",
                       f"nats://127.0.0.1:{broker.port}", "--destination", "hafiz.events")["arn"]
        put_three(s3c, arn)
        t.join(40)
        assert keys_of(got) == ["one", "two", "three"]
    finally:
        broker.stop()


def test_mqtt(s3c, cli, tmp_path):
    broker = brokers.mosquitto(tmp_path)
    try:
        sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "hafiz/events",
                                "-q", "1", "-C", "3", "-W", "60"], stdout=subprocess.PIPE, text=True)
        time.sleep(1)
        arn = cli.json("notify", "add", "n", "mq", "--kind", "mqtt", "--endpoint",
                       f"mqtt://127.0.0.1:{broker.port}", "--destination", "hafiz/events")["arn"]
        put_three(s3c, arn)
        out, _ = sub.communicate(timeout=70)
        assert keys_of(out.splitlines()) == ["one", "two", "three"]
    finally:
        broker.stop()


def test_amqp_rabbitmq(s3c, cli, tmp_path):
    broker = brokers.rabbitmq(tmp_path)
    try:
        import pika

        params = pika.ConnectionParameters(host="127.0.0.1", port=broker.port)
        wait_for("rabbitmq accepting AMQP", lambda: _amqp_ok(pika, params), timeout=90)
        conn = pika.BlockingConnection(params)
        ch = conn.channel()
        ch.queue_declare(queue="hafiz-events", durable=True)
        arn = cli.json("notify", "add", "n", "rq", "--kind", "amqp", "--endpoint",
                       f"amqp://127.0.0.1:{broker.port}/", "--routing-key", "hafiz-events")["arn"]
        put_three(s3c, arn)
        got = []

        def one():
            m = ch.basic_get("hafiz-events", auto_ack=True)
            if m[0] is not None:
                got.append(m[2])
            return len(got) >= 3

        wait_for("amqp messages", one, timeout=30)
        assert keys_of(got) == ["one", "two", "three"]
        conn.close()
    finally:
        broker.stop()


def _amqp_ok(pika, params) -> bool:
    try:
        pika.BlockingConnection(params).close()
        return True
    except Exception:
        return False


def kafka_partition(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (the Java producer's, as kafka-python has it)."""
    from kafka.partitioner.default import murmur2

    return (murmur2(key) & 0x7FFFFFFF) % partitions


# kafka-python loads its protocol schemas with importlib.resources' old API.
kafka_warnings = pytest.mark.filterwarnings("ignore:.*is deprecated. Use files:DeprecationWarning")


@kafka_warnings
def test_kafka_partition_per_key_in_commit_order(s3c, cli, tmp_path):
    broker = brokers.kafka(tmp_path)
    try:
        broker.create_topic("hafiz-events", partitions=3)
        arn = cli.json("notify", "add", "n", "kf", "--kind", "kafka", "--endpoint", broker.endpoint,
                       "--destination", "hafiz-events")["arn"]
        assert arn == "arn:hafiz:sqs::kf:kafka"
        b = new_bucket(s3c, versioned=True)
        configure(s3c, b, arn)
        written = []  # (key, version id, event name) in commit order
        for i in range(18):
            key = ["k0", "k1", "k2", "dir/a b.txt", "k4", "k5"][i % 6] if i < 12 else "k0"
            v = s3c.put_object(Bucket=b, Key=key, Body=f"{i}".encode())["VersionId"]
            written.append((key, v, "ObjectCreated:Put"))
        marker = s3c.delete_object(Bucket=b, Key="k1")["VersionId"]
        written.append(("k1", marker, "ObjectRemoved:DeleteMarkerCreated"))

        msgs = broker.consume("hafiz-events", len(written), timeout=30)
        assert len(msgs) == len(written), f"{len(msgs)} of {len(written)} events"
        got = []
        for m in msgs:
            event = json.loads(m.value)
            assert len(event["Records"]) == 1
            r = event["Records"][0]
            assert r["eventVersion"] == "2.1" and r["eventSource"] == "aws:s3"
            assert r["s3"]["bucket"]["name"] == b
            assert r["s3"]["configurationId"] == "r1"
            # The record key is the object's (bucket/key, not URL encoded); its
            # partition is the one Kafka's own producers would choose.
            key = m.key.decode()
            assert key.startswith(f"{b}/")
            assert m.partition == kafka_partition(m.key, 3), key
            obj = key[len(b) + 1:]
            assert r["s3"]["object"]["key"] == obj.replace(" ", "+")
            got.append((m.partition, m.offset, obj, r["s3"]["object"]["versionId"], r["eventName"]))
        assert sorted(g[2:] for g in got) == sorted(written), "every event, none invented"
        assert len({g[0] for g in got}) > 1, "the keys spread over the partitions"
        for key in {k for k, _, _ in written}:
            mine = sorted(g for g in got if g[2] == key)  # by partition, then offset
            assert len({g[0] for g in mine}) == 1, f"{key}: one partition"
            assert [(g[3], g[4]) for g in mine] == [(v, e) for k, v, e in written if k == key], \
                f"{key}: commit order"
        wait_for("queue empty", lambda: cli.json("notify", "info", "n", arn)["queued"] == 0, timeout=20)

        # The check reads the topic's partitions: a topic that is not there is refused
        # (a target saved anyway waits for it).
        err = cli.fails("notify", "add", "n", "kf-none", "--kind", "kafka", "--endpoint", broker.endpoint,
                        "--destination", "no-such-topic")
        assert "kafka topic no-such-topic does not exist" in err, err
        cli("notify", "add", "n", "kf-none", "--kind", "kafka", "--endpoint", broker.endpoint,
            "--destination", "no-such-topic", "--no-check")
        cli("notify", "remove", "n", "arn:hafiz:sqs::kf-none:kafka")
        err = cli.fails("notify", "add", "n", "kf-auth", "--kind", "kafka", "--endpoint", broker.endpoint,
                        "--destination", "hafiz-events", "--username", "u", "--password", "p")
        assert "SASL" in err, err
    finally:
        broker.stop()


@kafka_warnings
def test_kafka_broker_down_then_started(s3c, cli, tmp_path):
    broker = brokers.kafka(tmp_path, start=False)
    try:
        err = cli.fails("notify", "add", "n", "kf-late", "--kind", "kafka", "--endpoint", broker.endpoint,
                        "--destination", "late", "--timeout-ms", "1000")
        assert "unreachable" in err, err
        arn = cli.json("notify", "add", "n", "kf-late", "--kind", "kafka", "--endpoint", broker.endpoint,
                       "--destination", "late", "--timeout-ms", "1000", "--no-check")["arn"]
        b = new_bucket(s3c)
        configure(s3c, b, arn)
        keys = [f"late-{i}" for i in range(6)]
        for k in keys:
            s3c.put_object(Bucket=b, Key=k, Body=k.encode())
        wait_for("queued while down", lambda: cli.json("notify", "info", "n", arn)["queued"] == len(keys),
                 timeout=20)
        # Started empty (memory storage): the topic comes a moment later, and the
        # target waits for it too.
        broker.start()
        time.sleep(0.5)
        broker.create_topic("late", partitions=3)
        msgs = broker.consume("late", len(keys), timeout=30)
        assert sorted(m.key.decode() for m in msgs) == sorted(f"{b}/{k}" for k in keys)
        assert sorted(keys_of([m.value for m in msgs])) == sorted(keys)
        wait_for("queue empty", lambda: cli.json("notify", "info", "n", arn)["queued"] == 0, timeout=20)
    finally:
        broker.stop()


# --- PostgreSQL ----------------------------------------------------------------------


def pg_add(cli, pg, id_, table, *extra):
    return cli.json("notify", "add", "n", id_, "--kind", "postgres", "--endpoint", pg.endpoint,
                    "--destination", table, "--username", pg.user, "--password", pg.password, *extra)


def redelivery_jobs(cli, arn):
    return [j for j in cli.json("jobs", "list", "n", "--kind", "notify-redeliver")["jobs"]
            if arn in (j.get("payload") or "")]


def test_postgres_namespace_and_access_tables(s3c, cli):
    pg = brokers.postgres()
    try:
        pg.psql(f"CREATE SCHEMA audit AUTHORIZATION {pg.user}")
        ns = pg_add(cli, pg, "pg-ns", "s3_objects")
        assert ns["arn"] == "arn:hafiz:sqs::pg-ns:postgres"
        assert ns["format"] == "namespace" and ns["has_password"] is True
        assert pg.password not in json.dumps(ns)
        # Schema-qualified, folded to lower case as SQL folds unquoted names.
        acc = pg_add(cli, pg, "pg-acc", "audit.S3_Events", "--format", "access")
        assert acc["format"] == "access"
        # The check connected and created both tables.
        assert pg.rows("SELECT table_schema, table_name FROM information_schema.tables "
                       "WHERE table_schema IN ('public', 'audit') ORDER BY 1, 2") == \
            [{"table_schema": "audit", "table_name": "s3_events"},
             {"table_schema": "public", "table_name": "s3_objects"}]

        def run(arn):
            b = new_bucket(s3c)
            configure(s3c, b, arn)
            etags = {}
            ops = []
            for key, body in (("a", b"first"), ("b", b"bee"), ("a", b"second"), ("dir/c d.txt", b"sea")):
                etags[key] = s3c.put_object(Bucket=b, Key=key, Body=body)["ETag"].strip('"')
                ops.append((key, "ObjectCreated:Put"))
            s3c.delete_object(Bucket=b, Key="b")
            ops.append(("b", "ObjectRemoved:Delete"))
            return b, etags, ops

        nb, etags, ops = run(ns["arn"])
        ab, _, _ = run(acc["arn"])
        for arn in (ns["arn"], acc["arn"]):
            wait_for("queue empty", lambda: cli.json("notify", "info", "n", arn)["queued"] == 0, timeout=20)

        # access: a row per event, appended in commit order.
        rows = pg.rows("SELECT event_time, event_data, "
                       "event_time = (event_data #>> '{Records,0,eventTime}')::timestamptz AS same_time "
                       "FROM audit.s3_events ORDER BY ctid")
        recs = [r["event_data"]["Records"] for r in rows]
        assert all(len(r) == 1 for r in recs)
        recs = [r[0] for r in recs]
        assert [r["s3"]["bucket"]["name"] for r in recs] == [ab] * len(ops)
        assert [(r["s3"]["object"]["key"], r["eventName"]) for r in recs] == \
            [(k.replace(" ", "+"), e) for k, e in ops]
        seqs = [int(r["s3"]["object"]["sequencer"], 16) for r in recs]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "commit order"
        times = [r["event_time"] for r in rows]
        assert all(r["same_time"] for r in rows), "event_time is the event's time"
        assert pg.psql("SELECT bool_and(t1 <= t2) FROM (SELECT event_time AS t1, "
                       "lead(event_time) OVER (ORDER BY ctid) AS t2 FROM audit.s3_events) x "
                       "WHERE t2 IS NOT NULL").strip() == "t", times

        # namespace: a row per existing object, with its latest event.
        rows = pg.rows("SELECT key, value FROM s3_objects ORDER BY key")
        assert [r["key"] for r in rows] == [f"{nb}/a", f"{nb}/dir/c d.txt"]
        latest = {r["key"]: r["value"]["Records"][0] for r in rows}
        assert latest[f"{nb}/a"]["s3"]["object"]["eTag"] == etags["a"], "the second PUT's event"
        assert latest[f"{nb}/a"]["eventName"] == "ObjectCreated:Put"
        assert latest[f"{nb}/dir/c d.txt"]["s3"]["object"]["key"] == "dir/c+d.txt"
        assert latest[f"{nb}/dir/c d.txt"]["s3"]["object"]["size"] == 3

        # Refused before saving: a wrong password (the check connects), TLS, a bad table.
        err = cli.fails("notify", "add", "n", "pg-bad", "--kind", "postgres", "--endpoint", pg.endpoint,
                        "--destination", "t", "--username", pg.user, "--password", "wrong")
        assert "unreachable" in err and "password authentication failed" in err, err
        err = cli.fails("notify", "add", "n", "pg-bad", "--kind", "postgres", "--endpoint",
                        pg.endpoint + "?sslmode=require", "--destination", "t", "--username", pg.user)
        assert "sslmode=require" in err, err
        err = cli.fails("notify", "add", "n", "pg-bad", "--kind", "postgres", "--endpoint", pg.endpoint,
                        "--destination", "t; DROP TABLE s3_objects", "--username", pg.user,
                        "--password", pg.password)
        assert "destination" in err, err
        # A table of another shape is refused by the check.
        pg.psql(f"CREATE TABLE other (id int); ALTER TABLE other OWNER TO {pg.user}")
        err = cli.fails("notify", "add", "n", "pg-bad", "--kind", "postgres", "--endpoint", pg.endpoint,
                        "--destination", "other", "--username", pg.user, "--password", pg.password)
        assert "does not fit the namespace format" in err, err

        # The connection is kept between batches; a restart of the server ends it and
        # the next batch connects anew.
        pg.stop()
        pg.start()
        s3c.put_object(Bucket=nb, Key="after-restart", Body=b"x")
        wait_for("delivered after a restart",
                 lambda: pg.rows(f"SELECT 1 FROM s3_objects WHERE key = '{nb}/after-restart'") != [], timeout=20)

        # A statement refused for good (no INSERT privilege: SQLSTATE 42501) dead-letters
        # the event rather than holding up the queue.
        pg.psql("CREATE TABLE locked (event_time TIMESTAMPTZ NOT NULL, event_data JSONB); "
                f"GRANT SELECT ON locked TO {pg.user}")
        locked = pg_add(cli, pg, "pg-locked", "locked", "--format", "access")["arn"]
        lb = new_bucket(s3c)
        configure(s3c, lb, locked)
        s3c.put_object(Bucket=lb, Key="denied", Body=b"x")
        wait_for("dead-lettered", lambda: len(redelivery_jobs(cli, locked)) == 1, timeout=20)
        wait_for("queue empty", lambda: cli.json("notify", "info", "n", locked)["queued"] == 0, timeout=20)
        wait_for("the redelivery refused too",
                 lambda: "SQLSTATE 42501" in (redelivery_jobs(cli, locked)[0].get("last_error") or ""), timeout=20)
    finally:
        pg.remove()


def test_postgres_down_then_started_and_a_refused_row(s3c, cli):
    pg = brokers.postgres()
    try:
        # A table that refuses one object's row (a CHECK constraint: SQLSTATE 23514).
        pg.psql("CREATE TABLE picky (key TEXT PRIMARY KEY, value JSONB "
                "CHECK (value #>> '{Records,0,s3,object,key}' <> 'poison'))")
        pg.psql(f"ALTER TABLE picky OWNER TO {pg.user}")
        pg.stop()
        err = cli.fails("notify", "add", "n", "pg-late", "--kind", "postgres", "--endpoint", pg.endpoint,
                        "--destination", "picky", "--username", pg.user, "--password", pg.password,
                        "--timeout-ms", "1000")
        assert "unreachable" in err, err
        arn = pg_add(cli, pg, "pg-late", "picky", "--timeout-ms", "2000", "--no-check")["arn"]
        b = new_bucket(s3c)
        configure(s3c, b, arn)
        keys = ["before-1", "before-2", "poison", "after-1", "after-2"]
        for k in keys:
            s3c.put_object(Bucket=b, Key=k, Body=k.encode())
        wait_for("queued while down", lambda: cli.json("notify", "info", "n", arn)["queued"] == len(keys),
                 timeout=20)
        pg.start()
        # Delivered in one batch once the server is up: the refused row rolls the
        # transaction back, the rows before it commit on their own, it is
        # dead-lettered and the rest follow.
        want = sorted(f"{b}/{k}" for k in keys if k != "poison")
        wait_for("rows", lambda: sorted(r["key"] for r in pg.rows("SELECT key FROM picky")) == want, timeout=30)
        wait_for("queue empty", lambda: cli.json("notify", "info", "n", arn)["queued"] == 0, timeout=20)
        wait_for("a redelivery job for the refused event", lambda: len(redelivery_jobs(cli, arn)) == 1,
                 timeout=10)
        assert '"poison"' in redelivery_jobs(cli, arn)[0]["payload"]
        # Rows written by one transaction share its id (xmin): the two before the
        # refused row in one, the two after it in another.
        txn = {r["key"][len(b) + 1:]: r["xmin"] for r in pg.rows("SELECT key, xmin::text AS xmin FROM picky")}
        assert txn["before-1"] == txn["before-2"] != txn["after-1"] == txn["after-2"], txn
    finally:
        pg.remove()
