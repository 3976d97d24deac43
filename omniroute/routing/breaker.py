"""Circuit breakers per provider and per combo target.

The whole behaviour is the transition table ``TRANSITIONS``:

    state       event              next        what happens on entry
    closed      success            closed
    closed      failure            closed      failure time remembered (window)
    closed      trip               open        the threshold-th failure in the window
    open        success / failure  open        late answers from before the trip
    open        cooldown_elapsed   half_open   (evaluated lazily from the clock)
    half_open   success            closed      the probe worked: failures forgotten
    half_open   failure            open        the probe failed: a new cooldown
    any         reset              closed      an operator's reset

While half-open, ``allow()`` lets exactly **one** probe through; the others are
refused until the probe reports. A probe that never reports (its request was
cancelled) is replaced after ``probe_timeout`` seconds.

    breaker = CircuitBreaker(failure_threshold=5, window=60.0, cooldown=30.0)
    if breaker.allow():
        ...                                 # call the upstream
        breaker.record_success()            # or record_failure()

Times come from the injected monotonic ``clock``; ``to_dict``/``from_dict``
express them relative to a wall-clock ``saved_at`` so state survives a restart
(time spent down counts toward cooldowns and the failure window).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Any

from omniroute.errors import ConfigError

# The thresholds a breaker has when the configuration does not set them.
DEFAULT_FAILURE_THRESHOLD = 5
DEFAULT_WINDOW = 60.0  # seconds in which the failures must happen
DEFAULT_COOLDOWN = 30.0  # seconds open before a probe is let through


class BreakerState(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerEvent(Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    TRIP = "trip"
    COOLDOWN_ELAPSED = "cooldown_elapsed"
    RESET = "reset"


_C, _O, _H = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
_E = BreakerEvent

TRANSITIONS: Mapping[tuple[BreakerState, BreakerEvent], BreakerState] = MappingProxyType(
    {
        (_C, _E.SUCCESS): _C,
        (_C, _E.FAILURE): _C,
        (_C, _E.TRIP): _O,
        (_C, _E.RESET): _C,
        (_O, _E.SUCCESS): _O,
        (_O, _E.FAILURE): _O,
        (_O, _E.COOLDOWN_ELAPSED): _H,
        (_O, _E.RESET): _C,
        (_H, _E.SUCCESS): _C,
        (_H, _E.FAILURE): _O,
        (_H, _E.RESET): _C,
    }
)


@dataclass(frozen=True, slots=True)
class BreakerInfo:
    key: str
    state: BreakerState
    recent_failures: int
    retry_in: float  # seconds until a probe is allowed; 0 unless open


class CircuitBreaker:
    __slots__ = (
        "failure_threshold",
        "window",
        "cooldown",
        "probe_timeout",
        "_clock",
        "_wall",
        "_state",
        "_failures",
        "_opened_at",
        "_probe_at",
    )

    def __init__(
        self,
        *,
        failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
        window: float = DEFAULT_WINDOW,
        cooldown: float = DEFAULT_COOLDOWN,
        probe_timeout: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if failure_threshold < 1 or window <= 0 or cooldown < 0 or probe_timeout <= 0:
            raise ValueError("need failure_threshold >= 1, window > 0, cooldown >= 0")
        self.failure_threshold = failure_threshold
        self.window = window
        self.cooldown = cooldown
        self.probe_timeout = probe_timeout
        self._clock = clock
        self._wall = wall
        self._state = BreakerState.CLOSED
        self._failures: deque[float] = deque()
        self._opened_at = 0.0
        self._probe_at: float | None = None

    # --- the table, applied ---------------------------------------------------------

    def _apply(self, event: BreakerEvent, now: float) -> None:
        old = self._state
        new = TRANSITIONS[(old, event)]
        if new is BreakerState.OPEN and old is not BreakerState.OPEN:
            self._opened_at = now
        if new is BreakerState.CLOSED and (old is not new or event is BreakerEvent.RESET):
            self._failures.clear()
        if new is not old:
            self._probe_at = None
        self._state = new

    def _tick(self, now: float) -> None:
        if self._state is BreakerState.OPEN and now - self._opened_at >= self.cooldown:
            self._apply(BreakerEvent.COOLDOWN_ELAPSED, now)

    def _prune(self, now: float) -> None:
        while self._failures and now - self._failures[0] > self.window:
            self._failures.popleft()

    # --- public ---------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        self._tick(self._clock())
        return self._state

    def allow(self) -> bool:
        """May a request go now? In half-open, True for exactly one probe."""
        now = self._clock()
        self._tick(now)
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN:
            return False
        if self._probe_at is None or now - self._probe_at >= self.probe_timeout:
            self._probe_at = now
            return True
        return False

    def release_probe(self) -> None:
        """The half-open probe was let through but never reached the upstream
        (the client left, a local limit refused it): free the slot at once
        instead of waiting ``probe_timeout``; nothing was learned."""
        self._tick(self._clock())
        if self._state is BreakerState.HALF_OPEN:
            self._probe_at = None

    def record_success(self) -> None:
        now = self._clock()
        self._tick(now)
        self._apply(BreakerEvent.SUCCESS, now)

    def record_failure(self) -> None:
        now = self._clock()
        self._tick(now)
        event = BreakerEvent.FAILURE
        if self._state is BreakerState.CLOSED:
            self._failures.append(now)
            self._prune(now)
            if len(self._failures) >= self.failure_threshold:
                event = BreakerEvent.TRIP
        self._apply(event, now)

    def reset(self) -> None:
        self._apply(BreakerEvent.RESET, self._clock())

    def info(self, key: str = "") -> BreakerInfo:
        now = self._clock()
        self._tick(now)
        self._prune(now)
        retry_in = 0.0
        if self._state is BreakerState.OPEN:
            retry_in = max(0.0, self._opened_at + self.cooldown - now)
        return BreakerInfo(key, self._state, len(self._failures), retry_in)

    # --- persistence ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        now = self._clock()
        self._tick(now)
        self._prune(now)
        return {
            "state": self._state.value,
            "failures_ago": [round(now - t, 3) for t in self._failures],
            "open_for": round(now - self._opened_at, 3) if self._state is not _C else None,
            "saved_at": self._wall(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **settings: Any) -> CircuitBreaker:
        """Rebuild from ``to_dict`` output; ``settings`` are the constructor's."""
        breaker = cls(**settings)
        try:
            state = BreakerState(data["state"])
            saved_at = float(data["saved_at"])
            ages = [float(a) for a in data.get("failures_ago", [])]
            open_for = float(data.get("open_for") or 0.0)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"stored breaker state is invalid ({exc!r})") from None
        now = breaker._clock()
        down = max(0.0, breaker._wall() - saved_at)
        breaker._failures.extend(sorted(now - (age + down) for age in ages))
        breaker._prune(now)
        if state is not BreakerState.CLOSED:
            # A half-open breaker comes back open with its cooldown spent: the
            # next allow() hands out a fresh probe.
            breaker._state = BreakerState.OPEN
            breaker._opened_at = now - (open_for + down)
        return breaker


