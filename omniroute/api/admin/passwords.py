"""The admin password: how strong it must be, and how it is kept.

Stored as ``scrypt$<log2 n>$<r>$<p>$<salt>$<hash>`` (salt and hash in
base64): the parameters travel with the hash, so they can be raised later
without breaking the passwords already set.
"""

from __future__ import annotations

import base64
import hmac
import os

from omniroute.errors import BadRequest
from omniroute.store.crypto import scrypt

MIN_LENGTH = 12
MIN_WORDS = 4  # or a passphrase of this many words
_MAX_LENGTH = 1024
# scrypt's cost: 2**15 x 8 x 1 takes 32 MiB and tens of milliseconds, which a
# login can afford and a guesser cannot.
_LOG2_N, _R, _P = 15, 8, 1
_SALT_BYTES = 16
_KEY_BYTES = 32


def check_strength(password: str) -> None:
    """BadRequest unless the password is long enough: 12 characters, or a
    passphrase of 4 words or more."""
    if not isinstance(password, str) or not password:
        raise BadRequest("a password is required")
    if len(password) > _MAX_LENGTH:
        raise BadRequest(f"the password is longer than {_MAX_LENGTH} characters")
    if len(password) < MIN_LENGTH and len(password.split()) < MIN_WORDS:
        raise BadRequest(
            f"the password is too short: use at least {MIN_LENGTH} characters "
            f"or a passphrase of {MIN_WORDS} words"
        )


def hash_password(password: str) -> str:
    salt = os.urandom(_SALT_BYTES)
    digest = _scrypt(password, salt, _LOG2_N, _R, _P)
    return "$".join(("scrypt", str(_LOG2_N), str(_R), str(_P), _b64(salt), _b64(digest)))


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (compared in constant time)."""
    try:
        scheme, log2_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        given = _scrypt(password, base64.b64decode(salt), int(log2_n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(given, expected)


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return scrypt(password, salt, n=1 << log2_n, r=r, p=p, length=_KEY_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
