"""Digests as the OCI image spec defines them; the registry verifies sha256 and sha512."""

import hashlib

import pytest

from oci.digests import Digest, InvalidDigest


def test_a_sha256_digest_parses_into_algorithm_and_hex() -> None:
    digest = Digest.parse("sha256:" + "a" * 64)

    assert (digest.algorithm, digest.hex) == ("sha256", "a" * 64)


def test_a_sha512_digest_parses() -> None:
    digest = Digest.parse("sha512:" + "0" * 128)

    assert digest.algorithm == "sha512"


def test_a_digest_prints_as_it_was_written() -> None:
    text = "sha256:" + "0123456789abcdef" * 4

    assert str(Digest.parse(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sha256",
        "sha256:",
        ":" + "a" * 64,
        "a" * 64,
        "sha256:" + "a" * 63,
        "sha256:" + "a" * 65,
        "sha256:" + "A" * 64,
        "sha256:" + "g" * 64,
        "SHA256:" + "a" * 64,
        "sha512:" + "a" * 64,
        "sha256:" + "a" * 64 + "\n",
    ],
)
def test_a_malformed_digest_is_digest_invalid(text: str) -> None:
    with pytest.raises(InvalidDigest):
        Digest.parse(text)


@pytest.mark.parametrize("text", ["md5:" + "a" * 32, "blake3:" + "a" * 64, "sha384:" + "a" * 96])
def test_an_unsupported_algorithm_is_digest_invalid_and_says_so(text: str) -> None:
    with pytest.raises(InvalidDigest) as raised:
        Digest.parse(text)

    assert "unsupported algorithm" in raised.value.detail["reason"]


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_the_digest_of_bytes_is_their_hash(algorithm: str) -> None:
    digest = Digest.of_bytes(b"hello", algorithm)

    assert str(digest) == f"{algorithm}:{hashlib.new(algorithm, b'hello').hexdigest()}"


def test_digests_of_the_same_text_are_equal() -> None:
    text = "sha256:" + "b" * 64

    assert Digest.parse(text) == Digest.parse(text)
