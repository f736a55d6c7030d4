"""One bucket's objects as the S3 store uses them (s3.py): reads, server-side copies and moves,
listings, deletions, and boto3's failures turned into the API's 503."""

import functools
import inspect
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from v2api.errors import DATABASE_RETRY_AFTER_SECONDS, Unavailable
from v2api.storage.base import BlobStore
from v2api.storage.s3_uploads import COPY_PART, PartWriter, abort_multipart, copy_ranges
from v2api.storage.streams import Readable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}
# What boto3 raises, after its retries, when the endpoint does not answer at all.
_NO_ANSWER = (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError)


def is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code", "") in _MISSING


def outages_as_unavailable(cls: type[BlobStore]) -> type[BlobStore]:
    """Each call of the store's interface raises Unavailable (503, as for a lost database) when the
    bucket does not answer or answers 5xx, instead of boto3's own exceptions and a 500. The
    listings (generators, used by the collector and the purge) fail their job as they are."""
    for name in [*BlobStore.__abstractmethods__, "download_url"]:
        method = getattr(cls, name)
        if not inspect.isgeneratorfunction(method):
            setattr(cls, name, _translating(method))
    return cls


def _translating(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) < 500:
                raise
            raise _unavailable(error) from error
        except _NO_ANSWER as error:
            raise _unavailable(error) from error

    return call


def _unavailable(error: Exception) -> Unavailable:
    logger.warning("blob storage unavailable: %s", error)
    return Unavailable(
        "the registry's blob storage is unavailable; try again shortly",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


# A bucket that does not answer fails the request in seconds (503), not minutes. Presigned URLs are
# signed with SigV4, which every region of AWS takes (botocore signs S3 URLs with SigV2 otherwise).
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=5,
    read_timeout=60,
    max_pool_connections=32,
    signature_version="s3v4",
)
# One boto3 session for every client: a session costs some 12 MB and 0.4 s to make (it loads the
# service models), a client from it 1 MB and 15 ms. Sessions are not thread-safe: the lock.
_session_lock = threading.Lock()
_session: boto3.session.Session | None = None


def _shared_session() -> boto3.session.Session:
    global _session
    if _session is None:
        _session = boto3.session.Session()
    return _session


class Bucket:
    """The bucket `name`, reached with boto3's own configuration (endpoint, credentials, region)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._made_client: S3Client | None = None
        self._presigners: dict[str, S3Client] = {}

    @property
    def client(self) -> "S3Client":
        # Made on first use, not at import: settings and the environment are read by then.
        with _session_lock:
            if self._made_client is None:
                self._made_client = _shared_session().client("s3", config=CLIENT_CONFIG)
            return self._made_client

    def presigned_get(self, key: str, endpoint: str, expires_in: int) -> str:
        """A URL that lets whoever holds it GET `key` for `expires_in` seconds, at `endpoint` (the
        address clients reach the bucket at), or at the registry's own endpoint if it is empty.

        Signing is local: no request goes to the bucket.
        """
        with _session_lock:
            if endpoint and endpoint not in self._presigners:
                self._presigners[endpoint] = _shared_session().client("s3", endpoint_url=endpoint, config=CLIENT_CONFIG)
        signer = self._presigners[endpoint] if endpoint else self.client
        return signer.generate_presigned_url(
            "get_object", Params={"Bucket": self.name, "Key": key}, ExpiresIn=expires_in
        )

    def open(self, key: str, first: int, last: int | None) -> Readable:
        """The object's bytes `first`..`last` (to the end with None) as a stream; FileNotFoundError."""
        arguments: dict[str, Any] = {"Bucket": self.name, "Key": key}
        if first or last is not None:
            arguments["Range"] = f"bytes={first}-{'' if last is None else last}"
        try:
            body: Readable = self.client.get_object(**arguments)["Body"]
        except ClientError as error:
            if is_missing(error):
                raise FileNotFoundError(key) from None
            raise
        return body

    def read(self, key: str, first: int = 0, last: int | None = None) -> bytes:
        """A small object (an upload's state or tail), whole or a range of it."""
        body = self.open(key, first, last)
        try:
            return body.read()
        finally:
            body.close()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.name, Key=key)
        except ClientError as error:
            if is_missing(error):
                return False
            raise
        return True

    def copy(self, source: str | None, size: int, target: str) -> None:
        """Copy the first `size` bytes of `source` to `target` inside the bucket."""
        if source is None or size == 0:
            self.client.put_object(Bucket=self.name, Key=target, Body=b"")
            return
        writer = PartWriter(self.client, self.name, target, None, ())
        try:
            for first, last in copy_ranges(size):
                writer.copy(source, first, last)
            writer.complete()
        except BaseException:
            writer.abort()
            raise

    def move(self, source: str, target: str) -> bool:
        """Copy `source` to `target` and delete it; False if there is no `source`."""
        try:
            size = self.client.head_object(Bucket=self.name, Key=source)["ContentLength"]
        except ClientError as error:
            if is_missing(error):
                return False
            raise
        if size <= COPY_PART:
            # One request where a multipart copy takes three: the collector moves blobs by the thousand.
            self.client.copy_object(Bucket=self.name, Key=target, CopySource={"Bucket": self.name, "Key": source})
        else:
            self.copy(source, size, target)
        self.delete_keys([source])
        return True

    def abort(self, key: str, multipart: str) -> None:
        abort_multipart(self.client, self.name, key, multipart)

    def remove_prefix(self, prefix: str) -> None:
        for upload in self.multipart_uploads(prefix):
            self.abort(upload["Key"], upload["UploadId"])
        self.delete_keys([entry["Key"] for entry in self.list(prefix)])

    def delete_keys(self, keys: Iterable[str]) -> None:
        batch = list(keys)
        for start in range(0, len(batch), 1000):
            objects = [{"Key": key} for key in batch[start : start + 1000]]
            self.client.delete_objects(Bucket=self.name, Delete={"Objects": objects, "Quiet": True})  # type: ignore[typeddict-item]

    def list(self, prefix: str) -> Iterator[Any]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
            yield from page.get("Contents", [])

    def multipart_uploads(self, prefix: str) -> Iterator[Any]:
        for page in self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.name, Prefix=prefix):
            yield from page.get("Uploads", [])

    def multipart_activity(self, upload: Any) -> tuple[float, int]:
        """When a multipart upload (from multipart_uploads) last took a part, or began, and the
        bytes its parts hold: a long push keeps sending parts long after it began."""
        newest, size = upload["Initiated"].timestamp(), 0
        pages = self.client.get_paginator("list_parts").paginate(
            Bucket=self.name, Key=upload["Key"], UploadId=upload["UploadId"]
        )
        try:
            for part in (part for page in pages for part in page.get("Parts", [])):
                newest, size = max(newest, part["LastModified"].timestamp()), size + part["Size"]
        except ClientError as error:
            if not is_missing(error):
                raise
        return newest, size
