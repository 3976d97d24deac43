"""The Responses API as a signed-in ChatGPT plan may use it.

Requests paid by a ChatGPT plan go to the ordinary ``/v1/responses`` with
the sign-in's token, within the preview's limits (developers.openai.com/siwc,
preview-limitations): every request streams and stores nothing, ``input`` is
a list, there are no system-role items, no ``previous_response_id``, and a
set of fields is refused outright. Function tools must come grouped in a
namespace. This family reshapes every request to fit, whatever the client's
format was, so any client can use the plan; a client that asked for a whole
JSON answer gets one assembled from the stream (``stream_only``).
"""

from __future__ import annotations

from typing import Any

from omniroute.providers.family import PROBE_TEXT, ModelPage, listing_object
from omniroute.providers.responses import ResponsesFamily

# Fields a plan-paid request may not carry.
REFUSED_FIELDS = (
    "background",
    "conversation",
    "max_output_tokens",
    "max_tool_calls",
    "metadata",
    "moderation",
    "multi_agent",
    "prompt",
    "prompt_cache_retention",
    "safety_identifier",
    "temperature",
    "top_logprobs",
    "top_p",
    "truncation",
    "user",
    "previous_response_id",
    "service_tier",
)
TOOL_NAMESPACE = "functions"
_GROUPED = ("function", "custom")


class ChatGPTPlanFamily(ResponsesFamily):
    stream_only = True

    def finish(self, body: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in body.items() if k not in REFUSED_FIELDS}
        out["store"] = False
        out["stream"] = True
        items = out.get("input")
        if isinstance(items, str):
            items = [{"role": "user", "content": items}]
        if isinstance(items, list):
            out["input"] = [_no_system(item) for item in items]
        tools = out.get("tools")
        if isinstance(tools, list):
            out["tools"] = _grouped(tools)
        return out

    def parse_models(self, body: bytes) -> ModelPage:
        """``{"models": [{"slug", "display_name", "visibility"}]}``: the
        models meant to be shown (``visibility: list``), in the server's order."""
        data = listing_object(body)
        ids = [
            str(m["slug"])
            for m in data.get("models") or []
            if isinstance(m, dict)
            and isinstance(m.get("slug"), str)
            and m.get("visibility", "list") == "list"
        ]
        if not ids:  # an API-key style listing
            return super().parse_models(body)
        return ModelPage(tuple(ids), {})

    def probe_body(self, model: str) -> dict[str, Any]:
        return self.finish({"model": model, "input": PROBE_TEXT})


def _no_system(item: Any) -> Any:
    """A system message becomes a developer message, which is allowed."""
    if isinstance(item, dict) and item.get("role") == "system":
        return {**item, "role": "developer"}
    return item


def _grouped(tools: list[Any]) -> list[Any]:
    loose = [t for t in tools if isinstance(t, dict) and t.get("type") in _GROUPED]
    if not loose:
        return tools
    rest = [t for t in tools if not (isinstance(t, dict) and t.get("type") in _GROUPED)]
    namespace = {
        "type": "namespace",
        "name": TOOL_NAMESPACE,
        "description": "The tools the client offers.",
        "tools": loose,
    }
    return [namespace, *rest]
