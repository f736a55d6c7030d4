"""Secrets this registry must give back later (a proxy project's upstream password), encrypted
at rest with a key derived from SECRET_KEY: a database dump alone does not reveal them.

Fernet (AES-128-CBC with an HMAC) from `cryptography`, which PyJWT[crypto] already brings. A
changed SECRET_KEY makes what was sealed unreadable (`unseal` raises SealBroken); the owner sets
the password again.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

# Keeps this key apart from any other use of SECRET_KEY.
_PURPOSE = b"harbor-lite sealed secrets v1:"


class SealBroken(Exception):
    pass


def _fernet() -> Fernet:
    key = hashlib.sha256(_PURPOSE + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode("ascii")


def unseal(sealed: str) -> str:
    """The secret `seal` encrypted; raises SealBroken if SECRET_KEY changed since, or it was altered."""
    try:
        return _fernet().decrypt(sealed.encode("ascii")).decode()
    except (InvalidToken, ValueError):
        raise SealBroken("the stored secret cannot be decrypted: was SECRET_KEY changed?") from None
