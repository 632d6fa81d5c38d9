"""STS AssumeRoleWithWebIdentity against an OpenID Connect provider the tests play:
they hold the provider's RSA key, publish its JWKS (a file, or a URL served from a
thread), and mint tokens with PyJWT. boto3 sends the call unsigned."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import ssl
import threading
import time
import uuid

import boto3
import botocore.exceptions
import jwt
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from conftest import REGION
from test_iam import iam_client, temp_s3

ISSUER = "https://idp.hafiz.test/realms/main"
AUDIENCE = "hafiz-console"
ROLE = "arn:aws:iam::000000000000:role/web"


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks_of(key, kid: str) -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=kid, use="sig", alg="RS256")
    return {"keys": [jwk]}


class Provider:
    """The identity provider: a key, its JWKS, and tokens signed with it."""

    def __init__(self, kid: str = "k1"):
        self.key = new_key()
        self.kid = kid
        self.jwks = jwks_of(self.key, kid)

    def token(self, policy="readonly", *, key=None, kid=None, **claims) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice@example.test", "iat": now, "exp": now + 600}
        if policy is not None:
            body["policy"] = policy
        body.update(claims)
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})


def sts_unsigned(server):
    return boto3.session.Session().client(
        "sts",
        endpoint_url=server.endpoint,
        region_name=REGION,
        # No client-side validation: the expiry test asks for a 2-second session.
        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}, parameter_validation=False),
    )


def iam_root(server):
    return iam_client(server)


def s3_with(server, creds):
    return temp_s3(server, creds)


def code_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def status_of(excinfo) -> int:
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def read_policy(bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
            ],
        }
    )


def oidc_args(jwks: str, audience: str | None = AUDIENCE) -> list[str]:
    args = ["--oidc-issuer", ISSUER, "--oidc-jwks", jwks]
    if audience:
        args += ["--oidc-audience", audience]
    return args


@pytest.fixture(scope="module")
def provider():
    return Provider()


@pytest.fixture(scope="module")
def oidc_server(server_factory, provider, tmp_path_factory):
    path = tmp_path_factory.mktemp("oidc") / "jwks.json"
    path.write_text(json.dumps(provider.jwks))
    server = server_factory.start(
        extra_args=oidc_args(str(path)),
        env_extra={"HAFIZ_STS_MIN_DURATION": "1"},
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def readable(oidc_server):
    """A bucket with an object, a managed policy `readonly` that reads it, and a
    second bucket nothing grants."""
    s3 = oidc_server.client()
    bucket = f"web-{uuid.uuid4().hex[:10]}"
    other = f"web-{uuid.uuid4().hex[:10]}"
    for b in (bucket, other):
        s3.create_bucket(Bucket=b)
        s3.put_object(Bucket=b, Key="doc.txt", Body=b"hello")
    iam_root(oidc_server).create_policy(PolicyName="readonly", PolicyDocument=read_policy(bucket))
    return bucket, other


def assume(server, token, **kw):
    kw.setdefault("RoleArn", ROLE)
    kw.setdefault("RoleSessionName", "alice-session")
    return sts_unsigned(server).assume_role_with_web_identity(WebIdentityToken=token, **kw)


def test_a_web_identity_reads_what_its_policy_allows_and_nothing_else(oidc_server, provider, readable):
    bucket, other = readable
    out = assume(oidc_server, provider.token())
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and creds["SessionToken"]
    assert out["SubjectFromWebIdentityToken"] == "alice@example.test"
    assert out["Audience"] == AUDIENCE
    assert out["Provider"] == ISSUER
    assert out["AssumedRoleUser"]["Arn"].endswith(":assumed-role/web/alice-session")
    assert out["AssumedRoleUser"]["AssumedRoleId"] == f"{creds['AccessKeyId']}:alice-session"
    # About an hour by default.
    left = (creds["Expiration"].timestamp() - time.time())
    assert 3500 < left <= 3600

    s3 = s3_with(oidc_server, creds)
    assert s3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"hello"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["doc.txt"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=bucket, Key="new.txt", Body=b"x")
    assert code_of(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=other, Key="doc.txt")
    assert code_of(e) == "AccessDenied"
    # Temporary credentials manage nothing and get no more credentials.
    iam = iam_client(oidc_server, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_user(UserName="nope")
    assert code_of(e) == "AccessDenied"


def test_a_session_policy_narrows_and_policy_changes_apply_at_once(oidc_server, provider, readable):
    bucket, other = readable
    iam = iam_root(oidc_server)
    name = f"p-{uuid.uuid4().hex[:8]}"
    iam.create_policy(PolicyName=name, PolicyDocument=read_policy(other))
    creds = assume(oidc_server, provider.token(policy=["readonly", name]))["Credentials"]
    s3 = s3_with(oidc_server, creds)
    # The union of the named policies.
    assert s3.get_object(Bucket=other, Key="doc.txt")["Body"].read() == b"hello"
    assert s3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"hello"
    # A deleted policy stops applying to sessions already issued.
    iam.delete_policy(PolicyArn=_arn_of(iam, name))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket=other, Key="doc.txt")
    assert code_of(e) == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"hello"
    # A session policy narrows what the token's policies allow.
    narrow = assume(
        oidc_server,
        provider.token(),
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}),
    )["Credentials"]
    s3n = s3_with(oidc_server, narrow)
    s3n.list_objects_v2(Bucket=bucket)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3n.get_object(Bucket=bucket, Key="doc.txt")
    assert code_of(e) == "AccessDenied"


def _arn_of(iam, name: str) -> str:
    for p in iam.list_policies(Scope="Local")["Policies"]:
        if p["PolicyName"] == name:
            return p["Arn"]
    raise AssertionError(f"policy {name} not listed")


@pytest.mark.parametrize(
    "case, code, status",
    [
        ("other-key", "InvalidIdentityToken", 400),
        ("unknown-kid", "InvalidIdentityToken", 400),
        ("wrong-audience", "InvalidIdentityToken", 400),
        ("wrong-issuer", "InvalidIdentityToken", 400),
        ("expired", "ExpiredTokenException", 400),
        ("garbage", "InvalidIdentityToken", 400),
        ("no-policy", "AccessDenied", 403),
        ("unknown-policy", "AccessDenied", 403),
    ],
)
def test_bad_tokens_are_refused_with_aws_error_codes(oidc_server, provider, readable, case, code, status):
    now = int(time.time())
    token = {
        "other-key": lambda: provider.token(key=new_key()),
        "unknown-kid": lambda: provider.token(kid="not-published"),
        "wrong-audience": lambda: provider.token(aud="someone-else"),
        "wrong-issuer": lambda: provider.token(iss="https://evil.test"),
        "expired": lambda: provider.token(exp=now - 3600, iat=now - 7200),
        "garbage": lambda: "this.is-not.a-jwt",
        "no-policy": lambda: provider.token(policy=None),
        "unknown-policy": lambda: provider.token(policy="no-such-policy"),
    }[case]()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        assume(oidc_server, token)
    assert (code_of(e), status_of(e)) == (code, status), e.value.response


def test_web_identity_credentials_expire(oidc_server, provider, readable):
    bucket, _ = readable
    creds = assume(oidc_server, provider.token(), DurationSeconds=2)["Credentials"]
    s3 = s3_with(oidc_server, creds)
    s3.list_objects_v2(Bucket=bucket)
    time.sleep(2.5)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_objects_v2(Bucket=bucket)
    assert code_of(e) == "ExpiredToken"


def test_signed_requests_still_reach_s3_and_iam(oidc_server, readable):
    """The unsigned-STS route must not catch S3 POSTs (DeleteObjects) or signed IAM."""
    bucket, _ = readable
    s3 = oidc_server.client()
    s3.put_object(Bucket=bucket, Key="tmp.txt", Body=b"x")
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "tmp.txt"}]})
    assert [d["Key"] for d in out["Deleted"]] == ["tmp.txt"]
    assert any(p["PolicyName"] == "readonly" for p in iam_root(oidc_server).list_policies(Scope="Local")["Policies"])
    # An unsigned call of any other STS action is refused.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts_unsigned(oidc_server).get_caller_identity()
    assert status_of(e) == 403


def test_without_a_provider_web_identities_are_refused(hafiz, provider):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        assume(hafiz, provider.token())
    assert code_of(e) == "InvalidIdentityToken"
    assert "No OpenID Connect provider" in e.value.response["Error"]["Message"]


class _JwksHandler(http.server.BaseHTTPRequestHandler):
    jwks: bytes = b"{}"
    hits = 0

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.jwks)))
        self.end_headers()
        self.wfile.write(self.jwks)

    def log_message(self, *args):
        pass


def test_keys_from_a_jwks_url(server_factory):
    provider = Provider(kid="url-key")
    handler = type("Handler", (_JwksHandler,), {"jwks": json.dumps(provider.jwks).encode(), "hits": 0})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/realms/main/certs"
        server = server_factory.start(extra_args=oidc_args(url, audience=None))
        iam_root(server).create_policy(
            PolicyName="readonly",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}
            ),
        )
        creds = assume(server, provider.token(aud="any-client"))["Credentials"]
        s3_with(server, creds).list_buckets()
        fetched = handler.hits
        assert fetched >= 1
        # Cached: another token costs no fetch.
        assume(server, provider.token())
        assert handler.hits == fetched
        # An unknown key id right after a fetch is refused without fetching again.
        with pytest.raises(botocore.exceptions.ClientError) as e:
            assume(server, provider.token(kid="rotated"))
        assert code_of(e) == "InvalidIdentityToken"
        assert handler.hits == fetched
    finally:
        httpd.shutdown()
        httpd.server_close()
    server.stop()


def tls_files(tmp_path):
    """A CA and a certificate for 127.0.0.1 it signed: (ca.pem, cert.pem, key.pem)."""
    now = datetime.datetime.now(datetime.timezone.utc)

    def cert(subject, issuer, public_key, signer, ca, sans=None):
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return b.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = cert("hafiz test CA", "hafiz test CA", ca_key.public_key(), ca_key, True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = cert("127.0.0.1", "hafiz test CA", key.public_key(), ca_key, False, [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    paths = [tmp_path / n for n in ("ca.pem", "cert.pem", "key.pem")]
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def test_keys_from_an_https_jwks_url(server_factory, tmp_path):
    provider = Provider(kid="tls-key")
    ca, cert, key = tls_files(tmp_path)
    handler = type("Handler", (_JwksHandler,), {"jwks": json.dumps(provider.jwks).encode(), "hits": 0})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{httpd.server_address[1]}/certs"
    try:
        # Trusted through the CA given as the system's roots.
        server = server_factory.start(extra_args=oidc_args(url), env_extra={"SSL_CERT_FILE": str(ca)})
        iam_root(server).create_policy(
            PolicyName="readonly",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}
            ),
        )
        creds = assume(server, provider.token())["Credentials"]
        s3_with(server, creds).list_buckets()
        assert handler.hits >= 1
        server.stop()
        # Without that CA the certificate is not trusted: the keys cannot be fetched.
        untrusting = server_factory.start(extra_args=oidc_args(url))
        with pytest.raises(botocore.exceptions.ClientError) as e:
            assume(untrusting, provider.token())
        assert code_of(e) == "IDPCommunicationError"
        untrusting.stop()
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_unreachable_jwks_url_is_an_idp_communication_error(server_factory):
    provider = Provider()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _JwksHandler)
    port = httpd.server_address[1]
    httpd.server_close()  # nothing listens there any more
    server = server_factory.start(extra_args=oidc_args(f"http://127.0.0.1:{port}/certs"))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        assume(server, provider.token())
    assert code_of(e) == "IDPCommunicationError"
    server.stop()


def test_audit_records_name_the_web_identity_and_hold_no_token(server_factory, provider, tmp_path):
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(provider.jwks))
    audit_dir = tmp_path / "audit"
    server = server_factory.start(extra_args=[*oidc_args(str(jwks)), "--audit-dir", str(audit_dir)])
    b = f"web-{uuid.uuid4().hex[:10]}"
    server.client().create_bucket(Bucket=b)
    server.client().put_object(Bucket=b, Key="doc.txt", Body=b"hello")
    iam_root(server).create_policy(PolicyName="readonly", PolicyDocument=read_policy(b))
    token = provider.token()
    creds = assume(server, token)["Credentials"]
    s3_with(server, creds).get_object(Bucket=b, Key="doc.txt")["Body"].read()
    with pytest.raises(botocore.exceptions.ClientError):
        assume(server, provider.token(aud="someone-else"))
    assert server.stop() == 0

    records = [json.loads(line) for f in sorted(audit_dir.glob("audit*.log")) for line in f.read_text().splitlines()]
    assumed = [r for r in records if r["eventName"] == "AssumeRoleWithWebIdentity"]
    assert len(assumed) == 2
    ok, refused = assumed
    assert ok["eventSource"] == "sts.amazonaws.com" and ok["errorCode"] is None
    assert ok["userIdentity"]["type"] == "WebIdentityUser"
    assert ok["userIdentity"]["userName"] == "alice@example.test"
    assert ok["userIdentity"]["principalId"] == f"{ISSUER}:alice@example.test"
    assert ok["userIdentity"]["accessKeyId"] == creds["AccessKeyId"]
    assert refused["errorCode"] == "InvalidIdentityToken"
    get = [r for r in records if r["eventName"] == "GetObject"][0]
    assert get["userIdentity"]["type"] == "WebIdentityUser"
    assert get["userIdentity"]["arn"].endswith(":assumed-role/web/alice-session")
    text = "".join(f.read_text() for f in audit_dir.iterdir()) + server.log()
    for secret in (token, creds["SecretAccessKey"], creds["SessionToken"]):
        assert secret not in text
