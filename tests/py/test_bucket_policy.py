"""Bucket policies and Block Public Access: the configuration calls, anonymous access
granted (or not) by a policy, and policies naming IAM users."""

from __future__ import annotations

import json
import uuid

import botocore.exceptions
import pytest
import requests

from test_iam import iam_client, new_user, policy, s3_for


def code_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def public_read(bucket: str) -> str:
    return policy(
        {
            "Sid": "PublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        }
    )


def test_policy_round_trip_and_validation(s3, bucket):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert code_of(e) == "NoSuchBucketPolicy"
    doc = public_read(bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=doc)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(doc)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    for bad in [
        "{not json",
        # a resource outside the bucket
        policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other/*"}),
        # a bucket policy needs a principal
        policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_bucket_policy(Bucket=bucket, Policy=bad)
        assert code_of(e) == "MalformedPolicy"
    s3.delete_bucket_policy(Bucket=bucket)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert code_of(e) == "NoSuchBucketPolicy"


def test_anonymous_get_only_with_a_public_read_policy(s3, hafiz, bucket):
    s3.put_object(Bucket=bucket, Key="pub/a.txt", Body=b"hello world")
    url = f"{hafiz.endpoint}/{bucket}/pub/a.txt"
    assert requests.get(url, timeout=10).status_code == 403
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read(bucket))
    r = requests.get(url, timeout=10)
    assert r.status_code == 200 and r.content == b"hello world"
    assert requests.head(url, timeout=10).status_code == 200
    # Only GET: no anonymous writes, deletes or listings.
    assert requests.put(f"{hafiz.endpoint}/{bucket}/pub/b.txt", data=b"x", timeout=10).status_code == 403
    assert requests.delete(url, timeout=10).status_code == 403
    assert requests.get(f"{hafiz.endpoint}/{bucket}", timeout=10).status_code == 403
    # Block Public Access's RestrictPublicBuckets turns it off again.
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True,
        },
    )
    assert requests.get(url, timeout=10).status_code == 403
    s3.delete_public_access_block(Bucket=bucket)
    assert requests.get(url, timeout=10).status_code == 200


def test_block_public_policy_refuses_public_policies(s3, bucket):
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    got = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert got == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_policy(Bucket=bucket, Policy=public_read(bucket))
    assert code_of(e) == "AccessDenied"
    s3.delete_public_access_block(Bucket=bucket)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_public_access_block(Bucket=bucket)
    assert code_of(e) == "NoSuchPublicAccessBlockConfiguration"


def test_bucket_policy_grants_and_denies_iam_users(s3, hafiz, bucket):
    iam = iam_client(hafiz)
    s3.put_object(Bucket=bucket, Key="shared/k", Body=b"shared")
    s3.put_object(Bucket=bucket, Key="secret/k", Body=b"secret")
    name, key = new_user(iam)  # no identity policies at all
    admin_name, admin_key = new_user(iam, policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    user_arn = iam.get_user(UserName=name)["User"]["Arn"]
    admin_arn = iam.get_user(UserName=admin_name)["User"]["Arn"]
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": [user_arn]},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/shared/*",
            },
            {
                "Effect": "Deny",
                "Principal": {"AWS": [admin_arn]},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/secret/*",
            },
        ),
    )
    user = s3_for(hafiz, key)
    assert user.get_object(Bucket=bucket, Key="shared/k")["Body"].read() == b"shared"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user.get_object(Bucket=bucket, Key="secret/k")
    assert code_of(e) == "AccessDenied"
    admin = s3_for(hafiz, admin_key)
    assert admin.get_object(Bucket=bucket, Key="shared/k")["Body"].read() == b"shared"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        admin.get_object(Bucket=bucket, Key="secret/k")
    assert code_of(e) == "AccessDenied"  # the bucket policy's Deny beats the user's Allow


# --- canned ACLs ---------------------------------------------------------------------


def test_canned_acls_map_to_public_read(s3, hafiz, bucket):
    s3.put_object(Bucket=bucket, Key="open", Body=b"o", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="closed", Body=b"c", ACL="bucket-owner-full-control")
    s3.put_object(Bucket=bucket, Key="plain", Body=b"p")
    base = f"{hafiz.endpoint}/{bucket}"
    assert requests.get(f"{base}/open", timeout=10).content == b"o"
    assert requests.get(f"{base}/closed", timeout=10).status_code == 403
    assert requests.get(f"{base}/plain", timeout=10).status_code == 403
    grants = s3.get_object_acl(Bucket=bucket, Key="open")["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"} in grants
    assert len(s3.get_object_acl(Bucket=bucket, Key="plain")["Grants"]) == 1
    # PutObjectAcl flips it either way.
    s3.put_object_acl(Bucket=bucket, Key="plain", ACL="public-read")
    assert requests.get(f"{base}/plain", timeout=10).content == b"p"
    s3.put_object_acl(Bucket=bucket, Key="open", ACL="private")
    assert requests.get(f"{base}/open", timeout=10).status_code == 403
    # Anonymous writes need a public-read-write bucket.
    assert requests.put(f"{base}/new", data=b"x", timeout=10).status_code == 403
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"x", ACL="everyone-everything")
    assert code_of(e) == "InvalidArgument"


def test_public_read_write_and_authenticated_read(s3, hafiz):
    b = f"acl-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=b, ACL="public-read-write")
    grants = s3.get_bucket_acl(Bucket=b)["Grants"]
    assert {g["Permission"] for g in grants if g["Grantee"].get("URI", "").endswith("AllUsers")} == {"READ", "WRITE"}
    assert requests.put(f"{hafiz.endpoint}/{b}/dropped", data=b"anon", timeout=10).status_code == 200
    assert s3.get_object(Bucket=b, Key="dropped")["Body"].read() == b"anon"
    s3.put_object(Bucket=b, Key="members", Body=b"m", ACL="authenticated-read")
    assert requests.get(f"{hafiz.endpoint}/{b}/members", timeout=10).status_code == 403
    _, key = new_user(iam_client(hafiz))  # a user with no policies at all
    user = s3_for(hafiz, key)
    assert user.get_object(Bucket=b, Key="members")["Body"].read() == b"m"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user.get_object(Bucket=b, Key="dropped")  # private object
    assert code_of(e) == "AccessDenied"
    s3.put_bucket_acl(Bucket=b, ACL="private")
    assert requests.put(f"{hafiz.endpoint}/{b}/again", data=b"x", timeout=10).status_code == 403
    for k in ("dropped", "members"):
        s3.delete_object(Bucket=b, Key=k)
    s3.delete_bucket(Bucket=b)


def test_public_read_bucket_can_be_listed_anonymously(s3, hafiz):
    b = f"acl-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=b, ACL="public-read")
    s3.put_object(Bucket=b, Key="k", Body=b"v")
    r = requests.get(f"{hafiz.endpoint}/{b}?list-type=2", timeout=10)
    assert r.status_code == 200 and "<Key>k</Key>" in r.text
    assert requests.get(f"{hafiz.endpoint}/{b}/k", timeout=10).status_code == 403  # objects stay private
    s3.put_bucket_acl(Bucket=b, ACL="private")
    assert requests.get(f"{hafiz.endpoint}/{b}?list-type=2", timeout=10).status_code == 403
    s3.delete_object(Bucket=b, Key="k")
    s3.delete_bucket(Bucket=b)


def test_block_public_access_and_acls(s3, hafiz, bucket):
    s3.put_object(Bucket=bucket, Key="open", Body=b"o", ACL="public-read")
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=bucket, Key="more", Body=b"x", ACL="public-read")
    assert code_of(e) == "AccessDenied"
    assert requests.get(f"{hafiz.endpoint}/{bucket}/open", timeout=10).status_code == 403
    s3.delete_public_access_block(Bucket=bucket)
    assert requests.get(f"{hafiz.endpoint}/{bucket}/open", timeout=10).content == b"o"
