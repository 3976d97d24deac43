"""The OpenAI Responses API (``{base}/responses``;
docs: platform.openai.com/docs/api-reference/responses)."""

from __future__ import annotations

from typing import Any

from omniroute.providers.family import PROBE_TEXT, Operation
from omniroute.providers.openai import OpenAIChatFamily


class ResponsesFamily(OpenAIChatFamily):
    wire = "openai-responses"
    operations = frozenset({Operation.CHAT})

    def url(self, operation: Operation, base_url: str, model: str, *, stream: bool) -> str | None:
        if operation is Operation.CHAT:
            return base_url.rstrip("/") + "/responses"
        return None

    def probe_body(self, model: str) -> dict[str, Any]:
        # The Responses API refuses max_output_tokens below 16.
        return {"model": model, "input": PROBE_TEXT, "max_output_tokens": 16}
