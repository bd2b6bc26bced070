"""Encryption at rest for the tokens Connect stores (SPEC §11), on `cryptography`'s Fernet.

CONNECT_ENCRYPTION_KEY holds one key, or several separated by commas to rotate: the first
encrypts, every one of them decrypts. A key is either a Fernet key (urlsafe base64 of 32
bytes, as `Fernet.generate_key()` prints) or a passphrase of at least 32 characters, which
is stretched into one with HKDF-SHA256.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_PASSPHRASE_LENGTH = 32
_HKDF_INFO = b"connect: slack oauth tokens at rest"
_HKDF_SALT = b"connect-token-cipher-v1"


class TokenCipherError(ValueError):
    """A key that cannot be used, or a stored value no configured key can open."""


class TokenCipher:
    def __init__(self, keys: str) -> None:
        self._fernet = MultiFernet([Fernet(key) for key in fernet_keys(keys)])

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode("ascii")

    def decrypt(self, stored: str) -> str:
        try:
            return self._fernet.decrypt(stored.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as exc:
            raise TokenCipherError(
                "a stored token cannot be decrypted with CONNECT_ENCRYPTION_KEY "
                "(was the key changed without keeping the old one after a comma?)"
            ) from exc

    def rotate(self, stored: str) -> str:
        """Re-encrypt with the first key (for stores written under an older one)."""
        try:
            return self._fernet.rotate(stored.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError) as exc:
            raise TokenCipherError(
                "a stored token cannot be decrypted with any key of CONNECT_ENCRYPTION_KEY"
            ) from exc


def fernet_keys(keys: str) -> list[bytes]:
    """Each comma-separated key as a Fernet key; raises TokenCipherError naming the problem."""
    parts = [part.strip() for part in keys.split(",")]
    if not any(parts):
        raise TokenCipherError("is empty")
    return [_fernet_key(part, position) for position, part in enumerate(parts, start=1)]


def _fernet_key(key: str, position: int) -> bytes:
    try:
        if len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32:
            return key.encode("ascii")
    except (binascii.Error, ValueError):
        pass
    if len(key) < MIN_PASSPHRASE_LENGTH:
        raise TokenCipherError(
            f"key {position} is neither a Fernet key nor a passphrase of at least "
            f"{MIN_PASSPHRASE_LENGTH} characters"
        )
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO).derive(
        key.encode()
    )
    return base64.urlsafe_b64encode(derived)
