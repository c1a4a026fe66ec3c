"""The audit trail on AWS: a bucket of its own per app, stage, account and region, which deploy's plans
never see, holding one object per deploy or remove under `pfn-audit/<app>/<stage>/`.

Not the deployment bucket: remote state reads every object in that one as a package zip (so the next plan
would delete the records) and `remove` empties and deletes it, leaving the record of the remove itself
nowhere to go. The audit bucket (`<app>-<stage>-audit-<12 hex digits>`, named like the deployment bucket) is
made on the first record, with public access blocked, default encryption and versioning on, and tagged
`portable-fn:audit = <app>/<stage>` but not with the app and stage tags remote state finds resources by, so
no plan updates or deletes it and it outlives the stage. Each record is a PutObject with `If-None-Match: *`,
which S3 (and moto) refuse with 412 PreconditionFailed when the key exists: no record is overwritten. The
bucket is also the stage's anchor: its tags `pfn-audit-digest`, `-commit` and `-at` name the last record.

The store calls AWS through a client of its own (`AwsDeployer.audit_client`, a sibling of the deploy's on the
same session, endpoint and API log, so `--verbose` shows its calls too): the record is not part of the change
set, and the deploy client's call record (`calls`, `mutating_calls()`) stays exactly what deploy did to the
app. The account is the deploy's (`account`), asked of STS once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from portable_fn.audit import PREFIX, RecordExists

from .client import AwsClient, error_code
from .naming import MAX_BUCKET, NOT_IN_BUCKET_NAMES
from .resources import PUBLIC_ACCESS_BLOCK

TAG_AUDIT = "portable-fn:audit"  # <app>/<stage>: what the audit bucket keeps records of


def audit_bucket(app: str, stage: str, account: str, region: str) -> str:
    """`<app>-<stage>-audit-<12 hex>`: the digits those of the SHA-256 of account, region, app and stage, so
    the name is the same on every run, unique to them, and does not publish the account id."""
    digest = hashlib.sha256(f"{account}:{region}:{app}:{stage}:audit".encode()).hexdigest()[:12]
    readable = NOT_IN_BUCKET_NAMES.sub("-", f"{app}-{stage}".lower()).strip("-")
    suffix = f"-audit-{digest}"
    return f"{readable[: MAX_BUCKET - len(suffix)].rstrip('-')}{suffix}".lstrip("-")


class S3AuditStore:
    """The records of one app and stage in their audit bucket; every call names the expected owner (`account`,
    else the caller's), so a bucket of that name in another account is never read or written."""

    def __init__(self, aws: AwsClient, app: str, stage: str, account: str | None = None) -> None:
        self.aws, self.app, self.stage = aws, app, stage
        self.account = account or aws.account()
        self.bucket = audit_bucket(app, stage, self.account, aws.region)
        self.prefix = f"{PREFIX}/{app}/{stage}/"

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def append(self, name: str, body: bytes) -> str:
        """PutObject with If-None-Match: *; the bucket is made when the first record finds none."""
        try:
            self._put(name, body)
        except ClientError as exc:
            if error_code(exc) != "NoSuchBucket":
                raise
            self._make_bucket()
            self._put(name, body)
        return f"{self.where}{name}"

    def read(self) -> list[bytes]:
        s3 = self.aws.s3
        try:
            keys = [
                item["Key"]
                for item in self.aws.pages(
                    s3,
                    "list_objects_v2",
                    "Contents",
                    Bucket=self.bucket,
                    Prefix=self.prefix,
                    ExpectedBucketOwner=self.account,
                )
            ]
        except ClientError as exc:
            if error_code(exc) == "NoSuchBucket":
                return []
            raise
        return [self._get(key) for key in keys]

    def mark(self, tags: Mapping[str, str]) -> str:
        """The audit bucket's tags with `tags` put over them (PutBucketTagging replaces the whole set)."""
        s3 = self.aws.s3
        try:
            found = s3.get_bucket_tagging(Bucket=self.bucket, ExpectedBucketOwner=self.account)["TagSet"]
        except ClientError as exc:
            if error_code(exc) != "NoSuchTagSet":
                raise
            found = []
        merged = {**{t["Key"]: t["Value"] for t in found}, **tags}
        s3.put_bucket_tagging(
            Bucket=self.bucket,
            ExpectedBucketOwner=self.account,
            Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in sorted(merged.items())]},
        )
        return f"s3://{self.bucket}"

    def _put(self, name: str, body: bytes) -> None:
        try:
            self.aws.s3.put_object(
                Bucket=self.bucket,
                Key=f"{self.prefix}{name}",
                Body=body,
                ContentType="application/json",
                IfNoneMatch="*",
                ExpectedBucketOwner=self.account,
            )
        except ClientError as exc:
            if error_code(exc) in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise RecordExists(name) from exc
            raise

    def _get(self, key: str) -> bytes:
        answer = self.aws.s3.get_object(Bucket=self.bucket, Key=key, ExpectedBucketOwner=self.account)
        return bytes(answer["Body"].read())

    def _make_bucket(self) -> None:
        s3, owner, params = self.aws.s3, self.account, {"Bucket": self.bucket}
        if self.aws.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.aws.region}  # type: ignore[assignment]
        try:
            s3.create_bucket(**params)
        except ClientError as exc:
            if error_code(exc) == "BucketAlreadyExists":
                raise RuntimeError(
                    f"the audit bucket name {self.bucket!r} is taken by another AWS account (bucket names are "
                    "global); remove that bucket or deploy under another app or stage name"
                ) from exc
            if error_code(exc) != "BucketAlreadyOwnedByYou":
                raise
        s3.put_public_access_block(
            Bucket=self.bucket,
            ExpectedBucketOwner=owner,
            PublicAccessBlockConfiguration={setting: True for setting in PUBLIC_ACCESS_BLOCK},
        )
        s3.put_bucket_encryption(
            Bucket=self.bucket,
            ExpectedBucketOwner=owner,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        s3.put_bucket_versioning(
            Bucket=self.bucket, ExpectedBucketOwner=owner, VersioningConfiguration={"Status": "Enabled"}
        )
        self.mark({TAG_AUDIT: f"{self.app}/{self.stage}"})
