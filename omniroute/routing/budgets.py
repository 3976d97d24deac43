"""Spending ceilings and what has been spent against them, in memory.

A budget belongs to a scope: ``provider:NAME``, ``key:ID`` (a client key) or
``combo:NAME/STEP`` (one step of a combo, counted from 0). Each may have a
daily and a monthly ceiling in USD; a day and a month are UTC calendar ones.

``Spending`` adds up the cost of each logged request per scope for the
current day and month. It is filled from the request log at start and then
only incremented, so the request path never reads the database. A period's
total is forgotten as soon as the clock (injected, for tests) leaves it.

    spending = Spending(clock=time.time)
    spending.add(("provider:openai", "key:3"), 0.0123, ts)
    spending.over("key:3", Budget(daily=5.0))   # -> "daily" | "monthly" | None
"""

from __future__ import annotations

import calendar
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

log = logging.getLogger("omniroute.budgets")

PERIODS = ("daily", "monthly")
SCOPE_KINDS = ("provider", "key", "combo")
WARN_SHARE = 0.8  # a warning is logged once per period when spending crosses this share
_WARNED_KEPT = 1024


@dataclass(frozen=True, slots=True)
class Budget:
    """USD ceilings; None: no ceiling for that period."""

    daily: float | None = None
    monthly: float | None = None

    def limit(self, period: str) -> float | None:
        return self.daily if period == "daily" else self.monthly

    def to_json(self) -> dict[str, float | None]:
        return {"daily": self.daily, "monthly": self.monthly}


def provider_scope(name: str) -> str:
    return f"provider:{name}"


def key_scope(key_id: int) -> str:
    return f"key:{key_id}"


def combo_scope(combo: str, step: int) -> str:
    return f"combo:{combo}/{step}"


def split_scope(scope: str) -> tuple[str, str]:
    """``(kind, name)`` of a well-formed scope; ValueError otherwise."""
    kind, _, name = scope.partition(":")
    if kind not in SCOPE_KINDS or not name:
        raise ValueError("a budget scope is provider:NAME, key:ID or combo:NAME/STEP")
    if kind == "key" and not (name.isascii() and name.isdigit()):
        raise ValueError("key:ID takes the client key's numeric id")
    if kind == "combo":
        combo, _, step = name.rpartition("/")
        if not combo or not (step.isascii() and step.isdigit()):
            raise ValueError("combo:NAME/STEP takes the combo's name and a step number from 0")
    return kind, name


def day_of(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def month_of(ts: float) -> str:
    return time.strftime("%Y-%m", time.gmtime(ts))


def month_start(ts: float) -> float:
    """Unix time of the first second of ``ts``'s UTC month."""
    t = time.gmtime(ts)
    return float(_timegm(t.tm_year, t.tm_mon))


def next_period_start(ts: float, period: str) -> float:
    """When the UTC day (or month) holding ``ts`` ends."""
    t = time.gmtime(ts)
    if period == "daily":
        return float(_timegm(t.tm_year, t.tm_mon) + t.tm_mday * 86_400)
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return float(_timegm(year, month))


def _timegm(year: int, month: int) -> int:
    return calendar.timegm((year, month, 1, 0, 0, 0, 0, 0, 0))


class Spending:
    """Cost per scope in the current UTC day and month."""

    __slots__ = ("_clock", "_days", "_months", "_warned")

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._days: dict[str, tuple[str, float]] = {}  # scope -> (day, total)
        self._months: dict[str, tuple[str, float]] = {}  # scope -> (month, total)
        self._warned: set[tuple[str, str, str]] = set()  # (scope, period, day or month)

    def now(self) -> float:
        return self._clock()

    def add(self, scopes: Iterable[str], cost: float, ts: float) -> None:
        """Count ``cost`` (USD) spent at ``ts`` against each scope."""
        if cost <= 0:
            return
        day, month = day_of(ts), month_of(ts)
        for scope in scopes:
            self._days[scope] = (day, _total(self._days.get(scope), day) + cost)
            self._months[scope] = (month, _total(self._months.get(scope), month) + cost)

    def spent(self, scope: str, period: str) -> float:
        """USD spent by ``scope`` in the current day or month (by the clock)."""
        now = self._clock()
        if period == "daily":
            return _total(self._days.get(scope), day_of(now))
        return _total(self._months.get(scope), month_of(now))

    def over(self, scope: str, budget: Budget | None) -> str | None:
        """The period whose ceiling ``scope`` has reached, or None."""
        if budget is None:
            return None
        for period in PERIODS:
            limit = budget.limit(period)
            if limit is not None and self.spent(scope, period) >= limit:
                return period
        return None

    def warn(self, scopes: Iterable[str], budgets: Mapping[str, Budget]) -> None:
        """Log once per period when a scope's spending crosses WARN_SHARE of a ceiling."""
        now = self._clock()
        for scope in scopes:
            budget = budgets.get(scope)
            if budget is None:
                continue
            for period in PERIODS:
                limit = budget.limit(period)
                if limit is None or limit <= 0:
                    continue
                spent = self.spent(scope, period)
                when = day_of(now) if period == "daily" else month_of(now)
                if spent >= WARN_SHARE * limit and (scope, period, when) not in self._warned:
                    if len(self._warned) >= _WARNED_KEPT:  # past periods' marks
                        self._warned = {
                            w for w in self._warned if w[2] in (day_of(now), month_of(now))
                        }
                    self._warned.add((scope, period, when))
                    log.warning(
                        "budget: %s has spent $%.4f of its %s budget of $%.2f (%d%%)",
                        scope,
                        spent,
                        period,
                        limit,
                        round(100 * spent / limit),
                    )

    def retry_after(self, period: str) -> float:
        """Seconds until the current day (or month) ends."""
        now = self._clock()
        return max(1.0, next_period_start(now, period) - now)

    def listing(self) -> dict[str, dict[str, float]]:
        """Every scope's spending in the current day and month."""
        scopes = set(self._days) | set(self._months)
        return {s: {p: self.spent(s, p) for p in PERIODS} for s in sorted(scopes)}


def _total(entry: tuple[str, float] | None, period: str) -> float:
    if entry is None or entry[0] != period:
        return 0.0
    return entry[1]
