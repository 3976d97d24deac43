"""Quota readers: how each kind of upstream tells how much of its quota is used.

A catalog entry names its reader (``"quota": "anthropic"``); a provider
without a catalog entry gets its wire format's reader when the format has
one (an Anthropic-compatible server sends Anthropic's headers, if any). A
reader has:

``from_headers(headers, now, model)``
    the windows a response's headers reveal (every answer, and most
    failures, carry them);
``endpoint``
    optionally, a usage URL polled in the background and the parser of its
    body, for providers that report usage only there.

What each reads:

anthropic  ``anthropic-ratelimit-unified-<w>-utilization`` (a fraction 0..1),
           ``-<w>-reset`` (unix seconds) and ``-<w>-status`` for the windows
           ``5h`` and ``7d`` (the account's) and any other (``7d_oi``...), which
           limits only the model that was asked for.
openai     ``x-ratelimit-limit|remaining|reset-requests|tokens``; resets are
           durations (``6m0s``, ``1s``, ``20ms``).
github     GitHub Models: the same headers as openai, and GitHub's own
           ``x-ratelimit-limit|remaining|reset`` (reset in unix seconds).
zai        Z.ai / Zhipu GLM Coding Plan: ``GET /api/monitor/usage/quota/limit``
           → ``data.limits[]`` with ``type`` ``TOKENS_LIMIT`` (the prompt
           window; ``unit`` 3 = hours, ``number`` 5), ``percentage`` 0..100
           and ``nextResetTime`` (ms). ``TIME_LIMIT`` counts the plan's web
           tools, which the gateway does not call, and is left out.
kimi       Kimi For Coding: ``GET <base>/usages`` → ``usage`` {limit,
           remaining, resetTime} (the weekly quota) and ``limits[]``
           {window {duration, timeUnit}, detail {limit, remaining, resetTime}}.
minimax    MiniMax Coding Plan: ``GET <host>/v1/api/openplatform/coding_plan/remains``
           → ``model_remains[]`` per model with ``current_interval_total_count``
           and ``current_interval_usage_count``, which despite its name is what
           is *left* in the window, and ``end_time`` (ms) or ``remains_time``
           (ms to go).

The usage endpoints are not part of the providers' documented APIs; their
shapes are what their own web consoles and CLIs read, and may change. A body
that does not have the expected shape gives no windows, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from omniroute.providers.quota.window import Window
from omniroute.routing.cooldown import Headers, header_map, parse_duration

HeaderParser = Callable[[dict[str, str], float, str], list[Window]]
BodyParser = Callable[[Any, float], list[Window]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A usage URL to poll and the parser of its JSON body."""

    url: Callable[[str], str | None]  # from the provider's base URL (None: not here)
    parse: BodyParser


@dataclass(frozen=True, slots=True)
class Reader:
    name: str
    _headers: HeaderParser
    endpoint: Endpoint | None = None

    def from_headers(self, headers: Headers, now: float, model: str = "") -> list[Window]:
        """The windows these response headers reveal (``model``: the one asked for)."""
        return self._headers(header_map(headers), now, model)


# --------------------------------------------------------------- small readers


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _epoch(value: Any) -> float | None:
    """Unix seconds, unix milliseconds or an ISO 8601 time, as epoch seconds."""
    number = _float(value)
    if number is not None:
        return number / 1000 if number > 1e11 else number
    if isinstance(value, str) and value.strip():
        # Python 3.11's parser takes a "Z" and nine fractional digits itself.
        text = value.strip()
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            return None
        if len(text) == 10:  # a date alone: that day, UTC
            return when.replace(tzinfo=UTC).timestamp()
        return when.timestamp() if when.tzinfo is not None else None
    return None


def _used(limit: Any, remaining: Any) -> float | None:
    """The used share from a limit and what is left of it."""
    total, left = _float(limit), _float(remaining)
    if total is None or left is None or total <= 0:
        return None
    return 1.0 - left / total


