"""The built-in key service through the admin API (`/v1/kms/...`) and `hafiz admin
kms` (docs/encryption.md, "Key service"): keys created, listed, disabled, enabled and
rotated, and what S3 clients then see of SSE-KMS objects; master key rotation (the
generated `kms-master.key`, 0600, rewritten; every object still readable, also after a
restart; refused when the key comes from `HAFIZ_KMS_MASTER_KEY`); and neither the
master key nor an encrypted object's plaintext anywhere under the data directory."""

from __future__ import annotations

import base64
import stat
import uuid

import botocore.exceptions
import pytest

from admin_client import AdminClient
from conftest import credentials_dir, error_code, make_client, unique_bucket_name
from test_admin_api import create_user
from test_admin_cli import Cli

MASTER_FILE = "kms-master.key"
ADMIN_READ = {"Effect": "Allow", "Action": ["admin:List*", "admin:Get*"], "Resource": "*"}


def kid(prefix: str = "k") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def admin_of(server) -> AdminClient:
    return AdminClient(server.admin_endpoint, server.access_key, server.secret_key)


def s3_of(server):
    return make_client(server.endpoint, server.access_key, server.secret_key, retries={"total_max_attempts": 1})


def master_path(server):
    return credentials_dir(server.data_dir) / MASTER_FILE


def master_copies(server) -> list:
    """Every copy of the generated master key under the data directory."""
    return sorted(server.data_dir.rglob(MASTER_FILE))


def master_keys_in(path) -> list[str]:
    """The base64 keys of a master key file (current first)."""
    return [l.strip() for l in path.read_text().splitlines() if l.strip() and not l.startswith("#")]


def restart(server_factory, server):
    assert server.stop() == 0, server.log_tail()
    return server_factory.start(server.data_dir, access_key=server.access_key, secret_key=server.secret_key)


@pytest.fixture(scope="module")
def kms(server_factory):
    """A server of this module's own: keys are disabled and rotated here."""
    return server_factory.start()


@pytest.fixture(scope="module")
def admin(kms):
    return admin_of(kms)


@pytest.fixture(scope="module")
def s3(kms):
    return s3_of(kms)


@pytest.fixture(scope="module")
def cli(kms, tmp_path_factory):
    c = Cli(tmp_path_factory.mktemp("kms-cli"))
    c("alias", "set", "k", kms.admin_endpoint, kms.access_key, kms.secret_key)
    return c


@pytest.fixture
def bucket(s3):
    name = unique_bucket_name("kms")
    s3.create_bucket(Bucket=name)
    return name


# --------------------------------------------------------------------------
# Keys through the admin API and the CLI
# --------------------------------------------------------------------------


