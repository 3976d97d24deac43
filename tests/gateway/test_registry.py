"""Registry.build over a ConfigSnapshot made by hand, with the real catalog."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from typing import Any

import pytest

from omniroute.config.options import BreakerOptions, FallbackOptions, Options
from omniroute.gateway.registry import Registry
from omniroute.providers import family_for
from omniroute.providers.anthropic import AnthropicFamily
from omniroute.providers.catalog import Catalog, CatalogProvider
from omniroute.providers.gemini import GeminiFamily
from omniroute.providers.openai import OpenAIChatFamily
from omniroute.providers.responses import ResponsesFamily
from omniroute.routing.model import Target
from omniroute.routing.ratelimit import Limits
from omniroute.store import (
    AccountRecord,
    ComboRecord,
    ComboTargetRecord,
    ConfigSnapshot,
    ProviderRecord,
)

CATALOG = Catalog.load()
GLOBAL_PROXY = "socks5://global.test:1080"
PROVIDER_PROXY = "http://provider.test:3128"
ACCOUNT_PROXY = "socks5h://user:pa55@account.test:1081"
_ids = itertools.count(1)


def entry(catalog_id: str) -> CatalogProvider:
    found = CATALOG.get(catalog_id)
    assert found is not None
    return found


def provider(
    pid: int,
    name: str,
    fmt: str = "openai",
    models: tuple[str, ...] = (),
    *,
    enabled: bool = True,
    **extra: Any,
) -> ProviderRecord:
    return ProviderRecord(
        id=pid,
        name=name,
        format=fmt,
        base_url=f"https://{name}.test/v1",
        models=models,
        enabled=enabled,
        extra=extra,
        created_at=0.0,
    )


def account(
    aid: int, pid: int, *, enabled: bool = True, priority: int = 0, **extra: Any
) -> AccountRecord:
    return AccountRecord(
        id=aid,
        provider_id=pid,
        label=f"account {aid}",
        api_key=f"sk-{aid:06d}",
        priority=priority,
        enabled=enabled,
        extra=extra,
        created_at=0.0,
    )


def combo(name: str, *refs: str, enabled: bool = True, prompt: str | None = None) -> ComboRecord:
    return ComboRecord(
        id=next(_ids),
        name=name,
        strategy="fill-first",
        enabled=enabled,
        system_prompt=prompt,
        targets=tuple(ComboTargetRecord(r) for r in refs),
        created_at=0.0,
    )


def build(
    providers: tuple[ProviderRecord, ...],
    accounts: tuple[AccountRecord, ...] = (),
    *,
    combos: tuple[ComboRecord, ...] = (),
    settings: Mapping[str, Any] | None = None,
) -> Registry:
    snapshot = ConfigSnapshot(
        revision=1,
        providers=providers,
        accounts=tuple(sorted(accounts, key=lambda a: (a.provider_id, a.priority, a.id))),
        client_keys=(),
        settings=settings or {},
        combos=tuple(sorted(combos, key=lambda c: c.name)),
    )
    return Registry.build(snapshot, CATALOG)


# -- model_ids ---------------------------------------------------------------------


def test_model_ids_lists_enabled_combos_then_serving_providers() -> None:
    registry = build(
        (
            provider(1, "zeta", models=("z1", "z2")),
            provider(2, "oa", models=("gpt-5",), catalog="openai"),  # catalog alias "oai"
            provider(3, "mine", "gemini", ("g1",), alias="mn"),  # its own alias
            provider(4, "claude", "anthropic", catalog="anthropic"),  # the catalog's models
            provider(5, "off", models=("o1",), enabled=False),
            provider(6, "keyless", models=("k1",)),  # only a disabled account
            provider(7, "nobody", models=("n1",)),  # no account at all
        ),
        (
            account(1, 1),
            account(2, 2),
            account(3, 3),
            account(4, 4),
            account(5, 5),
            account(6, 6, enabled=False),
        ),
        combos=(
            combo("zz-combo", "zeta/z1"),
            combo("aa-combo", "oa/gpt-5"),
            combo("off-combo", "zeta/z2", enabled=False),
        ),
    )
    claude_models = entry("anthropic").model_ids
    assert claude_models
    assert registry.model_ids() == [
        "aa-combo",
        "zz-combo",
        *(f"ant/{m}" for m in claude_models),
        "mn/g1",
        "oai/gpt-5",
        "zeta/z1",
        "zeta/z2",
    ]


def test_model_ids_empty_configuration() -> None:
    assert build(()).model_ids() == []


# -- ProviderInfo ------------------------------------------------------------------


def test_provider_info_keeps_enabled_accounts_in_priority_order() -> None:
    registry = build(
        (provider(1, "acme", models=("m1",)),),
        (
            account(10, 1, priority=5),
            account(11, 1, priority=1, enabled=False),
            account(12, 1, priority=2, limits={"rpm": 30}),
        ),
    )
    info = registry.provider("acme")
    assert [a.id for a in info.accounts] == [12, 10]
    assert info.account_options[12].limits == Limits(rpm=30)
    assert 11 not in info.account_options


@pytest.mark.parametrize(
    ("fmt", "family"),
    [
        ("openai", OpenAIChatFamily),
        ("openai-responses", ResponsesFamily),
        ("anthropic", AnthropicFamily),
        ("gemini", GeminiFamily),
    ],
)
def test_family_chosen_by_format(fmt: str, family: type) -> None:
    info = build((provider(1, "p", fmt, ("m",)),), (account(1, 1),)).provider("p")
    assert type(info.family) is family
    assert info.family is family_for(fmt)
    assert info.family.wire == fmt == info.format


def test_headers_are_catalog_defaults_overridden_by_the_provider() -> None:
    registry = build(
        (
            provider(
                1,
                "claude",
                "anthropic",
                catalog="anthropic",
                headers={"anthropic-version": "2099-01-01", "x-team": "blue"},
            ),
            provider(2, "plain", "anthropic", ("m",), catalog="anthropic"),
            provider(3, "custom", models=("m",), headers={"x-own": "1"}),
        ),
        (account(1, 1), account(2, 2), account(3, 3)),
    )
    claude = registry.provider("claude")
    assert dict(claude.headers) == {"anthropic-version": "2099-01-01", "x-team": "blue"}
    assert claude.auth_header == "x-api-key"
    assert dict(registry.provider("plain").headers) == {"anthropic-version": "2023-06-01"}
    custom = registry.provider("custom")
    assert dict(custom.headers) == {"x-own": "1"}
    assert custom.catalog is None and custom.auth_header is None
    with pytest.raises(TypeError):
        claude.headers["x-team"] = "red"  # type: ignore[index]


def test_provider_header_overrides_a_catalog_header_spelled_differently() -> None:
    # The catalog spells "X-Title"; what reaches the upstream is the provider's value.
    registry = build(
        (provider(1, "or", catalog="openrouter", headers={"x-title": "Mine"}),),
        (account(1, 1),),
    )
    info = registry.provider("or")
    sent = info.family.headers(
        "sk-1", stream=False, auth_header=info.auth_header, extra=info.headers, client_headers={}
    )
    assert [v for n, v in sent if n == "x-title"] == ["Mine"]


def test_provider_info_price() -> None:
    registry = build(
        (provider(1, "oa", catalog="openai"), provider(2, "custom", models=("gpt-5",))),
        (account(1, 1), account(2, 2)),
    )
    info = registry.provider("oa")
    price = info.price("gpt-5")
    assert price is not None and price.input > 0
    assert info.price("no-such-model") is None
    assert registry.provider("custom").price("gpt-5") is None


# -- proxy_for ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("global_", "provider_", "account_", "expected"),
    [
        (None, None, None, None),
        (GLOBAL_PROXY, None, None, GLOBAL_PROXY),
        (GLOBAL_PROXY, PROVIDER_PROXY, None, PROVIDER_PROXY),
        (GLOBAL_PROXY, PROVIDER_PROXY, ACCOUNT_PROXY, ACCOUNT_PROXY),
        (None, None, ACCOUNT_PROXY, ACCOUNT_PROXY),
        ("direct", PROVIDER_PROXY, None, PROVIDER_PROXY),
        ("direct", None, None, None),
        (GLOBAL_PROXY, "direct", None, None),
        (GLOBAL_PROXY, "direct", ACCOUNT_PROXY, ACCOUNT_PROXY),
        (GLOBAL_PROXY, PROVIDER_PROXY, "direct", None),
    ],
)
def test_proxy_for_precedence(
    global_: str | None, provider_: str | None, account_: str | None, expected: str | None
) -> None:
    # None stored means "not set" at that level
    registry = build(
        (provider(1, "acme", models=("m",), proxy=provider_),),
        (account(1, 1, proxy=account_),),
        settings={"proxy": global_},
    )
    info = registry.provider("acme")
    assert registry.proxy_for(info, info.accounts[0]) == expected


# -- system prompt -----------------------------------------------------------------


def _prompted(settings: Mapping[str, Any], combo_prompt: str | None) -> Registry:
    return build(
        (provider(1, "acme", models=("m",)),),
        (account(1, 1),),
        combos=(combo("team", "acme/m", prompt=combo_prompt),),
        settings=settings,
    )


def test_system_prompt_global_then_combo() -> None:
    registry = _prompted({"system_prompt": "  Global rules.\n"}, "  Be brief.  ")
    assert registry.system_prompt(Target("acme", "m", "team", 0)) == "Global rules.\n\nBe brief."
    assert registry.system_prompt(Target("acme", "m")) == "Global rules."


def test_system_prompt_combo_only_or_none() -> None:
    combo_only = _prompted({}, "Be brief.")
    assert combo_only.system_prompt(Target("acme", "m", "team", 0)) == "Be brief."
    assert combo_only.system_prompt(Target("acme", "m")) is None
    nothing = _prompted({"system_prompt": "   "}, None)
    assert nothing.system_prompt(Target("acme", "m", "team", 0)) is None
    # a target naming a combo the registry does not know
    assert nothing.system_prompt(Target("acme", "m", "gone", 0)) is None


# -- price_of ----------------------------------------------------------------------


def test_price_of() -> None:
    registry = build(
        (
            provider(1, "oa", catalog="openai"),
            provider(2, "custom", models=("gpt-5",)),
        ),
        (account(1, 1), account(2, 2)),
    )
    model = entry("openai").model("gpt-5")
    price = model.price if model else None
    assert price is not None
    assert registry.price_of("oa/gpt-5") == pytest.approx((3 * price.input + price.output) / 4)
    assert registry.price_of("custom/gpt-5") is None  # no catalog entry, no price
    assert registry.price_of("nowhere/at-all") is None  # unresolvable


# -- options -----------------------------------------------------------------------


def test_options_defaults() -> None:
    assert build(()).options == Options()
    assert build(()).options.fallback == FallbackOptions()


def test_options_parsed_from_settings() -> None:
    registry = build(
        (),
        settings={
            "breaker": {"failure_threshold": 3, "window": 30},
            "fallback": {"max_attempts": 2},
            "account_strategy": "round-robin",
            "theme": "dark",  # not ours: ignored
        },
    )
    options = registry.options
    assert options.breaker == BreakerOptions(failure_threshold=3, window=30.0)
    assert options.fallback.max_attempts == 2
    assert options.fallback.max_seconds == FallbackOptions().max_seconds
    assert options.account_strategy == "round-robin"


def test_options_bad_stored_value_is_ignored_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="omniroute.config"):
        registry = build(
            (provider(1, "acme", models=("m",), limits={"rpm": -1}),),
            (account(1, 1),),
            settings={"fallback": {"max_attempts": 0}, "system_prompt": "Kept."},
        )
    assert registry.options.fallback == FallbackOptions()
    assert registry.options.system_prompt == "Kept."
    assert registry.provider("acme").options.limits is None
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "'fallback'" in warned
    assert "'limits'" in warned and "provider 'acme'" in warned
