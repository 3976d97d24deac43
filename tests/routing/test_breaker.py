from __future__ import annotations

import json

import pytest

from omniroute.errors import ConfigError
from omniroute.routing.breaker import (
    TRANSITIONS,
    BreakerEvent,
    Breakers,
    BreakerState,
    CircuitBreaker,
)

from .fakes import FakeClock

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


def make(clock: FakeClock, wall: FakeClock | None = None, **kw: float) -> CircuitBreaker:
    settings: dict[str, float] = {"failure_threshold": 3, "window": 10.0, "cooldown": 5.0}
    settings.update(kw)
    return CircuitBreaker(clock=clock, wall=wall or FakeClock(1_700_000_000.0), **settings)  # type: ignore[arg-type]


def test_transition_table_is_the_documented_one() -> None:
    assert dict(TRANSITIONS) == {
        (CLOSED, BreakerEvent.SUCCESS): CLOSED,
        (CLOSED, BreakerEvent.FAILURE): CLOSED,
        (CLOSED, BreakerEvent.TRIP): OPEN,
        (CLOSED, BreakerEvent.RESET): CLOSED,
        (OPEN, BreakerEvent.SUCCESS): OPEN,
        (OPEN, BreakerEvent.FAILURE): OPEN,
        (OPEN, BreakerEvent.COOLDOWN_ELAPSED): HALF_OPEN,
        (OPEN, BreakerEvent.RESET): CLOSED,
        (HALF_OPEN, BreakerEvent.SUCCESS): CLOSED,
        (HALF_OPEN, BreakerEvent.FAILURE): OPEN,
        (HALF_OPEN, BreakerEvent.RESET): CLOSED,
    }


def test_opens_after_threshold_failures_within_the_window() -> None:
    clock = FakeClock()
    breaker = make(clock)
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state is OPEN
    assert not breaker.allow()


