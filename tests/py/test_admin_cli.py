"""`hafiz admin ALIAS ...`: the command-line client of the admin API (docs/admin.md,
"The CLI"), run as a subprocess against a real server, its effects checked through
the admin API and S3."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time

import botocore.exceptions
import pytest
import requests

from conftest import TEST_DRIVES, free_port, hafiz_bin
from test_admin_api import code_of, create_user, doc, root_admin, s3_once, uid


def _cli_available() -> bool:
    try:
        return (
            subprocess.run(
                [str(hafiz_bin()), "admin", "alias", "--help"],
                capture_output=True,
                timeout=30,
                stdin=subprocess.DEVNULL,
            ).returncode
            == 0
        )
    except OSError:
        return False


if not _cli_available():
    pytest.skip(
        "`hafiz admin alias --help` fails: this build has no admin API CLI yet",
        allow_module_level=True,
    )


class Cli:
    def __init__(self, config_dir):
        self.config_dir = config_dir
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAFIZ_")}
        env["HAFIZ_CONFIG_DIR"] = str(config_dir)
        self.env = env

    def __call__(self, *args, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        cmd = [str(hafiz_bin()), "admin", *[str(a) for a in args]]
        proc = subprocess.run(
            cmd,
            env=self.env,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=60,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    def json(self, *args, input: str | None = None):
        out = self(*args, "--json", input=input).stdout
        return json.loads(out) if out.strip() else None

    def fails(self, *args, code: str | None = None) -> str:
        """Run a command that must fail: exit 1, `error: <code>: ...` on stderr."""
        proc = self(*args, check=False)
        assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
        assert proc.stderr.startswith("error: "), proc.stderr
        if code is not None:
            assert proc.stderr.startswith(f"error: {code}: "), proc.stderr
        return proc.stderr


@pytest.fixture(scope="module")
def cli(hafiz, tmp_path_factory):
    c = Cli(tmp_path_factory.mktemp("hafiz-config"))
    c("alias", "set", "local", hafiz.admin_endpoint, hafiz.access_key, hafiz.secret_key)
    return c


@pytest.fixture(scope="module")
def admin(hafiz):
    return root_admin(hafiz)


def test_aliases_are_kept_in_the_config_dir(hafiz, tmp_path):
    c = Cli(tmp_path / "cfg")
    assert c.json("alias", "list") == []
    out = c("alias", "set", "one", hafiz.admin_endpoint + "/", hafiz.access_key, hafiz.secret_key).stdout
    assert "one" in out
    c("alias", "set", "two", "http://127.0.0.1:1", "AK", "SK", "--region", "eu-west-1")
    path = tmp_path / "cfg" / "aliases.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored["aliases"]["one"] == {
        "url": hafiz.admin_endpoint,  # the trailing slash is dropped
        "access_key": hafiz.access_key,
        "secret_key": hafiz.secret_key,
        "region": "us-east-1",
    }
    assert stored["aliases"]["two"]["region"] == "eu-west-1"
    listed = c.json("alias", "list")
    assert {a["name"] for a in listed} == {"one", "two"}
    table = c("alias", "list").stdout
    assert "one" in table and "two" in table
    # Secrets are never listed.
    for out in (json.dumps(listed), table):
        assert hafiz.secret_key not in out
    # Replacing an alias.
    c("alias", "set", "two", "http://127.0.0.1:2", "AK2", "SK2")
    assert json.loads(path.read_text())["aliases"]["two"]["url"] == "http://127.0.0.1:2"
    c("alias", "remove", "two")
    assert [a["name"] for a in c.json("alias", "list")] == ["one"]
    c.fails("alias", "remove", "two")
    c.fails("info", "two")  # no such alias
    c.fails("alias", "set", "bad name", hafiz.admin_endpoint, "AK", "SK")
    # https:// is accepted (a listener with --tls-cert: test_tls.py); other schemes are not.
    c.fails("alias", "set", "ftp", "ftp://127.0.0.1:1", "AK", "SK")
    assert c.json("info", "one")["region"] == "us-east-1"


def test_failures_print_the_error_code_and_exit_1(hafiz, tmp_path):
    c = Cli(tmp_path)
    c("alias", "set", "bad", hafiz.admin_endpoint, hafiz.access_key, "x" * 40)
    c.fails("user", "list", "bad", code="SignatureDoesNotMatch")
    port = free_port()  # nothing listens there
    c("alias", "set", "down", f"http://127.0.0.1:{port}", hafiz.access_key, hafiz.secret_key)
    err = c.fails("info", "down")
    assert err.startswith(f"error: cannot reach http://127.0.0.1:{port}"), err


def test_info_and_cluster(cli, hafiz):
    info = cli.json("info", "local")
    assert info["admin_address"].endswith(f":{hafiz.admin_port}")
    assert info["drives"] == {"total": max(TEST_DRIVES, 1), "online": max(TEST_DRIVES, 1)}
    table = cli("info", "local").stdout
    assert info["version"] in table
    cluster = cli.json("cluster", "local")
    assert len([d for n in cluster["nodes"] for d in n["drives"]]) == max(TEST_DRIVES, 1)
    assert "online" in cli("cluster", "local").stdout


def test_users_and_keys(cli, hafiz, admin, s3):
    b = uid("cli")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"v")
    name = uid("cli-user")
    created = cli.json("user", "add", "local", name)
    assert created["name"] == name and created["account"] == ""
    assert admin.ok("GET", f"/v1/users/{name}")["id"] == created["id"]
    assert name in [u["name"] for u in cli.json("user", "list", "local")]
    assert name in cli("user", "list", "local").stdout
    assert cli.json("user", "info", "local", name)["arn"] == created["arn"]
    cli.fails("user", "add", "local", name, code="EntityAlreadyExists")
    cli.fails("user", "info", "local", name + "-nobody", code="NoSuchUser")

    key = cli.json("key", "add", "local", name)
    assert key["user"] == name and key["secret_key"]
    listed = cli.json("key", "list", "local", name)
    assert [k["access_key_id"] for k in listed] == [key["access_key_id"]]
    assert key["secret_key"] not in json.dumps(listed)
    assert key["secret_key"] not in cli("key", "list", "local", name).stdout
    # A key made in table mode shows its secret once, too.
    proc = cli("key", "add", "local", name)
    second = [k for k in admin.ok("GET", f"/v1/users/{name}/keys") if k["access_key_id"] != key["access_key_id"]]
    assert len(second) == 1 and second[0]["access_key_id"] in proc.stdout
    cli("key", "remove", "local", name, second[0]["access_key_id"])

    policy_file = hafiz.data_dir.parent / f"{uid('policy')}.json"
    policy_file.write_text(json.dumps(doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})))
    pname = uid("cli-pol")
    assert cli.json("policy", "add", "local", pname, policy_file)["name"] == pname
    cli("policy", "attach", "local", pname, "--user", name)
    assert cli.json("user", "info", "local", name)["policies"] == [pname]
    user_s3 = s3_once(hafiz, key)
    assert user_s3.get_object(Bucket=b, Key="k")["Body"].read() == b"v"

    assert cli.json("key", "disable", "local", name, key["access_key_id"])["status"] == "Inactive"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_s3.get_object(Bucket=b, Key="k")
    assert code_of(e) == "InvalidAccessKeyId"
    assert cli.json("key", "enable", "local", name, key["access_key_id"])["status"] == "Active"
    assert user_s3.get_object(Bucket=b, Key="k")["Body"].read() == b"v"

    cli.fails("policy", "remove", "local", pname, code="DeleteConflict")
    # 204 answers print nothing with --json, and say what was done without.
    assert cli("user", "remove", "local", name, "--json").stdout == ""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_s3.get_object(Bucket=b, Key="k")
    assert code_of(e) == "InvalidAccessKeyId"
    assert admin.error("GET", f"/v1/users/{name}") == (404, "NoSuchUser")
    assert pname in cli("policy", "remove", "local", pname).stdout


def test_groups_and_policies(cli, hafiz, admin, s3):
    b = uid("cli")
    s3.create_bucket(Bucket=b)
    name = uid("cli-user")
    cli("user", "add", "local", name)
    key = cli.json("key", "add", "local", name)
    g = uid("cli-grp")
    assert cli.json("group", "add", "local", g)["name"] == g
    cli("group", "member", "add", "local", g, name)
    assert cli.json("group", "info", "local", g)["members"] == [name]
    assert g in [x["name"] for x in cli.json("group", "list", "local")]
    # A policy from standard input, attached to the group.
    pname = uid("cli-pol")
    document = doc({"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "*"})
    created = cli.json("policy", "add", "local", pname, "-", input=json.dumps(document))
    assert created["document"] == document
    assert cli.json("policy", "info", "local", pname)["document"] == document
    assert pname in [p["name"] for p in cli.json("policy", "list", "local")]
    cli("policy", "attach", "local", pname, "--group", g)
    assert admin.ok("GET", f"/v1/groups/{g}")["policies"] == [pname]
    s3_once(hafiz, key).put_object(Bucket=b, Key="from-cli", Body=b"x")
    cli("policy", "detach", "local", pname, "--group", g)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3_once(hafiz, key).put_object(Bucket=b, Key="from-cli", Body=b"x")
    assert code_of(e) == "AccessDenied"
    bad = cli("policy", "add", "local", uid("bad"), "-", input=json.dumps({"Statement": "nope"}), check=False)
    assert bad.returncode == 1 and bad.stderr.startswith("error: MalformedPolicy: "), bad.stderr
    cli("group", "member", "remove", "local", g, name)
    assert admin.ok("GET", f"/v1/groups/{g}")["members"] == []
    cli("group", "remove", "local", g)
    assert admin.error("GET", f"/v1/groups/{g}") == (404, "NoSuchGroup")
    cli("policy", "remove", "local", pname)
    cli("user", "remove", "local", name)


def test_buckets_quota_and_policy(cli, hafiz, admin, s3):
    b = uid("cli-b")
    created = cli.json("bucket", "add", "local", b, "--versioning")
    assert created["name"] == b and created["versioning"] == "Enabled"
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    assert b in [x["name"] for x in cli.json("bucket", "list", "local")]
    assert b in cli("bucket", "list", "local").stdout
    assert cli.json("bucket", "versioning", "local", b, "suspend")["versioning"] == "Suspended"
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Suspended"

    q = cli.json("bucket", "quota", "set", "local", b, "--max-bytes", "10M")
    assert q == {"max_bytes": 10 * 1024 * 1024, "max_objects": None}
    assert cli.json("bucket", "quota", "info", "local", b) == q
    assert admin.ok("GET", f"/v1/buckets/{b}")["quota"] == q
    # `quota set` replaces the whole quota.
    q2 = cli.json("bucket", "quota", "set", "local", b, "--max-objects", "1")
    assert q2 == {"max_bytes": None, "max_objects": 1}
    s3.put_object(Bucket=b, Key="one", Body=b"1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3_once(hafiz).put_object(Bucket=b, Key="two", Body=b"2")
    assert code_of(e) == "QuotaExceeded"
    cli("bucket", "quota", "set", "local", b, "--max-bytes", "1K", "--max-objects", "5")
    assert admin.ok("GET", f"/v1/buckets/{b}/quota") == {"max_bytes": 1024, "max_objects": 5}
    bad = cli("bucket", "quota", "set", "local", b, "--max-bytes", "lots", check=False)
    assert bad.returncode != 0 and "lots" in bad.stderr  # a usage error (clap's exit code)
    assert admin.ok("GET", f"/v1/buckets/{b}/quota") == {"max_bytes": 1024, "max_objects": 5}
    cli("bucket", "quota", "clear", "local", b)
    assert admin.ok("GET", f"/v1/buckets/{b}")["quota"] is None
    s3.put_object(Bucket=b, Key="two", Body=b"2")

    policy_file = hafiz.data_dir.parent / f"{uid('bpol')}.json"
    policy = doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*"})
    policy_file.write_text(json.dumps(policy))
    cli("bucket", "policy", "set", "local", b, policy_file)
    assert cli.json("bucket", "policy", "get", "local", b) == policy
    assert requests.get(f"{hafiz.endpoint}/{b}/one", timeout=10).content == b"1"
    cli("bucket", "policy", "remove", "local", b)
    assert requests.get(f"{hafiz.endpoint}/{b}/one", timeout=10).status_code == 403
    cli.fails("bucket", "policy", "get", "local", b, code="NoSuchBucketPolicy")

    cli.fails("bucket", "remove", "local", b, code="BucketNotEmpty")
    for v in s3.list_object_versions(Bucket=b).get("Versions", []):
        s3.delete_object(Bucket=b, Key=v["Key"], VersionId=v["VersionId"])
    cli("bucket", "remove", "local", b)
    assert admin.error("GET", f"/v1/buckets/{b}") == (404, "NoSuchBucket")
    cli.fails("bucket", "info", "local", b, code="NoSuchBucket")


def test_accounts(cli, admin, s3):
    acct = uid("cli-acct")
    created = cli.json("account", "add", "local", acct, "--max-bytes", "1G")
    assert created["name"] == acct and created["quota"] == {"max_bytes": 1024**3, "max_objects": None}
    assert acct in [a["name"] for a in cli.json("account", "list", "local")]
    user = uid("cli-tenant")
    assert cli.json("user", "add", "local", user, "--account", acct)["account"] == acct
    b = uid("cli-tb")
    assert cli.json("bucket", "add", "local", b, "--account", acct)["account"] == acct
    s3.put_object(Bucket=b, Key="k", Body=b"x" * 100)
    info = cli.json("account", "info", "local", acct)
    assert info["users"] == 1 and info["buckets"] == 1 and info["usage"] == {"bytes": 100, "objects": 1, "multipart_bytes": 0}
    assert cli.json("account", "quota", "set", "local", acct, "--max-objects", "1") == {
        "max_bytes": None,
        "max_objects": 1,
    }
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=b, Key="k2", Body=b"y")
    assert code_of(e) == "QuotaExceeded"
    cli("account", "quota", "clear", "local", acct)
    assert admin.ok("GET", f"/v1/accounts/{acct}")["quota"] is None
    cli.fails("account", "remove", "local", acct, code="DeleteConflict")
    s3.delete_object(Bucket=b, Key="k")
    cli("bucket", "remove", "local", b)
    cli("user", "remove", "local", user)
    cli("account", "remove", "local", acct)
    cli.fails("account", "info", "local", acct, code="NoSuchAccount")


def test_rate_limits(cli, admin):
    _, key = create_user(admin)
    kid = key["access_key_id"]
    got = cli.json("ratelimit", "set", "local", "--key", kid, "--requests-per-second", "5")
    assert got == {"scope": "keys", "name": kid, "requests_per_second": 5, "bytes_per_second": None}
    assert admin.ok("GET", f"/v1/rate-limits/keys/{kid}") == got
    b = uid("cli-rlb")
    admin.ok("POST", "/v1/buckets", {"name": b}, expect=201)
    got_b = cli.json("ratelimit", "set", "local", "--bucket", b, "--bytes-per-second", "1M")
    assert got_b["scope"] == "buckets" and got_b["bytes_per_second"] == 1024 * 1024
    listed = cli.json("ratelimit", "list", "local")
    assert got in listed and got_b in listed
    assert kid in cli("ratelimit", "list", "local").stdout
    assert cli.json("ratelimit", "info", "local", "--bucket", b) == got_b
    cli.fails("ratelimit", "set", "local", "--key", kid, "--requests-per-second", "0", code="InvalidRequest")
    cli("ratelimit", "remove", "local", "--key", kid)
    cli("ratelimit", "remove", "local", "--bucket", b)
    cli.fails("ratelimit", "info", "local", "--key", kid, code="NoSuchRateLimit")
    assert all(x["name"] not in (kid, b) for x in admin.ok("GET", "/v1/rate-limits"))


def test_heal_through_the_api(cli, s3):
    b = uid("cli-heal")
    s3.create_bucket(Bucket=b)
    for i in range(2):
        s3.put_object(Bucket=b, Key=f"big-{i}", Body=bytes([i]) * (300 * 1024))
    started = cli.json("heal", "local", "--bucket", b)
    assert started["state"] in ("running", "done") and started["bucket"] == b
    deadline = time.monotonic() + 30
    while True:
        st = cli.json("heal", "local", "--status")
        if st["state"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert st["state"] == "done" and st["checked"] >= 2 and st["failed"] == 0, st
    assert "done" in cli("heal", "local", "--status").stdout
