"""Embeddings: the OpenAI request checked, and the Gemini embed API in
OpenAI's shape (docs: platform.openai.com/docs/api-reference/embeddings,
ai.google.dev/api/embeddings). Pure: no I/O.

An OpenAI request's ``input`` is a string, a list of strings, one list of
token ids or a list of them; Gemini embeds text only, so token ids cannot
go there. ``encoding_format`` ``base64`` asks for each vector as the
base64 of its little-endian float32 values (the official SDKs ask for it
by default and decode it themselves).
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from typing import Any

from omniroute.errors import BadRequest

ENCODINGS = ("float", "base64")
MAX_INPUTS = 2048  # OpenAI's own limit on the number of inputs in one request


@dataclass(frozen=True, slots=True)
class EmbeddingsRequest:
    texts: tuple[str, ...] | None  # None: the input is token ids
    encoding: str
    dimensions: int | None


def read_request(body: dict[str, Any]) -> EmbeddingsRequest:
    """The request's input and options, or a BadRequest naming the field."""
    given = body.get("input")
    texts: tuple[str, ...] | None
    if isinstance(given, str):
        texts = (given,)
    elif isinstance(given, list) and given and all(isinstance(t, str) for t in given):
        texts = tuple(given)
    elif isinstance(given, list) and given and _token_ids(given):
        texts = None
    else:
        raise BadRequest(
            "'input' must be a string, a non-empty list of strings, a list of token ids "
            "or a list of such lists."
        )
    if isinstance(given, list) and len(given) > MAX_INPUTS:
        raise BadRequest(f"'input' may hold at most {MAX_INPUTS} items.")
    encoding = body.get("encoding_format", "float")
    if encoding not in ENCODINGS:
        raise BadRequest("'encoding_format' must be 'float' or 'base64'.")
    dimensions = body.get("dimensions")
    if dimensions is not None and (
        isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
    ):
        raise BadRequest("'dimensions' must be a whole number of at least 1.")
    return EmbeddingsRequest(texts, str(encoding), dimensions)


def _token_ids(given: list[Any]) -> bool:
    def ids(items: Any) -> bool:
        return (
            isinstance(items, list)
            and bool(items)
            and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in items)
        )

    return ids(given) or all(ids(item) for item in given)


def encode_vector(values: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")
    return values


def openai_answer(vectors: list[list[float]], req: EmbeddingsRequest, model: str) -> dict[str, Any]:
    """An OpenAI embeddings answer (usage is added by the caller)."""
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": encode_vector(v, req.encoding)}
            for i, v in enumerate(vectors)
        ],
        "model": model,
    }


# --- Gemini ------------------------------------------------------------------------


def gemini_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    """``:batchEmbedContents``: one request per input text."""
    req = read_request(body)
    if req.texts is None:
        raise BadRequest("Gemini embeds text only; 'input' must be text, not token ids.")
    one: dict[str, Any] = {"model": f"models/{model}"}
    if req.dimensions is not None:
        one["outputDimensionality"] = req.dimensions
    return {"requests": [{**one, "content": {"parts": [{"text": t}]}} for t in req.texts]}


def gemini_answer(answer: Any, body: dict[str, Any], model: str) -> dict[str, Any]:
    """``{"embeddings": [{"values": [...]}]}`` in OpenAI's shape (ValueError
    when the answer is not that)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("embeddings"), list):
        raise ValueError("no 'embeddings' list")
    vectors: list[list[float]] = []
    for item in answer["embeddings"]:
        values = item.get("values") if isinstance(item, dict) else None
        if not isinstance(values, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        ):
            raise ValueError("an embedding without its values")
        vectors.append([float(v) for v in values])
    return openai_answer(vectors, read_request(body), model)
