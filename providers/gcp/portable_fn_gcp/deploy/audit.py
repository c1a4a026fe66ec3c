"""The audit trail on Google Cloud: a Cloud Storage bucket of its own per app, stage and project, holding one
object per deploy or remove under `pfn-audit/<app>/<stage>/`.

GCP deploy has no bucket of its own to put them in: sources go to the bucket Cloud Functions hands out
upload URLs for (`generateUploadUrl`), which it owns and cleans. So the first record makes
`<app>-<stage>-audit-<12 hex digits>` (the SHA-256 of project, app and stage: stable, unique, and not
publishing the project id; `pfn-audit-<12 hex digits>` when app or stage holds "goog" or a look-alike, which
Cloud Storage refuses in a bucket name) in the deploy region, with uniform bucket-level access, public access
prevention enforced and object versioning on, labelled `portable-fn-audit = <app>-<stage>` but not with the labels
remote state finds resources by, so no plan updates or deletes it and it outlives the stage. Each record is
written with `ifGenerationMatch=0`, which Cloud Storage refuses with 412 when the object exists: no record
is overwritten. The bucket is also the stage's anchor: its labels `pfn-audit-*` name the last record.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from google.api_core import exceptions as google_errors

from portable_fn.audit import PREFIX, RecordExists

from .client import GcpClient
from .naming import Names

LABEL_AUDIT = "portable-fn-audit"  # <app>-<stage>: what the audit bucket keeps records of
MAX_BUCKET = 63
NOT_IN_NAMES = re.compile(r"[^a-z0-9-]+")
# Cloud Storage refuses a bucket name that begins with "goog" or holds "google" or a close misspelling such as
# "g00gle" (https://cloud.google.com/storage/docs/buckets#naming, read 2026-12-06): "goog" and its look-alikes
GOOG = re.compile(r"g[o0]{2,}g")


def audit_bucket(names: Names) -> str:
    digest = hashlib.sha256(f"{names.project}:{names.app}:{names.stage}:audit".encode()).hexdigest()[:12]
    readable = NOT_IN_NAMES.sub("-", f"{names.app}-{names.stage}".lower()).strip("-")
    if GOOG.search(readable.replace("-", "")):  # the digest keeps it unique; its label still names the stage
        readable = "pfn"
    suffix = f"-audit-{digest}"
    return f"{readable[: MAX_BUCKET - len(suffix)].rstrip('-')}{suffix}".lstrip("-")


class GcsAuditStore:
    """The records of one app and stage in their audit bucket, through the client's storage service."""

    def __init__(self, gcp: GcpClient, names: Names) -> None:
        self.gcp, self.names = gcp, names
        self.bucket = audit_bucket(names)
        self.prefix = f"{PREFIX}/{names.app}/{names.stage}/"

    @property
    def where(self) -> str:
        return f"gs://{self.bucket}/{self.prefix}"

    def append(self, name: str, body: bytes) -> str:
        """An upload with ifGenerationMatch=0; the bucket is made when the first record finds none."""
        try:
            self._upload(name, body)
        except google_errors.NotFound:
            self._make_bucket()
            self._upload(name, body)
        return f"{self.where}{name}"

    def read(self) -> list[bytes]:
        storage = self._storage()
        self.gcp.record("storage", "list_blobs", self.bucket)
        try:
            blobs = list(storage.list_blobs(self.bucket, prefix=self.prefix))
        except google_errors.NotFound:
            return []
        out = []
        for blob in blobs:
            self.gcp.record("storage", "get_blob", f"{self.bucket}/{blob.name}")
            out.append(bytes(blob.download_as_bytes()))
        return out

    def mark(self, tags: Mapping[str, str]) -> str:
        """The audit bucket's labels with `tags` put over them (values already keep to the label rules)."""
        bucket = self.gcp.call("storage", "get_bucket", bucket_or_name=self.bucket)
        bucket.labels = {**(bucket.labels or {}), **tags}
        self.gcp.record("storage", "patch_bucket", self.bucket)
        bucket.patch()
        return f"gs://{self.bucket}"

    def _upload(self, name: str, body: bytes) -> None:
        blob = self._storage().bucket(self.bucket).blob(f"{self.prefix}{name}")
        self.gcp.record("storage", "insert_object", f"{self.bucket}/{blob.name}")
        try:
            blob.upload_from_string(body, content_type="application/json", if_generation_match=0)
        except google_errors.PreconditionFailed as exc:
            raise RecordExists(name) from exc

    def _make_bucket(self) -> None:
        storage = self._storage()
        bucket = storage.bucket(self.bucket)
        label = NOT_IN_NAMES.sub("-", f"{self.names.app}-{self.names.stage}".lower())[:63]
        bucket.labels = {LABEL_AUDIT: label}
        bucket.iam_configuration.uniform_bucket_level_access_enabled = True
        bucket.iam_configuration.public_access_prevention = "enforced"
        bucket.versioning_enabled = True
        try:
            self.gcp.call(
                "storage",
                "create_bucket",
                bucket_or_name=bucket,
                project=self.names.project,
                location=self.names.region,
            )
        except google_errors.Conflict:  # made by a run that failed before its first write
            pass

    def _storage(self) -> Any:
        return self.gcp.service("storage")