def test_keys_through_the_admin_api(admin):
    status = admin.ok("GET", "/v1/kms/status")
    assert status["master_key_id"] and status["keys"] >= 2
    listed = {k["id"]: k for k in admin.ok("GET", "/v1/kms/keys")["keys"]}
    for builtin in ("hafiz-sse-s3", "hafiz-default-kms"):
        assert listed[builtin]["builtin"] is True and listed[builtin]["enabled"] is True
        assert listed[builtin]["versions"], listed[builtin]

    k = kid()
    made = admin.ok("POST", "/v1/kms/keys", {"id": k, "description": "orders"}, expect=201)
    assert made["id"] == k and made["description"] == "orders"
    assert made["enabled"] is True and made["builtin"] is False
    assert len(made["versions"]) == 1
    assert made["created"].endswith("Z")
    assert admin.ok("GET", f"/v1/kms/keys/{k}") == made
    assert k in {x["id"] for x in admin.ok("GET", "/v1/kms/keys")["keys"]}
    assert admin.ok("GET", "/v1/kms/status")["keys"] == status["keys"] + 1

    # Errors.
    assert admin.error("POST", "/v1/kms/keys", {"id": k}) == (409, "KmsKeyExists")
    assert admin.error("POST", "/v1/kms/keys", {"id": "bad id"}) == (400, "InvalidRequest")
    assert admin.error("POST", "/v1/kms/keys", {"id": "hafiz-mine"}) == (400, "InvalidRequest")
    assert admin.error("POST", "/v1/kms/keys", {"id": "x" * 129}) == (400, "InvalidRequest")
    assert admin.error("POST", "/v1/kms/keys", {"name": kid()}) == (400, "InvalidRequest")
    assert admin.error("POST", "/v1/kms/keys", raw=b"{not json") == (400, "InvalidRequest")
    missing = kid("missing")
    assert admin.error("GET", f"/v1/kms/keys/{missing}") == (404, "NoSuchKmsKey")
    for action in ("enable", "disable", "rotate"):
        assert admin.error("POST", f"/v1/kms/keys/{missing}/{action}") == (404, "NoSuchKmsKey"), action

    # Without an id (or a body) the server names the key.
    generated = admin.ok("POST", "/v1/kms/keys", expect=201)
    assert uuid.UUID(generated["id"]) and generated["description"] == ""
    described = admin.ok("POST", "/v1/kms/keys", {"description": "d"}, expect=201)
    assert described["id"] != generated["id"] and described["description"] == "d"

    # Disable, enable, rotate.
    off = admin.ok("POST", f"/v1/kms/keys/{k}/disable")
    assert off["enabled"] is False and off["versions"] == made["versions"]
    assert admin.ok("GET", f"/v1/kms/keys/{k}")["enabled"] is False
    assert admin.ok("POST", f"/v1/kms/keys/{k}/enable")["enabled"] is True
    rotated = admin.ok("POST", f"/v1/kms/keys/{k}/rotate")
    assert rotated["versions"][:1] == made["versions"] and len(rotated["versions"]) == 2
    again = admin.ok("POST", f"/v1/kms/keys/{k}/rotate")
    assert again["versions"][:2] == rotated["versions"] and len(set(again["versions"])) == 3
    assert admin.ok("GET", f"/v1/kms/keys/{k}")["versions"] == again["versions"]


def test_operators_need_the_kms_actions(kms, admin):
    _, key = create_user(admin, ADMIN_READ)
    ro = AdminClient(kms.admin_endpoint, key["access_key_id"], key["secret_key"])
    k = admin.ok("POST", "/v1/kms/keys", {"id": kid()}, expect=201)["id"]
    assert k in {x["id"] for x in ro.ok("GET", "/v1/kms/keys")["keys"]}
    assert ro.ok("GET", f"/v1/kms/keys/{k}")["id"] == k
    for method, path in [
        ("POST", "/v1/kms/keys"),
        ("POST", f"/v1/kms/keys/{k}/disable"),
        ("POST", f"/v1/kms/keys/{k}/rotate"),
        ("POST", "/v1/kms/master/rotate"),
    ]:
        assert ro.error(method, path, {}) == (403, "AccessDenied"), path
    assert admin.ok("GET", f"/v1/kms/keys/{k}")["enabled"] is True


def test_keys_through_the_cli(cli, admin):
    k = f"team/{kid()}.key"  # ids may hold `/` and `.`
    out = cli("kms", "create", "k", k, "--description", "team key").stdout
    assert k in out and "team key" in out
    info = cli.json("kms", "info", "k", k)
    assert info["id"] == k and info["description"] == "team key" and info["enabled"] is True
    assert admin.ok("GET", "/v1/kms/keys")["keys"] == cli.json("kms", "list", "k")["keys"]
    table = cli("kms", "list", "k").stdout
    assert k in table and "hafiz-sse-s3" in table and table.startswith("ID ")

    assert cli.json("kms", "disable", "k", k)["enabled"] is False
    assert "no" in cli("kms", "info", "k", k).stdout.split("enabled", 1)[1].splitlines()[0]
    assert cli.json("kms", "enable", "k", k)["enabled"] is True
    rotated = cli.json("kms", "rotate", "k", k)
    assert rotated["versions"][:1] == info["versions"] and len(rotated["versions"]) == 2
    out = cli("kms", "info", "k", k).stdout
    assert f"version (current)  {rotated['versions'][1]}" in out, out

    generated = cli.json("kms", "create", "k")
    assert uuid.UUID(generated["id"])
    status = cli.json("kms", "status", "k")
    assert status == admin.ok("GET", "/v1/kms/status")
    assert status["master_key_id"] in cli("kms", "status", "k").stdout

    cli.fails("kms", "info", "k", kid("missing"), code="NoSuchKmsKey")
    cli.fails("kms", "create", "k", k, code="KmsKeyExists")
    cli.fails("kms", "create", "k", "bad id", code="InvalidRequest")
    cli.fails("kms", "rotate", "k", kid("missing"), code="NoSuchKmsKey")


