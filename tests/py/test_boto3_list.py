"""Listing: ListObjectsV2 and ListObjects (v1) over 2,500 keys, with
delimiters, pagination, UTF-8 byte order, max-keys, start-after,
continuation tokens, EncodingType=url and fetch-owner."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote_plus

import pytest

from conftest import empty_and_delete_bucket, unique_bucket_name
from s3util import parse_xml, query_string, s3_error, signed_request, strip_ns, xml_find_text

TOTAL_KEYS = 2500

# Keys whose order differs between UTF-8 byte order (S3's) and UTF-16 order
# or locale collation: U+FF41 sorts before U+1F600 in UTF-8 but after it in UTF-16.
UNICODE_KEYS = [
    "Z-upper",
    "a-lower",
    "é-accent",
    "\uff41-fullwidth",
    "\U0001f600-emoji",
    "~tilde",
    "space key",
    "dir-00",  # a plain key that is also the stem of a prefix
    "dir-00/",  # an object whose key equals a common prefix
    "ünï/nested",
    "\U0001f600/nested",
]
ENCODED_KEYS = [
    "enc/space key",
    "enc/plus+sign",
    "enc/pct%41",
    "enc/ünï",
    "enc/\U0001f600",
    "enc/amp&lt<",
]


def utf8_sorted(keys):
    return sorted(keys, key=lambda k: k.encode())


def build_keys() -> list[str]:
    keys = [f"top-{i:04d}" for i in range(100)] + UNICODE_KEYS + ENCODED_KEYS
    i = 0
    while len(keys) < TOTAL_KEYS:
        keys.append(f"dir-{i % 24:02d}/sub-{(i // 24) % 5}/file-{i:05d}")
        i += 1
    assert len(set(keys)) == TOTAL_KEYS
    return keys


def expected_listing(keys, prefix="", delimiter=None):
    """The (contents, common prefixes) S3 must return, each in UTF-8 order."""
    contents, prefixes = [], set()
    for key in utf8_sorted(keys):
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        if delimiter and delimiter in rest:
            prefixes.add(prefix + rest.split(delimiter, 1)[0] + delimiter)
        else:
            contents.append(key)
    return contents, utf8_sorted(prefixes)


@pytest.fixture(scope="module")
def listing(hafiz):
    """A bucket holding TOTAL_KEYS keys (created with 16 threads)."""
    client = hafiz.client(max_pool_connections=16)
    name = unique_bucket_name("list")
    client.create_bucket(Bucket=name)
    keys = build_keys()

    def put(key):
        client.put_object(Bucket=name, Key=key, Body=key.encode())

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(put, keys))
    yield name, keys
    empty_and_delete_bucket(client, name)


def test_v2_all_keys_in_utf8_order(s3, listing):
    name, keys = listing
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=name))
    assert len(pages) == 3  # 1000 + 1000 + 500
    listed = []
    for i, page in enumerate(pages):
        contents = page.get("Contents", [])
        assert page["KeyCount"] == len(contents)
        assert page["MaxKeys"] == 1000
        assert page["IsTruncated"] == (i < len(pages) - 1)
        if page["IsTruncated"]:
            assert page["NextContinuationToken"]
        else:
            assert "NextContinuationToken" not in page
        listed += [o["Key"] for o in contents]
    assert listed == utf8_sorted(keys)
    assert listed == sorted(keys)  # Python compares by code point == UTF-8 byte order


def test_v2_object_fields(s3, listing):
    name, _ = listing
    resp = s3.list_objects_v2(Bucket=name, Prefix="top-0001")
    (obj,) = resp["Contents"]
    assert obj["Key"] == "top-0001"
    assert obj["Size"] == len(b"top-0001")
    assert obj["ETag"].startswith('"') and len(obj["ETag"]) == 34
    assert obj["StorageClass"] == "STANDARD"
    assert obj["LastModified"].year >= 2024
    assert resp["Name"] == name
    assert resp["Prefix"] == "top-0001"


@pytest.mark.parametrize("page_size", [7, 1000])
def test_v2_delimiter_paginated(s3, listing, page_size):
    name, keys = listing
    want_contents, want_prefixes = expected_listing(keys, delimiter="/")
    contents, prefixes = [], []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=name, Delimiter="/", PaginationConfig={"PageSize": page_size}):
        page_contents = [o["Key"] for o in page.get("Contents", [])]
        page_prefixes = [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        assert page["KeyCount"] == len(page_contents) + len(page_prefixes)
        assert page["KeyCount"] <= page_size
        assert page["Delimiter"] == "/"
        contents += page_contents
        prefixes += page_prefixes
    assert contents == want_contents
    # Each common prefix is reported once, never repeated on a later page.
    assert prefixes == want_prefixes
    assert "dir-00/" in prefixes and "dir-23/" in prefixes
    assert "\U0001f600/" in prefixes and "ünï/" in prefixes


def test_v2_prefix_and_delimiter(s3, listing):
    name, keys = listing
    resp = s3.list_objects_v2(Bucket=name, Prefix="dir-03/", Delimiter="/")
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == [f"dir-03/sub-{i}/" for i in range(5)]
    assert "Contents" not in resp

    # The object "dir-00/" equals the prefix: it is listed as content.
    resp = s3.list_objects_v2(Bucket=name, Prefix="dir-00/", Delimiter="/")
    assert [o["Key"] for o in resp["Contents"]] == ["dir-00/"]
    assert len(resp["CommonPrefixes"]) == 5

    resp = s3.list_objects_v2(Bucket=name, Prefix="dir-05/sub-2/")
    want, _ = expected_listing(keys, prefix="dir-05/sub-2/")
    assert [o["Key"] for o in resp["Contents"]] == want
    assert len(want) > 10

    resp = s3.list_objects_v2(Bucket=name, Prefix="does-not-exist/", Delimiter="/")
    assert resp["KeyCount"] == 0
    assert resp["IsTruncated"] is False
    assert "Contents" not in resp and "CommonPrefixes" not in resp


def test_v2_max_keys(s3, listing):
    name, keys = listing
    resp = s3.list_objects_v2(Bucket=name, MaxKeys=7)
    assert [o["Key"] for o in resp["Contents"]] == utf8_sorted(keys)[:7]
    assert resp["KeyCount"] == 7
    assert resp["MaxKeys"] == 7
    assert resp["IsTruncated"] is True
    # S3 never returns more than 1000 per page.
    big = s3.list_objects_v2(Bucket=name, MaxKeys=5000)
    assert big["KeyCount"] == 1000
    assert big["IsTruncated"] is True


def test_v2_start_after(s3, listing):
    name, keys = listing
    ordered = utf8_sorted(keys)
    resp = s3.list_objects_v2(Bucket=name, StartAfter=ordered[1234], MaxKeys=10)
    assert [o["Key"] for o in resp["Contents"]] == ordered[1235:1245]
    assert resp["StartAfter"] == ordered[1234]
    # StartAfter need not be an existing key.
    resp = s3.list_objects_v2(Bucket=name, StartAfter="top-0050x", MaxKeys=2)
    assert [o["Key"] for o in resp["Contents"]] == ["top-0051", "top-0052"]
    # Past the last key: nothing.
    resp = s3.list_objects_v2(Bucket=name, StartAfter="\U0010ffff")
    assert resp["KeyCount"] == 0


def test_v2_continuation_token(s3, listing):
    name, keys = listing
    ordered = utf8_sorted(keys)
    first = s3.list_objects_v2(Bucket=name, MaxKeys=100)
    token = first["NextContinuationToken"]
    second = s3.list_objects_v2(Bucket=name, MaxKeys=100, ContinuationToken=token)
    assert second["ContinuationToken"] == token
    assert [o["Key"] for o in second["Contents"]] == ordered[100:200]


def test_v2_invalid_continuation_token(s3, listing):
    name, _ = listing
    with s3_error("InvalidArgument", 400):
        s3.list_objects_v2(Bucket=name, ContinuationToken="not-a-token-%%%")


def test_v1_marker_pagination_with_delimiter(s3, listing):
    name, keys = listing
    want_contents, want_prefixes = expected_listing(keys, delimiter="/")
    contents, prefixes, marker, pages = [], [], None, 0
    while True:
        kwargs = {"Bucket": name, "Delimiter": "/", "MaxKeys": 9}
        if marker is not None:
            kwargs["Marker"] = marker
        page = s3.list_objects(**kwargs)
        pages += 1
        assert pages < 200
        contents += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        assert len(page.get("Contents", [])) + len(page.get("CommonPrefixes", [])) <= 9
        if not page["IsTruncated"]:
            break
        # With a delimiter, v1 returns NextMarker (the last key or prefix).
        marker = page["NextMarker"]
        assert marker
    assert contents == want_contents
    assert prefixes == want_prefixes


def test_v1_paginator_all_keys(s3, listing):
    name, keys = listing
    listed = []
    for page in s3.get_paginator("list_objects").paginate(Bucket=name, PaginationConfig={"PageSize": 400}):
        assert page["MaxKeys"] == 400
        listed += [o["Key"] for o in page.get("Contents", [])]
        # v1 always includes the owner.
        assert all(o["Owner"]["ID"] for o in page.get("Contents", []))
    assert listed == utf8_sorted(keys)


def test_v1_marker_without_delimiter(s3, listing):
    name, keys = listing
    ordered = utf8_sorted(keys)
    page = s3.list_objects(Bucket=name, Marker=ordered[10], MaxKeys=3)
    assert [o["Key"] for o in page["Contents"]] == ordered[11:14]
    assert page["Marker"] == ordered[10]
    assert page["IsTruncated"] is True


def test_v2_fetch_owner(s3, listing):
    name, _ = listing
    plain = s3.list_objects_v2(Bucket=name, MaxKeys=5)
    assert all("Owner" not in o for o in plain["Contents"])
    owned = s3.list_objects_v2(Bucket=name, MaxKeys=5, FetchOwner=True)
    owner = s3.list_buckets()["Owner"]["ID"]
    assert [o["Owner"]["ID"] for o in owned["Contents"]] == [owner] * 5


def test_encoding_type_url_raw(hafiz, listing):
    """With encoding-type=url, keys come back percent-encoded (so keys that
    XML cannot carry survive); decoding them gives the keys back."""
    name, _ = listing
    for list_type in ("2", None):
        params = {"encoding-type": "url", "prefix": "enc/"}
        if list_type:
            params["list-type"] = list_type
        resp = signed_request(
            "GET",
            f"{hafiz.endpoint}/{name}?{query_string(params)}",
            access_key=hafiz.access_key,
            secret_key=hafiz.secret_key,
        )
        assert resp.status_code == 200, resp.text
        root = parse_xml(resp.content)
        assert strip_ns(root.tag) == "ListBucketResult"
        assert xml_find_text(root, "EncodingType") == "url"
        raw_keys = [
            el.text
            for el in root.iter()
            if strip_ns(el.tag) == "Key"
        ]
        assert all(k.isascii() and " " not in k for k in raw_keys), raw_keys
        assert [unquote_plus(k) for k in raw_keys] == utf8_sorted(ENCODED_KEYS)
        assert unquote_plus(xml_find_text(root, "Prefix")) == "enc/"


def test_encoding_type_url_boto3(s3, listing):
    name, _ = listing
    # Unasked, boto3 requests encoding-type=url itself and decodes the answer.
    for op in (s3.list_objects_v2, s3.list_objects):
        resp = op(Bucket=name, Prefix="enc/", Delimiter="/")
        assert [o["Key"] for o in resp["Contents"]] == utf8_sorted(ENCODED_KEYS)
    # Asked explicitly, it hands back the encoded keys as the server sent them.
    resp = s3.list_objects_v2(Bucket=name, Prefix="enc/", EncodingType="url")
    assert resp["EncodingType"] == "url"
    raw = [o["Key"] for o in resp["Contents"]]
    assert all(k.isascii() and " " not in k for k in raw), raw
    assert [unquote_plus(k) for k in raw] == utf8_sorted(ENCODED_KEYS)


def test_list_v2_unknown_encoding_type_rejected(hafiz, listing):
    name, _ = listing
    resp = signed_request(
        "GET",
        f"{hafiz.endpoint}/{name}?{query_string({'list-type': '2', 'encoding-type': 'base64'})}",
        access_key=hafiz.access_key,
        secret_key=hafiz.secret_key,
    )
    assert resp.status_code == 400
    assert xml_find_text(parse_xml(resp.content), "Code") == "InvalidArgument"
