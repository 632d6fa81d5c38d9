"""Helpers shared by the end-to-end tests: raw SigV4-signed requests (for the
cases boto3 will not produce: skewed clocks, virtual-host addressing against
127.0.0.1, aws-chunked bodies), checksum computation, and S3 XML parsing.

The signer reuses botocore's SigV4Auth so the canonical request is built the
way AWS SDKs build it; only the timestamp and the payload hash are ours to set.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from unittest import mock
from urllib.parse import quote
from xml.etree import ElementTree

import pytest
import requests
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

REGION = "us-east-1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
MIB = 1024 * 1024


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

def error_of(exc: ClientError) -> tuple[str, int]:
    """(S3 error code, HTTP status) of a botocore ClientError. For HEAD
    requests, which have no body, botocore reports the status as the code."""
    return (
        exc.response.get("Error", {}).get("Code", ""),
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0),
    )


@contextmanager
def s3_error(code: str | None, status: int):
    """Expect the block to raise a ClientError with this code and status
    (code None: only the status is checked)."""
    with pytest.raises(ClientError) as info:
        yield info
    got_code, got_status = error_of(info.value)
    assert (got_code if code is not None else None, got_status) == (code, status), info.value.response


# --------------------------------------------------------------------------
# Digests and checksums
# --------------------------------------------------------------------------

def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def quoted_md5(data: bytes) -> str:
    return f'"{md5_hex(data)}"'


def multipart_etag(parts: list[bytes]) -> str:
    """S3's multipart ETag: MD5 of the concatenated binary part MD5s, "-N"."""
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts))
    return f'"{digest.hexdigest()}-{len(parts)}"'


def _crc32_raw(data: bytes) -> bytes:
    return zlib.crc32(data).to_bytes(4, "big")


def _crc32c_raw(data: bytes) -> bytes:
    from awscrt import checksums

    return checksums.crc32c(data).to_bytes(4, "big")


def _crc64nvme_raw(data: bytes) -> bytes:
    from awscrt import checksums

    return checksums.crc64nvme(data).to_bytes(8, "big")


_RAW = {
    "CRC32": _crc32_raw,
    "CRC32C": _crc32c_raw,
    "CRC64NVME": _crc64nvme_raw,
    "SHA1": lambda d: hashlib.sha1(d).digest(),
    "SHA256": lambda d: hashlib.sha256(d).digest(),
}


def checksum_raw(algorithm: str, data: bytes) -> bytes:
    return _RAW[algorithm.upper()](data)


def checksum_b64(algorithm: str, data: bytes) -> str:
    """The value S3 puts in x-amz-checksum-<algorithm> for `data`."""
    return base64.b64encode(checksum_raw(algorithm, data)).decode()


def composite_checksum_b64(algorithm: str, parts: list[bytes]) -> str:
    """S3's COMPOSITE multipart checksum: checksum of the concatenated raw
    part checksums, base64, then "-<part count>"."""
    joined = b"".join(checksum_raw(algorithm, p) for p in parts)
    return f"{checksum_b64(algorithm, joined)}-{len(parts)}"


# --------------------------------------------------------------------------
# XML
# --------------------------------------------------------------------------

def strip_ns(tag: str) -> str:
    return tag.split("}", 1)[1] if tag.startswith("{") else tag


def parse_xml(body: bytes) -> ElementTree.Element:
    return ElementTree.fromstring(body)


def xml_find_text(root: ElementTree.Element, name: str) -> str | None:
    """Text of the first descendant named `name`, whatever its namespace."""
    for el in root.iter():
        if strip_ns(el.tag) == name:
            return el.text or ""
    return None


def xml_find_all_text(root: ElementTree.Element, name: str) -> list[str]:
    return [el.text or "" for el in root.iter() if strip_ns(el.tag) == name]


def parse_error(body: bytes) -> dict[str, str]:
    """Fields of an S3 <Error> document."""
    root = parse_xml(body)
    assert strip_ns(root.tag) == "Error", body
    return {strip_ns(child.tag): (child.text or "") for child in root}


# --------------------------------------------------------------------------
# Raw signed requests
# --------------------------------------------------------------------------

def s3_quote(key: str) -> str:
    """Percent-encode an object key for a path the way AWS SDKs do."""
    return quote(key, safe="/~")


def query_string(params: dict[str, str] | list[tuple[str, str]] | None) -> str:
    if not params:
        return ""
    items = params.items() if isinstance(params, dict) else params
    return "&".join(
        f"{quote(str(k), safe='-_.~')}={quote(str(v), safe='-_.~')}" for k, v in items
    )


class _S3SigV4(SigV4Auth):
    """SigV4Auth without path normalisation (S3 keys are not file paths) and
    with the payload hash taken from x-amz-content-sha256 as given."""

    def _normalize_url_path(self, path):  # noqa: D401 - botocore hook
        return path


@dataclass
class Signed:
    url: str
    headers: dict[str, str]
    body: bytes
    signature: str
    timestamp: str
    scope: str