# --------------------------------------------------------------------------
# SSE-KMS objects and the key's state
# --------------------------------------------------------------------------


def test_sse_kms_objects_follow_their_key(admin, s3, bucket):
    k = admin.ok("POST", "/v1/kms/keys", {"id": kid("sse")}, expect=201)["id"]
    put = s3.put_object(Bucket=bucket, Key="a", Body=b"first body", ServerSideEncryption="aws:kms", SSEKMSKeyId=k)
    assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"].endswith(f"key/{k}")
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"first body"

    admin.ok("POST", f"/v1/kms/keys/{k}/disable")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=bucket, Key="a")
    assert error_code(e) == ("KMS.DisabledException", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=bucket, Key="b", Body=b"refused", ServerSideEncryption="aws:kms", SSEKMSKeyId=k)
    assert error_code(e) == ("KMS.DisabledException", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=bucket, Key="b")
    assert error_code(e)[1] == 404  # the refused PUT stored nothing

    admin.ok("POST", f"/v1/kms/keys/{k}/enable")
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"first body"

    before = admin.ok("GET", f"/v1/kms/keys/{k}")["versions"]
    after = admin.ok("POST", f"/v1/kms/keys/{k}/rotate")["versions"]
    assert after[:-1] == before and after[-1] not in before
    s3.put_object(Bucket=bucket, Key="b", Body=b"second body", ServerSideEncryption="aws:kms", SSEKMSKeyId=k)
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"first body"
    assert s3.get_object(Bucket=bucket, Key="b")["Body"].read() == b"second body"
    for key in ("a", "b"):
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms", head
        assert head["SSEKMSKeyId"].endswith(f"key/{k}"), head

    # A key that does not exist is refused, and nothing is stored.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=bucket, Key="c", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=kid("nokey"))
    assert error_code(e) == ("KMS.NotFoundException", 400)


# --------------------------------------------------------------------------
# The master key
# --------------------------------------------------------------------------


def put_every_kind(s3, bucket, k) -> dict[str, bytes]:
    """One object per kind of server-side encryption (and one without): key → body."""
    bodies = {
        "sse-s3": b"sse-s3 body " * 1000,
        "sse-kms": b"sse-kms body " * 9000,  # more than one 64 KiB chunk
        "sse-kms-default": b"default kms key body",
        "plain": b"not encrypted",
    }
    s3.put_object(Bucket=bucket, Key="sse-s3", Body=bodies["sse-s3"], ServerSideEncryption="AES256")
    s3.put_object(Bucket=bucket, Key="sse-kms", Body=bodies["sse-kms"], ServerSideEncryption="aws:kms", SSEKMSKeyId=k)
    s3.put_object(Bucket=bucket, Key="sse-kms-default", Body=bodies["sse-kms-default"], ServerSideEncryption="aws:kms")
    s3.put_object(Bucket=bucket, Key="plain", Body=bodies["plain"])
    return bodies


