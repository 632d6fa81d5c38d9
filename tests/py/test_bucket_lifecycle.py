"""Bucket lifecycle end to end, on a server whose lifecycle day lasts 2 seconds
(HAFIZ_LIFECYCLE_DAY_SECONDS) and whose lifecycle scan runs every second: the
configuration API with AWS's errors, current and noncurrent expiration, delete-marker
cleanup, stale multipart uploads, tag and size filters, object lock respected, the
x-amz-expiration header, and the scanner's jobs in `hafiz admin jobs`; then a SIGKILL
with lifecycle work due, which the restarted server finishes."""

from __future__ import annotations

import datetime
import time

import botocore.exceptions
import pytest

from conftest import make_client, unique_bucket_name, wait_for
from test_admin_cli import Cli

DAY = 2.0


@pytest.fixture(scope="module")
def node(server_factory):
    return server_factory.start(
        env_extra={"HAFIZ_LIFECYCLE_DAY_SECONDS": str(DAY)},
        extra_args=["--lifecycle-interval", "every 1s"],
    )


@pytest.fixture(scope="module")
def s3c(node):
    return make_client(node.endpoint, node.access_key, node.secret_key)


def new_bucket(s3c, **kw) -> str:
    name = unique_bucket_name("lc")
    s3c.create_bucket(Bucket=name, **kw)
    return name


def rule(rule_id, filt=None, **actions):
    r = {"ID": rule_id, "Status": "Enabled", "Filter": filt if filt is not None else {}}
    r.update(actions)
    return r


def put_rules(s3c, bucket, *rules):
    s3c.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": list(rules)}
    )


def versions(s3c, bucket):
    r = s3c.list_object_versions(Bucket=bucket)
    return r.get("Versions", []), r.get("DeleteMarkers", [])


def error_code(e):
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_configuration_round_trip_and_aws_errors(s3c):
    b = new_bucket(s3c)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3c.get_bucket_lifecycle_configuration(Bucket=b)
    assert error_code(e) == ("NoSuchLifecycleConfiguration", 404)
    rules = [
        rule("logs", {"Prefix": "logs/"}, Expiration={"Days": 30}),
        rule(
            "tagged",
            {"And": {"Prefix": "t/", "Tags": [{"Key": "k", "Value": "v"}], "ObjectSizeGreaterThan": 10}},
            NoncurrentVersionExpiration={"NoncurrentDays": 3, "NewerNoncurrentVersions": 2},
        ),
        rule("mpu", {"Prefix": ""}, AbortIncompleteMultipartUpload={"DaysAfterInitiation": 7}),
        rule("date", {"Prefix": "old/"}, Expiration={"Date": datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)}),
    ]
    put_rules(s3c, b, *rules)
    got = s3c.get_bucket_lifecycle_configuration(Bucket=b)["Rules"]
    assert [r["ID"] for r in got] == ["logs", "tagged", "mpu", "date"]
    assert got[0]["Filter"] == {"Prefix": "logs/"} and got[0]["Expiration"] == {"Days": 30}
    assert got[1]["Filter"]["And"]["Tags"] == [{"Key": "k", "Value": "v"}]
    assert got[1]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 3, "NewerNoncurrentVersions": 2}
    assert got[2]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert got[3]["Expiration"]["Date"].year == 2030

    bad = [
        ([rule("r", Expiration={"Days": 0})], ("InvalidArgument", 400)),
        ([rule("r", Expiration={"Days": 1}), rule("r", Expiration={"Days": 2})], ("InvalidArgument", 400)),
        ([rule("r", Expiration={"Date": datetime.datetime(2030, 1, 1, 12, tzinfo=datetime.timezone.utc)})], ("InvalidArgument", 400)),
        ([rule("r", Expiration={"Days": 1, "ExpiredObjectDeleteMarker": True})], ("InvalidArgument", 400)),
        ([rule("r")], ("InvalidRequest", 400)),
        ([rule("r", Transitions=[{"Days": 30, "StorageClass": "GLACIER"}])], ("InvalidRequest", 400)),
        ([{"ID": "r", "Status": "Sometimes", "Filter": {}, "Expiration": {"Days": 1}}], ("MalformedXML", 400)),
    ]
    for rules_, want in bad:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            put_rules(s3c, b, *rules_)
        assert error_code(e) == want, rules_
    # A refused configuration leaves the previous one in place.
    assert len(s3c.get_bucket_lifecycle_configuration(Bucket=b)["Rules"]) == 4
    s3c.delete_bucket_lifecycle(Bucket=b)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3c.get_bucket_lifecycle_configuration(Bucket=b)
    assert error_code(e)[0] == "NoSuchLifecycleConfiguration"


