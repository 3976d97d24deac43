"""Usage for pass-through answers whose upstream reported none (B-08).

The pass-through lane forwards the upstream's own bytes. When those carry no
token counts, the client still gets numbers (our estimate) in its format's
own place for them, and nothing else changes:

    openai            JSON: "usage"; stream: a usage chunk (choices: []) just
                      before "data: [DONE]", when the client asked for usage
    openai-responses  JSON: "usage"; stream: the usage of response.completed
    anthropic         JSON: "usage" (its streams always carry usage)
    gemini            JSON: "usageMetadata"; stream: a last chunk holding it
"""

from __future__ import annotations

import json
import time
from typing import Any

from omniroute.formats import ir
from omniroute.formats.common import dump_json
from omniroute.formats.sse import SSEEvent, encode_sse
from omniroute.gateway.dialects import format_module

_JSON_FIELD = {
    "openai": "usage",
    "openai-responses": "usage",
    "anthropic": "usage",
    "gemini": "usageMetadata",
}


def patch_json(fmt: str, answer: dict[str, Any], usage: ir.Usage) -> dict[str, Any]:
    """The answer with ``usage`` in its format's usage field."""
    return {**answer, _JSON_FIELD[fmt]: format_module(fmt).render_usage(usage)}


def before_event(
    fmt: str, event: SSEEvent, usage: ir.Usage, answer_id: str, model: str, include_usage: bool
) -> bytes | None:
    """Bytes to send instead of (or before) ``event`` when it is the point
    where the usage belongs; None to send the event unchanged."""
    if fmt == "openai" and event.data.strip() == "[DONE]" and include_usage:
        chunk = {
            "id": answer_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [],
            "usage": format_module(fmt).render_usage(usage),
        }
        return encode_sse(dump_json(chunk)) + encode_sse("[DONE]")
    if fmt == "openai-responses" and event.event == "response.completed":
        try:
            obj = json.loads(event.data)
        except ValueError:
            return None
        response = obj.get("response")
        if isinstance(response, dict) and not response.get("usage"):
            response["usage"] = format_module(fmt).render_usage(usage)
            return encode_sse(dump_json(obj), event.event)
    return None


def trailer(fmt: str, usage: ir.Usage, model: str) -> bytes:
    """A last event carrying the usage, for formats that allow one."""
    if fmt == "gemini":
        return encode_sse(
            dump_json(
                {"usageMetadata": format_module(fmt).render_usage(usage), "modelVersion": model}
            )
        )
    return b""
