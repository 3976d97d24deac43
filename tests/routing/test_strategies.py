from __future__ import annotations

import random
from collections import Counter

import pytest

from omniroute.errors import ConfigError
from omniroute.routing.health import Health
from omniroute.routing.resolve import Combo, ComboTarget
from omniroute.routing.strategies import STRATEGIES, StrategyState

from .fakes import FakeClock

ITEMS = ["a", "b", "c"]


def first_picks(
    state: StrategyState, strategy: str, n: int, items: list[str] = ITEMS
) -> Counter[str]:
    return Counter(state.order(strategy, "scope", items)[0] for _ in range(n))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_returns_a_full_permutation(strategy: str) -> None:
    state = StrategyState(rng=random.Random(5))
    for _ in range(20):
        assert sorted(state.order(strategy, "s", ITEMS)) == ITEMS
    assert state.order(strategy, "s", []) == []
    assert state.order(strategy, "s", ["only"]) == ["only"]


def test_fill_first_keeps_priority_order() -> None:
    state = StrategyState()
    assert [state.order("fill-first", "s", ITEMS) for _ in range(3)] == [ITEMS] * 3


def test_round_robin_is_exactly_even_and_rotates_the_fallbacks() -> None:
    state = StrategyState()
    assert first_picks(state, "round-robin", 300) == {"a": 100, "b": 100, "c": 100}
    state.reset()
    assert [state.order("round-robin", "s", ITEMS) for _ in range(3)] == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
    ]


def test_round_robin_counters_are_per_scope() -> None:
    state = StrategyState()
    assert state.order("round-robin", "x", ITEMS)[0] == "a"
    assert state.order("round-robin", "x", ITEMS)[0] == "b"
    assert state.order("round-robin", "y", ITEMS)[0] == "a"
    state.reset("x")
    assert state.order("round-robin", "x", ITEMS)[0] == "a"


def test_weighted_follows_the_weights() -> None:
    state = StrategyState(rng=random.Random(42))
    weights = {"heavy": 3.0, "light": 1.0}
    picks = Counter(
        state.order("weighted", "s", ["light", "heavy"], weight=weights.__getitem__)[0]
        for _ in range(4000)
    )
    share = picks["heavy"] / 4000
    assert 0.72 <= share <= 0.78


def test_weighted_puts_zero_weight_last() -> None:
    state = StrategyState(rng=random.Random(1))
    weights = {"a": 0.0, "b": 1.0, "c": 2.0}
    for _ in range(50):
        assert state.order("weighted", "s", ITEMS, weight=weights.__getitem__)[-1] == "a"


def test_weighted_is_reproducible_with_a_seed() -> None:
    one = StrategyState(rng=random.Random(9))
    two = StrategyState(rng=random.Random(9))
    assert [one.order("weighted", "s", ITEMS) for _ in range(10)] == [
        two.order("weighted", "s", ITEMS) for _ in range(10)
    ]


def _health_with_history(clock: FakeClock) -> Health:
    health = Health(clock=clock)
    for key, latency, ok_every in (("fast", 0.2, 1), ("slow", 2.0, 2), ("meh", 1.0, 1)):
        for i in range(20):
            started = health.record_start(key)
            clock.advance(latency)
            health.record_end(key, ok=(i % ok_every == 0), started=started)
    return health


def test_p2c_prefers_the_healthy_fast_target() -> None:
    clock = FakeClock()
    state = StrategyState(health=_health_with_history(clock), rng=random.Random(3))
    items = ["slow", "meh", "fast"]
    picks = first_picks(state, "p2c", 3000, items)
    # "fast" wins whenever it is one of the two sampled (2 in 3 draws).
    assert picks["fast"] / 3000 > 0.6
    assert picks["slow"] == 0
    assert state.order("p2c", "s", ["slow", "fast"]) == ["fast", "slow"]


