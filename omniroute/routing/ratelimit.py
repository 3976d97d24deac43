"""Per-provider / per-account rate limits with a bounded FIFO queue.

Three limits per key, each optional:

    rpm             requests started in any sliding 60 s window
    min_gap         seconds between two request starts
    max_concurrent  requests in progress at once

    limiter = RateLimiter()
    limiter.set_limits("openai:acct-1", Limits(rpm=60, min_gap=0.2, max_concurrent=4))
    async with limiter.slot("openai:acct-1", max_wait=10.0):
        ...                                    # the upstream call
    limiter.update_from_headers("openai:acct-1", response_headers)

A request that cannot start at once waits in a FIFO queue of at most
``max_queue`` entries. ``errors.RateLimited`` (with ``retry_after``) is raised
when the queue is full, when the time-based limits alone already make the wait
longer than ``max_wait``, or when ``max_wait`` runs out while queued.

``update_from_headers`` follows the upstream's own accounting: when
``x-ratelimit-remaining-requests`` (or Anthropic's
``anthropic-ratelimit-requests-remaining``) reaches 0, the key is held until the
matching reset header says the window reopens.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from omniroute.errors import BadRequest, RateLimited
from omniroute.routing.cooldown import Headers, header_map, parse_duration, seconds_until

_WINDOW = 60.0  # seconds: "per minute"
_MAX_HOLD = 3600.0  # an upstream reset further away than this is not trusted


@dataclass(frozen=True, slots=True)
class Limits:
    rpm: int | None = None
    min_gap: float | None = None
    max_concurrent: int | None = None
    max_queue: int = 64

    def to_dict(self) -> dict[str, Any]:
        return {
            "rpm": self.rpm,
            "min_gap": self.min_gap,
            "max_concurrent": self.max_concurrent,
            "max_queue": self.max_queue,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Limits:
        """Read stored or submitted limits; BadRequest names the bad field."""
        unknown = set(data) - {"rpm", "min_gap", "max_concurrent", "max_queue"}
        if unknown:
            raise BadRequest(f"unknown rate-limit fields: {', '.join(sorted(unknown))}")
        max_queue = data.get("max_queue", 64)
        if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 0:
            raise BadRequest("rate limit 'max_queue' must be an integer >= 0")
        return cls(
            rpm=_opt_int(data, "rpm"),
            min_gap=_opt_float(data, "min_gap"),
            max_concurrent=_opt_int(data, "max_concurrent"),
            max_queue=max_queue,
        )


def _opt_int(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequest(f"rate limit {name!r} must be an integer >= 1 or null")
    return value


def _opt_float(data: Mapping[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 3600:
        raise BadRequest(f"rate limit {name!r} must be a number of seconds (0..3600) or null")
    return float(value)


@dataclass(frozen=True, slots=True)
class LimiterInfo:
    key: str
    limits: Limits
    active: int
    queued: int
    held_for: float  # seconds the upstream asked us to pause; 0 when not held


class _KeyState:
    __slots__ = ("limits", "starts", "last_start", "active", "queue", "hold_until")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.starts: deque[float] = deque()  # start times inside the rpm window
        self.last_start: float | None = None
        self.active = 0
        self.queue: deque[asyncio.Event] = deque()
        self.hold_until = 0.0


class RateLimiter:
    __slots__ = ("_default", "_clock", "_wall", "_keys")

    def __init__(
        self,
        default: Limits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._default = default or Limits()
        self._clock = clock
        self._wall = wall
        self._keys: dict[str, _KeyState] = {}

    # --- configuration ------------------------------------------------------------

    def set_limits(self, key: str, limits: Limits) -> None:
        """Replace a key's limits; waiting requests re-check against them."""
        state = self._state(key)
        state.limits = limits
        self._wake_head(state)

    def reset(self, key: str | None = None) -> None:
        """Forget the recent starts and any upstream hold of one key (or all),
        as an operator's reset: requests in progress keep their slots."""
        for state in self._keys.values() if key is None else filter(None, [self._keys.get(key)]):
            state.starts.clear()
            state.last_start = None
            state.hold_until = 0.0
            self._wake_head(state)

    def limits(self, key: str) -> Limits:
        state = self._keys.get(key)
        return self._default if state is None else state.limits

    def update_from_headers(self, key: str, headers: Headers) -> None:
        """Hold the key until reset when the upstream says no requests remain."""
        h = header_map(headers)
        now = self._clock()
        hold = 0.0
        if h.get("x-ratelimit-remaining-requests") == "0":
            hold = parse_duration(h.get("x-ratelimit-reset-requests", "")) or 0.0
        elif h.get("anthropic-ratelimit-requests-remaining") == "0":
            reset = h.get("anthropic-ratelimit-requests-reset", "")
            hold = seconds_until(reset, self._wall()) or 0.0
        if hold > 0:
            state = self._state(key)
            state.hold_until = max(state.hold_until, now + min(hold, _MAX_HOLD))

    # --- acquiring ------------------------------------------------------------------

    @asynccontextmanager
    async def slot(self, key: str, max_wait: float | None = None) -> AsyncIterator[None]:
        """Wait for this key's turn, then hold one slot for the block's duration."""
        await self.acquire(key, max_wait)
        try:
            yield
        finally:
            self.release(key)

    async def acquire(self, key: str, max_wait: float | None = None) -> None:
        """Wait for this key's turn and take a slot; ``release`` gives it back."""
        await self._acquire(key, self._state(key), max_wait)

    def release(self, key: str) -> None:
        state = self._state(key)
        state.active = max(0, state.active - 1)
        self._wake_head(state)

    async def _acquire(self, key: str, state: _KeyState, max_wait: float | None) -> None:
        now = self._clock()
        delay = self._delay(state, now)
        if not state.queue and delay == 0.0:
            self._start(state, now)
            return
        if len(state.queue) >= state.limits.max_queue:
            raise RateLimited(
                f"rate limit queue for {key!r} is full ({len(state.queue)} waiting)",
                retry_after=max(1.0, delay or 0.0),
            )
        if max_wait is not None and delay is not None and delay > max_wait:
            raise RateLimited(
                f"rate limit for {key!r}: next slot in {delay:.1f}s, longer than allowed",
                retry_after=delay,
            )
        await self._wait_in_queue(key, state, now, max_wait)

    async def _wait_in_queue(
        self, key: str, state: _KeyState, now: float, max_wait: float | None
    ) -> None:
        deadline = None if max_wait is None else now + max_wait
        turn = asyncio.Event()
        state.queue.append(turn)
        try:
            while True:
                now = self._clock()
                timeout: float | None = None
                if state.queue[0] is turn:
                    delay = self._delay(state, now)
                    if delay == 0.0:
                        state.queue.popleft()
                        self._start(state, now)
                        self._wake_head(state)  # the next in line re-checks its wait
                        return
                    timeout = delay  # None: blocked by concurrency until a release
                if deadline is not None:
                    left = deadline - now
                    if left <= 0:
                        raise RateLimited(
                            f"rate limit for {key!r}: waited {max_wait:.1f}s without a slot",
                            retry_after=self._delay(state, now) or 1.0,
                        )
                    timeout = left if timeout is None else min(timeout, left)
                turn.clear()
                try:
                    await asyncio.wait_for(turn.wait(), timeout)
                except TimeoutError:
                    pass
        except BaseException:
            was_head = bool(state.queue) and state.queue[0] is turn
            if turn in state.queue:
                state.queue.remove(turn)
            if was_head:
                self._wake_head(state)
            raise

    def _delay(self, state: _KeyState, now: float) -> float | None:
        """Seconds until a request may start; None while concurrency is full."""
        limits = state.limits
        if limits.max_concurrent is not None and state.active >= limits.max_concurrent:
            return None
        ready = state.hold_until
        if limits.min_gap and state.last_start is not None:
            ready = max(ready, state.last_start + limits.min_gap)
        if limits.rpm is not None:
            while state.starts and now - state.starts[0] >= _WINDOW:
                state.starts.popleft()
            excess = len(state.starts) - limits.rpm
            if excess >= 0:
                # The window must lose (excess + 1) starts before one more fits.
                ready = max(ready, state.starts[excess] + _WINDOW)
        return max(0.0, ready - now)

    def _start(self, state: _KeyState, now: float) -> None:
        state.active += 1
        state.last_start = now
        if state.limits.rpm is not None:
            state.starts.append(now)

    @staticmethod
    def _wake_head(state: _KeyState) -> None:
        if state.queue:
            state.queue[0].set()

    def _state(self, key: str) -> _KeyState:
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _KeyState(self._default)
        return state

    # --- visibility ------------------------------------------------------------------

    def listing(self) -> list[LimiterInfo]:
        now = self._clock()
        return [
            LimiterInfo(key, s.limits, s.active, len(s.queue), max(0.0, s.hold_until - now))
            for key, s in sorted(self._keys.items())
        ]
