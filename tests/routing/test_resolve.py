from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence

import pytest

from omniroute.errors import BadRequest, NotFound
from omniroute.providers.catalog import Catalog
from omniroute.routing.resolve import (
    Combo,
    ComboTarget,
    ModelNotFound,
    ProviderView,
    RoutingView,
    Target,
    expand,
    resolve,
    validate_combos,
)
from omniroute.routing.strategies import StrategyState


def pv(
    name: str,
    alias: str | None,
    tier: str,
    *models: str,
    enabled: bool = True,
    account: bool = True,
    wildcard: bool = False,
) -> ProviderView:
    return ProviderView(name, alias, models, enabled, account, wildcard, tier)


PROVIDERS = (
    pv("claude", "cc", "subscription", "claude-opus-4-6", "claude-sonnet-4-5-20250929",
       "claude-haiku-4-5-20251001"),
    pv("anthropic", "ant", "api", "claude-sonnet-4-5-20250929", "claude-3-5-haiku-20241022",
       "claude-opus-4-1-20250805"),
    pv("kiro", "kr", "free", "claude-sonnet-4.5", "claude-haiku-4.5"),
    pv("openai", "oai", "api", "gpt-5", "gpt-4.1", "gpt-4o-mini", "o3"),
    pv("github", "gh", "subscription", "gpt-5", "claude-sonnet-4.5"),
    pv("groq", "gq", "free", "openai/gpt-oss-120b", "llama-3.3-70b-versatile"),
    pv("openrouter", "or", "api", "anthropic/claude-sonnet-4.5",
       "meta-llama/llama-3.3-70b-instruct", wildcard=True),
    pv("gemini-cli", "gc", "subscription", "gemini-2.5-pro"),
    pv("deepseek", "ds", "cheap", "deepseek-chat", enabled=False),
    pv("qwen", "qw", "free", "qwen3-coder-plus", account=False),
)  # fmt: skip

COMBOS = {
    "premium": Combo(
        "premium",
        (
            ComboTarget("cc/claude-opus-4-6"),
            ComboTarget("ds/deepseek-chat"),  # provider disabled: skipped
            ComboTarget("free"),  # nested combo
            ComboTarget("gpt-5", enabled=False),
        ),
    ),
    "free": Combo(
        "free", (ComboTarget("kr/claude-sonnet-4.5"), ComboTarget("gq/openai/gpt-oss-120b"))
    ),
    "off": Combo("off", (ComboTarget("gpt-5"),), enabled=False),
    "dead": Combo("dead", (ComboTarget("ds/deepseek-chat"), ComboTarget("qw/qwen3-coder-plus"))),
}

ALIASES = (
    ("claude-*", "premium"),
    ("fast", "gq/llama-3.3-70b-versatile"),
    ("gpt4-*", "or/openai/gpt-4-*"),
)


def view(providers: Sequence[ProviderView] = PROVIDERS, **changes: object) -> RoutingView:
    base = RoutingView(tuple(providers), COMBOS, ALIASES)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def refs(targets: Sequence[Target]) -> list[str]:
    return [t.ref for t in targets]


# --- combos and aliases ----------------------------------------------------------------


def test_combo_name_resolves_to_the_combo_flattened_in_order() -> None:
    res = resolve("premium", view())
    assert res.combo is COMBOS["premium"]
    assert res.targets == (
        Target("claude", "claude-opus-4-6", "premium", 0),
        Target("kiro", "claude-sonnet-4.5", "free", 0),
        Target("groq", "openai/gpt-oss-120b", "free", 1),
    )


def test_user_alias_with_wildcard_maps_to_a_combo() -> None:
    res = resolve("claude-sonnet-4-5-20250929", view())
    assert res.combo is COMBOS["premium"]
    assert res.alias == "claude-*"
    assert res.requested == "claude-sonnet-4-5-20250929"


def test_user_alias_to_a_model_string() -> None:
    res = resolve("fast", view())
    assert res.combo is None
    assert refs(res.targets) == ["groq/llama-3.3-70b-versatile"]


def test_user_alias_substitutes_captured_text() -> None:
    res = resolve("gpt4-turbo", view())
    assert refs(res.targets) == ["openrouter/openai/gpt-4-turbo"]


