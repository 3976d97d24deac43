"""VS Code Copilot's ``chatLanguageModels.json`` for this gateway: one
Custom Endpoint group (vendor ``customendpoint``) with a model entry per
served model, each calling the gateway path of the chosen API type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omniroute.errors import BadRequest

# Copilot's API types and the gateway path each one calls.
API_PATHS = {
    "chat-completions": "/v1/chat/completions",
    "responses": "/v1/responses",
    "messages": "/v1/messages",
}


def chat_language_models(
    url: str, models: Sequence[str], *, api: str = "chat-completions", key: str | None = None
) -> list[dict[str, Any]]:
    """The file's content. Without ``key`` VS Code asks for it and keeps it
    in its own secret storage, which is where it prefers keys to live."""
    if api not in API_PATHS:
        raise BadRequest(f"unknown API type {api!r}; known: {', '.join(API_PATHS)}")
    if not models:
        raise BadRequest("no model to offer: the gateway serves none yet, or pass --model")
    group: dict[str, Any] = {"name": "OmniRoute", "vendor": "customendpoint"}
    if key:
        group["apiKey"] = key
    group["apiType"] = api
    group["models"] = [
        {
            "id": m,
            "name": m,
            "url": f"{url}{API_PATHS[api]}",
            "toolCalling": True,
            "vision": False,
            "maxInputTokens": 128000,
            "maxOutputTokens": 16000,
        }
        for m in models
    ]
    return [group]
