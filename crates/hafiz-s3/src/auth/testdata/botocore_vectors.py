"""Produce SigV4 test vectors with botocore (fixed credentials and time)."""
import datetime, json
from unittest import mock
import botocore.auth, botocore.session
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials
from botocore.config import Config

FIXED = datetime.datetime(2024, 5, 17, 12, 34, 56)
creds = Credentials("AKIDBOTOCORE", "botocore/secret+key")

def show(name, req):
    print(f"== {name}")
    print("method:", req.method)
    print("url:", req.url)
    for k, v in req.headers.items():
        print(f"header: {k}: {v if isinstance(v, str) else v.decode()}")

with mock.patch("botocore.auth.get_current_datetime", return_value=FIXED):
    # 1. header auth, payload signed (http), odd key characters, multipart query.
    r = AWSRequest(method="PUT",
        url="http://localhost:9000/bkt/dir/my%20key%2Bplus%21%E2%9C%93/~x?partNumber=3&uploadId=a%2Fb%2Bc",
        data=b"hello world", headers={"Content-Type": "text/plain", "x-amz-meta-Foo": "  a   b  "})
    botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(r)
    show("header", r)
    # 2. presigned GET
    r = AWSRequest(method="GET", url="https://localhost:9000/bkt/some%20key%2B1.txt?versionId=v1")
    botocore.auth.S3SigV4QueryAuth(creds, "s3", "us-east-1", expires=3600).add_auth(r)
    show("presign", r)

# 3. a real client PutObject as botocore sends it (https -> unsigned trailer, crc32).
captured = {}
def before_send(request, **kw):
    body = request.body
    data = body.read() if hasattr(body, "read") else body
    captured["req"] = request
    captured["body"] = data
    class Raw:
        def stream(self, *a, **k):
            return iter([b""])
    resp = AWSResponse(request.url, 200, {"ETag": '"x"'}, Raw())
    return resp
sess = botocore.session.get_session()
client = sess.create_client("s3", region_name="us-east-1", endpoint_url="https://localhost:9000",
    aws_access_key_id="AKIDBOTOCORE", aws_secret_access_key="botocore/secret+key",
    config=Config(s3={"addressing_style": "path"}))
client.meta.events.register("before-send.s3.PutObject", before_send)
with mock.patch("botocore.auth.get_current_datetime", return_value=FIXED):
    client.put_object(Bucket="bkt", Key="a b+c/d", Body=b"hello aws-chunked world")
req = captured["req"]
show("putobject", req)
print("body:", json.dumps(captured["body"].decode()))

# 4. header auth with a Date header instead of X-Amz-Date.
with mock.patch("botocore.auth.get_current_datetime", return_value=FIXED):
    r = AWSRequest(method="GET", url="http://localhost:9000/bkt/k?acl", headers={"Date": "x"})
    botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(r)
    show("datehdr", r)

# 5. a real client ListObjectsV2 (query encoding done by botocore's serializer).
def capture_only(request, **kw):
    captured["req"] = request
    class Raw:
        def stream(self, *a, **k):
            return iter([b"<ListBucketResult></ListBucketResult>"])
    return AWSResponse(request.url, 200, {}, Raw())
client.meta.events.register("before-send.s3.ListObjectsV2", capture_only)
with mock.patch("botocore.auth.get_current_datetime", return_value=FIXED):
    client.list_objects_v2(Bucket="bkt", Prefix="a b+c/é=&x", Delimiter="/", StartAfter="k*'()!")
show("listv2", captured["req"])

# 6. a presigned PUT URL from the client.
with mock.patch("botocore.auth.get_current_datetime", return_value=FIXED):
    url = client.generate_presigned_url("put_object", Params={"Bucket": "bkt", "Key": "dir/a b+c~!(1).txt"}, ExpiresIn=900)
print("== presignput")
print("url:", url)
v4client = sess.create_client("s3", region_name="us-east-1", endpoint_url="https://localhost:9000",
    aws_access_key_id="AKIDBOTOCORE", aws_secret_access_key="botocore/secret+key",
    config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
with mock.patch("botocore.auth.get_current_datetime", return_value=FIXED):
    url = v4client.generate_presigned_url("put_object", Params={"Bucket": "bkt", "Key": "dir/a b+c~!(1).txt"}, ExpiresIn=900)
print("== presignput-v4")
print("url:", url)