def test_failures_outside_the_window_do_not_count() -> None:
    clock = FakeClock()
    breaker = make(clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.advance(10.5)
    breaker.record_failure()
    assert breaker.state is CLOSED
    assert breaker.info().recent_failures == 1


def test_half_open_allows_exactly_one_probe_then_closes_on_success() -> None:
    clock = FakeClock()
    breaker = make(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(4.9)
    assert breaker.state is OPEN and not breaker.allow()
    assert breaker.info().retry_in == pytest.approx(0.1)
    clock.advance(0.1)
    assert breaker.state is HALF_OPEN
    assert [breaker.allow() for _ in range(5)] == [True, False, False, False, False]
    breaker.record_success()
    assert breaker.state is CLOSED
    assert all(breaker.allow() for _ in range(5))
    assert breaker.info().recent_failures == 0


def test_failed_probe_reopens_for_a_new_cooldown() -> None:
    clock = FakeClock()
    breaker = make(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(5.0)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is OPEN
    clock.advance(4.0)
    assert not breaker.allow()  # the cooldown restarted at the failed probe
    clock.advance(1.0)
    assert breaker.allow()


def test_a_lost_probe_is_replaced_after_the_probe_timeout() -> None:
    clock = FakeClock()
    breaker = make(clock, probe_timeout=30.0)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(5.0)
    assert breaker.allow()
    clock.advance(29.0)
    assert not breaker.allow()
    clock.advance(1.0)
    assert breaker.allow()
    assert not breaker.allow()


def test_late_success_while_open_keeps_it_open() -> None:
    clock = FakeClock()
    breaker = make(clock)
    for _ in range(3):
        breaker.record_failure()
    breaker.record_success()
    assert breaker.state is OPEN


def test_reset_closes_from_any_state() -> None:
    clock = FakeClock()
    breaker = make(clock)
    for _ in range(3):
        breaker.record_failure()
    breaker.reset()
    assert breaker.state is CLOSED and breaker.allow()
    breaker.record_failure()
    breaker.record_failure()
    breaker.reset()
    breaker.record_failure()
    assert breaker.state is CLOSED  # the reset forgot earlier failures


def test_persistence_round_trip_counts_the_downtime() -> None:
    clock, wall = FakeClock(), FakeClock(1_700_000_000.0)
    breaker = make(clock, wall)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(1.0)
    wall.advance(1.0)
    saved = json.loads(json.dumps(breaker.to_dict()))  # survives the store's JSON
    assert saved["state"] == "open"

    # Restart: a new monotonic clock; two seconds of wall time passed while down.
    new_clock, new_wall = FakeClock(50.0), FakeClock(wall.now + 2.0)
    restored = CircuitBreaker.from_dict(
        saved, failure_threshold=3, window=10.0, cooldown=5.0, clock=new_clock, wall=new_wall
    )
    assert restored.state is OPEN
    assert restored.info().retry_in == pytest.approx(2.0)
    new_clock.advance(2.0)
    assert restored.allow() and not restored.allow()


def test_persistence_keeps_recent_failures_and_drops_old_ones() -> None:
    clock, wall = FakeClock(), FakeClock(1_700_000_000.0)
    breaker = make(clock, wall)
    breaker.record_failure()
    clock.advance(8.0)
    wall.advance(8.0)
    breaker.record_failure()
    saved = breaker.to_dict()
    new_clock, new_wall = FakeClock(), FakeClock(wall.now + 3.0)
    restored = CircuitBreaker.from_dict(
        saved, failure_threshold=3, window=10.0, cooldown=5.0, clock=new_clock, wall=new_wall
    )
    assert restored.info().recent_failures == 1  # the first one is now 11 s old
    assert restored.state is CLOSED


def test_half_open_restores_with_a_probe_available() -> None:
    clock, wall = FakeClock(), FakeClock(1_700_000_000.0)
    breaker = make(clock, wall)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(6.0)
    assert breaker.allow()  # probe out, then the process stops
    saved = breaker.to_dict()
    assert saved["state"] == "half_open"
    restored = CircuitBreaker.from_dict(saved, cooldown=5.0, clock=FakeClock(), wall=wall)
    assert restored.state is HALF_OPEN
    assert restored.allow()


def test_invalid_stored_state_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        CircuitBreaker.from_dict({"state": "melted", "saved_at": 0})
    with pytest.raises(ConfigError):
        CircuitBreaker.from_dict({"state": "open"})


def test_invalid_thresholds_are_refused() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError):
        Breakers(window=0)


# --- the registry ------------------------------------------------------------------------


def test_registry_keeps_keys_independent() -> None:
    clock = FakeClock()
    breakers = Breakers(failure_threshold=2, window=10.0, cooldown=5.0, clock=clock)
    assert breakers.allow("openai") and breakers.state("openai") is CLOSED
    breakers.record_failure("openai")
    breakers.record_failure("openai")
    breakers.record_failure("groq")
    breakers.record_success("never-failed")
    assert not breakers.allow("openai")
    assert breakers.allow("groq")
    listing = {info.key: info for info in breakers.listing()}
    assert listing["openai"].state is OPEN and listing["openai"].retry_in == 5.0
    assert listing["groq"].state is CLOSED and listing["groq"].recent_failures == 1
    assert "never-failed" not in listing


def test_registry_reset_one_or_all() -> None:
    breakers = Breakers(failure_threshold=1, clock=FakeClock())
    breakers.record_failure("a")
    breakers.record_failure("b")
    breakers.reset("a")
    breakers.reset("unknown")
    assert breakers.state("a") is CLOSED and breakers.state("b") is OPEN
    breakers.reset()
    assert breakers.state("b") is CLOSED


def test_registry_configure_changes_existing_breakers() -> None:
    clock = FakeClock()
    breakers = Breakers(failure_threshold=5, clock=clock)
    breakers.record_failure("a")
    breakers.configure(failure_threshold=2, cooldown=1.0)
    breakers.record_failure("a")
    assert breakers.state("a") is OPEN
    clock.advance(1.0)
    assert breakers.state("a") is HALF_OPEN
    with pytest.raises(ValueError):
        breakers.configure(failure_threshold=0)


def test_registry_round_trip() -> None:
    clock, wall = FakeClock(), FakeClock(1_700_000_000.0)
    breakers = Breakers(failure_threshold=1, cooldown=60.0, clock=clock, wall=wall)
    breakers.record_failure("openai")
    breakers.get("groq")
    saved = json.loads(json.dumps(breakers.to_dict()))
    again = Breakers(failure_threshold=1, cooldown=60.0, clock=FakeClock(), wall=wall)
    again.restore(saved)
    assert again.state("openai") is OPEN and again.state("groq") is CLOSED


def test_a_released_probe_lets_the_next_request_probe_at_once() -> None:
    from omniroute.routing.breaker import Breakers, BreakerState, CircuitBreaker

    now = [0.0]
    b = CircuitBreaker(
        failure_threshold=1,
        window=10,
        cooldown=5,
        probe_timeout=100,
        clock=lambda: now[0],
        wall=lambda: 0.0,
    )
    b.record_failure()
    now[0] = 6.0
    assert b.allow() is True and b.allow() is False  # one probe only
    b.release_probe()
    assert b.state is BreakerState.HALF_OPEN
    assert b.allow() is True  # the slot is free again, no probe_timeout wait
    b.release_probe()
    b.record_success()
    b.release_probe()  # closed: nothing to release
    assert b.state is BreakerState.CLOSED and b.allow() is True
    registry = Breakers(failure_threshold=1, cooldown=0)
    registry.release_probe("unknown")  # no breaker yet: nothing happens
    assert registry.state("unknown") is BreakerState.CLOSED
