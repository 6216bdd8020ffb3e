"""moto's server with IAM enforced, in a process of its own: the roles' policies are evaluated
by moto's IAM (moto.iam.access_control), not by this harness, on the S3 calls made with the
credentials of an assumed role.

Its own process because moto keeps the switch (`settings.INITIAL_NO_AUTH_ACTION_COUNT`) and its
backends in module globals: enforced in this interpreter, every other emulator a test started
here would start refusing unsigned or unknown callers too.

How moto decides an S3 call (moto 5.2, s3/responses.py and iam/access_control.py), which is
what the least-privilege test can and cannot show:
- every request names one action (its ACTION_MAP: HEAD object is s3:GetObject, multipart
  create/part/complete are s3:PutObject, list is s3:ListBucket) and one resource: the object's
  ARN `arn:aws:s3:::bucket/key` or the bucket's; Allow/Deny statements are matched by action
  and resource with `*` wildcards, so prefixes of keys are enforced;
- DeleteObjects (the bulk delete) is authorized on the bucket's ARN, not on each key's: a role
  allowed s3:DeleteObject under a prefix is refused every key of a bulk delete, where AWS
  allows the keys under the prefix;
- CopyObject checks s3:PutObject on the target only, never s3:GetObject on the source;
- HEAD bucket needs `s3:HeadBucket` (an action AWS does not have: AWS checks s3:ListBucket);
- conditions of identity policies are not evaluated (the functions' policies have none);
- other services than S3, SQS, IAM and STS are authorized by action alone (resource `*`), so
  the roles' Glue, Athena, DynamoDB and KMS statements are left to iam.py's static check.
The buckets here have no bucket policy (Terraform's deny plain HTTP, which moto could not tell).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import botocore.exceptions

from local.emulator import free_port
from tests.athena_contract import iam, s3_calls

REGION = "us-east-1"
ADMIN = "least-privilege-admin"
# What moto answers a refused S3 call with (S3AccessDeniedError, BucketAccessDeniedError).
REFUSED = "AccessDenied"


def document(statements: list[iam.Statement]) -> str:
    """The policy JSON Terraform's aws_iam_policy_document renders for these statements. Sids
    must be unique (IAM refuses the policy otherwise): a statement split by iam.without keeps
    its Sid, so a repeated one is numbered; one left with no action grants nothing and is
    left out (IAM refuses it)."""
    rendered, seen = [], set()
    for s in statements:
        if not s.actions:
            continue
        sid, n = s.sid, 1
        while sid and sid in seen:
            n += 1
            sid = f"{s.sid}{n}"
        seen.add(sid)
        rendered.append(
            {
                **({"Sid": sid} if sid else {}),
                "Effect": s.effect,
                "Action": list(s.actions),
                "Resource": list(s.resources),
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": rendered})


@dataclass
class Emulator:
    endpoint_url: str
    admin: dict[str, str]
    _roles: dict[str, dict[str, str]] = field(default_factory=dict)
    _clients: dict[tuple, object] = field(default_factory=dict)

    def client(self, service: str, credentials: dict[str, str] | None = None):
        """One client per service and credentials (making a boto3 client costs more than the
        calls a check makes with it)."""
        key = (service, tuple(sorted((credentials or self.admin).items())))
        if key not in self._clients:
            self._clients[key] = self._new_client(service, credentials)
        return self._clients[key]

    def _new_client(self, service: str, credentials: dict[str, str] | None):
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.endpoint_url,
            # path-style, as the functions' clients address the emulator; no retries, so a
            # refusal is seen once and at once
            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
            **(credentials or self.admin),
        )

    def assumed(self, role: str, policy: str) -> dict[str, str]:
        """Credentials of a session of `role`, whose only permissions are `policy` (an inline
        policy, as aws_iam_role_policy attaches it). A role is made once per name."""
        if role not in self._roles:
            iam_client, sts = self.client("iam"), self.client("sts")
            admin_arn = iam_client.get_user(UserName=ADMIN)["User"]["Arn"]
            # On AWS the trust is lambda.amazonaws.com; here the admin user stands in for it.
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": admin_arn},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
            arn = iam_client.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))[
                "Role"
            ]["Arn"]
            iam_client.put_role_policy(RoleName=role, PolicyName=role, PolicyDocument=policy)
            session = sts.assume_role(RoleArn=arn, RoleSessionName=role)["Credentials"]
            self._roles[role] = {
                "aws_access_key_id": session["AccessKeyId"],
                "aws_secret_access_key": session["SecretAccessKey"],
                "aws_session_token": session["SessionToken"],
            }
        return self._roles[role]


def _post(url: str, body: bytes = b"") -> bytes:
    # not form-encoded (urllib's default): moto reads the raw body, which Flask empties for forms
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


@contextmanager
def serve(log: Path) -> Iterator[Emulator]:
    """A private moto server that authorizes every request once the admin user exists."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        # Not enforced yet: any key may create the admin, whose key then signs the setup.
        bootstrap = Emulator(
            endpoint, {"aws_access_key_id": "AKIABOOTSTRAP", "aws_secret_access_key": "x"}
        )
        admin_iam = bootstrap.client("iam")
        admin_iam.create_user(UserName=ADMIN)
        admin_iam.put_user_policy(
            UserName=ADMIN,
            PolicyName="everything",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                }
            ),
        )
        key = admin_iam.create_access_key(UserName=ADMIN)["AccessKey"]
        # what moto's set_initial_no_auth_action_count does in server mode
        _post(f"{endpoint}/moto-api/reset-auth", b"0")
        yield Emulator(
            endpoint,
            {
                "aws_access_key_id": key["AccessKeyId"],
                "aws_secret_access_key": key["SecretAccessKey"],
            },
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def refused(error: botocore.exceptions.ClientError) -> bool:
    # a refused HEAD has no body to name its error: its status stands for it
    return error.response.get("Error", {}).get("Code") in (REFUSED, "403")


def attempt(emulator: Emulator, credentials: dict[str, str], call) -> bool:
    """Whether moto lets `credentials` make `call` (an s3_calls.S3Call). What the call needs
    to find (an object, an upload) the admin makes first, so that only the permission decides."""
    admin, s3 = emulator.client("s3"), emulator.client("s3", credentials)
    bucket, key, operation = call.bucket_name, call.object_key, call.operation
    where = {"Bucket": bucket, "Key": key}
    body = b'{"n": 0}\n'
    if operation in ("GetObject", "HeadObject", "DeleteObject"):
        admin.put_object(**where, Body=body)
    upload = None
    if operation in ("UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload"):
        upload = admin.create_multipart_upload(**where)["UploadId"]
    try:
        if operation == "ListObjectsV2":
            s3.list_objects_v2(Bucket=bucket, Prefix=key)
        elif operation == "GetObject":
            s3.get_object(**where)["Body"].read()
        elif operation == "HeadObject":
            s3.head_object(**where)
        elif operation == "PutObject":
            s3.put_object(**where, Body=body)
        elif operation == "DeleteObject":
            s3.delete_object(**where)
        elif operation == "CreateMultipartUpload":
            upload = s3.create_multipart_upload(**where)["UploadId"]
        elif operation == "UploadPart":
            s3.upload_part(**where, UploadId=upload, PartNumber=1, Body=body)
        elif operation == "CompleteMultipartUpload":
            etag = admin.upload_part(**where, UploadId=upload, PartNumber=1, Body=body)["ETag"]
            parts = {"Parts": [{"ETag": etag, "PartNumber": 1}]}
            s3.complete_multipart_upload(**where, UploadId=upload, MultipartUpload=parts)
            upload = None
        elif operation == "AbortMultipartUpload":
            s3.abort_multipart_upload(**where, UploadId=upload)
            upload = None
        else:
            raise ValueError(f"no way to make {operation}")
    except botocore.exceptions.ClientError as error:
        if refused(error):
            return False
        raise
    finally:
        if upload:
            admin.abort_multipart_upload(**where, UploadId=upload)
    return True


def verdicts(emulator: Emulator, function: str, statements: list[iam.Statement]) -> dict:
    """Whether moto lets the function's role make each of its catalogued calls
    (s3_calls.NEEDED and FORBIDDEN), the role's policy rendered from `statements`."""
    policy = document(statements)
    # a role per policy: moto keeps the roles, and the digest tells them apart
    role = f"{function}-{hashlib.sha256(policy.encode()).hexdigest()[:12]}"
    credentials = emulator.assumed(role, policy)
    calls = [c for c in (*s3_calls.NEEDED, *s3_calls.FORBIDDEN) if c.function == function]
    return {call: attempt(emulator, credentials, call) for call in calls}


def problems(allowed: dict) -> list[str]:
    """Each needed call refused and each forbidden call let through, named."""
    found = []
    for call, verdict in allowed.items():
        if call in s3_calls.NEEDED and not verdict:
            found.append(f"{call.function} is refused {call}, which it needs: {call.why}")
        elif call in s3_calls.FORBIDDEN and verdict:
            found.append(f"{call.function} may {call}: {call.why}")
    return found
