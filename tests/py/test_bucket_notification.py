"""Get/PutBucketNotificationConfiguration with boto3: a bucket without one answers
an empty configuration (as AWS), an empty one turns notifications off, and AWS's
refusals: malformed XML, unsupported events, overlapping filters, two prefix rules,
and destinations that are not configured targets (named in the error)."""

from __future__ import annotations

import botocore.exceptions
import pytest

from conftest import unique_bucket_name

ARN = "arn:hafiz:sqs::primary:webhook"


def refusal(e):
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def nbucket(s3):
    name = unique_bucket_name("nt")
    s3.create_bucket(Bucket=name)
    yield name
    s3.delete_bucket(Bucket=name)


def queue(events, rules=None, arn=ARN, id_="r1"):
    c = {"Id": id_, "QueueArn": arn, "Events": events}
    if rules:
        c["Filter"] = {"Key": {"FilterRules": [{"Name": n, "Value": v} for n, v in rules]}}
    return c


def test_empty_configuration_round_trip(s3, nbucket):
    got = s3.get_bucket_notification_configuration(Bucket=nbucket)
    assert not any(k in got for k in ("QueueConfigurations", "TopicConfigurations",
                                      "LambdaFunctionConfigurations"))
    s3.put_bucket_notification_configuration(Bucket=nbucket, NotificationConfiguration={})
    got = s3.get_bucket_notification_configuration(Bucket=nbucket)
    assert "QueueConfigurations" not in got
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_notification_configuration(Bucket=unique_bucket_name("none"))
    assert refusal(e) == ("NoSuchBucket", 404)


def test_refusals_as_aws(s3, nbucket):
    put = lambda cfg: s3.put_bucket_notification_configuration(  # noqa: E731
        Bucket=nbucket, NotificationConfiguration={"QueueConfigurations": cfg})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put([queue(["s3:ObjectCreated:Nope"])])
    assert refusal(e) == ("InvalidArgument", 400)
    assert "not supported" in e.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put([queue(["s3:ObjectCreated:*"], [("prefix", "a/"), ("prefix", "b/")])])
    assert refusal(e) == ("InvalidArgument", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put([queue(["s3:ObjectCreated:*"], [("suffix", "jpg")], id_="a"),
             queue(["s3:ObjectCreated:Put"], [("suffix", "pg")], id_="b")])
    assert refusal(e) == ("InvalidArgument", 400)
    assert "overlapping" in e.value.response["Error"]["Message"]
    # A destination that is not a configured target: refused and named.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put([queue(["s3:ObjectCreated:*"])])
    assert refusal(e) == ("InvalidArgument", 400)
    assert e.value.response["Error"]["Message"] == "Unable to validate the following destination configurations"
    # Nothing was stored by the refused requests.
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=nbucket)
    # A rule without an event.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_notification_configuration(
            Bucket=nbucket, NotificationConfiguration={"QueueConfigurations": [
                {"QueueArn": ARN, "Events": []}]})
    assert refusal(e)[1] == 400
