"""What a request cost, and the spending ceilings that follow from it.

A row's cost is computed once, when it is logged, from the price in force at
that moment (an override from ``omniroute price``, else the catalog's), so a
later price change never rewrites history. Spending per provider, client key
and combo step lives in memory (``routing.budgets.Spending``): rebuilt from
the log at start, then incremented with each priced row, so the request path
asks no SQL question to enforce a budget.
"""

from __future__ import annotations

import calendar
import logging
import time
from collections.abc import Callable

from omniroute import errors
from omniroute.formats import ir
from omniroute.gateway.registry import Registry
from omniroute.providers.catalog import ModelPrice
from omniroute.providers.family import Operation
from omniroute.routing.budgets import (
    Spending,
    combo_scope,
    key_scope,
    month_start,
    provider_scope,
)
from omniroute.routing.model import Target
from omniroute.store import Store
from omniroute.store.records import RequestLogRow

log = logging.getLogger("omniroute.budgets")


# Operations priced per token (what the catalog's prices are), and free ones.
_PER_TOKEN = frozenset(
    {Operation.CHAT.value, Operation.COMPLETIONS.value, Operation.EMBEDDINGS.value}
)
_FREE = frozenset({Operation.COUNT_TOKENS.value, Operation.MODERATION.value})


def price_for(registry: Registry, provider: str, model: str) -> ModelPrice | None:
    """The price in force for ``provider/model``: the override, else the catalog's."""
    override = registry.options.prices.get(f"{provider}/{model}")
    if override is not None:
        return override
    try:
        return registry.provider(provider).price(model)
    except KeyError:
        return None


def row_cost(registry: Registry, row: RequestLogRow) -> float | None:
    """USD for a row's tokens at the price in force now; None when no price is known."""
    if row.provider is None or row.resolved_model is None:
        return None
    if row.operation in _FREE:
        return 0.0
    if row.operation not in _PER_TOKEN:
        return None  # priced per image, second or search, which the catalog does not know
    price = price_for(registry, row.provider, row.resolved_model)
    if price is None:
        return None
    return price.cost(row.input_tokens, row.output_tokens, row.cached_tokens, row.reasoning_tokens)


def row_scopes(row: RequestLogRow) -> list[str]:
    scopes = []
    if row.provider is not None:
        scopes.append(provider_scope(row.provider))
    if row.client_key_id is not None:
        scopes.append(key_scope(row.client_key_id))
    if row.combo is not None and row.combo_step is not None:
        scopes.append(combo_scope(row.combo, row.combo_step))
    return scopes


def cost_headers(cost: float | None, usage: ir.Usage) -> list[tuple[str, str]]:
    """``x-omniroute-cost`` (USD; absent when no price is known) and
    ``x-omniroute-cache-hit`` (the upstream read input from its prompt cache)."""
    out = [] if cost is None else [("x-omniroute-cost", _usd(cost))]
    out.append(("x-omniroute-cache-hit", "true" if usage.cached_input_tokens > 0 else "false"))
    return out


def _usd(usd: float) -> str:
    """Enough places for a one-token answer, without exponent notation."""
    return f"{usd:.8f}".rstrip("0").rstrip(".") if usd else "0"


class Costs:
    """Prices rows as they are logged and keeps spending against budgets."""

    __slots__ = ("_registry", "spending")

    def __init__(
        self, registry: Callable[[], Registry], clock: Callable[[], float] = time.time
    ) -> None:
        self._registry = registry
        self.spending = Spending(clock)

    def price(self, row: RequestLogRow) -> None:
        """Fill the row's cost and count it against its scopes' budgets."""
        registry = self._registry()
        row.cost = row_cost(registry, row)
        if row.cost:
            scopes = row_scopes(row)
            # Counted in the period of the spending clock (the row's own time
            # in production, where both are the wall clock).
            self.spending.add(scopes, row.cost, self.spending.now())
            self.spending.warn(scopes, registry.options.budgets)

    async def rebuild(self, store: Store) -> None:
        """Spending of the current UTC month (and so day), from the request log."""
        await load_spending(store, self.spending)

    def refuse_key(self, key_id: int | None) -> errors.RateLimited | None:
        """The 429 for a client key that has spent its budget, else None."""
        if key_id is None:
            return None
        scope = key_scope(key_id)
        budget = self._registry().options.budgets.get(scope)
        period = self.spending.over(scope, budget)
        if period is None or budget is None:
            return None
        limit = budget.limit(period)
        return errors.RateLimited(
            f"This API key has reached its {period} spending budget "
            f"(${limit:.2f}); it resets at the start of the next UTC "
            f"{'day' if period == 'daily' else 'month'}.",
            retry_after=self.spending.retry_after(period),
        )

    def over_budget(self, target: Target) -> tuple[str, float] | None:
        """Why a target must be skipped (its provider or combo step has spent
        its budget) and the seconds until that budget resets; else None."""
        budgets = self._registry().options.budgets
        if not budgets:
            return None
        scopes = [provider_scope(target.provider)]
        if target.combo is not None and target.step is not None:
            scopes.append(combo_scope(target.combo, target.step))
        for scope in scopes:
            period = self.spending.over(scope, budgets.get(scope))
            if period is not None:
                return f"{scope} over its {period} budget", self.spending.retry_after(period)
        return None


async def load_spending(store: Store, spending: Spending) -> None:
    """Add the logged cost of the current UTC month (by ``spending``'s clock)."""
    now = spending.now()
    for spent in await store.spending(month_start(now), now + 86_400):
        row = RequestLogRow(
            ts=_noon(spent.day),
            request_id="",
            model="",
            status=200,
            latency_ms=0.0,
            client_key_id=spent.key_id,
            provider=spent.provider,
            combo=spent.combo,
            combo_step=spent.combo_step,
        )
        spending.add(row_scopes(row), spent.cost, row.ts)


async def spent_now(store: Store, now: float) -> dict[str, dict[str, float]]:
    """Each scope's spending today and this month (UTC), from the request log."""
    spent = Spending(clock=lambda: now)
    await load_spending(store, spent)
    return spent.listing()


def _noon(day: str) -> float:
    """A moment inside a UTC day (YYYY-MM-DD)."""
    return calendar.timegm(time.strptime(day, "%Y-%m-%d")) + 43_200.0
