"""Keeping an account's secrets out of what clients and logs are told.

Upstreams sometimes quote what they refused: the API key, a proxy's
credentials, a custom header's value. Every error relayed from an upstream,
in the client's dialect or as the upstream's own bytes, passes through the
account's ``Scrubber`` first.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

# Shorter values are too likely to be ordinary words to be cut out of text.
_MIN_SECRET = 8
_MASK = "***"


class Scrubber:
    __slots__ = ("_texts", "_raw")

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if len(secret) >= _MIN_SECRET:
                forms.add(secret)
                forms.add(json.dumps(secret)[1:-1])  # as it appears inside JSON text
        # Longest first, so that a secret containing another goes whole.
        self._texts = tuple(sorted(forms, key=len, reverse=True))
        self._raw = tuple(t.encode() for t in self._texts)

    def adding(self, secret: str) -> Scrubber:
        """This scrubber and one more secret."""
        grown = Scrubber((secret,))
        grown._texts = tuple(sorted({*self._texts, *grown._texts}, key=len, reverse=True))
        grown._raw = tuple(t.encode() for t in grown._texts)
        return grown

    def __bool__(self) -> bool:
        return bool(self._texts)

    def text(self, value: str) -> str:
        for secret in self._texts:
            if secret in value:
                value = value.replace(secret, _MASK)
        return value

    def bytes(self, value: bytes) -> bytes:
        for secret in self._raw:
            if secret in value:
                value = value.replace(secret, _MASK.encode())
        return value


def proxy_secrets(url: str | None) -> tuple[str, ...]:
    """The credentials a proxy URL carries: user name, password, and the
    Basic credentials an HTTP proxy is sent (which it may echo back)."""
    if not url:
        return ()
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return ()
    found = tuple(unquote(s) for s in (user, password) if s)
    if user is not None and password is not None:
        pair = f"{unquote(user)}:{unquote(password)}".encode()
        found += (base64.b64encode(pair).decode("ascii"),)
    return found
