"""The two settings behind cost control, checked and typed here:

``prices``   {"provider/model": {input, output, cached_input, reasoning}}:
             USD per 1M tokens, winning over the catalog's list price
``budgets``  {"provider:NAME" | "key:ID" | "combo:NAME/STEP": {daily, monthly}}:
             USD ceilings per UTC day and month

Both are changed one entry at a time (``omniroute price`` / ``budget``, the
management API) through the ConfigEditor, so each change is audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from omniroute.errors import BadRequest, ConfigError
from omniroute.providers.catalog import ModelPrice, parse_price
from omniroute.routing.budgets import PERIODS, Budget, split_scope

PRICES = "prices"
BUDGETS = "budgets"
_MAX_ENTRIES = 10_000
_MAX_USD = 1e9


def check_model_ref(ref: Any) -> str:
    """``provider/model``: the provider's configured name and the upstream model id."""
    if not isinstance(ref, str) or "/" not in ref.strip("/") or len(ref) > 512:
        raise BadRequest("a price is set for provider/model, e.g. openai/gpt-5")
    return ref


def check_price(ref: str, value: Any) -> dict[str, float | None]:
    try:
        price = parse_price(value, f"price of {ref!r}")
    except ConfigError as exc:
        raise BadRequest(exc.message) from None
    if max(price.input, price.output, price.cached_input or 0, price.reasoning or 0) > _MAX_USD:
        raise BadRequest(f"price of {ref!r}: a price above {_MAX_USD:g} USD per 1M tokens")
    return price.to_json()


def check_prices(key: str, value: Any) -> dict[str, dict[str, float | None]]:
    if not isinstance(value, Mapping) or len(value) > _MAX_ENTRIES:
        raise BadRequest(f"setting {key!r} must map provider/model to a price")
    return {check_model_ref(ref): check_price(ref, price) for ref, price in value.items()}


def check_scope(scope: Any) -> str:
    if not isinstance(scope, str) or len(scope) > 512:
        raise BadRequest("a budget scope is provider:NAME, key:ID or combo:NAME/STEP")
    try:
        split_scope(scope)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return scope


def check_budget(scope: str, value: Any) -> dict[str, float | None]:
    if not isinstance(value, Mapping) or set(value) - set(PERIODS):
        raise BadRequest(f"budget of {scope!r} must be an object: {{daily, monthly}}")
    checked: dict[str, float | None] = {}
    for period in PERIODS:
        amount = value.get(period)
        if amount is not None and (
            isinstance(amount, bool)
            or not isinstance(amount, int | float)
            or not 0 <= amount <= _MAX_USD
        ):
            raise BadRequest(f"budget of {scope!r}: {period} must be a number of USD >= 0")
        checked[period] = None if amount is None else float(amount)
    if checked["daily"] is None and checked["monthly"] is None:
        raise BadRequest(f"budget of {scope!r}: give a daily or a monthly amount")
    return checked


def check_budgets(key: str, value: Any) -> dict[str, dict[str, float | None]]:
    if not isinstance(value, Mapping) or len(value) > _MAX_ENTRIES:
        raise BadRequest(f"setting {key!r} must map a scope to {{daily, monthly}}")
    return {check_scope(s): check_budget(s, budget) for s, budget in value.items()}


def typed_prices(value: Mapping[str, Any]) -> Mapping[str, ModelPrice]:
    return MappingProxyType({ref: ModelPrice(**price) for ref, price in value.items()})


def typed_budgets(value: Mapping[str, Any]) -> Mapping[str, Budget]:
    return MappingProxyType({scope: Budget(**budget) for scope, budget in value.items()})
