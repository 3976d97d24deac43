"""Random values of an authorization-code sign-in (RFC 7636 PKCE, S256)."""

from __future__ import annotations

import base64
import hashlib
import secrets


def b64url(data: bytes) -> str:
    """Base64url without padding, as OAuth and JWTs write it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_verifier() -> str:
    # 64 random bytes: 86 characters, inside the 43..128 the RFC allows.
    return b64url(secrets.token_bytes(64))


def challenge(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def new_state() -> str:
    return b64url(secrets.token_bytes(24))