def check_every_kind(s3, bucket, k, bodies):
    for key, body in bodies.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
    assert s3.head_object(Bucket=bucket, Key="sse-s3")["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=bucket, Key="sse-kms")["SSEKMSKeyId"].endswith(f"key/{k}")
    rng = s3.get_object(Bucket=bucket, Key="sse-kms", Range="bytes=70000-70099")["Body"].read()
    assert rng == bodies["sse-kms"][70000:70100]


def test_rotate_master_keeps_every_object_readable_across_a_restart(server_factory):
    server = server_factory.start()
    admin, s3 = admin_of(server), s3_of(server)
    path = master_path(server)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    old_text = path.read_text()
    (old_key,) = master_keys_in(path)
    old_id = admin.ok("GET", "/v1/kms/status")["master_key_id"]

    k = admin.ok("POST", "/v1/kms/keys", {"id": kid("m")}, expect=201)["id"]
    admin.ok("POST", f"/v1/kms/keys/{k}/rotate")
    bucket = unique_bucket_name("kms-master")
    s3.create_bucket(Bucket=bucket)
    bodies = put_every_kind(s3, bucket, k)
    versions = {x["id"]: x["versions"] for x in admin.ok("GET", "/v1/kms/keys")["keys"]}

    copies = master_copies(server)
    assert path in copies and all(master_keys_in(c) == [old_key] for c in copies)
    rotated = admin.ok("POST", "/v1/kms/master/rotate")
    assert rotated["master_key_id"] != old_id
    # Every version of every key (the two built-in ones, ours twice) was re-sealed.
    assert rotated["resealed"] == sum(len(v) for v in versions.values()) >= 4, (rotated, versions)
    assert admin.ok("GET", "/v1/kms/status")["master_key_id"] == rotated["master_key_id"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() != old_text
    (new_key,) = master_keys_in(path)  # the old key is gone from the file
    assert new_key != old_key and old_key not in path.read_text()
    assert master_copies(server) == copies
    for c in copies:
        assert stat.S_IMODE(c.stat().st_mode) == 0o600 and master_keys_in(c) == [new_key], c
    # Keys keep their versions: objects name the version that wrapped their data key.
    assert {x["id"]: x["versions"] for x in admin.ok("GET", "/v1/kms/keys")["keys"]} == versions
    check_every_kind(s3, bucket, k, bodies)

    server = restart(server_factory, server)
    admin, s3 = admin_of(server), s3_of(server)
    assert admin.ok("GET", "/v1/kms/status")["master_key_id"] == rotated["master_key_id"]
    check_every_kind(s3, bucket, k, bodies)
    # And the service keeps working under the new master key.
    s3.put_object(Bucket=bucket, Key="after", Body=b"after restart", ServerSideEncryption="aws:kms", SSEKMSKeyId=k)
    admin.ok("POST", f"/v1/kms/keys/{k}/rotate")
    second = admin.ok("POST", "/v1/kms/master/rotate")
    assert second["master_key_id"] not in (old_id, rotated["master_key_id"])
    assert s3.get_object(Bucket=bucket, Key="after")["Body"].read() == b"after restart"
    check_every_kind(s3, bucket, k, bodies)
    assert server.stop() == 0, server.log_tail()


def test_rotate_master_is_refused_for_a_key_from_the_environment(server_factory, tmp_path):
    env_key = base64.b64encode(bytes(range(32))).decode()
    server = server_factory.start(env_extra={"HAFIZ_KMS_MASTER_KEY": env_key})
    admin, s3 = admin_of(server), s3_of(server)
    assert not master_copies(server)  # nothing generated
    status = admin.ok("GET", "/v1/kms/status")
    r = admin.request("POST", "/v1/kms/master/rotate")
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "MasterKeyFromEnvironment"
    assert "HAFIZ_KMS_MASTER_KEY" in r.json()["message"]
    assert admin.ok("GET", "/v1/kms/status") == status
    c = Cli(tmp_path / "cli")
    c("alias", "set", "e", server.admin_endpoint, server.access_key, server.secret_key)
    c.fails("kms", "rotate-master", "e", code="MasterKeyFromEnvironment")
    # The service itself works with that key.
    bucket = unique_bucket_name("kms-env")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="o", Body=b"env", ServerSideEncryption="AES256")
    assert s3.get_object(Bucket=bucket, Key="o")["Body"].read() == b"env"
    assert server.stop() == 0, server.log_tail()


def test_cli_rotate_master(server_factory, tmp_path):
    server = server_factory.start()
    c = Cli(tmp_path / "cli")
    c("alias", "set", "m", server.admin_endpoint, server.access_key, server.secret_key)
    before = c.json("kms", "status", "m")["master_key_id"]
    out = c("kms", "rotate-master", "m").stdout
    after = c.json("kms", "status", "m")["master_key_id"]
    assert after != before and after in out and "re-sealed" in out
    rotated = c.json("kms", "rotate-master", "m")
    assert rotated["master_key_id"] != after and rotated["resealed"] >= 2
    assert server.stop() == 0, server.log_tail()


# --------------------------------------------------------------------------
# Nothing secret at rest
# --------------------------------------------------------------------------


def files_holding(root, needles: dict[str, bytes], skip=()) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {name: [] for name in needles}
    for f in root.rglob("*"):
        if not f.is_file() or f in skip:
            continue
        try:
            data = f.read_bytes()
        except OSError:
            continue
        for name, needle in needles.items():
            if needle in data:
                found[name].append(str(f.relative_to(root)))
    return found


def test_neither_the_master_key_nor_plaintext_is_stored(server_factory):
    server = server_factory.start()
    admin, s3 = admin_of(server), s3_of(server)
    k = admin.ok("POST", "/v1/kms/keys", {"id": kid("rest")}, expect=201)["id"]
    bucket = unique_bucket_name("kms-rest")
    s3.create_bucket(Bucket=bucket)
    marker = f"SECRET-{uuid.uuid4().hex}-PLAINTEXT|".encode()
    control = f"PLAIN-{uuid.uuid4().hex}-CONTROL|".encode()
    for size in (1, 40, 6000):  # inline-sized and multi-chunk bodies
        s3.put_object(Bucket=bucket, Key=f"s3-{size}", Body=marker * size, ServerSideEncryption="AES256")
        s3.put_object(
            Bucket=bucket, Key=f"kms-{size}", Body=marker * size, ServerSideEncryption="aws:kms", SSEKMSKeyId=k
        )
        s3.put_object(Bucket=bucket, Key=f"default-{size}", Body=marker * size, ServerSideEncryption="aws:kms")
    up = s3.create_multipart_upload(Bucket=bucket, Key="mpu", ServerSideEncryption="aws:kms", SSEKMSKeyId=k)
    part = s3.upload_part(Bucket=bucket, Key="mpu", UploadId=up["UploadId"], PartNumber=1, Body=marker * 2000)
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mpu", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    # The control: the same kind of body, unencrypted, is found, so the search works.
    s3.put_object(Bucket=bucket, Key="control", Body=control * 6000)
    assert s3.get_object(Bucket=bucket, Key="kms-6000")["Body"].read() == marker * 6000
    admin.ok("POST", "/v1/kms/master/rotate")
    assert server.stop() == 0, server.log_tail()  # everything flushed

    key_file = master_path(server)
    (text,) = master_keys_in(key_file)
    raw = base64.b64decode(text)
    assert len(raw) == 32
    found = files_holding(
        server.data_dir,
        {
            "plaintext": marker,
            "control": control,
            "master key": raw,
            "master key (base64)": text.encode(),
            "master key (hex)": raw.hex().encode(),
        },
        skip=set(master_copies(server)),
    )
    assert found["control"], "the unencrypted control object was not found: the search is broken"
    for name in ("plaintext", "master key", "master key (base64)", "master key (hex)"):
        assert not found[name], f"{name} found in {found[name]}"
