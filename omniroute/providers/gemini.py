"""Gemini ``generateContent`` (``{base}/models/{model}:…``;
docs: ai.google.dev/api/generate-content). The model is part of the URL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from omniroute.formats import embeddings, openai_endpoints
from omniroute.providers.family import (
    PROBE_TEXT,
    BaseFamily,
    ModelPage,
    Operation,
    listing_object,
)


class GeminiFamily(BaseFamily):
    wire = "gemini"
    operations = frozenset(
        {Operation.CHAT, Operation.COUNT_TOKENS, Operation.EMBEDDINGS, Operation.IMAGES}
    )
    default_auth_header = "x-goog-api-key"
    # Gemini takes inline data or a file it stores, not a web address.
    inline_image_urls = True

    def url(self, operation: Operation, base_url: str, model: str, *, stream: bool) -> str | None:
        where = f"{base_url.rstrip('/')}/models/{quote(model, safe='/-._~')}"
        if operation is Operation.CHAT:
            return where + (":streamGenerateContent?alt=sse" if stream else ":generateContent")
        if operation is Operation.COUNT_TOKENS:
            return where + ":countTokens"
        if operation is Operation.EMBEDDINGS:
            # One call for one text or many (ai.google.dev/api/embeddings).
            return where + ":batchEmbedContents"
        if operation is Operation.IMAGES:
            return where + ":predict"  # Imagen models
        return None

    def operation_body(
        self, operation: Operation, body: dict[str, Any], model: str
    ) -> dict[str, Any]:
        if operation is Operation.EMBEDDINGS:
            return embeddings.gemini_request(body, model)
        if operation is Operation.IMAGES:
            return openai_endpoints.imagen_request(body)
        return super().operation_body(operation, body, model)

    def operation_answer(
        self, operation: Operation, answer: Any, body: dict[str, Any], model: str
    ) -> Any:
        if operation is Operation.EMBEDDINGS:
            return embeddings.gemini_answer(answer, body, model)
        if operation is Operation.IMAGES:
            return openai_endpoints.imagen_answer(answer)
        return answer

    def passthrough_body(self, body: dict[str, Any], model: str) -> dict[str, Any]:
        return body  # the URL names the model

    def count_body(self, rendered: dict[str, Any]) -> dict[str, Any]:
        return {"contents": rendered.get("contents", [])}

    def first_models_query(self) -> Mapping[str, str]:
        return {"pageSize": "1000"}

    def parse_models(self, body: bytes) -> ModelPage:
        """``{"models": [{"name": "models/…"}], "nextPageToken"}``; only models
        that generate content (ai.google.dev/api/models#method:-models.list)."""
        data = listing_object(body)
        ids = tuple(
            str(m["name"]).removeprefix("models/")
            for m in data.get("models") or []
            if isinstance(m, dict)
            and isinstance(m.get("name"), str)
            and "generateContent" in m.get("supportedGenerationMethods", ["generateContent"])
        )
        token = data.get("nextPageToken")
        return ModelPage(ids, {"pageSize": "1000", "pageToken": token} if token else {})

    def probe_body(self, model: str) -> dict[str, Any]:
        return {
            "contents": [{"role": "user", "parts": [{"text": PROBE_TEXT}]}],
            "generationConfig": {"maxOutputTokens": 1},
        }