def test_alias_to_unavailable_destination_says_so() -> None:
    v = view(aliases=(("x", "ds/deepseek-chat"),))
    with pytest.raises(NotFound, match="alias 'x'.*disabled"):
        resolve("x", v)


def test_first_matching_alias_wins() -> None:
    no_wildcard = [p for p in PROVIDERS if not p.wildcard]
    aliases = (("g*", "fast"), ("gpt-5", "premium"), ("fast", "gq/llama-3.3-70b-versatile"))
    v = view(no_wildcard, aliases=aliases)
    # 'g*' matches first and maps to 'fast', which is not an alias lookup again
    with pytest.raises(NotFound):
        resolve("gpt-5", v)
    v = view(aliases=(("gpt-5", "premium"), ("g*", "fast")))
    assert resolve("gpt-5", v).combo is COMBOS["premium"]


# --- provider/model ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("cc/claude-opus-4-6", "claude/claude-opus-4-6"),
        ("claude/claude-opus-4-6", "claude/claude-opus-4-6"),
        ("CC/claude-opus-4-6", "claude/claude-opus-4-6"),
        ("oai/gpt-9-preview", "openai/gpt-9-preview"),  # unknown model passes through
        ("kr/claude-sonnet-4-5-20250929", "kiro/claude-sonnet-4.5"),  # provider's spelling
        ("openrouter/meta-llama/llama-3-70b", "openrouter/meta-llama/llama-3-70b"),
        ("or/qwen/qwen3-coder:free", "openrouter/qwen/qwen3-coder:free"),
        ("gq/openai/gpt-oss-120b", "groq/openai/gpt-oss-120b"),
        # openai does not list it, groq lists the whole string: served by groq
        ("openai/gpt-oss-120b", "groq/openai/gpt-oss-120b"),
    ],
)
def test_provider_prefixed_model(model: str, expected: str) -> None:
    res = resolve(model, view())
    assert res.combo is None
    assert refs(res.targets) == [expected]


def test_prefix_that_is_not_a_provider_is_a_bare_id_with_slash() -> None:
    assert refs(resolve("meta-llama/llama-3.3-70b-instruct", view()).targets) == [
        "openrouter/meta-llama/llama-3.3-70b-instruct"
    ]


def test_disabled_or_unconnected_provider_prefix_is_explained() -> None:
    with pytest.raises(NotFound, match="'deepseek' is disabled"):
        resolve("ds/deepseek-chat", view())
    with pytest.raises(NotFound, match="'qwen' is not connected"):
        resolve("qw/qwen3-coder-plus", view())


# --- bare ids -------------------------------------------------------------------------------


def test_bare_id_lists_every_provider_in_tier_then_name_order() -> None:
    res = resolve("gpt-5", view())
    assert refs(res.targets) == ["github/gpt-5", "openai/gpt-5"]


def test_bare_claude_id_finds_every_spelling_of_the_model() -> None:
    v = view(aliases=())
    assert refs(resolve("claude-sonnet-4-5-20250929", v).targets) == [
        "claude/claude-sonnet-4-5-20250929",
        "github/claude-sonnet-4.5",
        "anthropic/claude-sonnet-4-5-20250929",
        "openrouter/anthropic/claude-sonnet-4.5",
        "kiro/claude-sonnet-4.5",
    ]


def test_latest_suffix_matches_dated_id() -> None:
    v = view(aliases=())
    assert refs(resolve("claude-3-5-haiku-latest", v).targets) == [
        "anthropic/claude-3-5-haiku-20241022"
    ]


def test_bare_id_is_case_insensitive_and_keeps_provider_spelling() -> None:
    assert refs(resolve("GPT-4.1", view()).targets) == ["openai/gpt-4.1"]


def test_family_match_picks_the_closest_model_of_each_provider() -> None:
    only_kiro = [pv("kiro", "kr", "free", "claude-haiku-4.5", "claude-sonnet-4.5")]
    res = resolve("claude-3-7-sonnet-latest", view(only_kiro, aliases=()))
    assert refs(res.targets) == ["kiro/claude-sonnet-4.5"]
    only_gc = [pv("gemini-cli", "gc", "subscription", "gemini-2.5-pro", "gemini-2.5-flash")]
    assert refs(resolve("gemini-2.0-flash-001", view(only_gc)).targets) == [
        "gemini-cli/gemini-2.5-flash"
    ]


