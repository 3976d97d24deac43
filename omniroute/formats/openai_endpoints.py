"""The OpenAI endpoints beside chat, as far as the gateway reads them:
the usage each answer reports, and legacy text completions made from and
turned back into chat (docs: platform.openai.com/docs/api-reference/completions).
Pure: no I/O.
"""

from __future__ import annotations

import time
from typing import Any

from omniroute.errors import BadRequest
from omniroute.formats import ir
from omniroute.formats.common import tokens_for_chars

# Completion fields that mean the same in a chat request.
_SHARED_FIELDS = (
    "max_tokens",
    "temperature",
    "top_p",
    "n",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "seed",
    "user",
    "stream",
    "stream_options",
)
# What chat cannot do: asked for, the request goes only to upstreams with the
# completions endpoint itself.
NATIVE_ONLY = ("suffix", "echo", "logprobs", "best_of")


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def answer_usage(answer: Any) -> ir.Usage | None:
    """The usage an answer reports, in any of the shapes these endpoints
    use: OpenAI's ``prompt_tokens``/``completion_tokens`` (or
    ``input_tokens``/``output_tokens``), Jina's ``total_tokens``, Cohere's
    ``meta.billed_units``. None when it reports none."""
    if not isinstance(answer, dict):
        return None
    usage = answer.get("usage")
    if isinstance(usage, dict):
        given = _count(usage.get("prompt_tokens")) or _count(usage.get("input_tokens"))
        out = _count(usage.get("completion_tokens")) or _count(usage.get("output_tokens"))
        if not given and not out:
            given = _count(usage.get("total_tokens"))
        if given or out:
            return ir.Usage(input_tokens=given, output_tokens=out)
    meta = answer.get("meta")
    billed = meta.get("billed_units") if isinstance(meta, dict) else None
    if isinstance(billed, dict) and _count(billed.get("input_tokens")):
        return ir.Usage(input_tokens=_count(billed.get("input_tokens")))
    return None


def text_of(value: Any) -> str:
    """All the text in a request field (a string, or lists of them), to
    estimate its tokens."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(text_of(v) for v in value)
    if isinstance(value, dict):
        return "".join(text_of(v) for v in value.values())
    return ""


def estimated_usage(text: str) -> ir.Usage:
    return ir.Usage(input_tokens=tokens_for_chars(len(text)), estimated=True)


def with_usage(answer: dict[str, Any], usage: ir.Usage) -> dict[str, Any]:
    """An answer that reported no usage, with ours (OpenAI's embeddings shape)."""
    return {
        **answer,
        "usage": {
            "prompt_tokens": usage.input_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens,
        },
    }


# --- legacy completions ------------------------------------------------------------


def read_prompt(body: dict[str, Any]) -> str:
    """The one prompt a chat upstream can take (BadRequest otherwise)."""
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise BadRequest(
            "'prompt' must be a string (a list of prompts or token ids needs an upstream "
            "with the completions endpoint)."
        )
    return prompt


def check_completion(body: dict[str, Any]) -> None:
    prompt = body.get("prompt")
    if not (isinstance(prompt, str) or (isinstance(prompt, list) and prompt)):
        raise BadRequest("'prompt' must be a string, a list of strings or token ids.")


def native_only(body: dict[str, Any]) -> list[str]:
    """Fields in a completions request that a chat upstream cannot honour."""
    found = [name for name in NATIVE_ONLY if body.get(name) not in (None, False, 0, "")]
    prompt = body.get("prompt")
    if not isinstance(prompt, str) and not (
        isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str)
    ):
        found.append("prompt")
    return found


def chat_request(body: dict[str, Any]) -> dict[str, Any]:
    """The chat request that asks what a completions request asks: the prompt
    as one user message."""
    chat: dict[str, Any] = {
        "model": body.get("model"),
        "messages": [{"role": "user", "content": read_prompt(body)}],
    }
    for name in _SHARED_FIELDS:
        if name in body:
            chat[name] = body[name]
    return chat


def completion_answer(chat: dict[str, Any]) -> dict[str, Any]:
    """A chat completion as a text completion."""
    return _as_text_completion(chat, "message")


def completion_chunk(chunk: dict[str, Any]) -> dict[str, Any]:
    """A chat completion chunk as a text completion chunk (the same shape a
    completions stream sends: ``object`` ``text_completion``)."""
    return _as_text_completion(chunk, "delta")


def _as_text_completion(chat: dict[str, Any], part: str) -> dict[str, Any]:
    """``part``: where each choice keeps its text (``message`` in a whole
    answer, ``delta`` in a stream chunk)."""
    choices = [
        {
            "text": (choice.get(part) or {}).get("content") or "",
            "index": choice.get("index", 0),
            "logprobs": None,
            "finish_reason": choice.get("finish_reason"),
        }
        for choice in chat.get("choices") or []
    ]
    out: dict[str, Any] = {
        "id": _completion_id(chat.get("id")),
        "object": "text_completion",
        "created": chat.get("created") or int(time.time()),
        "model": chat.get("model"),
        "choices": choices,
    }
    if chat.get("usage") is not None:
        out["usage"] = chat["usage"]
    return out


def _completion_id(chat_id: Any) -> str:
    text = chat_id if isinstance(chat_id, str) else ""
    return "cmpl-" + text.removeprefix("chatcmpl-") if text else "cmpl-omniroute"


# --- images on Gemini (Imagen's :predict) --------------------------------------------

# OpenAI sizes and the Imagen aspect ratio that draws the same shape.
_ASPECTS = {"1024x1024": "1:1", "1792x1024": "16:9", "1024x1792": "9:16",
            "1536x1024": "3:2", "1024x1536": "2:3"}  # fmt: skip


def imagen_request(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI image generation as Imagen's ``:predict`` request
    (ai.google.dev/gemini-api/docs/imagen). Imagen answers with the image
    bytes only, so ``response_format`` ``url`` cannot be honoured."""
    if body.get("response_format") == "url":
        raise BadRequest("This upstream returns images as data only: ask for 'b64_json'.")
    parameters: dict[str, Any] = {"sampleCount": body.get("n") or 1}
    aspect = _ASPECTS.get(str(body.get("size")))
    if aspect is not None:
        parameters["aspectRatio"] = aspect
    return {"instances": [{"prompt": body.get("prompt")}], "parameters": parameters}


def imagen_answer(answer: Any) -> dict[str, Any]:
    """``{"predictions": [{"bytesBase64Encoded", "mimeType"}]}`` in OpenAI's
    shape (ValueError when the answer is not that)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("predictions"), list):
        raise ValueError("no 'predictions' list")
    data = []
    for item in answer["predictions"]:
        encoded = item.get("bytesBase64Encoded") if isinstance(item, dict) else None
        if not isinstance(encoded, str):
            raise ValueError("a prediction without its image")
        data.append({"b64_json": encoded})
    return {"created": int(time.time()), "data": data}
