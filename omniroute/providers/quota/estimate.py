"""Estimated windows, counted by the gateway itself, for plans that publish
their limits but report no usage.

A catalog entry declares them as ``"quota_limits": [{"window": "5h",
"requests": 200}, {"window": "7d", "tokens": 5000000}]``: at most that many
requests (or tokens, input and output) in any rolling window of that length.
Each answered request is counted per account; at start the request log's
recent rows are counted in (``add`` with their own times). The window's
``resets_at`` is when its oldest counted request leaves it, the moment usage
first drops. Windows made here say ``estimated`` and ``source: estimate``.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from omniroute.errors import ConfigError
from omniroute.providers.quota.window import Window

_SPAN = re.compile(r"^(\d+)([mhdw])$")
_UNIT = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_EVENTS = 100_000  # per account: the oldest go first past this


@dataclass(frozen=True, slots=True)
class QuotaLimit:
    window: str  # "5h", "7d", "1m"...
    seconds: float
    requests: int | None = None
    tokens: int | None = None


def parse_limits(raw: Any, where: str) -> tuple[QuotaLimit, ...]:
    """The ``quota_limits`` field of a catalog entry; ConfigError names the fault."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: 'quota_limits' must be a list")
    limits: list[QuotaLimit] = []
    for item in raw:
        if not isinstance(item, dict) or set(item) - {"window", "requests", "tokens"}:
            raise ConfigError(f"{where}: each quota limit is {{window, requests | tokens}}")
        match = _SPAN.match(str(item.get("window", "")))
        if match is None:
            raise ConfigError(f"{where}: quota limit window must look like 5h, 7d, 1m or 1w")
        counts = [item.get("requests"), item.get("tokens")]
        if sum(c is not None for c in counts) != 1 or not all(
            c is None or (isinstance(c, int) and not isinstance(c, bool) and c > 0) for c in counts
        ):
            raise ConfigError(f"{where}: a quota limit has one of requests or tokens, above 0")
        seconds = int(match.group(1)) * _UNIT[match.group(2)]
        limits.append(QuotaLimit(match.group(0), float(seconds), counts[0], counts[1]))
    return tuple(limits)


class Estimates:
    """Requests and tokens per key over the longest declared window."""

    __slots__ = ("_events",)

    def __init__(self) -> None:
        self._events: dict[str, deque[tuple[float, int]]] = {}

    def add(self, key: str, at: float, tokens: int) -> None:
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque(maxlen=MAX_EVENTS)
        if events and at < events[-1][0]:  # rows read back arrive out of order
            ordered = sorted([*events, (at, tokens)])
            events.clear()
            events.extend(ordered)
        else:
            events.append((at, tokens))

    def windows(self, key: str, limits: Sequence[QuotaLimit], now: float) -> list[Window]:
        events = self._events.get(key)
        if not limits or not events:
            return []
        longest = max(limit.seconds for limit in limits)
        while events and events[0][0] <= now - longest:
            events.popleft()
        out: list[Window] = []
        for limit in limits:
            start = now - limit.seconds
            inside = [(at, tokens) for at, tokens in events if at > start]
            if not inside:
                continue
            if limit.requests is not None:
                used = len(inside) / limit.requests
            else:
                used = sum(t for _, t in inside) / (limit.tokens or 1)
            name = f"{'requests' if limit.requests is not None else 'tokens'}-{limit.window}"
            resets = inside[0][0] + limit.seconds
            out.append(Window(name, used, resets, estimated=True, source="estimate"))
        return out