def test_current_expiration_with_prefix_tag_and_size_filters_and_the_expiration_header(s3c):
    b = new_bucket(s3c)
    put_rules(
        s3c,
        b,
        rule("tmp", {"Prefix": "tmp/"}, Expiration={"Days": 1}),
        rule("tagged", {"Tag": {"Key": "expire", "Value": "yes"}}, Expiration={"Days": 2}),
        rule("big", {"And": {"Prefix": "size/", "ObjectSizeGreaterThan": 100}}, Expiration={"Days": 1}),
        {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "keep/"}, "Expiration": {"Days": 1}},
    )
    put = s3c.put_object(Bucket=b, Key="tmp/a", Body=b"a")
    assert 'rule-id="tmp"' in put["Expiration"]
    s3c.put_object(Bucket=b, Key="keep/b", Body=b"b")
    s3c.put_object(Bucket=b, Key="other/c", Body=b"c", Tagging="expire=yes")
    s3c.put_object(Bucket=b, Key="other/d", Body=b"d", Tagging="expire=no")
    s3c.put_object(Bucket=b, Key="size/big", Body=b"x" * 200)
    s3c.put_object(Bucket=b, Key="size/small", Body=b"x" * 50)
    head = s3c.head_object(Bucket=b, Key="other/c")
    assert 'rule-id="tagged"' in head["Expiration"] and "expiry-date=" in head["Expiration"]
    assert "Expiration" not in s3c.head_object(Bucket=b, Key="keep/b")
    assert "Expiration" not in s3c.get_object(Bucket=b, Key="other/d")

    def keys():
        return {o["Key"] for o in s3c.list_objects_v2(Bucket=b).get("Contents", [])}

    wait_for("expired objects gone", lambda: keys() == {"keep/b", "other/d", "size/small"})
    # Unversioned: gone for good, no delete markers.
    assert versions(s3c, b)[1] == []


def test_versioned_bucket_current_noncurrent_and_delete_marker_cleanup(s3c):
    b = new_bucket(s3c)
    s3c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"1", b"2", b"3"):
        s3c.put_object(Bucket=b, Key="doc", Body=body)
    s3c.put_object(Bucket=b, Key="kept/doc", Body=b"k1")
    s3c.put_object(Bucket=b, Key="kept/doc", Body=b"k2")
    put_rules(
        s3c,
        b,
        rule("cur", {"Prefix": "doc"}, Expiration={"Days": 1}),
        rule("nc", {"Prefix": "doc"}, NoncurrentVersionExpiration={"NoncurrentDays": 1}),
        rule("dm", {"Prefix": "doc"}, Expiration={"ExpiredObjectDeleteMarker": True}),
        rule("keep1", {"Prefix": "kept/"}, NoncurrentVersionExpiration={"NoncurrentDays": 1, "NewerNoncurrentVersions": 1}),
    )
    # The current version is hidden behind a delete marker, the noncurrent ones are
    # deleted, then the marker that hides nothing goes too: nothing left of "doc".
    wait_for(
        "doc fully expired",
        lambda: not any(v["Key"] == "doc" for vs in versions(s3c, b) for v in vs),
        timeout=60,
    )
    # NewerNoncurrentVersions=1 keeps the newest noncurrent version.
    time.sleep(3 * DAY)
    vs, markers = versions(s3c, b)
    assert sorted(v["IsLatest"] for v in vs if v["Key"] == "kept/doc") == [False, True]
    assert markers == []