def test_family_match_does_not_cross_families() -> None:
    claude_only = [pv("kiro", "kr", "free", "claude-sonnet-4.5")]
    with pytest.raises(NotFound):
        resolve("gpt-5", view(claude_only, combos={}, aliases=()))
    oss_only = [pv("groq", "gq", "free", "openai/gpt-oss-120b")]
    with pytest.raises(NotFound):
        resolve("gpt-5", view(oss_only, combos={}, aliases=()))


@pytest.mark.parametrize(
    "model",
    [
        "claude-sonnet-4-5-20250929",
        "claude-3-5-haiku-latest",
        "claude-opus-4-1-20250805",
        "claude-haiku-4-5-20251001",
        "gpt-5",
        "gpt-5-codex",
        "gpt-4o-mini",
        "o3",
        "o4-mini",
        "gemini-2.5-pro",
        "gemini-2.5-flash-lite",
    ],
)
def test_bare_cli_ids_always_resolve_when_the_family_is_served(model: str) -> None:
    no_wildcard = [p for p in PROVIDERS if not p.wildcard]
    res = resolve(model, view(no_wildcard, aliases=()))
    assert res.targets
    assert len({t.provider for t in res.targets}) == len(res.targets)


def test_wildcard_provider_takes_an_unlisted_bare_id() -> None:
    assert refs(resolve("mistralai/mixtral-8x7b", view()).targets) == [
        "openrouter/mistralai/mixtral-8x7b"
    ]


def test_resolution_is_deterministic_under_provider_order() -> None:
    shuffled = list(PROVIDERS)
    random.Random(3).shuffle(shuffled)
    for model in ("gpt-5", "claude-sonnet-4-5-20250929", "premium", "cc/claude-opus-4-6"):
        assert resolve(model, view(shuffled)).targets == resolve(model, view()).targets


# --- errors ---------------------------------------------------------------------------------


def test_unknown_model_is_not_found_with_close_matches() -> None:
    no_wildcard = [p for p in PROVIDERS if not p.wildcard]
    with pytest.raises(ModelNotFound) as info:
        resolve("llama-3.3-70b-versatil", view(no_wildcard))
    err = info.value
    assert isinstance(err, NotFound) and err.status == 404
    assert "llama-3.3-70b-versatile" in err.suggestions
    assert 1 <= len(err.suggestions) <= 5
    assert "did you mean" in err.message


def test_unknown_model_without_close_matches() -> None:
    no_wildcard = [p for p in PROVIDERS if not p.wildcard]
    with pytest.raises(ModelNotFound) as info:
        resolve("zzzzzzzz", view(no_wildcard))
    assert info.value.suggestions == ()
    assert info.value.message == "model 'zzzzzzzz' not found"


def test_model_known_only_to_idle_providers_is_explained() -> None:
    with pytest.raises(NotFound, match="disabled or have no account: deepseek"):
        resolve("deepseek-chat", view())


def test_empty_model_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        resolve("  ", view())


def test_disabled_combo_and_combo_without_usable_targets() -> None:
    with pytest.raises(NotFound, match="'off' is disabled"):
        resolve("off", view())
    with pytest.raises(NotFound, match="'dead' has no target"):
        resolve("dead", view())


# --- lazy expansion with strategies -------------------------------------------------------------


def test_plan_applies_each_combo_strategy_lazily() -> None:
    combos = dict(COMBOS)
    combos["free"] = dataclasses.replace(COMBOS["free"], strategy="round-robin")
    v = view(combos=combos)
    state = StrategyState(rng=random.Random(1))
    res = resolve("premium", v)

    first = res.plan(state.combo_order)
    assert next(first) == Target("claude", "claude-opus-4-6", "premium", 0)
    # The nested combo was not reached, so its round-robin has not turned yet.
    plans = [refs(list(res.plan(state.combo_order))) for _ in range(3)]
    assert plans == [
        ["claude/claude-opus-4-6", "kiro/claude-sonnet-4.5", "groq/openai/gpt-oss-120b"],
        ["claude/claude-opus-4-6", "groq/openai/gpt-oss-120b", "kiro/claude-sonnet-4.5"],
        ["claude/claude-opus-4-6", "kiro/claude-sonnet-4.5", "groq/openai/gpt-oss-120b"],
    ]


