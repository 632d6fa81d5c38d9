"""Rate limits per access key and per bucket (docs/admin.md, "Rate limits"): token
buckets configured through the admin API; a request without a token answers
`503 SlowDown` with `Retry-After`, which SDKs retry."""

from __future__ import annotations

import time

import botocore.exceptions
import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import REGION, make_client
from test_admin_api import S3_ALL, create_user, root_admin, s3_once, uid
from test_iam import sts_client, temp_s3


@pytest.fixture(scope="module")
def admin(hafiz):
    return root_admin(hafiz)


@pytest.fixture
def bucket(hafiz, admin):
    name = uid("rl")
    admin.ok("POST", "/v1/buckets", {"name": name}, expect=201)
    return name


def user_key(admin) -> dict:
    return create_user(admin, S3_ALL)[1]


def burst(call, n: int) -> list:
    """Run `call` n times back to back: a list of None (passed) or the ClientError."""
    out = []
    for _ in range(n):
        try:
            call()
            out.append(None)
        except botocore.exceptions.ClientError as e:
            out.append(e)
    return out


def assert_slow_down(e: botocore.exceptions.ClientError) -> int:
    """A SlowDown answer: 503 with Retry-After (seconds, >= 1); returns it."""
    meta = e.response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 503, e.response
    # HEAD answers have no body; others carry the S3 error code.
    assert e.response["Error"]["Code"] in ("SlowDown", "503"), e.response
    retry_after = meta["HTTPHeaders"].get("retry-after")
    assert retry_after is not None and retry_after.isdigit(), meta["HTTPHeaders"]
    assert int(retry_after) >= 1
    return int(retry_after)


