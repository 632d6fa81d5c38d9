"""SAML 2.0: STS AssumeRoleWithSAML for SDK users (boto3) and the console's SAML
sign-in (headless Chromium), against a stand-in identity provider run here that
signs with a test key (signxml: enveloped RSA-SHA256, exclusive C14N). Forged,
tampered, expired, replayed, wrong-audience and wrong-recipient assertions, and a
sign-in state the console did not start, are all refused (docs/iam.md, "SAML";
docs/console.md)."""

from __future__ import annotations

import base64
import datetime
import html
import http.server
import re
import threading
import urllib.parse
import uuid

import boto3
import botocore.exceptions
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from selenium.webdriver.common.by import By
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, XMLSigner
from signxml.algorithms import SignatureConstructionMethod

from admin_client import AdminClient
from conftest import REGION, free_port, make_client, unique_bucket_name, wait_for
from test_console import browser, nav, shot  # noqa: F401  (the browser fixture)

AWS_RECIPIENT = "https://signin.aws.amazon.com/saml"
IDP_ENTITY = "https://idp.hafiz.test/saml"
POLICY = "saml-readers"


def key_and_cert(cn: str):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    return key, cert


def iso(dt: datetime.datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class Idp:
    """Signs SAML Responses; serves an SSO endpoint that posts them back to the SP."""

    def __init__(self):
        self.key, self.cert = key_and_cert("idp.hafiz.test")
        self.key_pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM)
        self.user = "alice@example.test"
        self.policies = [POLICY]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/sso"
        idp = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                request = etree.fromstring(base64.b64decode(form["SAMLRequest"]))
                acs = request.get("AssertionConsumerServiceURL")
                audience = request.find("{urn:oasis:names:tc:SAML:2.0:assertion}Issuer").text
                response = idp.response(recipient=acs, audience=audience, in_response_to=request.get("ID"))
                page = (f'<html><body onload="document.forms[0].submit()"><form method="post" action="{html.escape(acs)}">'
                        f'<input type="hidden" name="SAMLResponse" value="{response}">'
                        f'<input type="hidden" name="RelayState" value="{html.escape(form.get("RelayState", ""))}">'
                        f'<button type="submit">Continue</button></form></body></html>').encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def response(self, *, recipient=AWS_RECIPIENT, audience="urn:hafiz", in_response_to=None,
                 minutes=5, name_id=None, policies=None, key=None, cert=None) -> str:
        now = datetime.datetime.now(datetime.timezone.utc)
        not_after = iso(now + datetime.timedelta(minutes=minutes))
        aid = "_" + uuid.uuid4().hex
        irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
        values = "".join(f"<saml:AttributeValue>{p}</saml:AttributeValue>" for p in (policies or self.policies))
        xml = f"""<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="_r{uuid.uuid4().hex}" Version="2.0" IssueInstant="{iso(now)}" Destination="{recipient}"{irt}>
  <saml:Issuer>{IDP_ENTITY}</saml:Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
  <saml:Assertion ID="{aid}" Version="2.0" IssueInstant="{iso(now)}">
    <saml:Issuer>{IDP_ENTITY}</saml:Issuer><ds:Signature Id="placeholder"></ds:Signature>
    <saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id or self.user}</saml:NameID>
      <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <saml:SubjectConfirmationData{irt} NotOnOrAfter="{not_after}" Recipient="{recipient}"/>
      </saml:SubjectConfirmation>
    </saml:Subject>
    <saml:Conditions NotBefore="{iso(now - datetime.timedelta(minutes=1))}" NotOnOrAfter="{not_after}">
      <saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>
    </saml:Conditions>
    <saml:AuthnStatement AuthnInstant="{iso(now)}" SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>
    <saml:AttributeStatement><saml:Attribute Name="policy">{values}</saml:Attribute></saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>"""
        signer = XMLSigner(method=SignatureConstructionMethod.enveloped,
                           signature_algorithm=SignatureMethod.RSA_SHA256,
                           digest_algorithm=DigestAlgorithm.SHA256,
                           c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0)
        signed = signer.sign(etree.fromstring(xml.encode()), key=key or self.key_pem,
                             cert=(cert or self.cert_pem), reference_uri=f"#{aid}")
        return base64.b64encode(etree.tostring(signed)).decode()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def idp():
    i = Idp()
    yield i
    i.close()


@pytest.fixture(scope="module")
def saml_server(server_factory, idp, tmp_path_factory):
    cert = tmp_path_factory.mktemp("saml") / "idp.pem"
    cert.write_bytes(idp.cert_pem)
    port = free_port()
    console_url = f"http://127.0.0.1:{port}"
    server = server_factory.start(extra_args=[
        "--console-address", f"127.0.0.1:{port}", "--console-url", console_url,
        "--saml-idp-cert", str(cert), "--saml-idp-issuer", IDP_ENTITY,
        "--console-saml-idp-url", idp.url,
    ])
    server.console = console_url
    server.audience = f"{console_url}/sso/saml/metadata"
    AdminClient(server.admin_endpoint, server.access_key, server.secret_key).ok("POST", "/v1/policies", {
        "name": POLICY, "document": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListAllMyBuckets", "s3:ListBucket", "s3:GetObject"], "Resource": "*"}]}},
        expect=201)
    server.bucket = unique_bucket_name("saml")
    make_client(server.endpoint, server.access_key, server.secret_key).create_bucket(Bucket=server.bucket)
    return server


def sts(server):
    return boto3.client("sts", endpoint_url=server.endpoint, region_name=REGION,
                        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))


