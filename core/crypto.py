"""Secrets the server must store and use again later, such as printer API keys.

They are encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256), under a key derived from the
deployment's `secret_key` with HKDF. Deriving (rather than using the secret directly) gives each
purpose its own key, so a key for printers can never decrypt anything stored for another use,
and a database dump alone reveals nothing.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.errors import Invalid


@lru_cache(maxsize=32)
def _fernet(secret_key: str, purpose: str) -> Fernet:
    if not secret_key:
        raise Invalid("The server has no secret key; stored secrets cannot be protected.")
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"smartlib secrets",
        info=purpose.encode(),
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(secret_key: str, plaintext: str, *, purpose: str) -> str:
    """Encrypt `plaintext` for storage; the result is ASCII and safe in a text column."""
    return _fernet(secret_key, purpose).encrypt(plaintext.encode()).decode("ascii")


def decrypt(secret_key: str, token: str, *, purpose: str) -> str:
    """The stored secret; Invalid when the server's secret key changed since it was stored."""
    try:
        return _fernet(secret_key, purpose).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, ValueError):
        raise Invalid(
            "A stored secret cannot be read with this server's secret key (was the key "
            "changed?); enter it again."
        ) from None
