"""Anthropic Messages (``{base}/messages``; docs: docs.anthropic.com/en/api)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omniroute.providers.family import BaseFamily, ModelPage, Operation, listing_object

# Sent when the client named no version (docs: "Versions").
ANTHROPIC_VERSION = "2023-06-01"
# What count_tokens accepts of a Messages request.
_COUNT_FIELDS = ("model", "messages", "system", "tools")


class AnthropicFamily(BaseFamily):
    wire = "anthropic"
    operations = frozenset({Operation.CHAT, Operation.COUNT_TOKENS})
    default_auth_header = "x-api-key"

    def url(self, operation: Operation, base_url: str, model: str, *, stream: bool) -> str | None:
        base = base_url.rstrip("/")
        if operation is Operation.CHAT:
            return base + "/messages"
        if operation is Operation.COUNT_TOKENS:
            return base + "/messages/count_tokens"
        return None

    def default_headers(self) -> Mapping[str, str]:
        return {"anthropic-version": ANTHROPIC_VERSION}

    def forwarded(self) -> tuple[str, ...]:
        # The client's API version and beta features describe its request.
        return ("anthropic-version", "anthropic-beta")

    def count_body(self, rendered: dict[str, Any]) -> dict[str, Any]:
        return {k: rendered[k] for k in _COUNT_FIELDS if k in rendered}

    def first_models_query(self) -> Mapping[str, str]:
        return {"limit": "1000"}

    def parse_models(self, body: bytes) -> ModelPage:
        """``{"data": [{"id"}], "has_more", "last_id"}``, paged by ``after_id``
        (docs.anthropic.com/en/api/models-list)."""
        page = super().parse_models(body)
        data = listing_object(body)
        last = data.get("last_id")
        if data.get("has_more") and isinstance(last, str):
            return ModelPage(page.ids, {"limit": "1000", "after_id": last})
        return page
