from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from omniroute.routing.cooldown import Cooldowns, parse_duration, parse_retry_after
from omniroute.routing.retry import RetryBudget, backoff_delay, exponential_delay

from .fakes import FakeClock

NOW = 1_700_000_000.0  # wall-clock seconds


def at(offset: float) -> datetime:
    return datetime.fromtimestamp(NOW + offset, tz=UTC)


# --- parse_retry_after ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "120"}, 120.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"Retry-After": format_datetime(at(30), usegmt=True)}, 30.0),
        ({"Retry-After": format_datetime(at(-30), usegmt=True)}, 0.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"x-ratelimit-reset-requests": "1s"}, 1.0),
        ({"x-ratelimit-reset-requests": "20ms"}, 0.02),
        ({"x-ratelimit-reset-tokens": "6m0s"}, 360.0),
        ({"anthropic-ratelimit-requests-reset": at(42).isoformat()}, 42.0),
        ({"anthropic-ratelimit-tokens-reset": "2023-11-14T22:14:20Z"}, 60.0),  # NOW + 60 s
        ({"anthropic-ratelimit-output-tokens-reset": at(7).isoformat()}, 7.0),
        ({"Retry-After": "soon"}, None),
        ({"content-type": "application/json"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after_forms(headers: dict[str, str], expected: float | None) -> None:
    got = parse_retry_after(headers, now=NOW)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-6)


def test_exhausted_limit_decides_between_reset_headers() -> None:
    headers = {
        "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "6m0s",
    }
    assert parse_retry_after(headers, now=NOW) == 360.0
    headers["x-ratelimit-remaining-tokens"] = "100"
    assert parse_retry_after(headers, now=NOW) == 1.0  # none exhausted: the earliest


def test_anthropic_exhausted_input_tokens() -> None:
    headers = [
        ("anthropic-ratelimit-requests-remaining", "10"),
        ("anthropic-ratelimit-requests-reset", at(5).isoformat()),
        ("anthropic-ratelimit-input-tokens-remaining", "0"),
        ("anthropic-ratelimit-input-tokens-reset", at(50).isoformat()),
    ]
    assert parse_retry_after(headers, now=NOW) == pytest.approx(50.0)


def test_header_list_form_and_first_occurrence_wins() -> None:
    assert parse_retry_after([("Retry-After", "3"), ("retry-after", "99")], now=NOW) == 3.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1h2m3.5s", 3723.5), ("6m0s", 360.0), ("20ms", 0.02), ("0.5", 0.5), ("1.5s", 1.5),
     ("100us", 1e-4), ("bad", None), ("", None), ("5x", None)],
)  # fmt: skip
def test_parse_duration(text: str, seconds: float | None) -> None:
    got = parse_duration(text)
    assert got == (None if seconds is None else pytest.approx(seconds))


# --- Cooldowns ---------------------------------------------------------------------------


def test_cooldown_from_hint_ends_on_time() -> None:
    clock = FakeClock()
    cooldowns = Cooldowns(clock=clock)
    assert cooldowns.trip("acct", 10.0, reason="rate_limit") == 10.0
    assert not cooldowns.available("acct")
    clock.advance(4.0)
    assert cooldowns.remaining("acct") == pytest.approx(6.0)
    assert [(e.key, e.strikes, e.reason) for e in cooldowns.listing()] == [
        ("acct", 1, "rate_limit")
    ]
    clock.advance(6.0)
    assert cooldowns.available("acct")
    assert cooldowns.listing() == []


