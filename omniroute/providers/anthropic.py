"""Anthropic Messages (``{base}/messages``; docs: docs.anthropic.com/en/api)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omniroute.providers.family import BaseFamily, ModelPage, Operation, listing_object

# Sent when the client named no version (docs: "Versions").
ANTHROPIC_VERSION = "2023-06-01"
# What count_tokens accepts of a Messages request.
_COUNT_FIELDS = ("model", "messages", "system", "tools")
# The beta flag of a Claude subscription's sign-in: it goes with a bearer
# token only. Claude Code sends it on every request, and a request of its
# that falls back to an API key must not carry it there (Anthropic checks
# beta names against what the credential may use).
OAUTH_BETA = "oauth-2025-04-20"


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

    def headers(
        self,
        api_key: str,
        *,
        stream: bool,
        auth_header: str | None,
        extra: Mapping[str, str],
        client_headers: Mapping[str, str],
    ) -> list[tuple[str, str]]:
        sent = super().headers(
            api_key,
            stream=stream,
            auth_header=auth_header,
            extra=extra,
            client_headers=client_headers,
        )
        if not any(name == "x-api-key" for name, _ in sent):
            return sent
        kept: list[tuple[str, str]] = []
        for name, value in sent:
            if name == "anthropic-beta":
                value = ",".join(
                    b for b in (p.strip() for p in value.split(",")) if b and b != OAUTH_BETA
                )
                if not value:
                    continue
            kept.append((name, value))
        return kept

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
