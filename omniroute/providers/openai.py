"""OpenAI Chat Completions and every server compatible with it
(``{base}/chat/completions``; docs: platform.openai.com/docs/api-reference/chat)."""

from __future__ import annotations

import re

from omniroute.providers.family import BaseFamily, Capabilities, Operation

# OpenAI chat models without reasoning refuse a request that carries
# ``reasoning_effort`` (400), so thinking asked for by a client of another
# format (Claude Code's thinking budget, say) is not passed to them.
_NO_REASONING = re.compile(r"chatgpt-4o|gpt-(?:4o|4\.1|4-|4$|3\.5)", re.IGNORECASE)


def reasons(model: str) -> bool:
    """False for the OpenAI model families known to have no reasoning."""
    return _NO_REASONING.match(model.rsplit("/", 1)[-1]) is None


class OpenAIChatFamily(BaseFamily):
    wire = "openai"

    def url(self, operation: Operation, base_url: str, model: str, *, stream: bool) -> str | None:
        if operation is Operation.CHAT:
            return base_url.rstrip("/") + "/chat/completions"
        return None

    def capabilities(self, model: str) -> Capabilities:
        return Capabilities(reasoning=reasons(model))