def assume(server, assertion):
    return sts(server).assume_role_with_saml(
        RoleArn="arn:aws:iam::000000000000:role/readers",
        PrincipalArn="arn:aws:iam::000000000000:saml-provider/test", SAMLAssertion=assertion)


def code(e) -> str:
    return e.value.response["Error"]["Code"]


def test_assume_role_with_saml_gives_credentials_of_the_mapped_policy(saml_server, idp):
    r = assume(saml_server, idp.response(audience=saml_server.audience))
    c = r["Credentials"]
    assert r["Subject"] == idp.user and r["Issuer"] == IDP_ENTITY
    s3 = boto3.client("s3", endpoint_url=saml_server.endpoint, region_name=REGION,
                      aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                      aws_session_token=c["SessionToken"], config=Config(retries={"total_max_attempts": 1}))
    assert saml_server.bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=saml_server.bucket, Key="x", Body=b"x")
    assert code(e) == "AccessDenied"


def test_bad_assertions_are_refused(saml_server, idp):
    good = idp.response(audience=saml_server.audience)
    assume(saml_server, good)
    cases = {
        "replayed": (good, "InvalidIdentityToken"),
        "wrong audience": (idp.response(audience="https://other.example/sp"), "InvalidIdentityToken"),
        "wrong recipient": (idp.response(audience=saml_server.audience, recipient="https://other.example/acs"),
                            "InvalidIdentityToken"),
        "expired": (idp.response(audience=saml_server.audience, minutes=-10), "ExpiredTokenException"),
        "no known policy": (idp.response(audience=saml_server.audience, policies=["nope"]), "AccessDenied"),
    }
    other_key, other_cert = key_and_cert("intruder")
    cases["signed by another key"] = (idp.response(
        audience=saml_server.audience,
        key=other_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()),
        cert=other_cert.public_bytes(serialization.Encoding.PEM)), "InvalidIdentityToken")
    fresh = base64.b64decode(idp.response(audience=saml_server.audience)).decode()
    cases["tampered"] = (base64.b64encode(fresh.replace(POLICY, "admin-all").encode()).decode(),
                         "InvalidIdentityToken")
    for name, (assertion, expect) in cases.items():
        with pytest.raises(botocore.exceptions.ClientError) as e:
            assume(saml_server, assertion)
        assert code(e) == expect, (name, e.value.response["Error"])


def test_console_sp_metadata(saml_server):
    r = requests.get(saml_server.console + "/sso/saml/metadata")
    assert r.ok and r.headers["content-type"].startswith("application/samlmetadata+xml")
    assert f'entityID="{saml_server.audience}"' in r.text
    assert f'Location="{saml_server.console}/sso/saml/acs"' in r.text


def test_console_saml_sign_in_in_the_browser(saml_server, idp, browser):  # noqa: F811
    browser.delete_all_cookies()
    browser.get(saml_server.console + "/signin")
    browser.find_element(By.ID, "saml").click()
    wait_for("the buckets page", lambda: browser.current_url.endswith("/buckets"), timeout=20)
    assert browser.find_element(By.ID, "who").text == f"saml:{idp.user}"
    assert saml_server.bucket in browser.find_element(By.ID, "buckets").text
    shot(browser, "12-saml-signed-in")


def test_console_refuses_unsolicited_and_replayed_responses(saml_server, idp):
    # A response for a sign-in the console did not start.
    r = requests.post(saml_server.console + "/sso/saml/acs",
                      data={"SAMLResponse": idp.response(audience=saml_server.audience,
                                                         recipient=saml_server.console + "/sso/saml/acs"),
                            "RelayState": "forged"})
    assert "/signin" in r.url and "unknown or used sign-in state" in urllib.parse.unquote(r.url)
    # A real one, then the same post again.
    s = requests.Session()
    page = s.get(saml_server.console + "/sso/saml/login").text
    saml_request = re.search(r'name="SAMLRequest" value="([^"]+)"', page).group(1)
    relay = re.search(r'name="RelayState" value="([^"]+)"', page).group(1)
    idp_page = requests.post(idp.url, data={"SAMLRequest": html.unescape(saml_request), "RelayState": relay}).text
    response = html.unescape(re.search(r'name="SAMLResponse" value="([^"]+)"', idp_page).group(1))
    form = {"SAMLResponse": response, "RelayState": relay}
    r = s.post(saml_server.console + "/sso/saml/acs", data=form)
    # A page of the console's own that moves on (a Strict cookie set after a
    # cross-site POST would not be sent on a redirect).
    assert 'http-equiv="refresh" content="0;url=/buckets"' in r.text and "hafiz_console" in s.cookies
    assert f">saml:{idp.user}<" in s.get(saml_server.console + "/buckets").text
    again = requests.post(saml_server.console + "/sso/saml/acs", data=form)
    assert "/signin" in again.url and "unknown or used sign-in state" in urllib.parse.unquote(again.url)
    # The console's own request id must be answered: a response to another request is refused.
    page = s.get(saml_server.console + "/sso/saml/login").text
    relay = re.search(r'name="RelayState" value="([^"]+)"', page).group(1)
    other = idp.response(audience=saml_server.audience, recipient=saml_server.console + "/sso/saml/acs",
                         in_response_to="_not-this-one")
    r = requests.post(saml_server.console + "/sso/saml/acs", data={"SAMLResponse": other, "RelayState": relay})
    assert "/signin" in r.url and "InResponseTo" in urllib.parse.unquote(r.url)