def test_p2c_fallback_order_is_by_score() -> None:
    clock = FakeClock()
    state = StrategyState(health=_health_with_history(clock), rng=random.Random(4))
    for _ in range(30):
        order = state.order("p2c", "s", ["slow", "meh", "fast"])
        rest = order[1:]
        assert rest == sorted(rest, key=state.health.score)


def test_cost_optimized_orders_by_price_unknown_last() -> None:
    prices = {"a": 3.0, "b": None, "c": 0.5, "d": 3.0}
    state = StrategyState(price_of=prices.get)
    assert state.order("cost-optimized", "s", ["a", "b", "c", "d"]) == ["c", "a", "d", "b"]
    override = {"a": 1.0, "b": 2.0, "c": None, "d": 0.0}
    assert state.order("cost-optimized", "s", ["a", "b", "c", "d"], price=override.get) == [
        "d",
        "a",
        "b",
        "c",
    ]


def test_least_used_prefers_fewest_in_flight_then_fewest_total() -> None:
    health = Health(clock=FakeClock())
    state = StrategyState(health=health)
    for _ in range(3):
        health.record_end("a", ok=True, started=health.record_start("a"))
    health.record_start("b")  # one in flight
    health.record_end("c", ok=True, started=health.record_start("c"))
    assert state.order("least-used", "s", ["a", "b", "c", "d"]) == ["d", "c", "a", "b"]


def test_random_uses_the_injected_rng() -> None:
    one = StrategyState(rng=random.Random(11))
    two = StrategyState(rng=random.Random(11))
    seq = [one.order("random", "s", ITEMS) for _ in range(10)]
    assert seq == [two.order("random", "s", ITEMS) for _ in range(10)]
    assert len({tuple(s) for s in seq}) > 1


def test_unknown_strategy_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="fastest"):
        StrategyState().order("fastest", "s", ITEMS)


def test_combo_order_uses_the_combo_strategy_scope_and_weights() -> None:
    targets = (ComboTarget("x/a", weight=0), ComboTarget("x/b", weight=5))
    weighted = Combo("w", targets, strategy="weighted")
    state = StrategyState(rng=random.Random(2))
    assert all(state.combo_order(weighted, targets)[0].ref == "x/b" for _ in range(20))
    rr = Combo("rr", targets, strategy="round-robin")
    assert [state.combo_order(rr, targets)[0].ref for _ in range(4)] == ["x/a", "x/b"] * 2


def test_accounts_inside_a_provider_use_the_same_strategies() -> None:
    accounts = [("acct-1", 0.9), ("acct-2", 0.1)]
    state = StrategyState()
    ordered = state.order(
        "cost-optimized", "provider:openai", accounts, key=lambda a: a[0], price=lambda a: a[1]
    )
    assert [a[0] for a in ordered] == ["acct-2", "acct-1"]


# --- health ---------------------------------------------------------------------------


def test_health_tracks_latency_success_and_counts() -> None:
    clock = FakeClock()
    health = Health(alpha=0.5, window=4, clock=clock)
    assert health.snapshot("k").latency is None
    started = health.record_start("k")
    assert health.snapshot("k").in_flight == 1
    clock.advance(1.0)
    health.record_end("k", ok=True, started=started)
    health.record_end("k", ok=False, latency=3.0)
    snap = health.snapshot("k")
    assert snap.latency == pytest.approx(2.0)  # 1.0, then halfway to 3.0
    assert snap.in_flight == 0 and snap.total == 1
    assert snap.success_ratio == pytest.approx((1 + 1) / (2 + 2))
    assert snap.recent_failures == 1
    for _ in range(4):
        health.record_end("k", ok=True, latency=1.0)
    assert health.snapshot("k").recent_failures == 0  # the window forgot the failure
    assert list(health.listing()) == ["k"]


def test_health_score_orders_fast_reliable_before_slow_failing() -> None:
    health = _health_with_history(FakeClock())
    assert health.score("fast") < health.score("meh") < health.score("slow")
    unknown = health.score("never-seen")
    assert health.score("fast") < unknown
