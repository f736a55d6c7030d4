"""Token signing and verification: what a forged, expired or foreign token meets."""

import os
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import call_command

from accounts.scopes import repository_scope
from accounts.tokens import InvalidToken, issue_access_token, keyring, verify_access_token


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "iss": "harbor-lite-token-service",
        "sub": "alice",
        "aud": "harbor-lite",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": "x",
        "access": [],
    }
    return {**base, **overrides}


def sign_with_our_key(payload: dict[str, object]) -> str:
    key = keyring.signing_key()
    return jwt.encode(payload, key.private_key, algorithm="ES256", headers={"kid": key.kid})


def test_a_token_we_issued_verifies_with_its_access() -> None:
    issued = issue_access_token("alice", [repository_scope("team/app", "pull")])
    verified = verify_access_token(issued.token)
    assert verified["sub"] == "alice"
    assert verified["access"] == [{"type": "repository", "name": "team/app", "actions": ["pull"]}]
    assert verified["exp"] - verified["iat"] == issued.expires_in


def test_an_expired_token_is_rejected() -> None:
    past = int(time.time()) - 3600
    with pytest.raises(InvalidToken, match="expired"):
        verify_access_token(sign_with_our_key(claims(iat=past, nbf=past, exp=past + 60)))


def test_a_token_for_another_service_is_rejected() -> None:
    with pytest.raises(InvalidToken, match="Audience"):
        verify_access_token(sign_with_our_key(claims(aud="registry.docker.io")))


def test_a_token_from_another_issuer_is_rejected() -> None:
    with pytest.raises(InvalidToken, match="issuer"):
        verify_access_token(sign_with_our_key(claims(iss="someone-else")))


def test_a_token_signed_by_a_foreign_key_with_our_kid_is_rejected() -> None:
    foreign = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(claims(), foreign, algorithm="ES256", headers={"kid": keyring.signing_key().kid})
    with pytest.raises(InvalidToken, match="Signature"):
        verify_access_token(token)


def test_a_token_with_the_none_algorithm_is_rejected() -> None:
    token = jwt.encode(claims(), None, algorithm="none", headers={"kid": keyring.signing_key().kid})
    with pytest.raises(InvalidToken):
        verify_access_token(token)


def test_a_token_hmac_signed_with_our_public_key_is_rejected() -> None:
    """The classic algorithm confusion: the algorithm is fixed by settings, not read from the token."""
    key = keyring.signing_key()
    public_jwk = key.public_jwk()
    token = jwt.encode(claims(), public_jwk["x"].encode() * 2, algorithm="HS256", headers={"kid": key.kid})
    with pytest.raises(InvalidToken):
        verify_access_token(token)


def test_a_token_without_a_required_claim_is_rejected() -> None:
    payload = claims()
    del payload["jti"]
    with pytest.raises(InvalidToken, match="jti"):
        verify_access_token(sign_with_our_key(payload))


def test_after_rotation_the_new_key_signs_and_old_tokens_still_verify(signing_keys: Path) -> None:
    old = issue_access_token("alice", [])
    old_kid = jwt.get_unverified_header(old.token)["kid"]
    call_command("rotatesigningkey")
    keyring.refresh()
    new = issue_access_token("alice", [])
    assert jwt.get_unverified_header(new.token)["kid"] != old_kid
    assert verify_access_token(old.token)["sub"] == "alice"
    assert verify_access_token(new.token)["sub"] == "alice"


def test_a_retired_key_no_longer_verifies_its_tokens(signing_keys: Path, settings) -> None:  # type: ignore[no-untyped-def]
    old = issue_access_token("alice", [])
    call_command("rotatesigningkey")
    settings.REGISTRY_TOKEN_TTL = 60
    newest = sorted(signing_keys.glob("*.pem"))[-1]
    an_hour_ago = time.time() - 3600
    os.utime(newest, (an_hour_ago, an_hour_ago))
    call_command("rotatesigningkey", "--retire")
    keyring.refresh()
    assert len(list(signing_keys.glob("*.pem"))) == 1
    with pytest.raises(InvalidToken, match="unknown signing key"):
        verify_access_token(old.token)
