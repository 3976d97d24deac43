"""Prices and context lengths in the catalog, and the cost arithmetic."""

from __future__ import annotations

import pytest

from omniroute.providers.catalog import Catalog, ModelPrice

MIN_SHARE = 0.9


def test_most_catalog_models_have_a_price_and_a_context_length() -> None:
    models = [(p, m) for p in Catalog.load().all() for m in p.models]
    priced = [m for _, m in models if m.price is not None]
    sized = [m for _, m in models if m.context is not None]
    assert len(priced) / len(models) >= MIN_SHARE, f"{len(priced)} of {len(models)} priced"
    assert len(sized) / len(models) >= MIN_SHARE, f"{len(sized)} of {len(models)} with context"


def test_local_and_free_account_providers_are_priced_at_zero() -> None:
    # Groq and Cerebras are "free" in the fallback order (a free plan exists)
    # but carry their paid plan's list price; sign-in providers on the free
    # tier cost nothing.
    for provider in Catalog.load().all():
        if provider.tier == "local" or (provider.tier == "free" and provider.auth == "oauth"):
            for model in provider.models:
                assert model.price is None or model.price.blended() == 0, (provider.id, model.id)


def test_catalog_prices_reach_the_api_json() -> None:
    openai = Catalog.load().get("openai")
    assert openai is not None
    model = openai.to_json()["models"][0]
    assert set(model["price"]) == {"input", "output", "cached_input", "reasoning"}
    assert model["context"] > 0


def test_cached_and_reasoning_tokens_are_charged_once_at_their_own_price() -> None:
    price = ModelPrice(input=2.0, output=10.0, cached_input=0.5, reasoning=20.0)
    # 1000 input of which 400 cached; 300 output of which 100 reasoning.
    expected = (600 * 2.0 + 400 * 0.5 + 200 * 10.0 + 100 * 20.0) / 1e6
    assert price.cost(1000, 300, 400, 100) == pytest.approx(expected, rel=1e-12)


def test_missing_cached_and_reasoning_prices_fall_back() -> None:
    price = ModelPrice(input=2.0, output=10.0)
    assert price.cost(1000, 300, 400, 100) == pytest.approx((1000 * 2.0 + 300 * 10.0) / 1e6)


def test_inconsistent_counts_never_go_negative() -> None:
    price = ModelPrice(input=2.0, output=10.0, cached_input=0.5)
    # More cached than input (a confused upstream): all input counts as cached.
    assert price.cost(100, 0, 500, 0) == pytest.approx(100 * 0.5 / 1e6)
    assert price.cost(0, 0, 0, 0) == 0.0