def signed_get(server, key: dict, path: str) -> requests.Response:
    """A raw GET signed by botocore (no SDK error handling in the way)."""
    url = server.endpoint + path
    req = AWSRequest(method="GET", url=url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    S3SigV4Auth(Credentials(key["access_key_id"], key["secret_key"]), "s3", REGION).add_auth(req)
    return requests.get(url, headers=dict(req.headers.items()), timeout=10)


def test_rate_limit_configuration(admin, bucket):
    key = user_key(admin)
    kid = key["access_key_id"]
    assert admin.error("GET", f"/v1/rate-limits/keys/{kid}") == (404, "NoSuchRateLimit")
    out = admin.ok("PUT", f"/v1/rate-limits/keys/{kid}", {"requests_per_second": 2.5})
    assert out == {"scope": "keys", "name": kid, "requests_per_second": 2.5, "bytes_per_second": None}
    assert admin.ok("GET", f"/v1/rate-limits/keys/{kid}") == out
    b = admin.ok("PUT", f"/v1/rate-limits/buckets/{bucket}", {"bytes_per_second": 1000000})
    assert b == {"scope": "buckets", "name": bucket, "requests_per_second": None, "bytes_per_second": 1000000}
    listed = admin.ok("GET", "/v1/rate-limits")
    assert out in listed and b in listed
    # Replacing a limit.
    out2 = admin.ok("PUT", f"/v1/rate-limits/keys/{kid}", {"requests_per_second": 10, "bytes_per_second": 5})
    assert out2["requests_per_second"] == 10 and out2["bytes_per_second"] == 5
    for bad in [{"requests_per_second": 0}, {"requests_per_second": -1}, {"bytes_per_second": 0},
                {"bytes_per_second": -5}, {"requests_per_second": "fast"}]:
        assert admin.error("PUT", f"/v1/rate-limits/keys/{kid}", bad) == (400, "InvalidRequest"), bad
    assert admin.error("PUT", f"/v1/rate-limits/users/{kid}", {"requests_per_second": 1}) == (400, "InvalidRequest")
    r = admin.request("DELETE", f"/v1/rate-limits/keys/{kid}")
    assert r.status_code == 204, r.text
    admin.ok("DELETE", f"/v1/rate-limits/buckets/{bucket}", expect=204)
    assert admin.error("GET", f"/v1/rate-limits/keys/{kid}") == (404, "NoSuchRateLimit")
    assert admin.error("DELETE", f"/v1/rate-limits/keys/{kid}") == (404, "NoSuchRateLimit")
    listed = admin.ok("GET", "/v1/rate-limits")
    assert all(l["name"] not in (kid, bucket) for l in listed)


def test_a_key_over_its_request_rate_gets_slow_down(hafiz, admin, bucket):
    key = user_key(admin)
    other = user_key(admin)
    limited, unlimited = s3_once(hafiz, key), s3_once(hafiz, other)
    limited.head_bucket(Bucket=bucket)  # unlimited so far
    admin.ok("PUT", f"/v1/rate-limits/keys/{key['access_key_id']}", {"requests_per_second": 2})
    results = burst(lambda: limited.head_bucket(Bucket=bucket), 6)
    refused = [e for e in results if e is not None]
    # A burst of one second's worth (2) passes; most of the rest is refused.
    assert results[0] is None and results[1] is None, results
    assert len(refused) >= 3, results
    for e in refused:
        assert assert_slow_down(e) <= 2
    # With a body, the S3 error is SlowDown; raw requests see Retry-After too.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        limited.list_objects_v2(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "SlowDown"
    assert_slow_down(e.value)
    r = signed_get(hafiz, key, f"/{bucket}?list-type=2")
    assert r.status_code == 503 and "<Code>SlowDown</Code>" in r.text, r.text
    assert int(r.headers["Retry-After"]) >= 1
    # Another key on the same bucket is not affected.
    assert burst(lambda: unlimited.head_bucket(Bucket=bucket), 6) == [None] * 6
    # A second later one second's worth is back.
    time.sleep(1.1)
    assert burst(lambda: limited.head_bucket(Bucket=bucket), 2) == [None, None]
    # Lifting the limit lifts it at once.
    admin.ok("DELETE", f"/v1/rate-limits/keys/{key['access_key_id']}", expect=204)
    assert burst(lambda: limited.head_bucket(Bucket=bucket), 8) == [None] * 8


def test_the_sdk_retries_slow_down_until_a_burst_passes(hafiz, admin, bucket):
    key = user_key(admin)
    admin.ok("PUT", f"/v1/rate-limits/keys/{key['access_key_id']}", {"requests_per_second": 4})
    # boto3's default retry configuration (legacy: 5 attempts with backoff).
    client = make_client(hafiz.endpoint, key["access_key_id"], key["secret_key"])
    started = time.monotonic()
    results = burst(lambda: client.put_object(Bucket=bucket, Key="k", Body=b"v"), 10)
    elapsed = time.monotonic() - started
    assert results == [None] * 10, [e and e.response for e in results]
    # 10 requests at 4 a second with a burst of 4 cannot all pass at once.
    assert elapsed >= 1.0, elapsed
    admin.ok("DELETE", f"/v1/rate-limits/keys/{key['access_key_id']}", expect=204)


def test_a_bucket_limit_applies_to_every_key_on_that_bucket_only(hafiz, admin, bucket):
    other_bucket = uid("rl")
    admin.ok("POST", "/v1/buckets", {"name": other_bucket}, expect=201)
    k1, k2 = user_key(admin), user_key(admin)
    c1, c2, root = s3_once(hafiz, k1), s3_once(hafiz, k2), s3_once(hafiz)
    admin.ok("PUT", f"/v1/rate-limits/buckets/{bucket}", {"requests_per_second": 1})
    # Three callers share the bucket's one token a second: the first passes, the
    # others (root included) are refused, whichever key they sign with.
    results = []
    for c in (c1, c2, root):
        results += burst(lambda: c.head_bucket(Bucket=bucket), 1)
    assert results[0] is None, results
    assert all(e is not None for e in results[1:]), results
    for e in results[1:]:
        assert_slow_down(e)
    # Other buckets, for the same keys, are not affected.
    for c in (c1, c2, root):
        assert burst(lambda: c.head_bucket(Bucket=other_bucket), 4) == [None] * 4
    # Service-level requests (no bucket) are not limited by a bucket's limit.
    assert burst(lambda: c1.list_buckets(), 4) == [None] * 4
    admin.ok("DELETE", f"/v1/rate-limits/buckets/{bucket}", expect=204)
    assert burst(lambda: root.head_bucket(Bucket=bucket), 8) == [None] * 8


def test_anonymous_requests_count_against_a_bucket_limit(hafiz, admin, bucket):
    s3_once(hafiz).put_object(Bucket=bucket, Key="pub", Body=b"public")
    admin.ok(
        "PUT",
        f"/v1/buckets/{bucket}/policy",
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
            ],
        },
    )
    url = f"{hafiz.endpoint}/{bucket}/pub"
    assert [requests.get(url, timeout=10).status_code for _ in range(3)] == [200] * 3
    admin.ok("PUT", f"/v1/rate-limits/buckets/{bucket}", {"requests_per_second": 1})
    answers = [requests.get(url, timeout=10) for _ in range(3)]
    assert answers[0].status_code == 200 and answers[0].content == b"public"
    for r in answers[1:]:
        assert r.status_code == 503 and "<Code>SlowDown</Code>" in r.text, r.text
        assert int(r.headers["Retry-After"]) >= 1
    admin.ok("DELETE", f"/v1/rate-limits/buckets/{bucket}", expect=204)
    assert requests.get(url, timeout=10).status_code == 200


