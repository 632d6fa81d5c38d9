"""IAM users, keys and policies through the AWS IAM API on the S3 endpoint (boto3's
`iam` client and the aws CLI), enforced on S3 requests made with the users' keys."""

from __future__ import annotations

import json
import time
import uuid

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from conftest import REGION, make_client


def iam_client(server, access_key=None, secret_key=None, session_token=None):
    return boto3.session.Session().client(
        "iam",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=access_key or server.access_key,
        aws_secret_access_key=secret_key or server.secret_key,
        aws_session_token=session_token,
        config=Config(retries={"total_max_attempts": 1}),
    )


def s3_for(server, key):
    return make_client(
        server.endpoint,
        key["AccessKeyId"],
        key["SecretAccessKey"],
        retries={"total_max_attempts": 1},
    )


def code_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def iam(hafiz):
    return iam_client(hafiz)


def new_user(iam, policy_doc: str | None = None):
    name = f"u-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=name)
    if policy_doc:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy_doc)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, key


def test_users_and_keys_lifecycle(iam):
    name = f"u-{uuid.uuid4().hex[:10]}"
    user = iam.create_user(UserName=name, Path="/team/")["User"]
    assert user["UserName"] == name and user["Path"] == "/team/"
    assert user["Arn"].endswith(f":user/team/{name}") and user["UserId"].startswith("AIDA")
    assert iam.get_user(UserName=name)["User"]["UserId"] == user["UserId"]
    assert name in [u["UserName"] for u in iam.list_users()["Users"]]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_user(UserName=name)
    assert code_of(e) == "EntityAlreadyExists"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_user(UserName="nobody-" + name)
    assert code_of(e) == "NoSuchEntity"
    k1 = iam.create_access_key(UserName=name)["AccessKey"]
    assert k1["Status"] == "Active" and len(k1["SecretAccessKey"]) == 40
    k2 = iam.create_access_key(UserName=name)["AccessKey"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_access_key(UserName=name)
    assert code_of(e) == "LimitExceeded"
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert {k["AccessKeyId"] for k in listed} == {k1["AccessKeyId"], k2["AccessKeyId"]}
    assert all("SecretAccessKey" not in k for k in listed)  # the secret is shown once
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName=name)
    assert code_of(e) == "DeleteConflict"
    for k in (k1, k2):
        iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
    iam.delete_user(UserName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_user(UserName=name)
    assert code_of(e) == "NoSuchEntity"


def test_policies_and_groups(iam):
    name, _ = new_user(iam)
    doc = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=doc)
    got = iam.get_user_policy(UserName=name, PolicyName="inline")["PolicyDocument"]
    assert got == json.loads(doc)
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["inline"]
    pname = f"p-{uuid.uuid4().hex[:8]}"
    arn = iam.create_policy(PolicyName=pname, PolicyDocument=doc)["Policy"]["Arn"]
    assert arn.endswith(f":policy/{pname}")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    attached = iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]
    assert attached == [{"PolicyName": pname, "PolicyArn": arn}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_policy(PolicyArn=arn)
    assert code_of(e) == "DeleteConflict"
    group = f"g-{uuid.uuid4().hex[:8]}"
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=name)
    iam.put_group_policy(GroupName=group, PolicyName="gp", PolicyDocument=doc)
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 2
    assert [u["UserName"] for u in iam.get_group(GroupName=group)["Users"]] == [name]
    iam.remove_user_from_group(GroupName=group, UserName=name)
    for bad in ["not json", json.dumps({"Statement": [{"Action": "s3:*", "Resource": "*"}]})]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.put_user_policy(UserName=name, PolicyName="bad", PolicyDocument=bad)
        assert code_of(e) == "MalformedPolicyDocument"
    iam.detach_user_policy(UserName=name, PolicyArn=arn)
    iam.detach_group_policy(GroupName=group, PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)


def test_a_user_without_policies_is_denied_everything(iam, hafiz, bucket):
    _, key = new_user(iam)
    s3 = s3_for(hafiz, key)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_objects_v2(Bucket=bucket)
    assert code_of(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=bucket, Key="x", Body=b"x")
    assert code_of(e) == "AccessDenied"