class Breakers:
    """A breaker per key (``provider`` or ``combo/step``), created on first use."""

    __slots__ = ("_settings", "_items")

    def __init__(
        self,
        *,
        failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
        window: float = DEFAULT_WINDOW,
        cooldown: float = DEFAULT_COOLDOWN,
        probe_timeout: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._settings: dict[str, Any] = {
            "failure_threshold": failure_threshold,
            "window": window,
            "cooldown": cooldown,
            "probe_timeout": probe_timeout,
            "clock": clock,
            "wall": wall,
        }
        CircuitBreaker(**self._settings)  # validate the thresholds once, here
        self._items: dict[str, CircuitBreaker] = {}

    def get(self, key: str) -> CircuitBreaker:
        breaker = self._items.get(key)
        if breaker is None:
            breaker = self._items[key] = CircuitBreaker(**self._settings)
        return breaker

    def allow(self, key: str) -> bool:
        breaker = self._items.get(key)
        return True if breaker is None else breaker.allow()

    def record_success(self, key: str) -> None:
        breaker = self._items.get(key)
        if breaker is not None:
            breaker.record_success()

    def record_failure(self, key: str) -> None:
        self.get(key).record_failure()

    def release_probe(self, key: str) -> None:
        breaker = self._items.get(key)
        if breaker is not None:
            breaker.release_probe()

    def state(self, key: str) -> BreakerState:
        breaker = self._items.get(key)
        return BreakerState.CLOSED if breaker is None else breaker.state

    def reset(self, key: str | None = None) -> None:
        if key is None:
            for breaker in self._items.values():
                breaker.reset()
        elif (one := self._items.get(key)) is not None:
            one.reset()

    def configure(
        self,
        *,
        failure_threshold: int | None = None,
        window: float | None = None,
        cooldown: float | None = None,
    ) -> None:
        """Change thresholds at runtime, for existing breakers too."""
        changes = {
            name: value
            for name, value in (
                ("failure_threshold", failure_threshold),
                ("window", window),
                ("cooldown", cooldown),
            )
            if value is not None
        }
        CircuitBreaker(**{**self._settings, **changes})  # validate before applying
        self._settings.update(changes)
        for breaker in self._items.values():
            for name, value in changes.items():
                setattr(breaker, name, value)

    @property
    def window(self) -> float:
        """Seconds in which failures count towards opening."""
        return float(self._settings["window"])

    def listing(self) -> list[BreakerInfo]:
        return [self._items[key].info(key) for key in sorted(self._items)]

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {key: breaker.to_dict() for key, breaker in self._items.items()}

    def restore(self, data: Mapping[str, Mapping[str, Any]]) -> None:
        for key, saved in data.items():
            self._items[key] = CircuitBreaker.from_dict(saved, **self._settings)
