"""The quota book and the estimates, on an injected clock: which windows
block which model, until when, and the countdowns the listing shows."""

from __future__ import annotations

import pytest

from omniroute.providers.quota import (
    DEFAULT_SKIP_AT,
    UNKNOWN_RESET,
    Estimates,
    QuotaBook,
    QuotaLimit,
    Window,
)

START = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_an_account_at_96_percent_is_blocked_until_its_reset(clock: Clock) -> None:
    book = QuotaBook(clock)
    book.update("1", [Window("5h", 0.96, START + 600), Window("7d", 0.5, START + 86400)])
    block = book.blocking("1", "any-model", DEFAULT_SKIP_AT)
    assert block is not None and block.window.name == "5h" and block.until == START + 600
    clock.now = START + 599
    assert book.blocking("1", "any-model", DEFAULT_SKIP_AT) is not None
    clock.now = START + 600  # the window reset: its usage starts over
    assert book.blocking("1", "any-model", DEFAULT_SKIP_AT) is None
    assert [w.name for w in book.windows("1")] == ["7d"]


def test_94_percent_is_not_blocked_and_the_threshold_is_the_callers(clock: Clock) -> None:
    book = QuotaBook(clock)
    book.update("1", [Window("5h", 0.94, START + 600)])
    assert book.blocking("1", "m", DEFAULT_SKIP_AT) is None
    assert book.blocking("1", "m", 0.9) is not None
    assert book.blocking("2", "m", 0.0001) is None  # nothing known of account 2


def test_a_model_window_blocks_only_that_model(clock: Clock) -> None:
    book = QuotaBook(clock)
    book.update("1", [Window("7d_oi", 1.0, START + 50, scope="model", model="big")])
    assert book.blocking("1", "big", DEFAULT_SKIP_AT) is not None
    assert book.blocking("1", "BIG", DEFAULT_SKIP_AT) is not None  # ids compare without case
    assert book.blocking("1", "small", DEFAULT_SKIP_AT) is None


def test_the_longest_block_wins(clock: Clock) -> None:
    book = QuotaBook(clock)
    book.update("1", [Window("5h", 0.97, START + 100), Window("7d", 1.0, START + 9000)])
    block = book.blocking("1", "m", DEFAULT_SKIP_AT)
    assert block is not None and block.window.name == "7d" and block.until == START + 9000


def test_a_newer_report_replaces_the_older(clock: Clock) -> None:
    book = QuotaBook(clock)
    book.update("1", [Window("5h", 0.99, START + 600)])
    book.update("1", [Window("5h", 0.10, START + 600)])
    assert book.blocking("1", "m", DEFAULT_SKIP_AT) is None
    assert [w.used_fraction for w in book.windows("1")] == [0.10]


def test_a_full_window_without_a_reset_is_trusted_for_a_while(clock: Clock) -> None:
    book = QuotaBook(clock)
    book.update("1", [Window("plan", 1.0, None)])
    block = book.blocking("1", "m", DEFAULT_SKIP_AT)
    assert block is not None and block.until == START + UNKNOWN_RESET
    clock.now = START + UNKNOWN_RESET
    assert book.blocking("1", "m", DEFAULT_SKIP_AT) is None
    assert book.windows("1") == []


def test_countdowns_follow_the_clock(clock: Clock) -> None:
    window = Window("5h", 0.5, START + 3600)
    shown = window.to_json(START)
    assert shown == {
        "name": "5h",
        "used_fraction": 0.5,
        "used_percent": 50.0,
        "resets_at": START + 3600,
        "resets_in": 3600.0,
        "scope": "account",
        "model": None,
        "estimated": False,
        "source": "headers",
    }
    assert window.to_json(START + 3599.5)["resets_in"] == 0.5
    assert window.to_json(START + 4000)["resets_in"] == 0.0  # never negative
    assert Window("x", 0.1).to_json(START)["resets_in"] is None


def test_fractions_are_clamped() -> None:
    assert Window("x", 1.7).used_fraction == 1.0
    assert Window("x", -0.2).used_fraction == 0.0
    assert Window("x", float("nan")).used_fraction == 0.0


def test_estimates_count_requests_in_a_rolling_window(clock: Clock) -> None:
    estimates = Estimates()
    limits = (QuotaLimit("5h", 18000.0, requests=4),)
    for minute in range(3):
        estimates.add("1", START + minute * 60, tokens=10)
    clock.now = START + 600
    (window,) = estimates.windows("1", limits, clock.now)
    assert window.name == "requests-5h" and window.used_fraction == 0.75
    assert window.estimated and window.source == "estimate"
    assert window.resets_at == START + 18000  # when the oldest request leaves the window
    estimates.add("1", clock.now, tokens=10)
    assert estimates.windows("1", limits, clock.now)[0].used_fraction == 1.0
    # Five hours after the first request, it no longer counts.
    (later,) = estimates.windows("1", limits, START + 18000)
    assert later.used_fraction == 0.75 and later.resets_at == START + 60 + 18000


def test_estimates_count_tokens_and_rows_read_back_out_of_order() -> None:
    estimates = Estimates()
    limits = (QuotaLimit("1d", 86400.0, tokens=1000),)
    estimates.add("1", START, tokens=300)
    estimates.add("1", START - 100, tokens=600)  # an older row from the request log
    (window,) = estimates.windows("1", limits, START + 1)
    assert window.name == "tokens-1d" and window.used_fraction == pytest.approx(0.9)
    assert window.resets_at == START - 100 + 86400
    assert estimates.windows("2", limits, START) == []
    assert estimates.windows("1", (), START) == []