def test_bytes_per_second_puts_a_key_in_debt_after_a_download(hafiz, admin, bucket):
    body = b"d" * 1_000_000
    s3_once(hafiz).put_object(Bucket=bucket, Key="big", Body=body)  # by root, before any limit
    key = user_key(admin)
    other = user_key(admin)
    client = s3_once(hafiz, key)
    admin.ok("PUT", f"/v1/rate-limits/keys/{key['access_key_id']}", {"bytes_per_second": 200000})
    # The download itself is admitted (nothing owed yet) ...
    assert client.get_object(Bucket=bucket, Key="big")["Body"].read() == body
    # ... and then owed: about 800 KB at 200 KB/s, i.e. 4 seconds.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.head_object(Bucket=bucket, Key="big")
    retry_after = assert_slow_down(e.value)
    assert 3 <= retry_after <= 6, retry_after
    # The debt is the key's: another key downloads freely.
    assert s3_once(hafiz, other).get_object(Bucket=bucket, Key="big")["Body"].read() == body
    # Still in debt a second later.
    time.sleep(1)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.head_object(Bucket=bucket, Key="big")
    assert 2 <= assert_slow_down(e.value) <= retry_after
    # Deleting the limit lifts it (debt included).
    admin.ok("DELETE", f"/v1/rate-limits/keys/{key['access_key_id']}", expect=204)
    client.head_object(Bucket=bucket, Key="big")
    assert client.get_object(Bucket=bucket, Key="big")["Body"].read() == body


def test_bytes_per_second_charges_uploads_as_received(hafiz, admin, bucket):
    key = user_key(admin)
    client = s3_once(hafiz, key)
    admin.ok("PUT", f"/v1/rate-limits/keys/{key['access_key_id']}", {"bytes_per_second": 100000})
    # The upload (300 KB) is charged once received: the next request owes 200 KB.
    client.put_object(Bucket=bucket, Key="up", Body=b"u" * 300_000)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.head_object(Bucket=bucket, Key="up")
    assert 1 <= assert_slow_down(e.value) <= 3
    # Once the debt is repaid (200 KB at 100 KB/s) requests pass again.
    time.sleep(2.1)
    client.head_object(Bucket=bucket, Key="up")
    admin.ok("DELETE", f"/v1/rate-limits/keys/{key['access_key_id']}", expect=204)


def test_a_declared_length_costs_nothing_until_the_body_arrives(hafiz, admin, bucket):
    """An unsigned request declaring an absurd body cannot put a bucket in debt:
    bytes are charged as they really move."""
    admin.ok("PUT", f"/v1/rate-limits/buckets/{bucket}", {"bytes_per_second": 10_000_000})
    for header in ("x-amz-decoded-content-length", "content-length"):
        r = requests.get(
            f"{hafiz.endpoint}/{bucket}/k", headers={header: str(10**18)}, timeout=10
        )
        assert r.status_code in (400, 403), r.status_code
    # Everyone else is unaffected.
    make_client(hafiz.endpoint, hafiz.access_key, hafiz.secret_key).head_bucket(Bucket=bucket)


def test_absurd_rates_are_refused(admin):
    key = user_key(admin)
    kid = key["access_key_id"]
    for spec in ({"requests_per_second": 1e-30}, {"requests_per_second": 0}, {"bytes_per_second": 0}):
        assert admin.error("PUT", f"/v1/rate-limits/keys/{kid}", spec) == (400, "InvalidRequest")


def test_temporary_credentials_spend_their_parent_keys_limit(hafiz, admin, bucket):
    key = user_key(admin)
    admin.ok("PUT", f"/v1/rate-limits/keys/{key['access_key_id']}", {"requests_per_second": 1})
    sts = sts_client(hafiz, key["access_key_id"], key["secret_key"])
    creds = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/x", RoleSessionName="limited")["Credentials"]
    session = temp_s3(hafiz, creds)
    time.sleep(1.1)
    results = burst(lambda: session.list_objects_v2(Bucket=bucket), 5)
    refused = [e for e in results if e is not None]
    assert len(refused) >= 3, results
    for e in refused:
        assert_slow_down(e)