def sign_request(
    method: str,
    url: str,
    *,
    access_key: str,
    secret_key: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    payload_hash: str | None = None,
    when: dt.datetime | None = None,
    region: str = REGION,
) -> Signed:
    """SigV4-sign a request with header authentication.

    `url` must already be percent-encoded (use s3_quote / query_string).
    `payload_hash` defaults to the SHA-256 of `body`; pass e.g.
    "UNSIGNED-PAYLOAD" or "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" to override.
    `when` overrides the signing time (UTC).
    """
    hdrs = dict(headers or {})
    hdrs["X-Amz-Content-SHA256"] = payload_hash or hashlib.sha256(body).hexdigest()
    req = AWSRequest(method=method, url=url, headers=hdrs, data=body)
    signer = _S3SigV4(Credentials(access_key, secret_key), "s3", region)
    moment = (when or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    moment = moment.replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=moment):
        signer.add_auth(req)
    auth = req.headers["Authorization"]
    signature = auth.rsplit("Signature=", 1)[1].strip()
    timestamp = moment.strftime(SIGV4_TIMESTAMP)
    scope = f"{timestamp[:8]}/{region}/s3/aws4_request"
    return Signed(
        url=url,
        headers={k: v for k, v in req.headers.items()},
        body=body,
        signature=signature,
        timestamp=timestamp,
        scope=scope,
    )


def send(signed: Signed, method: str, timeout: float = 30) -> requests.Response:
    return requests.request(
        method,
        signed.url,
        headers=signed.headers,
        data=signed.body,
        timeout=timeout,
        allow_redirects=False,
    )


def signed_request(
    method: str,
    url: str,
    *,
    access_key: str,
    secret_key: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    when: dt.datetime | None = None,
    timeout: float = 30,
) -> requests.Response:
    signed = sign_request(
        method,
        url,
        access_key=access_key,
        secret_key=secret_key,
        headers=headers,
        body=body,
        when=when,
    )
    return send(signed, method, timeout=timeout)


# --------------------------------------------------------------------------
# aws-chunked bodies
# --------------------------------------------------------------------------

def signing_key(secret_key: str, date: str, region: str = REGION) -> bytes:
    def h(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    return h(h(h(h(("AWS4" + secret_key).encode(), date), region), "s3"), "aws4_request")


def chunk_signature(key: bytes, timestamp: str, scope: str, previous: str, data: bytes) -> str:
    sts = "\n".join(
        [
            "AWS4-HMAC-SHA256-PAYLOAD",
            timestamp,
            scope,
            previous,
            EMPTY_SHA256,
            hashlib.sha256(data).hexdigest(),
        ]
    )
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def trailer_signature(key: bytes, timestamp: str, scope: str, previous: str, trailer: bytes) -> str:
    sts = "\n".join(
        [
            "AWS4-HMAC-SHA256-TRAILER",
            timestamp,
            scope,
            previous,
            hashlib.sha256(trailer).hexdigest(),
        ]
    )
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def split_chunks(data: bytes, chunk_size: int) -> list[bytes]:
    return [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)] or []


def signed_chunked_body(
    data: bytes,
    chunk_size: int,
    *,
    key: bytes,
    timestamp: str,
    scope: str,
    seed_signature: str,
    trailer: dict[str, str] | None = None,
    corrupt_chunk: int | None = None,
) -> bytes:
    """Body for STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER].

    `corrupt_chunk`, when set, flips a byte of that chunk after signing it,
    so the server must reject the upload.
    """
    out = bytearray()
    previous = seed_signature
    for i, chunk in enumerate(split_chunks(data, chunk_size)):
        sig = chunk_signature(key, timestamp, scope, previous, chunk)
        previous = sig
        if corrupt_chunk == i:
            chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
        out += f"{len(chunk):x};chunk-signature={sig}\r\n".encode() + chunk + b"\r\n"
    final = chunk_signature(key, timestamp, scope, previous, b"")
    out += f"0;chunk-signature={final}\r\n".encode()
    if trailer:
        canonical = "".join(f"{k}:{v}\n" for k, v in trailer.items()).encode()
        tsig = trailer_signature(key, timestamp, scope, final, canonical)
        for k, v in trailer.items():
            out += f"{k}:{v}\r\n".encode()
        out += f"x-amz-trailer-signature:{tsig}\r\n".encode()
    out += b"\r\n"
    return bytes(out)


def unsigned_chunked_body(data: bytes, chunk_size: int, trailer: dict[str, str] | None) -> bytes:
    """Body for STREAMING-UNSIGNED-PAYLOAD-TRAILER (what SDKs send over TLS)."""
    out = bytearray()
    for chunk in split_chunks(data, chunk_size):
        out += f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    out += b"0\r\n"
    for k, v in (trailer or {}).items():
        out += f"{k}:{v}\r\n".encode()
    out += b"\r\n"
    return bytes(out)


# --------------------------------------------------------------------------
# Versioned buckets
# --------------------------------------------------------------------------

def empty_versioned_bucket(client, name: str) -> None:
    """Best effort: abort uploads, delete every version and delete marker
    (bypassing GOVERNANCE retention), then the bucket. Buckets holding
    COMPLIANCE-locked or legally held versions are left behind, silently."""
    try:
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=name):
            for up in page.get("Uploads", []):
                client.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
    except Exception:
        pass
    try:
        for page in client.get_paginator("list_object_versions").paginate(Bucket=name):
            objs = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if objs:
                client.delete_objects(
                    Bucket=name, Delete={"Objects": objs, "Quiet": True}, BypassGovernanceRetention=True
                )
    except Exception:
        pass
    try:
        client.delete_bucket(Bucket=name)
    except Exception:
        pass
