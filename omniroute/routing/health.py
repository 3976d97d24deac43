"""Health signals per routing key (a combo target, a provider or an account).

The strategies read these numbers; the dashboard shows them.

    health = Health()
    started = health.record_start("openai/gpt-5")
    ...                                        # the upstream call
    health.record_end("openai/gpt-5", ok=True, started=started)
    health.snapshot("openai/gpt-5")            # latency EWMA, success ratio, counts
    health.score("openai/gpt-5")               # lower is better (p2c)

Latency is an exponentially weighted moving average (``alpha`` weights the
newest sample). The success ratio covers the last ``window`` outcomes, with one
success and one failure assumed in advance (Laplace smoothing) so that a single
early failure does not condemn a key and an unknown key scores as middling.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    latency: float | None  # EWMA of seconds per request, None before any sample
    success_ratio: float  # smoothed, over the recent window
    in_flight: int
    total: int  # requests started, ever
    recent_failures: int


class _Stats:
    __slots__ = ("latency", "outcomes", "in_flight", "total")

    def __init__(self, window: int) -> None:
        self.latency: float | None = None
        self.outcomes: deque[bool] = deque(maxlen=window)
        self.in_flight = 0
        self.total = 0


class Health:
    __slots__ = ("_alpha", "_window", "_default_latency", "_clock", "_stats")

    def __init__(
        self,
        *,
        alpha: float = 0.3,
        window: int = 20,
        default_latency: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < alpha <= 1 or window < 1 or default_latency <= 0:
            raise ValueError("need 0 < alpha <= 1, window >= 1, default_latency > 0")
        self._alpha = alpha
        self._window = window
        self._default_latency = default_latency
        self._clock = clock
        self._stats: dict[str, _Stats] = {}

    def _get(self, key: str) -> _Stats:
        stats = self._stats.get(key)
        if stats is None:
            stats = self._stats[key] = _Stats(self._window)
        return stats

    def record_start(self, key: str) -> float:
        """Count a request as started; returns the clock reading to pass back."""
        stats = self._get(key)
        stats.in_flight += 1
        stats.total += 1
        return self._clock()

    def record_abandoned(self, key: str) -> None:
        """A started request that ended with neither success nor failure (its
        client left before any answer): only the in-flight count changes."""
        stats = self._get(key)
        stats.in_flight = max(0, stats.in_flight - 1)

    def record_end(
        self, key: str, *, ok: bool, started: float | None = None, latency: float | None = None
    ) -> None:
        """Count a request as finished, with its outcome and (if known) duration.

        Give ``started`` (from ``record_start``) or an explicit ``latency``.
        """
        stats = self._get(key)
        stats.in_flight = max(0, stats.in_flight - 1)
        stats.outcomes.append(ok)
        if latency is None and started is not None:
            latency = self._clock() - started
        if latency is not None and latency >= 0:
            if stats.latency is None:
                stats.latency = latency
            else:
                stats.latency += self._alpha * (latency - stats.latency)

    def snapshot(self, key: str) -> HealthSnapshot:
        stats = self._stats.get(key)
        if stats is None:
            return HealthSnapshot(None, 0.5, 0, 0, 0)
        successes = sum(stats.outcomes)
        ratio = (successes + 1) / (len(stats.outcomes) + 2)
        failures = len(stats.outcomes) - successes
        return HealthSnapshot(stats.latency, ratio, stats.in_flight, stats.total, failures)

    def score(self, key: str) -> float:
        """Expected cost of sending one more request here; lower is better.

        Latency (or the default for unseen keys) inflated by the work already
        queued there and divided by the chance of success.
        """
        snap = self.snapshot(key)
        latency = self._default_latency if snap.latency is None else snap.latency
        return latency * (1 + snap.in_flight) / snap.success_ratio

    def usage(self, key: str) -> tuple[int, int]:
        """(in flight, total started) — the least-used ordering key."""
        stats = self._stats.get(key)
        return (0, 0) if stats is None else (stats.in_flight, stats.total)

    def forget(self, key: str) -> None:
        self._stats.pop(key, None)

    def listing(self) -> dict[str, HealthSnapshot]:
        return {key: self.snapshot(key) for key in sorted(self._stats)}
