"""A small admin API client for tests: JSON over HTTP, signed with SigV4 for
service `hafiz-admin` by botocore's own signer (independent of the server's)."""

from __future__ import annotations

import hashlib
import json as jsonlib

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


class AdminClient:
    def __init__(self, endpoint: str, access_key: str, secret_key: str, region: str = "us-east-1",
                 token: str | None = None):
        self.endpoint = endpoint.rstrip("/")
        self.creds = Credentials(access_key, secret_key, token)
        self.region = region

    def request(self, method: str, path: str, body=None, *, raw: bytes | None = None,
                params: dict | None = None, service: str = "hafiz-admin") -> requests.Response:
        data = raw if raw is not None else (b"" if body is None else jsonlib.dumps(body).encode())
        url = self.endpoint + path
        if params:
            url += "?" + "&".join(f"{k}={requests.utils.quote(str(v), safe='')}" for k, v in params.items())
        headers = {"x-amz-content-sha256": hashlib.sha256(data).hexdigest()}
        if data:
            headers["content-type"] = "application/json"
        req = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(self.creds, service, self.region).add_auth(req)
        return requests.request(method, url, data=data, headers=dict(req.headers.items()), timeout=30)

    def ok(self, method: str, path: str, body=None, expect: int | tuple = (200, 201, 202, 204), **kw):
        r = self.request(method, path, body, **kw)
        codes = expect if isinstance(expect, tuple) else (expect,)
        assert r.status_code in codes, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def error(self, method: str, path: str, body=None, **kw) -> tuple[int, str]:
        r = self.request(method, path, body, **kw)
        assert r.status_code >= 400, f"{method} {path} succeeded: {r.status_code} {r.text}"
        doc = r.json()
        assert doc["request_id"] and doc["message"], doc
        return r.status_code, doc["code"]
