"""What a chunked upload in a bucket is made of, kept in the bucket so that any web node continues it.

S3 has no append. An upload's bytes are, in order:

    base    an object holding the upload's first `base_size` bytes (once it was assembled)
    parts   parts of an S3 multipart upload to `uploads/<id>/data`, each >= MIN_PART bytes
    tail    an object holding the bytes after the parts, fewer than MIN_PART

A PATCH reads the tail (under 5 MiB) back, appends its body and cuts parts off the front of that
as they fill, so memory stays within a few parts whatever the chunk sizes: docker sends one streamed
PATCH, oras 1 MiB chunks. The state names these, and the state before the last append
(`previous`), which is what truncate_upload goes back to: parts are never deleted, a later part
of the same number replaces an abandoned one, and completing a multipart upload keeps only the
parts its state lists. The state is rewritten whole after each append, under the upload's lock
(services/locks.py `upload_lock`): S3 reads after writes are consistent (AWS since 2020, Ceph,
MinIO, SeaweedFS).
"""

import json
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, UploadPartOutputTypeDef

MIB = 1024 * 1024
# S3's smallest part, except the last one of an upload.
MIN_PART = 5 * MIB
# The parts a PATCH uploads: memory per upload in flight is about one of these.
PART_SIZE = 8 * MIB
# Parts one upload may have on their way to the bucket while it reads the next: memory per upload
# is then about (1 + PARTS_IN_FLIGHT) * PART_SIZE.
PARTS_IN_FLIGHT = 3
_part_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="s3-part")
# The ranges a server-side copy is cut into (UploadPartCopy takes at most 5 GiB).
COPY_PART = 1024 * MIB


@dataclass(frozen=True)
class Part:
    number: int
    etag: str
    size: int


@dataclass(frozen=True)
class UploadState:
    size: int = 0
    base: str | None = None
    base_size: int = 0
    multipart: str | None = None
    parts: tuple[Part, ...] = ()
    tail: str | None = None
    tail_size: int = 0
    previous: "UploadState | None" = field(default=None, compare=False)

    def keys(self) -> set[str]:
        """The objects this state needs kept."""
        return {key for key in (self.base, self.tail) if key is not None}

    def to_json(self) -> bytes:
        return json.dumps(self._as_dict(with_previous=True)).encode()

    def _as_dict(self, with_previous: bool) -> dict[str, Any]:
        return {
            "size": self.size,
            "base": self.base,
            "base_size": self.base_size,
            "multipart": self.multipart,
            "parts": [[part.number, part.etag, part.size] for part in self.parts],
            "tail": self.tail,
            "tail_size": self.tail_size,
            "previous": self.previous._as_dict(with_previous=False) if with_previous and self.previous else None,
        }

    @classmethod
    def from_json(cls, content: bytes) -> "UploadState":
        return cls._from_dict(json.loads(content))

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> "UploadState":
        return cls(
            size=data["size"],
            base=data["base"],
            base_size=data["base_size"],
            multipart=data["multipart"],
            parts=tuple(Part(number, etag, size) for number, etag, size in data["parts"]),
            tail=data["tail"],
            tail_size=data["tail_size"],
            previous=cls._from_dict(data["previous"]) if data.get("previous") else None,
        )

    def assembled(self, key: str) -> "UploadState":
        """This state once its bytes are all in the object `key`, and so is its previous one's
        (a prefix of them)."""
        previous = (
            UploadState(size=self.previous.size, base=key, base_size=self.previous.size) if self.previous else None
        )
        return UploadState(size=self.size, base=key, base_size=self.size, previous=previous)


class PartWriter:
    """Takes an upload's bytes in any chunk sizes and sends them to S3 in parts (a file-like
    `write` for streams.write_hashing). What is left at the end is the caller's to keep."""

    def __init__(
        self, client: "S3Client", bucket: str, key: str, multipart: str | None, parts: tuple[Part, ...]
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        # Started with the first part: an upload that never fills one needs none.
        self.multipart = multipart
        self.parts = list(parts)
        self._last_number = self.parts[-1].number if self.parts else 0
        self._in_flight: list[tuple[int, int, Future[UploadPartOutputTypeDef]]] = []
        self.buffer = bytearray()

    def write(self, data: bytes, /) -> int:
        self.buffer += data
        while len(self.buffer) >= PART_SIZE:
            self._submit(bytes(self.buffer[:PART_SIZE]))
            del self.buffer[:PART_SIZE]
        return len(data)

    def send(self, content: bytes) -> None:
        """Upload `content` as the next part and wait until every part sent so far is in."""
        self._submit(content)
        self.flush()

    def flush(self) -> None:
        while self._in_flight:
            self._land_oldest()

    def _submit(self, content: bytes) -> None:
        # A part goes up on _part_pool while this thread reads the next one from the client: on
        # SeaweedFS (2 busy cores) a 256 MiB PATCH went from 98 to 120 MiB/s, a single-request upload
        # from 80 to 124 MiB/s, what one put_object of the same bytes takes. At most PARTS_IN_FLIGHT
        # wait at once.
        self._last_number += 1
        multipart = self._started()
        answer = _part_pool.submit(
            self._client.upload_part,
            Bucket=self._bucket,
            Key=self._key,
            UploadId=multipart,
            PartNumber=self._last_number,
            Body=content,
        )
        self._in_flight.append((self._last_number, len(content), answer))
        while len(self._in_flight) > PARTS_IN_FLIGHT:
            self._land_oldest()

    def _land_oldest(self) -> None:
        number, size, answer = self._in_flight.pop(0)
        self.parts.append(Part(number, answer.result()["ETag"], size))

    def copy(self, source: str, first: int, last: int) -> None:
        """A part taken from bytes `first`..`last` of the object `source`, copied by the server."""
        self.flush()
        self._last_number += 1
        number = self._last_number
        answer = self._client.upload_part_copy(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._started(),
            PartNumber=number,
            CopySource={"Bucket": self._bucket, "Key": source},
            CopySourceRange=f"bytes={first}-{last}",
        )
        self.parts.append(Part(number, answer["CopyPartResult"]["ETag"], last - first + 1))

    def complete(self) -> None:
        self.flush()
        parts: list[CompletedPartTypeDef] = [{"PartNumber": part.number, "ETag": part.etag} for part in self.parts]
        self._client.complete_multipart_upload(
            Bucket=self._bucket, Key=self._key, UploadId=self._started(), MultipartUpload={"Parts": parts}
        )

    def abort(self) -> None:
        """Drop the multipart upload and its parts, if there is one and it is not completed."""
        # Parts still on their way would land after the abort and be kept (and billed).
        wait([answer for _, _, answer in self._in_flight])
        self._in_flight.clear()
        if self.multipart is not None:
            abort_multipart(self._client, self._bucket, self._key, self.multipart)

    def _started(self) -> str:
        if self.multipart is None:
            self.multipart = self._client.create_multipart_upload(Bucket=self._bucket, Key=self._key)["UploadId"]
        return self.multipart


def abort_multipart(client: "S3Client", bucket: str, key: str, multipart: str) -> None:
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=multipart)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code", "") != "NoSuchUpload":
            raise


def copy_ranges(size: int) -> list[tuple[int, int]]:
    """`size` bytes cut into ranges of about COPY_PART for UploadPartCopy, none but the last under
    MIN_PART (a short remainder joins the range before it)."""
    ranges = []
    first = 0
    while first < size:
        last = min(first + COPY_PART, size) - 1
        if size - (last + 1) < MIN_PART:
            last = size - 1
        ranges.append((first, last))
        first = last + 1
    return ranges
