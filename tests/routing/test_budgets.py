"""Spending per UTC day and month with an injected clock: periods turn at
midnight UTC and on the first of the month, and the 80 % warning is logged
once per period."""

from __future__ import annotations

import logging

import pytest

from omniroute.routing.budgets import Budget, Spending, next_period_start, split_scope

JAN_31_NOON = 1_769_860_800.0  # 2026-01-31 12:00 UTC
HOUR = 3600.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_day_ends_at_midnight_utc_and_a_month_on_the_first() -> None:
    clock = Clock(JAN_31_NOON)
    spending = Spending(clock)
    spending.add(["key:1"], 2.5, clock.now)
    assert spending.spent("key:1", "daily") == 2.5
    assert spending.over("key:1", Budget(daily=2.5)) == "daily"
    clock.now += 12 * HOUR - 1  # 23:59:59 the same day
    assert spending.over("key:1", Budget(daily=2.5)) == "daily"
    assert spending.retry_after("daily") == 1.0
    clock.now += 1  # 2026-02-01 00:00:00: a new day and a new month
    assert spending.spent("key:1", "daily") == 0.0
    assert spending.spent("key:1", "monthly") == 0.0
    assert spending.over("key:1", Budget(daily=2.5, monthly=2.5)) is None


def test_monthly_spending_adds_up_across_days() -> None:
    clock = Clock(JAN_31_NOON - 10 * 24 * HOUR)
    spending = Spending(clock)
    for _ in range(3):
        spending.add(["provider:p"], 1.0, clock.now)
        clock.now += 24 * HOUR
    assert spending.spent("provider:p", "daily") == 0.0
    assert spending.spent("provider:p", "monthly") == 3.0
    assert spending.over("provider:p", Budget(monthly=3.0)) == "monthly"
    assert spending.over("provider:p", Budget(monthly=3.01)) is None
    assert spending.over("provider:p", None) is None


def test_the_warning_is_logged_once_per_period(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(JAN_31_NOON)
    spending = Spending(clock)
    budgets = {"key:1": Budget(daily=1.0)}
    caplog.set_level(logging.WARNING, "omniroute.budgets")
    spending.add(["key:1"], 0.79, clock.now)
    spending.warn(["key:1"], budgets)
    assert caplog.records == []
    for _ in range(3):
        spending.add(["key:1"], 0.01, clock.now)
        spending.warn(["key:1"], budgets)
    assert [r.getMessage() for r in caplog.records] == [
        "budget: key:1 has spent $0.8000 of its daily budget of $1.00 (80%)"
    ]
    clock.now += 24 * HOUR
    spending.add(["key:1"], 0.9, clock.now)
    spending.warn(["key:1"], budgets)
    assert len(caplog.records) == 2


def test_period_boundaries() -> None:
    assert next_period_start(JAN_31_NOON, "daily") == JAN_31_NOON + 12 * HOUR
    assert next_period_start(JAN_31_NOON, "monthly") == JAN_31_NOON + 12 * HOUR
    dec_15 = 1_797_336_000.0  # 2026-12-15 12:00 UTC
    assert next_period_start(dec_15, "monthly") == 1_798_761_600.0  # 2027-01-01


@pytest.mark.parametrize(
    "scope", ["provider:", "key:abc", "combo:fast", "combo:/1", "team:x", "provider"]
)
def test_malformed_scopes_are_refused(scope: str) -> None:
    with pytest.raises(ValueError):
        split_scope(scope)


def test_scopes() -> None:
    assert split_scope("combo:a/b/2") == ("combo", "a/b/2")
    assert split_scope("key:7") == ("key", "7")