def test_plan_of_a_direct_resolution_is_its_targets() -> None:
    res = resolve("gpt-5", view())
    assert tuple(res.plan()) == res.targets


def test_expand_survives_a_cycle_in_an_unvalidated_view() -> None:
    combos = {
        "a": Combo("a", (ComboTarget("gpt-5"), ComboTarget("b"))),
        "b": Combo("b", (ComboTarget("a"), ComboTarget("gh/gpt-5"))),
    }
    targets = list(expand(combos["a"], view(combos=combos)))
    assert refs(targets) == ["github/gpt-5", "openai/gpt-5", "github/gpt-5"]
    assert [(t.combo, t.step) for t in targets] == [("a", 0), ("a", 0), ("b", 1)]


# --- validation ---------------------------------------------------------------------------


def test_validate_accepts_a_good_configuration() -> None:
    validate_combos({k: v for k, v in COMBOS.items()}, PROVIDERS)


def test_validate_refuses_cycles() -> None:
    combos = {
        "a": Combo("a", (ComboTarget("b"),)),
        "b": Combo("b", (ComboTarget("c"),)),
        "c": Combo("c", (ComboTarget("a"), ComboTarget("gpt-5"))),
        "self": Combo("self", (ComboTarget("self"),)),
    }
    with pytest.raises(BadRequest) as info:
        validate_combos(combos)
    message = info.value.message
    assert "cycle a → b → c → a" in message
    assert "cycle self → self" in message
    assert message.count("cycle") == 2


def test_validate_refuses_unknown_refs_strategies_and_weights() -> None:
    no_wildcard = [p for p in PROVIDERS if not p.wildcard]
    combos = {
        "x": Combo(
            "x",
            (ComboTarget("no-such-model"), ComboTarget("gpt-5", weight=-1), ComboTarget(" ")),
            strategy="fastest",
        ),
        "empty": Combo("empty", ()),
    }
    with pytest.raises(BadRequest) as info:
        validate_combos(combos, no_wildcard)
    message = info.value.message
    assert "unknown target 'no-such-model'" in message
    assert "unknown strategy 'fastest'" in message
    assert "negative weight" in message
    assert "empty target" in message
    assert "'empty' has no targets" in message


def test_validate_ignores_account_state() -> None:
    # deepseek is disabled and qwen has no account today; the combo is still valid.
    validate_combos({"dead": COMBOS["dead"]}, PROVIDERS)


# --- with the shipped catalog ---------------------------------------------------------------


def catalog_view() -> RoutingView:
    providers = tuple(
        ProviderView(p.id, p.alias, p.model_ids, True, True, p.wildcard, p.tier)
        for p in Catalog.load().all()
    )
    return RoutingView(providers, {}, ())


@pytest.mark.parametrize(
    ("model", "first"),
    [
        ("chatgpt-plan/gpt-5.2-codex", "chatgpt/gpt-5.2-codex"),
        ("ccp/claude-sonnet-4-5-20250929", "claude-passthrough/claude-sonnet-4-5-20250929"),
        ("zc/glm-4.7", "zai-coding/glm-4.7"),
        ("ghm/openai/gpt-4.1", "github-models/openai/gpt-4.1"),
        ("gemf/gemini-2.5-pro", "gemini-free/gemini-2.5-pro"),
        ("kimi/kimi-latest", "moonshot/kimi-latest"),
        ("glm/glm-4.7", "zhipu/glm-4.7"),
        ("minimax/MiniMax-M2.1", "minimax/MiniMax-M2.1"),
        ("deepseek/deepseek-chat", "deepseek/deepseek-chat"),
        ("openrouter/meta-llama/llama-3-70b", "openrouter/meta-llama/llama-3-70b"),
        ("claude-sonnet-4-5-20250929", "claude-passthrough/claude-sonnet-4-5-20250929"),
        ("claude-3-5-haiku-latest", "anthropic/claude-3-5-haiku-20241022"),
        ("gpt-5", "chatgpt/gpt-5"),
        ("gemini-2.5-pro", "gemini/gemini-2.5-pro"),
    ],
)
def test_shipped_catalog_routes_the_documented_model_strings(model: str, first: str) -> None:
    assert resolve(model, catalog_view()).targets[0].ref == first
