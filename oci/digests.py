"""Content digests (`algorithm:hex`), parsed once where they enter the registry.

The grammar is the OCI image spec's; of its algorithms the registry verifies sha256 and sha512.
"""

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Protocol

_GRAMMAR = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_HEX_LENGTH = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"^[a-f0-9]+$")


class InvalidDigest(ValueError):
    """Text that is no digest the registry takes; `detail` says which text and why."""

    def __init__(self, detail: dict[str, Any]) -> None:
        self.detail = detail
        super().__init__(detail["reason"])


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> "Digest":
        """Parse `sha256:<64 hex>` or `sha512:<128 hex>`; raise InvalidDigest otherwise."""
        if not _GRAMMAR.match(text):
            raise InvalidDigest({"digest": text, "reason": "not of the form algorithm:encoded"})
        algorithm, encoded = text.split(":", 1)
        expected_length = _HEX_LENGTH.get(algorithm)
        if expected_length is None:
            raise InvalidDigest(
                {"digest": text, "reason": f"unsupported algorithm {algorithm!r}; use sha256 or sha512"}
            )
        if len(encoded) != expected_length or not _HEX.match(encoded):
            raise InvalidDigest(
                {"digest": text, "reason": f"{algorithm} takes {expected_length} lowercase hex characters"}
            )
        return cls(algorithm, encoded)

    @classmethod
    def of_bytes(cls, data: bytes, algorithm: str = "sha256") -> "Digest":
        hasher = new_hasher(algorithm)
        hasher.update(data)
        return cls(algorithm, hasher.hexdigest())

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def new_hasher(algorithm: str) -> Hasher:
    return hashlib.new(algorithm)
