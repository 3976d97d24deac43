"""Checking an OpenID Connect ID token: an RS256 signature by one of the
issuer's published keys (JWKS), then issuer, audience, expiry and nonce.

Only RS256 is accepted: a token naming another algorithm (``none``, an HMAC
keyed with public material) is refused before any key is looked at.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from omniroute.providers.oauth.errors import OAuthError
from omniroute.providers.oauth.pkce import unb64url

CLOCK_SKEW = 60.0  # seconds of disagreement between our clock and the issuer's


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, read without checking it (for display only)."""
    try:
        return _part(token.split(".")[1])
    except (IndexError, OAuthError):
        return {}


def _part(text: str) -> dict[str, Any]:
    try:
        value = json.loads(unb64url(text))
    except ValueError:
        raise OAuthError("the ID token is not a well-formed JWT") from None
    if not isinstance(value, dict):
        raise OAuthError("the ID token is not a well-formed JWT")
    return value


def _rsa_key(jwk: Mapping[str, Any]) -> rsa.RSAPublicKey:
    try:
        n = int.from_bytes(unb64url(str(jwk["n"])), "big")
        e = int.from_bytes(unb64url(str(jwk["e"])), "big")
        return rsa.RSAPublicNumbers(e, n).public_key()
    except (KeyError, ValueError) as exc:
        raise OAuthError("the issuer published a signing key that cannot be read") from exc


def verify(
    token: str,
    jwks: Mapping[str, Any],
    *,
    issuer: str,
    audience: str,
    nonce: str | None,
    now: float | None = None,
) -> dict[str, Any]:
    """The token's claims once everything checks out; OAuthError otherwise."""
    pieces = token.split(".")
    if len(pieces) != 3:
        raise OAuthError("the ID token is not a well-formed JWT")
    header, claims = _part(pieces[0]), _part(pieces[1])
    if header.get("alg") != "RS256":
        raise OAuthError(f"the ID token is signed with {header.get('alg')!r}, not RS256")
    keys = [k for k in jwks.get("keys") or [] if isinstance(k, Mapping) and k.get("kty") == "RSA"]
    kid = header.get("kid")
    if kid is not None:
        keys = [k for k in keys if k.get("kid") == kid]
    if not keys:
        raise OAuthError("no published key of the issuer matches the ID token")
    signed = f"{pieces[0]}.{pieces[1]}".encode("ascii")
    try:
        signature = unb64url(pieces[2])
    except ValueError:
        raise OAuthError("the ID token's signature cannot be read") from None
    for jwk in keys:
        try:
            _rsa_key(jwk).verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            break
        except InvalidSignature:
            continue
    else:
        raise OAuthError("the ID token's signature does not verify")
    now = time.time() if now is None else now
    if claims.get("iss") != issuer:
        raise OAuthError("the ID token comes from another issuer")
    aud = claims.get("aud")
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise OAuthError("the ID token was issued to another client")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp + CLOCK_SKEW < now:
        raise OAuthError("the ID token has expired")
    iat = claims.get("iat")
    if isinstance(iat, int | float) and iat - CLOCK_SKEW > now:
        raise OAuthError("the ID token was issued in the future")
    if nonce is not None and claims.get("nonce") != nonce:
        raise OAuthError("the ID token does not answer this sign-in (nonce)")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise OAuthError("the ID token names no subject")
    return claims
