"""Balancing strategies: order the candidates for one request.

Every strategy returns the **full ordered list**: the first item is the pick,
the rest is the fallback order. The same strategies order combo targets and the
accounts inside one provider.

    fill-first      priority order as given
    round-robin     the start rotates by one on each call, per scope
    p2c             power of two choices: two random candidates, the one with the
                    better health score first (Mitzenmacher, "The Power of Two
                    Choices in Randomized Load Balancing", 2001); the rest by score
    random          uniform shuffle
    least-used      fewest in flight, then fewest started in total
    cost-optimized  cheapest price first (USD per 1M tokens), unknown prices last
    weighted        weighted random order: the first pick is item i with
                    probability w_i / Σw (Efraimidis–Spirakis keys u^(1/w));
                    weight 0 goes last

All mutable state (round-robin counters) lives in one ``StrategyState``; health
numbers come from a ``Health``; randomness from an injected ``random.Random``.

    state = StrategyState(health=health, rng=random.Random(7), price_of=price_lookup)
    state.order("round-robin", "provider:openai", accounts, key=lambda a: a.id)
    state.combo_order(combo, combo.targets)       # the shape resolve.expand() takes
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import TypeVar

from omniroute.errors import ConfigError
from omniroute.routing.health import Health
from omniroute.routing.model import Combo, ComboTarget

T = TypeVar("T")

STRATEGIES = (
    "fill-first",
    "round-robin",
    "p2c",
    "random",
    "least-used",
    "cost-optimized",
    "weighted",
)


class StrategyState:
    """Owns the counters the strategies need, for the life of the process."""

    __slots__ = ("health", "_rng", "_price_of", "_counters")

    def __init__(
        self,
        *,
        health: Health | None = None,
        rng: random.Random | None = None,
        price_of: Callable[[str], float | None] | None = None,
    ) -> None:
        self.health = health if health is not None else Health()
        self._rng = rng or random.Random()
        self._price_of = price_of
        self._counters: dict[str, int] = {}

    def order(
        self,
        strategy: str,
        scope: str,
        items: Sequence[T],
        *,
        key: Callable[[T], str] = str,
        weight: Callable[[T], float] | None = None,
        price: Callable[[T], float | None] | None = None,
    ) -> list[T]:
        """``items`` in the order to try them.

        ``scope`` names whose round-robin counter to use (a combo, a provider).
        ``key`` maps an item to its health key; ``weight`` and ``price`` feed the
        weighted and cost-optimized strategies (defaults: 1, ``price_of(key)``).
        """
        if len(items) <= 1:
            return list(items)
        if strategy == "fill-first":
            return list(items)
        if strategy == "round-robin":
            return self._round_robin(scope, items)
        if strategy == "p2c":
            return self._p2c(items, key)
        if strategy == "random":
            shuffled = list(items)
            self._rng.shuffle(shuffled)
            return shuffled
        if strategy == "least-used":
            return sorted(items, key=lambda item: self.health.usage(key(item)))
        if strategy == "cost-optimized":
            return self._cheapest(items, price or self._key_price(key))
        if strategy == "weighted":
            return self._weighted(items, weight or (lambda _item: 1.0))
        raise ConfigError(f"unknown routing strategy {strategy!r}; known: {', '.join(STRATEGIES)}")

    def combo_order(self, combo: Combo, targets: Sequence[ComboTarget]) -> list[ComboTarget]:
        """Order a combo's enabled targets by the combo's own strategy."""
        return self.order(
            combo.strategy,
            "combo:" + combo.name,
            targets,
            key=lambda t: t.ref,
            weight=lambda t: float(t.weight),
        )

    def reset(self, scope: str | None = None) -> None:
        """Forget round-robin positions (all, or one scope's)."""
        if scope is None:
            self._counters.clear()
        else:
            self._counters.pop(scope, None)

    # --- the strategies ----------------------------------------------------------

    def _round_robin(self, scope: str, items: Sequence[T]) -> list[T]:
        turn = self._counters.get(scope, 0)
        self._counters[scope] = turn + 1
        start = turn % len(items)
        return [*items[start:], *items[:start]]

    def _p2c(self, items: Sequence[T], key: Callable[[T], str]) -> list[T]:
        scores = [self.health.score(key(item)) for item in items]
        a, b = self._rng.sample(range(len(items)), 2)
        # On equal scores the earlier (higher priority) candidate wins.
        first = min(a, b, key=lambda i: (scores[i], i))
        rest = sorted((i for i in range(len(items)) if i != first), key=lambda i: (scores[i], i))
        return [items[first], *(items[i] for i in rest)]

    @staticmethod
    def _cheapest(items: Sequence[T], price: Callable[[T], float | None]) -> list[T]:
        def rank(item: T) -> tuple[bool, float]:
            value = price(item)
            return (value is None, 0.0 if value is None else value)

        return sorted(items, key=rank)

    def _weighted(self, items: Sequence[T], weight: Callable[[T], float]) -> list[T]:
        def draw(item: T) -> float:
            w = weight(item)
            if w <= 0:
                return -math.inf
            return float(self._rng.random() ** (1.0 / w))

        keyed = [(draw(item), index) for index, item in enumerate(items)]
        keyed.sort(key=lambda pair: (-pair[0], pair[1]))
        return [items[index] for _, index in keyed]

    def _key_price(self, key: Callable[[T], str]) -> Callable[[T], float | None]:
        lookup = self._price_of
        if lookup is None:
            return lambda _item: None
        return lambda item: lookup(key(item))