def test_object_lock_is_respected(s3c):
    b = new_bucket(s3c, ObjectLockEnabledForBucket=True)
    retain = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    locked = s3c.put_object(
        Bucket=b, Key="locked", Body=b"v1", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=retain
    )["VersionId"]
    held = s3c.put_object(Bucket=b, Key="held", Body=b"h1")["VersionId"]
    s3c.put_object_legal_hold(Bucket=b, Key="held", VersionId=held, LegalHold={"Status": "ON"})
    free = s3c.put_object(Bucket=b, Key="free", Body=b"f1")["VersionId"]
    for k in ("locked", "held", "free"):
        s3c.put_object(Bucket=b, Key=k, Body=b"newer")
    put_rules(s3c, b, rule("nc", NoncurrentVersionExpiration={"NoncurrentDays": 1}))

    def ids():
        return {v["VersionId"] for v in versions(s3c, b)[0]}

    wait_for("the unlocked noncurrent version deleted", lambda: free not in ids())
    assert locked in ids() and held in ids()


def test_stale_multipart_uploads_are_aborted(s3c):
    b = new_bucket(s3c)
    up = s3c.create_multipart_upload(Bucket=b, Key="big/file")["UploadId"]
    s3c.upload_part(Bucket=b, Key="big/file", UploadId=up, PartNumber=1, Body=b"p" * 1024)
    other = s3c.create_multipart_upload(Bucket=b, Key="elsewhere/file")["UploadId"]
    put_rules(s3c, b, rule("mpu", {"Prefix": "big/"}, AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1}))

    def uploads():
        return {u["UploadId"] for u in s3c.list_multipart_uploads(Bucket=b).get("Uploads", [])}

    wait_for("the stale upload aborted", lambda: up not in uploads())
    assert other in uploads()


def test_scanner_jobs_are_visible_and_exported(node, s3c, tmp_path):
    cli = Cli(tmp_path / "cfg")
    cli("alias", "set", "lc", node.admin_endpoint, node.access_key, node.secret_key)
    listed = wait_for(
        "lifecycle jobs",
        lambda: [j for j in cli.json("jobs", "list", "lc", "--kind", "lifecycle-bucket")["jobs"] if j["state"] == "succeeded"],
    )
    j = listed[0]
    assert j["sealed"] and j["payload"] is None, "bucket names in payloads are sealed"
    assert "versions_evaluated" in j["result"]
    info = cli.json("jobs", "info", "lc", j["id"])
    assert info["id"] == j["id"] and info["kind"] == "lifecycle-bucket"
    csv = cli("jobs", "list", "lc", "--kind", "lifecycle-scan", "--csv").stdout.splitlines()
    assert csv[0].startswith("id,kind,state,")
    assert any(",lifecycle-scan,succeeded," in line for line in csv[1:])
    # Finished jobs cannot be cancelled; they can be purged.
    assert "InvalidJobState" in cli.fails("jobs", "cancel", "lc", j["id"], code="InvalidJobState")
    out = cli.json("jobs", "purge", "lc", "--state", "succeeded", "--kind", "lifecycle-scan")
    assert out["purged"] >= 1


def test_sigkill_with_lifecycle_work_due_loses_nothing(server_factory):
    server = server_factory.start(
        env_extra={"HAFIZ_LIFECYCLE_DAY_SECONDS": str(DAY)},
        extra_args=["--lifecycle-interval", "every 1s"],
    )
    c = make_client(server.endpoint, server.access_key, server.secret_key)
    b = new_bucket(c)
    for i in range(300):
        c.put_object(Bucket=b, Key=f"gone/{i:04d}", Body=b"x")
    c.put_object(Bucket=b, Key="stays", Body=b"y")
    put_rules(c, b, rule("gone", {"Prefix": "gone/"}, Expiration={"Days": 1}))
    # Kill it while expiry is under way (or about to be).
    time.sleep(DAY + 1.0)
    server.kill()
    server = server_factory.start(
        server.data_dir,
        access_key=server.access_key,
        secret_key=server.secret_key,
        env_extra={"HAFIZ_LIFECYCLE_DAY_SECONDS": str(DAY)},
        extra_args=["--lifecycle-interval", "every 1s"],
    )
    c = make_client(server.endpoint, server.access_key, server.secret_key)

    def keys():
        return [o["Key"] for o in c.list_objects_v2(Bucket=b).get("Contents", [])]

    wait_for("every due object expired after the restart", lambda: keys() == ["stays"], timeout=60)
