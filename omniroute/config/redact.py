"""What may be shown of a secret: the CLI's listings, the management API's
answers and the audit log all mask through here, so none of them can show
more than the others.

An API key shows its last 4 characters (enough to tell two keys apart), a
proxy URL its scheme, host and user name with the password masked, and a
custom header's value is masked like a key: the store seals header values
at rest because they often carry tokens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from omniroute.store import mask_proxy

# Option names whose values are credentials whatever else they look like.
_SECRET_NAME = re.compile(r"key|token|secret|passw|auth|cookie|credential|signature", re.I)
_SHOWN_TAIL = 4
_SHORTEST_WITH_TAIL = 16  # shorter secrets show nothing: 4 of 10 is too much
_HIDDEN = "****"


def mask(secret: str) -> str:
    """``…abcd`` for a long secret, ``****`` for a short one; a value masked
    already stays as it is (views are redacted again before they are stored)."""
    if secret == _HIDDEN or (secret.startswith("…") and len(secret) == _SHOWN_TAIL + 1):
        return secret
    if len(secret) >= _SHORTEST_WITH_TAIL:
        return "…" + secret[-_SHOWN_TAIL:]
    return _HIDDEN


def mask_headers(headers: Any) -> dict[str, str]:
    """Header names with their values masked (empty for anything else)."""
    if not isinstance(headers, Mapping):
        return {}
    return {str(name): mask(str(value)) for name, value in headers.items()}


def shown_proxy(value: Any) -> str | None:
    return None if value is None else mask_proxy(str(value))


def redact(value: Any, name: str = "") -> Any:
    """A JSON value fit to store in the audit log or send back: proxies and
    headers masked, and any field whose name says credential masked whole."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            key = str(key)
            if key == "proxy":
                out[key] = shown_proxy(item)
            elif key == "headers":
                out[key] = mask_headers(item)
            else:
                out[key] = redact(item, key)
        return out
    if isinstance(value, list | tuple):
        return [redact(item, name) for item in value]
    if isinstance(value, str) and _SECRET_NAME.search(name):
        return mask(value)
    return value
