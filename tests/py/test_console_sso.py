"""Console single sign-on by OpenID Connect (docs/console.md, "Single sign-on"): a
stand-in provider run here on loopback (discovery, an authorize endpoint that signs
the user straight in, a token endpoint that checks the PKCE verifier, a JWKS), the
real binary with `--oidc-issuer` and `--console-oidc-client-id`, and headless
Chromium following the redirects. Forged and replayed states, a PKCE mismatch, a
wrong nonce, an expired token and a token for another audience are all refused."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
import time
import urllib.parse
import uuid

import jwt
import pytest
import requests
from selenium.webdriver.common.by import By

from admin_client import AdminClient
from conftest import free_port, make_client, unique_bucket_name, wait_for
from test_console import browser, nav, shot  # noqa: F401  (the browser fixture)
from test_sts_web_identity import jwks_of, new_key

CLIENT_ID = "hafiz-console-test"


class Provider:
    """The identity provider. `mode` bends its answers for the refusal tests."""

    def __init__(self):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.key = new_key()
        self.jwks = jwks_of(self.key, "k1")
        self.codes: dict[str, dict] = {}
        self.mode = "ok"
        self.user = "alice"
        self.policy = "console-sso"
        self.token_calls = 0
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def answer(self, status, body: dict):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                q = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/.well-known/openid-configuration":
                    return self.answer(200, {
                        "issuer": provider.issuer,
                        "authorization_endpoint": provider.issuer + "/authorize",
                        "token_endpoint": provider.issuer + "/token",
                        "jwks_uri": provider.issuer + "/jwks",
                    })
                if url.path == "/jwks":
                    return self.answer(200, provider.jwks)
                if url.path == "/authorize":
                    assert q["client_id"] == CLIENT_ID and q["response_type"] == "code"
                    assert q["code_challenge_method"] == "S256" and "openid" in q["scope"]
                    code = uuid.uuid4().hex
                    provider.codes[code] = q
                    target = q["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": q["state"]})
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.answer(404, {})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                provider.token_calls += 1
                asked = provider.codes.pop(form.get("code", ""), None)
                if asked is None:
                    return self.answer(400, {"error": "invalid_grant", "error_description": "unknown code"})
                challenge = base64.urlsafe_b64encode(
                    hashlib.sha256(form.get("code_verifier", "").encode()).digest()).rstrip(b"=").decode()
                if challenge != asked["code_challenge"] or provider.mode == "pkce":
                    return self.answer(400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
                if form.get("redirect_uri") != asked["redirect_uri"]:
                    return self.answer(400, {"error": "invalid_grant", "error_description": "redirect_uri"})
                now = int(time.time())
                claims = {"iss": provider.issuer, "aud": CLIENT_ID, "sub": f"sub-{provider.user}",
                          "preferred_username": provider.user, "iat": now, "exp": now + 600,
                          "nonce": asked["nonce"], "policy": provider.policy}
                if provider.mode == "expired":
                    claims.update(iat=now - 7200, exp=now - 3600)
                if provider.mode == "audience":
                    claims["aud"] = "another-client"
                if provider.mode == "nonce":
                    claims["nonce"] = "not-the-one"
                if provider.mode == "forged":
                    token = jwt.encode(claims, new_key(), algorithm="RS256", headers={"kid": "k1"})
                else:
                    token = jwt.encode(claims, provider.key, algorithm="RS256", headers={"kid": "k1"})
                self.answer(200, {"id_token": token, "access_token": "x", "token_type": "Bearer"})

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def provider():
    p = Provider()
    yield p
    p.close()


@pytest.fixture(scope="module")
def sso_server(server_factory, provider):
    port = free_port()
    server = server_factory.start(extra_args=[
        "--console-address", f"127.0.0.1:{port}",
        "--oidc-issuer", provider.issuer, "--oidc-jwks", provider.issuer + "/jwks",
        "--oidc-audience", CLIENT_ID, "--console-oidc-client-id", CLIENT_ID,
    ])
    server.console = f"http://127.0.0.1:{port}"
    admin = AdminClient(server.admin_endpoint, server.access_key, server.secret_key)
    admin.ok("POST", "/v1/policies", {"name": "console-sso", "document": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:ListAllMyBuckets", "s3:ListBucket", "s3:GetObject"],
                       "Resource": "*"}]}}, expect=201)
    server.bucket = unique_bucket_name("sso")
    make_client(server.endpoint, server.access_key, server.secret_key).create_bucket(Bucket=server.bucket)
    return server


def flow(server, provider, mode="ok") -> requests.Response:
    """The redirects a browser follows, with requests."""
    provider.mode = mode
    s = requests.Session()
    r = s.get(server.console + "/sso/login?next=%2Fbuckets")
    return r


def test_sso_sign_in_in_the_browser(sso_server, provider, browser):  # noqa: F811
    provider.mode = "ok"
    browser.delete_all_cookies()
    browser.get(sso_server.console + "/signin")
    browser.find_element(By.ID, "sso").click()
    wait_for("the buckets page", lambda: browser.current_url.endswith("/buckets"), timeout=20)
    assert browser.find_element(By.ID, "who").text == "sso:alice"
    # The session acts with the policy the token's claim names: it lists buckets ...
    assert sso_server.bucket in browser.find_element(By.ID, "buckets").text
    shot(browser, "11-sso-signed-in")
    # ... and may not write (the policy grants reads only): the error is in the page.
    browser.find_element(By.ID, "bucket-name").send_keys(unique_bucket_name("nope"))
    nav(browser, browser.find_element(By.ID, "create"))
    assert "AccessDenied" in browser.find_element(By.ID, "error").text


def test_sso_answers_that_must_be_refused(sso_server, provider):
    for mode, expect in (("pkce", "PKCE"), ("nonce", "nonce"), ("expired", "Expired"),
                         ("audience", "InvalidIdentityToken"), ("forged", "InvalidIdentityToken")):
        r = flow(sso_server, provider, mode)
        assert "/signin" in r.url and "/buckets" not in r.url, (mode, r.url)
        err = urllib.parse.unquote(r.url)
        assert expect.lower() in err.lower(), (mode, err)
        assert "hafiz_console" not in r.cookies
    provider.mode = "ok"


def test_forged_and_replayed_states_are_refused(sso_server, provider):
    provider.mode = "ok"
    # A callback the console did not start.
    r = requests.get(sso_server.console + "/sso/callback?code=abc&state=forged")
    assert "/signin" in r.url and "unknown or used sign-in state" in urllib.parse.unquote(r.url)
    # A real sign-in, then its callback URL replayed.
    s = requests.Session()
    r = s.get(sso_server.console + "/sso/login", allow_redirects=False)
    to_provider = r.headers["location"]
    r = s.get(to_provider, allow_redirects=False)
    callback = r.headers["location"]
    r = s.get(callback)
    assert 'http-equiv="refresh" content="0;url=/buckets"' in r.text
    assert '>sso:alice<' in s.get(sso_server.console + "/buckets").text
    replay = requests.get(callback)
    assert "/signin" in replay.url and "unknown or used sign-in state" in urllib.parse.unquote(replay.url)
    # The provider's own refusal is shown as such.
    r = requests.get(sso_server.console + "/sso/callback?error=access_denied&error_description=user+said+no")
    assert "access_denied" in urllib.parse.unquote(r.url)


def test_sign_in_page_offers_sso_only_when_configured(sso_server, console):  # noqa: F811
    assert 'id="sso"' in requests.get(sso_server.console + "/signin").text
    assert 'id="sso"' not in requests.get(console.console + "/signin").text
    r = requests.get(console.console + "/sso/login")
    assert "not configured" in r.text


from test_console import console  # noqa: E402,F401  (a console without SSO)