def _span_name(seconds: float) -> str:
    """``18000`` → ``5h``, ``604800`` → ``7d``, ``60`` → ``1m``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


# ------------------------------------------------------------------ anthropic

_UNIFIED = "anthropic-ratelimit-unified-"
_UNIFIED_WINDOW = re.compile(re.escape(_UNIFIED) + r"([0-9a-z_]+)-(utilization|status|reset)$")
_ACCOUNT_WINDOWS = frozenset({"5h", "7d"})


def anthropic_headers(h: dict[str, str], now: float, model: str) -> list[Window]:
    names = sorted({m.group(1) for m in map(_UNIFIED_WINDOW.match, h) if m is not None})
    windows: list[Window] = []
    for name in names:
        used = _float(h.get(f"{_UNIFIED}{name}-utilization"))
        if h.get(f"{_UNIFIED}{name}-status") == "rejected":
            used = 1.0
        if used is None:
            continue
        account = name in _ACCOUNT_WINDOWS
        windows.append(
            Window(
                name,
                used,
                _epoch(h.get(f"{_UNIFIED}{name}-reset")),
                scope="account" if account else "model",
                model=None if account else model or None,
            )
        )
    if h.get(f"{_UNIFIED}status") == "rejected" and not any(w.used_fraction >= 1 for w in windows):
        # Refused with no window named: the whole plan, until the overall reset.
        windows.append(Window("unified", 1.0, _epoch(h.get(f"{_UNIFIED}reset"))))
    return windows


# --------------------------------------------------------------------- openai


def openai_headers(h: dict[str, str], now: float, model: str) -> list[Window]:
    windows: list[Window] = []
    for what in ("requests", "tokens"):
        used = _used(h.get(f"x-ratelimit-limit-{what}"), h.get(f"x-ratelimit-remaining-{what}"))
        if used is None:
            continue
        wait = parse_duration(h.get(f"x-ratelimit-reset-{what}", ""))
        windows.append(Window(what, used, None if wait is None else now + wait))
    return windows


# --------------------------------------------------------------------- github


def github_headers(h: dict[str, str], now: float, model: str) -> list[Window]:
    windows = openai_headers(h, now, model)
    used = _used(h.get("x-ratelimit-limit"), h.get("x-ratelimit-remaining"))
    if used is not None:
        windows.append(Window("requests", used, _epoch(h.get("x-ratelimit-reset"))))
    return windows


# ------------------------------------------------------------ coding plans


def _origin(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def zai_url(base_url: str) -> str | None:
    return _origin(base_url) + "/api/monitor/usage/quota/limit"


_ZAI_UNITS = {3: "h", 5: "mo"}  # the units seen in the wild; others keep the type's name


def zai_body(body: Any, now: float) -> list[Window]:
    data = body.get("data") if isinstance(body, dict) else None
    limits = data.get("limits") if isinstance(data, dict) else None
    if not isinstance(limits, list):
        return []
    windows: list[Window] = []
    for item in limits:
        if not isinstance(item, dict) or item.get("type") != "TOKENS_LIMIT":
            continue
        percent = _float(item.get("percentage"))
        used = (
            percent / 100
            if percent is not None
            else _used(item.get("usage"), item.get("remaining"))
        )
        if used is None:
            continue
        unit, number = item.get("unit"), item.get("number")
        suffix = _ZAI_UNITS.get(unit) if isinstance(unit, int) else None
        name = f"{number}{suffix}" if suffix and isinstance(number, int) else "tokens"
        windows.append(Window(name, used, _epoch(item.get("nextResetTime")), source="endpoint"))
    return windows


def kimi_url(base_url: str) -> str | None:
    return base_url.rstrip("/") + "/usages"


_KIMI_UNITS = {"TIME_UNIT_MINUTE": 60, "TIME_UNIT_HOUR": 3600, "TIME_UNIT_DAY": 86400}


def kimi_body(body: Any, now: float) -> list[Window]:
    if not isinstance(body, dict):
        return []
    windows: list[Window] = []
    overall = body.get("usage")
    if isinstance(overall, dict):
        used = _used(overall.get("limit"), overall.get("remaining"))
        if used is not None:
            resets = _epoch(overall.get("resetTime"))
            windows.append(Window("weekly", used, resets, source="endpoint"))
    limits = body.get("limits")
    for item in limits if isinstance(limits, list) else []:
        if not isinstance(item, dict):
            continue
        window, detail = item.get("window"), item.get("detail")
        if not isinstance(window, dict) or not isinstance(detail, dict):
            continue
        used = _used(detail.get("limit"), detail.get("remaining"))
        duration = _float(window.get("duration"))
        size = _KIMI_UNITS.get(str(window.get("timeUnit")))
        if used is None or duration is None or size is None:
            continue
        name = _span_name(duration * size)
        windows.append(Window(name, used, _epoch(detail.get("resetTime")), source="endpoint"))
    return windows


def minimax_url(base_url: str) -> str | None:
    # The plan is served under /anthropic/v1 (or /v1); its usage under /v1 of the host.
    return _origin(base_url) + "/v1/api/openplatform/coding_plan/remains"


def minimax_body(body: Any, now: float) -> list[Window]:
    data = (
        body.get("data") if isinstance(body, dict) and isinstance(body.get("data"), dict) else body
    )
    remains = data.get("model_remains") if isinstance(data, dict) else None
    if not isinstance(remains, list):
        return []
    windows: list[Window] = []
    for item in remains:
        if not isinstance(item, dict):
            continue
        # ``current_interval_usage_count`` is what is left, despite its name.
        used = _used(
            item.get("current_interval_total_count"), item.get("current_interval_usage_count")
        )
        if used is None:
            continue
        resets = _epoch(item.get("end_time"))
        left_ms = _float(item.get("remains_time"))
        if resets is None and left_ms is not None:
            resets = now + left_ms / 1000
        model = item.get("model_name")
        named = isinstance(model, str) and bool(model)
        windows.append(
            Window(
                "5h",
                used,
                resets,
                scope="model" if named else "account",
                model=model if named else None,
                source="endpoint",
            )
        )
    return windows


def _no_headers(h: dict[str, str], now: float, model: str) -> list[Window]:
    return []


READERS: Mapping[str, Reader] = {
    r.name: r
    for r in (
        Reader("anthropic", anthropic_headers),
        Reader("openai", openai_headers),
        Reader("github", github_headers),
        Reader("zai", openai_headers, Endpoint(zai_url, zai_body)),
        Reader("kimi", openai_headers, Endpoint(kimi_url, kimi_body)),
        Reader("minimax", _no_headers, Endpoint(minimax_url, minimax_body)),
    )
}

# A provider with no catalog entry gets its wire format's reader.
FORMAT_READERS: Mapping[str, str] = {"anthropic": "anthropic", "openai": "openai"}


def reader(name: str | None) -> Reader | None:
    return READERS.get(name) if name else None
