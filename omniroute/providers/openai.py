"""OpenAI Chat Completions and every server compatible with it
(``{base}/chat/completions``; docs: platform.openai.com/docs/api-reference/chat)."""

from __future__ import annotations

import re
from types import MappingProxyType

from omniroute.providers.family import BaseFamily, Capabilities, Operation

# OpenAI chat models without reasoning refuse a request that carries
# ``reasoning_effort`` (400), so thinking asked for by a client of another
# format (Claude Code's thinking budget, say) is not passed to them.
_NO_REASONING = re.compile(r"chatgpt-4o|gpt-(?:4o|4\.1|4-|4$|3\.5)", re.IGNORECASE)


def reasons(model: str) -> bool:
    """False for the OpenAI model families known to have no reasoning."""
    return _NO_REASONING.match(model.rsplit("/", 1)[-1]) is None


# Where each operation goes under an OpenAI-compatible base URL (OpenAI's
# API reference; vLLM, Jina and llama.cpp serve rerank at ``/rerank``).
_PATHS = MappingProxyType(
    {
        Operation.CHAT: "/chat/completions",
        Operation.COMPLETIONS: "/completions",
        Operation.EMBEDDINGS: "/embeddings",
        Operation.MODERATION: "/moderations",
        Operation.RERANK: "/rerank",
        Operation.SPEECH: "/audio/speech",
        Operation.TRANSCRIPTION: "/audio/transcriptions",
        Operation.TRANSLATION: "/audio/translations",
        Operation.IMAGES: "/images/generations",
        Operation.IMAGE_EDITS: "/images/edits",
    }
)


class OpenAIChatFamily(BaseFamily):
    wire = "openai"
    # Compatible servers differ in what they serve; a provider narrows this
    # with its capabilities (the catalog's, or the user's ``--capabilities``).
    operations = frozenset(_PATHS)

    def url(self, operation: Operation, base_url: str, model: str, *, stream: bool) -> str | None:
        path = _PATHS.get(operation)
        return None if path is None else base_url.rstrip("/") + path

    def capabilities(self, model: str) -> Capabilities:
        return Capabilities(reasoning=reasons(model))
