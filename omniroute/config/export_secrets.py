"""The secrets of a full export, encrypted under a passphrase.

The secrets (API keys, proxy URLs with credentials, custom header values)
are gathered into one JSON object, ``{"s1": "…", "s2": "…"}``, encrypted
with AES-256-GCM under a key derived from the passphrase with scrypt, and
carried in the file's ``encryption`` block. Where each secret belongs, the
file holds ``{"secret": "s1"}``; the rest of the file stays readable (and
editable) text. The scrypt parameters and the salt travel with the file, so
they can be raised later without breaking older files.

    {"kdf": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": "<base64>",
     "cipher": "AES-256-GCM", "nonce": "<base64>", "ciphertext": "<base64>"}

A wrong passphrase and a changed ciphertext look the same (GCM's tag fails):
the message says both.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from omniroute.errors import BadRequest
from omniroute.store.crypto import scrypt

MIN_PASSPHRASE = 12
_N, _R, _P = 1 << 15, 8, 1  # 32 MiB and some tens of milliseconds
_MAX_N, _MAX_R, _MAX_P = 1 << 20, 32, 16  # what a file may ask of us
_SALT_BYTES = 16
_NONCE_BYTES = 12
_AAD = b"omniroute-config secrets v1"


def check_passphrase(passphrase: str | None) -> str:
    if not isinstance(passphrase, str) or not passphrase:
        raise BadRequest("a passphrase is required to export or import secrets")
    if len(passphrase) < MIN_PASSPHRASE:
        raise BadRequest(f"the passphrase is too short: use at least {MIN_PASSPHRASE} characters")
    return passphrase


def seal_secrets(secrets: Mapping[str, str], passphrase: str) -> dict[str, Any]:
    salt = os.urandom(_SALT_BYTES)
    nonce = os.urandom(_NONCE_BYTES)
    key = scrypt(check_passphrase(passphrase), salt, n=_N, r=_R, p=_P)
    plain = json.dumps(dict(secrets), separators=(",", ":")).encode("utf-8")
    return {
        "kdf": "scrypt",
        "n": _N,
        "r": _R,
        "p": _P,
        "salt": _b64(salt),
        "cipher": "AES-256-GCM",
        "nonce": _b64(nonce),
        "ciphertext": _b64(AESGCM(key).encrypt(nonce, plain, _AAD)),
    }


def open_secrets(block: Any, passphrase: str | None) -> dict[str, str]:
    """The secrets in an ``encryption`` block; BadRequest when the block is
    malformed or the passphrase does not open it."""
    if not isinstance(block, Mapping):
        raise BadRequest("'encryption' must be an object")
    if block.get("kdf") != "scrypt" or block.get("cipher") != "AES-256-GCM":
        raise BadRequest("'encryption' names a method this version does not know")
    n, r, p = (_whole(block, name) for name in ("n", "r", "p"))
    if n < 2 or n & (n - 1) or n > _MAX_N or not 1 <= r <= _MAX_R or not 1 <= p <= _MAX_P:
        raise BadRequest("'encryption' asks for scrypt parameters out of range")
    salt, nonce, sealed = (_bytes(block, name) for name in ("salt", "nonce", "ciphertext"))
    if len(nonce) != _NONCE_BYTES:
        raise BadRequest("'encryption.nonce' has the wrong length")
    key = scrypt(check_passphrase(passphrase), salt, n=n, r=r, p=p)
    try:
        plain = AESGCM(key).decrypt(nonce, sealed, _AAD)
    except InvalidTag:
        raise BadRequest(
            "the passphrase is wrong, or the file's secrets were changed after export"
        ) from None
    try:
        secrets = json.loads(plain)
    except ValueError:
        secrets = None
    if not isinstance(secrets, dict) or not all(isinstance(v, str) for v in secrets.values()):
        raise BadRequest("the file's secrets are not a list of texts")
    return secrets


def _whole(block: Mapping[str, Any], name: str) -> int:
    value = block.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"'encryption.{name}' must be a whole number")
    return value


def _bytes(block: Mapping[str, Any], name: str) -> bytes:
    value = block.get(name)
    try:
        if not isinstance(value, str):
            raise ValueError(name)
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"'encryption.{name}' must be base64 text") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
