"""Retry pacing and budgets.

    delay = backoff_delay(attempt, base=0.5, cap=20.0, rng=rng)   # full jitter
    budget = RetryBudget(max_attempts=4, max_total_seconds=60.0)
    while budget.try_attempt():
        ...                                  # one upstream attempt
        if not budget.allows_wait(delay):    # the pause would overrun the budget
            break

``backoff_delay`` uses "full jitter": a uniform draw in [0, min(cap, base·2^n)],
which spreads retries from many clients better than a fixed exponential
(AWS Architecture Blog, "Exponential Backoff And Jitter", 2015).
``exponential_delay`` is the un-jittered curve, shared with the cooldowns.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable


def exponential_delay(attempt: int, base: float, factor: float, cap: float) -> float:
    """``base · factor^attempt`` bounded by ``cap`` (attempt counts from 0)."""
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    # Bound the exponent so a huge attempt number cannot overflow a float.
    exponent = min(attempt, 64)
    return float(min(cap, base * factor**exponent))


def backoff_delay(
    attempt: int, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None
) -> float:
    """Seconds to wait before retry number ``attempt`` (0 = first retry), full jitter."""
    ceiling = exponential_delay(attempt, base, 2.0, cap)
    return (rng or random.Random()).uniform(0.0, ceiling)


class RetryBudget:
    """Bounds one request's attempts in count and in wall time."""

    __slots__ = ("max_attempts", "max_total_seconds", "attempts", "_clock", "_started")

    def __init__(
        self,
        max_attempts: int = 3,
        max_total_seconds: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if max_total_seconds <= 0:
            raise ValueError("max_total_seconds must be > 0")
        self.max_attempts = max_attempts
        self.max_total_seconds = max_total_seconds
        self.attempts = 0
        self._clock = clock
        self._started = clock()

    def elapsed(self) -> float:
        return self._clock() - self._started

    def remaining_seconds(self) -> float:
        return max(0.0, self.max_total_seconds - self.elapsed())

    def exhausted(self) -> bool:
        return self.attempts >= self.max_attempts or self.remaining_seconds() <= 0

    def try_attempt(self) -> bool:
        """Count one more attempt if the budget allows it; False when spent."""
        if self.exhausted():
            return False
        self.attempts += 1
        return True

    def allows_wait(self, delay: float) -> bool:
        """Whether pausing ``delay`` seconds still leaves time and an attempt."""
        return self.attempts < self.max_attempts and delay < self.remaining_seconds()
