"""Which targets a client key's scope lets a request use."""

from __future__ import annotations

import pytest

from omniroute.errors import Forbidden
from omniroute.gateway.scope import permitted, target_check
from omniroute.routing.model import Target
from omniroute.routing.resolve import Resolution
from omniroute.store.key_scope import KeyScope

OPENAI = Target("openai", "gpt-4o")
ANTHROPIC = Target("anthropic", "claude-sonnet-4-5")
IN_COMBO = Target("openai", "gpt-4o-mini", combo="cheap", step=0)


def allowed(scope: KeyScope, requested: str, target: Target) -> bool:
    return target_check(scope, requested)(target)


def test_an_unrestricted_scope_allows_everything() -> None:
    for target in (OPENAI, ANTHROPIC, IN_COMBO):
        assert allowed(KeyScope(rpm=5), "anything", target)


@pytest.mark.parametrize(
    ("pattern", "requested", "target", "ok"),
    [
        ("openai/*", "openai/gpt-4o", OPENAI, True),
        ("openai/*", "gpt-4o", OPENAI, True),  # a bare id that resolved to openai
        ("openai/*", "my-alias", OPENAI, True),  # an alias that points there
        ("openai/*", "claude-sonnet-4-5", ANTHROPIC, False),
        ("OPENAI/GPT-4O", "gpt-4o", OPENAI, True),  # case is ignored
        ("gpt-4o", "gpt-4o", OPENAI, True),  # the name the client sent
        ("gpt-4o", "gpt-4o", ANTHROPIC, True),  # ... wherever it is routed
        ("gpt-4o", "gpt-4", OPENAI, False),  # no prefix match without a *
        ("my-alias", "my-alias", ANTHROPIC, True),
        ("cheap", "cheap", IN_COMBO, True),  # a combo by its name
        ("cheap", "outer", IN_COMBO, True),  # ... also when nested in another
        ("cheap", "outer", OPENAI, False),
        ("*", "whatever", ANTHROPIC, True),
    ],
)
def test_models_match_the_request_or_what_it_resolved_to(
    pattern: str, requested: str, target: Target, ok: bool
) -> None:
    assert allowed(KeyScope(models=(pattern,)), requested, target) is ok


def test_providers_limit_every_target_even_one_granted_by_name() -> None:
    scope = KeyScope(models=("cheap",), providers=("Anthropic",))
    assert not allowed(scope, "cheap", IN_COMBO)
    assert allowed(KeyScope(providers=("Anthropic",)), "x", ANTHROPIC)
    assert not allowed(KeyScope(providers=("anthropic",)), "gpt-4o", OPENAI)


def test_a_request_with_no_permitted_target_is_refused() -> None:
    resolution = Resolution("cheap", (ANTHROPIC, IN_COMBO))
    check = permitted(KeyScope(providers=("openai",)), "cheap", resolution)
    assert [t for t in resolution.targets if check(t)] == [IN_COMBO]
    with pytest.raises(Forbidden, match="may not use model 'cheap'"):
        permitted(KeyScope(models=("openai/*",)), "cheap", Resolution("cheap", (ANTHROPIC,)))
