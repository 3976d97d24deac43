"""Providers: the built-in catalog (data) and one small object per provider
family that owns what differs between upstreams.

    catalog     the catalog entries (``catalog.json``), read and checked
    family      the ProviderFamily protocol, operations, failure meanings
    openai      OpenAI Chat Completions and compatible servers
    responses   the OpenAI Responses API
    anthropic   Anthropic Messages
    gemini      Gemini generateContent
    chatgpt     the Responses API paid by a signed-in ChatGPT plan
    oauth       sign-ins and their tokens
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

from omniroute.providers.anthropic import AnthropicFamily
from omniroute.providers.chatgpt import ChatGPTPlanFamily
from omniroute.providers.family import CAPABILITIES, ProviderFamily, capabilities_of
from omniroute.providers.gemini import GeminiFamily
from omniroute.providers.openai import OpenAIChatFamily
from omniroute.providers.responses import ResponsesFamily

_FAMILIES: MappingProxyType[str, ProviderFamily] = MappingProxyType(
    {
        "openai": OpenAIChatFamily(),
        "openai-responses": ResponsesFamily(),
        "anthropic": AnthropicFamily(),
        "gemini": GeminiFamily(),
    }
)
# Provider-private variants of a format, named by a catalog entry's ``dialect``.
_DIALECTS: MappingProxyType[str, ProviderFamily] = MappingProxyType(
    {"chatgpt-plan": ChatGPTPlanFamily()}
)
DIALECTS = frozenset(_DIALECTS)


def served_capabilities(
    wire_format: str, declared: Sequence[str] | None, own: Sequence[str] | None
) -> tuple[str, ...]:
    """What a provider serves: its own choice (``--capabilities``), else
    what its catalog entry declares, else everything its wire format can
    carry (a custom OpenAI-compatible server may serve any operation);
    never more than the format can carry."""
    possible = capabilities_of(family_for(wire_format).operations)
    chosen = own if own is not None else declared
    return tuple(c for c in CAPABILITIES if c in possible and (chosen is None or c in chosen))


def family_for(wire_format: str, dialect: str | None = None) -> ProviderFamily:
    """The family of upstreams speaking ``wire_format`` (in ``dialect``)."""
    if dialect is not None and dialect in _DIALECTS:
        return _DIALECTS[dialect]
    try:
        return _FAMILIES[wire_format]
    except KeyError:
        raise ValueError(f"unknown wire format {wire_format!r}") from None


__all__ = ["ProviderFamily", "family_for", "served_capabilities"]