def test_read_only_user_cannot_write(iam, hafiz, s3, bucket):
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"readable")
    _, key = new_user(
        iam,
        policy(
            {"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"},
        ),
    )
    user = s3_for(hafiz, key)
    assert user.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"readable"
    assert [o["Key"] for o in user.list_objects_v2(Bucket=bucket)["Contents"]] == ["doc.txt"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user.put_object(Bucket=bucket, Key="new.txt", Body=b"no")
    assert code_of(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user.delete_object(Bucket=bucket, Key="doc.txt")
    assert code_of(e) == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"readable"


def test_prefix_scoped_user_sees_only_its_home(iam, hafiz, s3, bucket):
    name, key = new_user(iam)
    iam.put_user_policy(
        UserName=name,
        PolicyName="home",
        PolicyDocument=policy(
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}},
            },
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": f"arn:aws:s3:::{bucket}/home/${{aws:username}}/*",
            },
        ),
    )
    s3.put_object(Bucket=bucket, Key="home/someone-else/secret", Body=b"no")
    user = s3_for(hafiz, key)
    mine = f"home/{name}/notes.txt"
    user.put_object(Bucket=bucket, Key=mine, Body=b"mine")
    assert user.get_object(Bucket=bucket, Key=mine)["Body"].read() == b"mine"
    listed = user.list_objects_v2(Bucket=bucket, Prefix=f"home/{name}/")
    assert [o["Key"] for o in listed["Contents"]] == [mine]
    for call in (
        lambda: user.list_objects_v2(Bucket=bucket),
        lambda: user.list_objects_v2(Bucket=bucket, Prefix="home/someone-else/"),
        lambda: user.get_object(Bucket=bucket, Key="home/someone-else/secret"),
        lambda: user.put_object(Bucket=bucket, Key="top.txt", Body=b"x"),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert code_of(e) == "AccessDenied"


def test_explicit_deny_beats_allow(iam, hafiz, s3, bucket):
    s3.put_object(Bucket=bucket, Key="public/a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="private/b", Body=b"b")
    _, key = new_user(
        iam,
        policy(
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/private/*"},
        ),
    )
    user = s3_for(hafiz, key)
    assert user.get_object(Bucket=bucket, Key="public/a")["Body"].read() == b"a"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user.get_object(Bucket=bucket, Key="private/b")
    assert code_of(e) == "AccessDenied"


def test_group_and_managed_policies_grant_access(iam, hafiz, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    name, key = new_user(iam)
    user = s3_for(hafiz, key)
    with pytest.raises(botocore.exceptions.ClientError):
        user.get_object(Bucket=bucket, Key="k")
    group = f"g-{uuid.uuid4().hex[:8]}"
    iam.create_group(GroupName=group)
    arn = iam.create_policy(
        PolicyName=f"p-{uuid.uuid4().hex[:8]}",
        PolicyDocument=policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
    )["Policy"]["Arn"]
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    iam.add_user_to_group(GroupName=group, UserName=name)
    # Takes effect at once.
    assert user.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    iam.remove_user_from_group(GroupName=group, UserName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user.get_object(Bucket=bucket, Key="k")
    assert code_of(e) == "AccessDenied"


def test_a_disabled_key_stops_working_at_once(iam, hafiz, s3, bucket):
    name, key = new_user(iam, policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    user = s3_for(hafiz, key)
    user.list_objects_v2(Bucket=bucket)
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user.list_objects_v2(Bucket=bucket)
    assert code_of(e) == "InvalidAccessKeyId"
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Active")
    user.list_objects_v2(Bucket=bucket)
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user.list_objects_v2(Bucket=bucket)
    assert code_of(e) == "InvalidAccessKeyId"


def test_iam_api_needs_iam_permissions(iam, hafiz):
    name, key = new_user(iam, policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    as_user = iam_client(hafiz, key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        as_user.create_user(UserName=f"x-{uuid.uuid4().hex[:8]}")
    assert code_of(e) == "AccessDenied"
    # A user allowed iam:* may manage users.
    iam.put_user_policy(
        UserName=name,
        PolicyName="admin",
        PolicyDocument=policy({"Effect": "Allow", "Action": "iam:*", "Resource": "*"}),
    )
    other = f"x-{uuid.uuid4().hex[:8]}"
    as_user.create_user(UserName=other)
    as_user.delete_user(UserName=other)
    # A wrong secret is refused like on S3.
    bad = iam_client(hafiz, key["AccessKeyId"], "0" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad.list_users()
    assert code_of(e) == "SignatureDoesNotMatch"


def test_aws_cli_manages_users(aws):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    out = aws("iam", "create-user", "--user-name", name).stdout
    assert json.loads(out)["User"]["UserName"] == name
    key = json.loads(aws("iam", "create-access-key", "--user-name", name).stdout)["AccessKey"]
    users = json.loads(aws("iam", "list-users").stdout)["Users"]
    assert name in [u["UserName"] for u in users]
    aws("iam", "delete-access-key", "--user-name", name, "--access-key-id", key["AccessKeyId"])
    aws("iam", "delete-user", "--user-name", name)
    failed = aws("iam", "get-user", "--user-name", name, check=False)
    assert failed.returncode != 0 and "NoSuchEntity" in failed.stderr


# --- STS ---------------------------------------------------------------------------


def sts_client(server, access_key, secret_key, session_token=None):
    # No client-side validation: the expiry test asks for a 2-second session.
    return boto3.session.Session().client(
        "sts",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=session_token,
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=False),
    )


def temp_s3(server, creds, token=True):
    return boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"] if token else None,
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )


def test_assume_role_gives_the_callers_permissions_narrowed_by_a_session_policy(iam, hafiz, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    _, key = new_user(iam, policy({"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}))
    sts = sts_client(hafiz, key["AccessKeyId"], key["SecretAccessKey"])
    out = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/any", RoleSessionName="s1")
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and creds["SessionToken"]
    assert out["AssumedRoleUser"]["Arn"].endswith("/s1")
    temp = temp_s3(hafiz, creds)
    assert temp.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    temp.put_object(Bucket=bucket, Key="k2", Body=b"w")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        temp.delete_object(Bucket=bucket, Key="k")  # not in the user's policy
    assert code_of(e) == "AccessDenied"
    # A session policy narrows further.
    narrow = sts.assume_role(
        RoleArn="arn:aws:iam::000000000000:role/any",
        RoleSessionName="s2",
        Policy=policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
    )["Credentials"]
    ro = temp_s3(hafiz, narrow)
    assert ro.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ro.put_object(Bucket=bucket, Key="k3", Body=b"x")
    assert code_of(e) == "AccessDenied"
    # Without its session token the key is refused; temporary keys get no more keys.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        temp_s3(hafiz, creds, token=False).get_object(Bucket=bucket, Key="k")
    assert code_of(e) == "InvalidToken"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts_client(hafiz, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]).assume_role(
            RoleArn="arn:aws:iam::000000000000:role/any", RoleSessionName="again"
        )
    assert code_of(e) == "AccessDenied"


def test_temporary_credentials_expire_and_go_with_their_user(server_factory):
    server = server_factory.start(env_extra={"HAFIZ_STS_MIN_DURATION": "1"})
    iam = iam_client(server)
    s3 = server.client()
    b = f"sts-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=b)
    name, key = new_user(iam, policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    sts = sts_client(server, key["AccessKeyId"], key["SecretAccessKey"])
    short = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/r", RoleSessionName="short", DurationSeconds=2)["Credentials"]
    temp_s3(server, short).list_objects_v2(Bucket=b)
    time.sleep(2.5)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        temp_s3(server, short).list_objects_v2(Bucket=b)
    assert code_of(e) == "ExpiredToken"
    # Revoked with the user: deleting the user deletes its sessions.
    longer = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/r", RoleSessionName="long")["Credentials"]
    temp_s3(server, longer).list_objects_v2(Bucket=b)
    iam.delete_user_policy(UserName=name, PolicyName="p")
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        temp_s3(server, longer).list_objects_v2(Bucket=b)
    assert code_of(e) == "InvalidAccessKeyId"


def test_governance_bypass_needs_the_bypass_permission(iam, hafiz, s3):
    """x-amz-bypass-governance-retention is honoured only for a principal allowed
    s3:BypassGovernanceRetention: a user allowed every other action cannot use it."""
    import datetime as dt

    bucket = f"lock-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    until = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).replace(microsecond=0)
    vid = s3.put_object(
        Bucket=bucket,
        Key="k",
        Body=b"locked",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=until,
        ChecksumAlgorithm="CRC32",
    )["VersionId"]
    everything_but_bypass = policy(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:BypassGovernanceRetention", "Resource": "*"},
    )
    _, key = new_user(iam, everything_but_bypass)
    user_s3 = s3_for(hafiz, key)
    for attempt in (
        lambda: user_s3.delete_object(Bucket=bucket, Key="k", VersionId=vid, BypassGovernanceRetention=True),
        lambda: user_s3.put_object_retention(
            Bucket=bucket, Key="k", VersionId=vid, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until - dt.timedelta(hours=1)},
            BypassGovernanceRetention=True, ChecksumAlgorithm="CRC32",
        ),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            attempt()
        assert code_of(e) == "AccessDenied"
    # Without the header the lock itself refuses the delete.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_s3.delete_object(Bucket=bucket, Key="k", VersionId=vid)
    assert code_of(e) == "AccessDenied"
    assert s3.head_object(Bucket=bucket, Key="k", VersionId=vid)["VersionId"] == vid
    # A user allowed the bypass may use it.
    _, admin_key = new_user(iam, policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    s3_for(hafiz, admin_key).delete_object(Bucket=bucket, Key="k", VersionId=vid, BypassGovernanceRetention=True)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=bucket, Key="k", VersionId=vid)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
