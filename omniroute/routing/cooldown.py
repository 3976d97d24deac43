"""Per-account cooldowns after rate limits and failures.

An account that answered 429 (or failed in a way worth pausing for) is put on
cooldown; routing skips it until the cooldown ends while other accounts keep
serving. The length comes from the upstream's own hint when there is one
(``parse_retry_after``), otherwise from an exponential backoff with jitter that
grows with consecutive strikes and resets on the next success.

    cooldowns = Cooldowns(base=1.0, factor=2.0, cap=300.0)
    cooldowns.trip_from_headers("openai:acct-1", response_headers)
    cooldowns.remaining("openai:acct-1")      # seconds left, 0.0 when usable
    cooldowns.success("openai:acct-1")        # clears cooldown and strikes
    cooldowns.listing()                       # active entries, for the health view

Header forms understood by ``parse_retry_after`` (first that applies wins):

- ``retry-after-ms``: milliseconds (sent by OpenAI; its SDKs honour it).
- ``Retry-After``: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
- ``x-ratelimit-reset-requests`` / ``x-ratelimit-reset-tokens``: durations such
  as ``1s``, ``6m0s``, ``20ms`` (OpenAI, Groq and compatible APIs).
- ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset``:
  RFC 3339 timestamps (Anthropic rate-limit headers).

For the reset families, a limit whose ``…-remaining`` header is 0 is the one
that was hit, so its reset is used; with no exhausted limit, the earliest reset
is used.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from omniroute.routing.retry import exponential_delay

Headers = Mapping[str, str] | Iterable[tuple[str, str]]

# The backoff when the configuration does not set it: seconds for the first
# strike, growth per further strike, and the longest cooldown.
DEFAULT_BASE = 1.0
DEFAULT_FACTOR = 2.0
DEFAULT_CAP = 300.0

_DURATION = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:h|ms|m|s|us|µs|ns)")
_DURATION_FULL = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:h|ms|m|s|us|µs|ns))+")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}

# (reset header, remaining header, value kind)
_RESET_HINTS = (
    ("x-ratelimit-reset-requests", "x-ratelimit-remaining-requests", "duration"),
    ("x-ratelimit-reset-tokens", "x-ratelimit-remaining-tokens", "duration"),
    ("anthropic-ratelimit-requests-reset", "anthropic-ratelimit-requests-remaining", "time"),
    ("anthropic-ratelimit-tokens-reset", "anthropic-ratelimit-tokens-remaining", "time"),
    (
        "anthropic-ratelimit-input-tokens-reset",
        "anthropic-ratelimit-input-tokens-remaining",
        "time",
    ),
    (
        "anthropic-ratelimit-output-tokens-reset",
        "anthropic-ratelimit-output-tokens-remaining",
        "time",
    ),
)


def header_map(headers: Headers) -> dict[str, str]:
    """Lower-cased header names; the first occurrence of a name wins."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in items:
        out.setdefault(name.lower(), value.strip())
    return out


def parse_duration(text: str) -> float | None:
    """``"6m0s"`` → 360.0, ``"20ms"`` → 0.02, ``"1.5"`` → 1.5; None when unreadable."""
    text = text.strip()
    if _DURATION_FULL.fullmatch(text):
        total = 0.0
        for part in _DURATION.findall(text):
            unit = part.lstrip("0123456789.")
            total += float(part[: len(part) - len(unit)]) * _UNIT_SECONDS[unit]
        return total
    return _number(text)


def parse_retry_after(headers: Headers, *, now: float | None = None) -> float | None:
    """Seconds the upstream asks us to wait, or None when it gave no usable hint.

    ``now`` is the wall-clock time (``time.time()``) used for absolute dates.
    """
    h = header_map(headers)
    wall = time.time() if now is None else now
    if "retry-after-ms" in h and (ms := _number(h["retry-after-ms"])) is not None:
        return max(0.0, ms / 1000.0)
    if "retry-after" in h and (delay := _retry_after_value(h["retry-after"], wall)) is not None:
        return delay
    return _reset_hint(h, wall)


def _retry_after_value(value: str, wall: float) -> float | None:
    seconds = _number(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        from email.utils import parsedate_to_datetime  # rare: HTTP-date Retry-After

        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - wall)


