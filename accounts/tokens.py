"""Bearer tokens for the registry (Docker token auth spec, JWT form).

Tokens are signed with an asymmetric key of the algorithm fixed in settings (ES256 by
default) and carry `iss`, `sub`, `aud`, `iat`, `nbf`, `exp`, `jti`, `access` and a `kid`
header. Keys are PEM files in REGISTRY_SIGNING_KEY_DIR: the newest signs, every one still
there verifies, so a rotated-out key keeps its tokens valid until they expire. The first
start makes a key if there is none, under a file lock so that workers agree on it.
"""

import base64
import fcntl
import hashlib
import json
import logging
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from jwt.api_jws import PyJWS

from accounts.scopes import Scope

# How often a process looks at the key folder again, to pick up a rotation.
_RESCAN_SECONDS = 30
_LEEWAY_SECONDS = 10
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
_KEY_TYPES: dict[str, type] = {"ES256": ec.EllipticCurvePrivateKey, "RS256": rsa.RSAPrivateKey}
logger = logging.getLogger(__name__)


class InvalidToken(Exception):
    """The token is expired, forged, for another service, or otherwise not ours."""


class TokenTooLarge(Exception):
    """The token would not fit in the Authorization header that carries it."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: PrivateKey

    def public_jwk(self) -> dict[str, str]:
        return {
            **_public_jwk(self.private_key),
            "kid": self.kid,
            "alg": settings.REGISTRY_TOKEN_ALGORITHM,
            "use": "sig",
        }


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int
    issued_at: int


def _public_jwk(private_key: PrivateKey) -> dict[str, str]:
    algorithm = PyJWS().get_algorithm_by_name(settings.REGISTRY_TOKEN_ALGORITHM)
    jwk: dict[str, str] = algorithm.to_jwk(private_key.public_key(), as_dict=True)  # type: ignore[call-overload]
    return jwk


def _thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint of a public key: a kid that names the key, not the file."""
    required = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("e", "kty", "n")
    canonical = json.dumps({name: jwk[name] for name in required}, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def generate_private_key() -> PrivateKey:
    if settings.REGISTRY_TOKEN_ALGORITHM == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    return ec.generate_private_key(ec.SECP256R1())


def write_new_key(directory: Path) -> Path:
    """Write a fresh private key; its name sorts after every older one, so it signs from now on."""
    directory.mkdir(parents=True, exist_ok=True)
    pem = generate_private_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    now_ns = time.time_ns()
    # Names sort by creation time, to the nanosecond: the last one is the newest.
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now_ns // 10**9))
    path = directory / f"{stamp}.{now_ns % 10**9:09d}.pem"
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(pem)
    temporary.chmod(0o600)
    temporary.replace(path)
    return path


class KeyRing:
    """The signing keys of this process, reloaded when the folder changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: list[SigningKey] = []
        self._checked_at = 0.0
        self._folder_mtime = -1
        self._directory: Path | None = None

    def refresh(self) -> None:
        """Look at the key folder again on next use, instead of within _RESCAN_SECONDS."""
        with self._lock:
            self._checked_at = 0.0

    def signing_key(self) -> SigningKey:
        return self._current()[-1]

    def verification_key(self, kid: str) -> SigningKey | None:
        for key in self._current():
            if key.kid == kid:
                return key
        return None

    def all_keys(self) -> list[SigningKey]:
        return list(self._current())

    def _current(self) -> list[SigningKey]:
        with self._lock:
            directory = Path(settings.REGISTRY_SIGNING_KEY_DIR)
            stale = self._checked_at == 0.0 or time.monotonic() - self._checked_at > _RESCAN_SECONDS
            if not self._keys or stale or directory != self._directory:
                self._reload(directory)
            return self._keys

    def _reload(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._checked_at = time.monotonic()
        mtime = directory.stat().st_mtime_ns
        if self._keys and mtime == self._folder_mtime and directory == self._directory:
            return
        with open(directory / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not any(directory.glob("*.pem")):
                write_new_key(directory)
            paths = sorted(directory.glob("*.pem"))
        keys = []
        for path in paths:
            private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(private_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) or not isinstance(
                private_key, _KEY_TYPES[settings.REGISTRY_TOKEN_ALGORITHM]
            ):
                logger.warning("signing key %s does not fit %s; ignored", path.name, settings.REGISTRY_TOKEN_ALGORITHM)
                continue
            keys.append(SigningKey(_thumbprint(_public_jwk(private_key)), private_key))
        self._keys = keys
        self._folder_mtime = directory.stat().st_mtime_ns
        self._directory = directory


keyring = KeyRing()


def issue_access_token(subject: str, access: list[Scope]) -> IssuedToken:
    """A registry token for `subject` granting exactly `access`. Raises TokenTooLarge past
    REGISTRY_TOKEN_MAX_BYTES: a proxy would refuse the requests that carry it."""
    now = int(time.time())
    ttl = settings.REGISTRY_TOKEN_TTL
    claims = {
        "iss": settings.REGISTRY_TOKEN_ISSUER,
        "sub": subject,
        "aud": settings.REGISTRY_TOKEN_SERVICE,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": secrets.token_urlsafe(16),
        "access": [scope.as_claim() for scope in access],
    }
    token = _sign(claims)
    limit = settings.REGISTRY_TOKEN_MAX_BYTES
    if len(token) > limit:
        raise TokenTooLarge(f"a token for this access would be {len(token)} bytes, over the limit of {limit}")
    return IssuedToken(token, ttl, now)


def issue_refresh_token(subject: str, credential: str, version: str) -> str:
    """A long-lived OAuth2 refresh token; `credential` says what logged in (user, robot:<id>, token:<id>)
    and `version` which version of it, so a refresh re-checks that it is still active and unchanged."""
    now = int(time.time())
    claims = {
        "iss": settings.REGISTRY_TOKEN_ISSUER,
        "sub": subject,
        "aud": f"{settings.REGISTRY_TOKEN_SERVICE}#refresh",
        "iat": now,
        "nbf": now,
        "exp": now + settings.REGISTRY_REFRESH_TOKEN_TTL,
        "jti": secrets.token_urlsafe(16),
        "credential": credential,
        "version": version,
    }
    return _sign(claims)


def verify_access_token(token: str) -> dict[str, Any]:
    return _verify(token, settings.REGISTRY_TOKEN_SERVICE)


def verify_refresh_token(token: str) -> dict[str, Any]:
    return _verify(token, f"{settings.REGISTRY_TOKEN_SERVICE}#refresh")


def granted_scopes(claims: dict[str, Any]) -> list[Scope]:
    scopes = []
    for entry in claims.get("access") or []:
        if isinstance(entry, dict) and isinstance(entry.get("actions"), list):
            scopes.append(Scope(str(entry.get("type")), str(entry.get("name")), frozenset(map(str, entry["actions"]))))
    return scopes


def _sign(claims: dict[str, Any]) -> str:
    key = keyring.signing_key()
    return jwt.encode(
        claims, key.private_key, algorithm=settings.REGISTRY_TOKEN_ALGORITHM, headers={"kid": key.kid, "typ": "JWT"}
    )


class _VerifiedTokens:
    """Tokens this process has verified, until they expire: clients send the same token with every
    request of a pull, and an ECDSA check costs more than the rest of a manifest GET."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._claims: OrderedDict[tuple[str, str, str], tuple[str, dict[str, Any]]] = OrderedDict()

    def get(self, cache_key: tuple[str, str, str]) -> dict[str, Any] | None:
        with self._lock:
            entry = self._claims.get(cache_key)
        if entry is None:
            return None
        kid, claims = entry
        # Expired, or its key retired since: verify afresh (and fail).
        if claims["exp"] <= time.time() or keyring.verification_key(kid) is None:
            with self._lock:
                self._claims.pop(cache_key, None)
            return None
        return claims

    def put(self, cache_key: tuple[str, str, str], kid: str, claims: dict[str, Any]) -> None:
        with self._lock:
            self._claims[cache_key] = (kid, claims)
            while len(self._claims) > self.LIMIT:
                self._claims.popitem(last=False)


_verified = _VerifiedTokens()


def _verify(token: str, audience: str) -> dict[str, Any]:
    """Check signature, issuer, audience and times. The algorithm comes from settings, never from
    the token's header, so `none` or an HMAC made with the public key are refused."""
    cache_key = (token, audience, settings.REGISTRY_TOKEN_ISSUER)
    cached = _verified.get(cache_key)
    if cached is not None:
        return cached
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from None
    key = keyring.verification_key(str(kid)) if kid else None
    if key is None:
        raise InvalidToken("unknown signing key")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.private_key.public_key(),
            algorithms=[settings.REGISTRY_TOKEN_ALGORITHM],
            audience=audience,
            issuer=settings.REGISTRY_TOKEN_ISSUER,
            leeway=_LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]},
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from None
    _verified.put(cache_key, key.kid, claims)
    return claims
