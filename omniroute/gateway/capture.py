"""Debug capture of request and response bodies (off unless the
``request-log.capture-bodies`` setting is on).

Captures stay in memory only, never on disk: at most ``MAX_ENTRIES``, each
body cut to ``max_bytes``, each dropped after ``retention`` seconds (their
own retention, shorter than the request log's). Before anything is kept,
fields and headers that carry credentials are replaced by ``***``: keys
named like api_key, authorization, token, secret or password anywhere in
the JSON body, and every header naming a key, token, cookie or auth.
A streamed answer's body is not kept (only the request and the status).
"""

from __future__ import annotations

import collections
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

MAX_ENTRIES = 200
REDACTED = "***"
_SECRET_FIELD = re.compile(r"api[_-]?key|authori[sz]ation|token|secret|password|credential", re.I)
_SECRET_HEADER = re.compile(r"key|token|auth|cookie|secret|signature", re.I)
_MAX_DEPTH = 32


def redact_json(value: Any, depth: int = 0) -> Any:
    """A copy of a JSON value with credential-like fields replaced."""
    if depth > _MAX_DEPTH:
        return REDACTED
    if isinstance(value, Mapping):
        return {
            k: REDACTED if _SECRET_FIELD.search(str(k)) else redact_json(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_json(v, depth + 1) for v in value]
    return value


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: REDACTED if _SECRET_HEADER.search(k) else v for k, v in headers.items()}


def _cut(text: str, max_bytes: int) -> tuple[str, bool]:
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text, False
    return raw[:max_bytes].decode("utf-8", "ignore"), True


class BodyCapture:
    def __init__(self, clock: Callable[[], float] = time.time, max_entries: int = MAX_ENTRIES):
        self._clock = clock
        self._max = max_entries
        self._entries: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def keep(
        self,
        request_id: str,
        *,
        headers: Mapping[str, str],
        body: Any,
        status: int,
        response: bytes | None,
        max_bytes: int,
        retention: float,
    ) -> None:
        """Remember one request's redacted, size-capped bodies. Never raises."""
        try:
            now = self._clock()
            request_text, request_cut = _cut(
                json.dumps(redact_json(body), ensure_ascii=False), max_bytes
            )
            entry: dict[str, Any] = {
                "ts": now,
                "expires": now + retention,
                "request_headers": redact_headers(headers),
                "request_body": request_text,
                "request_truncated": request_cut,
                "status": status,
                "response_body": None,
                "response_truncated": False,
            }
            if response is not None:
                text = response.decode("utf-8", "replace")
                try:
                    text = json.dumps(redact_json(json.loads(text)), ensure_ascii=False)
                except ValueError:
                    pass
                entry["response_body"], entry["response_truncated"] = _cut(text, max_bytes)
            self._entries.pop(request_id, None)
            self._entries[request_id] = entry
            self._expire(now)
        except Exception:  # noqa: S110 (debugging aid: a capture that fails is just absent)
            pass

    def get(self, request_id: str) -> dict[str, Any] | None:
        self._expire(self._clock())
        found = self._entries.get(request_id)
        if found is None:
            return None
        return {k: v for k, v in found.items() if k != "expires"}

    def _expire(self, now: float) -> None:
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        # Entries are in the order they were kept: the oldest expire first.
        while self._entries:
            first = next(iter(self._entries.values()))
            if first["expires"] > now:
                break
            self._entries.popitem(last=False)