def test_other_accounts_keep_serving() -> None:
    cooldowns = Cooldowns(clock=FakeClock())
    cooldowns.trip("a", 30.0)
    assert not cooldowns.available("a")
    assert cooldowns.available("b")


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    clock = FakeClock()
    cooldowns = Cooldowns(base=1.0, factor=2.0, cap=10.0, jitter=0.0, clock=clock)
    delays = [cooldowns.trip("a") for _ in range(6)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert cooldowns.strikes("a") == 6


def test_backoff_jitter_only_shortens_within_bounds() -> None:
    cooldowns = Cooldowns(base=2.0, factor=3.0, cap=1000.0, jitter=0.25, rng=random.Random(1))
    for strikes in range(1, 6):
        ceiling = 2.0 * 3.0 ** (strikes - 1)
        for _ in range(20):
            assert 0.75 * ceiling <= cooldowns.backoff(strikes) <= ceiling


def test_success_resets_cooldown_and_strikes() -> None:
    clock = FakeClock()
    cooldowns = Cooldowns(base=1.0, jitter=0.0, clock=clock)
    cooldowns.trip("a")
    cooldowns.trip("a")
    cooldowns.success("a")
    assert cooldowns.available("a") and cooldowns.strikes("a") == 0
    assert cooldowns.trip("a") == 1.0  # backoff starts over


def test_a_shorter_later_hint_does_not_release_early() -> None:
    clock = FakeClock()
    cooldowns = Cooldowns(clock=clock)
    cooldowns.trip("a", 60.0)
    cooldowns.trip("a", 1.0)
    assert cooldowns.remaining("a") == pytest.approx(60.0)


def test_trip_from_headers_uses_the_hint_or_backs_off() -> None:
    clock = FakeClock()
    cooldowns = Cooldowns(base=2.0, jitter=0.0, clock=clock, wall=lambda: NOW)
    date = format_datetime(at(45), usegmt=True)
    assert cooldowns.trip_from_headers("a", [("Retry-After", date)]) == pytest.approx(45.0)
    assert cooldowns.trip_from_headers("b", {}) == 2.0
    assert cooldowns.listing()[0].key == "b"  # soonest to end first


def test_huge_hints_are_capped() -> None:
    cooldowns = Cooldowns(max_hint=100.0, clock=FakeClock())
    assert cooldowns.trip("a", 1e9) == 100.0


def test_invalid_backoff_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        Cooldowns(base=0)
    with pytest.raises(ValueError):
        Cooldowns(base=10.0, cap=1.0)


# --- retry -------------------------------------------------------------------------------


def test_backoff_delay_is_full_jitter_under_the_exponential_ceiling() -> None:
    rng = random.Random(7)
    for attempt in range(8):
        ceiling = min(8.0, 0.5 * 2**attempt)
        samples = [backoff_delay(attempt, base=0.5, cap=8.0, rng=rng) for _ in range(200)]
        assert all(0.0 <= s <= ceiling for s in samples)
        assert max(samples) > 0.8 * ceiling  # spread over the whole range
    assert exponential_delay(10_000, 1.0, 2.0, 30.0) == 30.0


def test_retry_budget_bounds_attempts() -> None:
    budget = RetryBudget(max_attempts=3, max_total_seconds=60.0, clock=FakeClock())
    assert [budget.try_attempt() for _ in range(5)] == [True, True, True, False, False]
    assert budget.attempts == 3


def test_retry_budget_bounds_total_time() -> None:
    clock = FakeClock()
    budget = RetryBudget(max_attempts=10, max_total_seconds=5.0, clock=clock)
    assert budget.try_attempt()
    assert budget.allows_wait(4.0)
    assert not budget.allows_wait(5.0)
    clock.advance(5.0)
    assert budget.remaining_seconds() == 0.0
    assert not budget.try_attempt()
    with pytest.raises(ValueError):
        RetryBudget(max_attempts=0)


def test_configure_changes_backoff_and_keeps_running_cooldowns() -> None:
    from omniroute.routing.cooldown import Cooldowns

    now = [100.0]
    cd = Cooldowns(base=1.0, factor=2.0, cap=10.0, jitter=0.0, clock=lambda: now[0])
    cd.trip("a")
    assert cd.remaining("a") == 1.0
    cd.configure(base=5.0, cap=50.0)
    assert cd.remaining("a") == 1.0  # the running cooldown is untouched
    cd.trip("b")
    assert cd.remaining("b") == 5.0  # new trips use the new base
    import pytest

    with pytest.raises(ValueError):
        cd.configure(base=100.0)  # cap < base