def _reset_hint(h: Mapping[str, str], wall: float) -> float | None:
    exhausted: list[float] = []
    hints: list[float] = []
    for reset_name, remaining_name, kind in _RESET_HINTS:
        raw = h.get(reset_name)
        if raw is None:
            continue
        delay = parse_duration(raw) if kind == "duration" else seconds_until(raw, wall)
        if delay is None:
            continue
        hints.append(max(0.0, delay))
        if _number(h.get(remaining_name, "")) == 0:
            exhausted.append(max(0.0, delay))
    if exhausted:
        return max(exhausted)
    return min(hints) if hints else None


def seconds_until(timestamp: str, wall: float) -> float | None:
    """Seconds from ``wall`` (epoch seconds) to an RFC 3339 timestamp; None if unreadable."""
    try:
        when = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None  # RFC 3339 always carries an offset; a naive time is ambiguous
    return when.timestamp() - wall


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class CooldownEntry:
    key: str
    remaining: float  # seconds
    strikes: int  # consecutive trips since the last success
    reason: str


class _Cool:
    __slots__ = ("until", "strikes", "reason")

    def __init__(self) -> None:
        self.until = 0.0
        self.strikes = 0
        self.reason = ""


class Cooldowns:
    """Cooldown deadlines per key (an account, usually ``provider:account``)."""

    __slots__ = (
        "_base",
        "_factor",
        "_cap",
        "_jitter",
        "_max_hint",
        "_clock",
        "_wall",
        "_rng",
        "_entries",
    )

    def __init__(
        self,
        *,
        base: float = DEFAULT_BASE,
        factor: float = DEFAULT_FACTOR,
        cap: float = DEFAULT_CAP,
        jitter: float = 0.2,
        max_hint: float = 86_400.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if base <= 0 or factor < 1 or cap < base or not 0 <= jitter < 1:
            raise ValueError("need base > 0, factor >= 1, cap >= base, 0 <= jitter < 1")
        self._base, self._factor, self._cap = base, factor, cap
        self._jitter = jitter
        self._max_hint = max_hint
        self._clock = clock
        self._wall = wall
        self._rng = rng or random.Random()
        self._entries: dict[str, _Cool] = {}

    def configure(
        self, *, base: float | None = None, factor: float | None = None, cap: float | None = None
    ) -> None:
        """Change the backoff parameters at runtime; running cooldowns stay."""
        base = self._base if base is None else base
        factor = self._factor if factor is None else factor
        cap = self._cap if cap is None else cap
        if base <= 0 or factor < 1 or cap < base:
            raise ValueError("need base > 0, factor >= 1, cap >= base")
        self._base, self._factor, self._cap = base, factor, cap

    def backoff(self, strikes: int) -> float:
        """Cooldown for the n-th consecutive strike (n >= 1) without a hint.

        Jitter takes up to ``jitter`` off the exponential value so accounts that
        failed together do not all come back at the same instant.
        """
        delay = exponential_delay(max(0, strikes - 1), self._base, self._factor, self._cap)
        return delay * (1.0 - self._jitter * self._rng.random())

    def trip(self, key: str, retry_after: float | None = None, *, reason: str = "") -> float:
        """Start (or extend) a cooldown; returns its length in seconds."""
        entry = self._entries.setdefault(key, _Cool())
        entry.strikes += 1
        if retry_after is not None:
            delay = min(max(0.0, retry_after), self._max_hint)
        else:
            delay = self.backoff(entry.strikes)
        # Never shorten a cooldown already running (a later, smaller hint from a
        # request that was in flight must not release the account early).
        entry.until = max(entry.until, self._clock() + delay)
        entry.reason = reason
        return delay

    def trip_from_headers(self, key: str, headers: Headers, *, reason: str = "rate_limit") -> float:
        return self.trip(key, parse_retry_after(headers, now=self._wall()), reason=reason)

    def success(self, key: str) -> None:
        """The account served a request: clear its cooldown and its strikes."""
        self._entries.pop(key, None)

    clear = success  # an operator's manual reset does the same

    def reset(self) -> None:
        self._entries.clear()

    def remaining(self, key: str) -> float:
        entry = self._entries.get(key)
        return 0.0 if entry is None else max(0.0, entry.until - self._clock())

    def available(self, key: str) -> bool:
        return self.remaining(key) == 0.0

    def strikes(self, key: str) -> int:
        entry = self._entries.get(key)
        return 0 if entry is None else entry.strikes

    def listing(self) -> list[CooldownEntry]:
        """Keys currently cooling down, soonest to end first."""
        now = self._clock()
        active = [
            CooldownEntry(key, e.until - now, e.strikes, e.reason)
            for key, e in self._entries.items()
            if e.until > now
        ]
        return sorted(active, key=lambda e: (e.remaining, e.key))
