"""The S3 object store: what a declared bucket (`uploads = bucket("uploads")`) reads and writes on AWS Lambda.

Ships in the function zip beside the shim, but is imported only when a function first touches a bucket
(`portable_fn.runtime.buckets.open_store` finds it by `PORTABLE_FN_PROVIDER=aws`); boto3, which the Lambda
Python runtime provides, is imported then too, so a function that uses no bucket never pays for it.

Deploy names the physical bucket in `PORTABLE_FN_BUCKET_<NAME>` (the locator) on exactly the functions that
declare the bucket, and grants each what it declared (`deploy.policies`):

| `Bucket` call | S3 call                          | IAM action, on                                 | declared by |
|---------------|----------------------------------|------------------------------------------------|-------------|
| `get`         | GetObject (NoSuchKey: None)      | `s3:GetObject` on `arn:aws:s3:::<bucket>/*`    | `.read()`   |
| `keys`        | ListObjectsV2, page by page      | `s3:ListBucket` on `arn:aws:s3:::<bucket>`     | `.read()`   |
| `put`         | PutObject with its ContentType   | `s3:PutObject` on `arn:aws:s3:::<bucket>/*`    | `.write()`  |
| `delete`      | HeadObject, then DeleteObject    | `s3:GetObject`, `s3:DeleteObject` on `.../*`   | `.write()`  |

S3's DeleteObject answers the same for a key that was there and one that was not, so `delete` asks HeadObject
first and says False on its 404. Between the two calls another writer may delete or create the object: the
answer is then about the object as HeadObject saw it, and the object is gone either way. HeadObject of a
missing key answers 404, not 403, only with `s3:ListBucket` on the bucket, which `.read()` and `.write()` both
grant (HeadObject's permissions: https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/s3/aws.sdk.kotlin.services.s3/
head-object.html, read 2026-12-07). ListObjectsV2 lists keys in UTF-8 byte order, the order `keys()` promises.

Calls are bounded: a connect timeout of `CONNECT_TIMEOUT_S`, a read timeout of `READ_TIMEOUT_S` and at most
`MAX_ATTEMPTS` attempts in botocore's standard retry mode, so a function never outlives its own timeout waiting
on S3. Any failure from S3 other than a missing object is a `BucketError` naming the bucket, the call and what
to check. The client honours `AWS_ENDPOINT_URL` (an emulator) as boto3 does.
"""

from __future__ import annotations

from typing import Any

from portable_fn.runtime.buckets import BucketError

CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 30
MAX_ATTEMPTS = 3  # botocore's `total_max_attempts`: the first call and two retries
MAX_PAGE = 1000  # the most keys one ListObjectsV2 page holds
MISSING = ("NoSuchKey", "404", "NotFound")  # how S3 says an object is not there (HeadObject has no body: "404")


class S3Store:
    """One declared bucket (`name`, as the app calls it) in one S3 bucket (`physical`), through one boto3 client
    (thread-safe, shared by the threads of the instance). `page_size`: keys asked for a ListObjectsV2 page."""

    def __init__(self, name: str, physical: str, client: Any = None, page_size: int = MAX_PAGE) -> None:
        self.name = name
        self.physical = physical
        self.client = client if client is not None else make_client()
        self.page_size = page_size

    def get(self, key: str) -> bytes | None:
        found = self._call("GetObject", "get_object", key, Key=key)
        if found is None:
            return None
        body: bytes = found["Body"].read()
        return body

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self._call("PutObject", "put_object", "", Key=key, Body=data, ContentType=content_type)

    def delete(self, key: str) -> bool:
        if self._call("HeadObject", "head_object", key, Key=key) is None:
            return False
        self._call("DeleteObject", "delete_object", "", Key=key)
        return True

    def keys(self, prefix: str, limit: int) -> list[str]:
        found: list[str] = []
        params: dict[str, Any] = {"Prefix": prefix} if prefix else {}
        while len(found) < limit:
            asked = min(limit - len(found), self.page_size)
            page = self._call("ListObjectsV2", "list_objects_v2", "", MaxKeys=asked, **params)
            assert page is not None  # only a missing object reads as None
            found += [item["Key"] for item in page.get("Contents", ())]
            if not page.get("IsTruncated") or not page.get("NextContinuationToken"):
                break
            params["ContinuationToken"] = page["NextContinuationToken"]
        return found[:limit]

    def _call(self, operation: str, method: str, missing_key: str, **params: Any) -> dict[str, Any] | None:
        """One S3 call on the bucket; None when `missing_key` is set and S3 says there is no such object, a
        `BucketError` naming the bucket and what to check for any other failure."""
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        try:
            return dict(getattr(self.client, method)(Bucket=self.physical, **params))
        except ClientError as exc:
            if missing_key and exc.response.get("Error", {}).get("Code") in MISSING:
                return None
            raise self._error(operation, exc) from exc
        except BotoCoreError as exc:
            raise self._error(operation, exc) from exc

    def _error(self, operation: str, exc: BaseException) -> BucketError:
        return BucketError(
            f"bucket {self.name!r}: S3 {operation} on {self.physical!r} failed ({exc}); check that the bucket exists "
            "(`portable-fn plan --provider aws`) and that the function declares the bucket in uses= "
            "(.write() to put or delete)."
        )


def open_store(name: str, locator: str) -> S3Store:
    """The store of bucket `name`, in the S3 bucket `locator` names (`PORTABLE_FN_BUCKET_<NAME>`)."""
    return S3Store(name, locator)


def make_client() -> Any:
    """An S3 client for this function's region and endpoint (boto3 reads both from the environment), its calls
    bounded in time and attempts."""
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    )
    return boto3.client("s3", config=config)
