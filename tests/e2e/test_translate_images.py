"""Images: a base64 image and an image URL, sent in each client's own
shape, reach each upstream in that upstream's own shape.

Shapes, from each API reference: OpenAI Chat ``image_url`` parts (a data URL
for inline bytes); Responses ``input_image`` with ``image_url``; Anthropic
``image`` blocks with a ``base64`` or ``url`` source; Gemini ``inlineData``
and ``fileData`` parts. Base64 must be the standard alphabet wherever the
upstream expects it (the Gemini SDK itself sends the url-safe one).
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from google.genai import types as gtypes

from tests.e2e.conftest import (
    CLIENTS,
    FORMATS,
    IMAGE_URL,
    PNG,
    PNG_B64,
    TEXT,
    Env,
    Upstream,
    anthropic_call,
    b64_bytes,
    chat_call,
    gemini_call,
    responses_call,
    upstream_reply,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

QUESTION = "What is in these two pictures?"
DATA_URL = f"data:image/png;base64,{PNG_B64}"
CASES = [pytest.param(c, f, id=f"{c}-{f}") for c in CLIENTS for f in FORMATS]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


async def _send(env: Env, client: str, up: Upstream) -> str:
    model = up.model_string
    if client == "openai":
        content: list[dict[str, Any]] = [
            {"type": "text", "text": QUESTION},
            {"type": "image_url", "image_url": {"url": DATA_URL}},
            {"type": "image_url", "image_url": {"url": IMAGE_URL}},
        ]
        out = await chat_call(env, model, False, [{"role": "user", "content": content}])
    elif client == "responses":
        content = [
            {"type": "input_text", "text": QUESTION},
            {"type": "input_image", "image_url": DATA_URL, "detail": "auto"},
            {"type": "input_image", "image_url": IMAGE_URL, "detail": "auto"},
        ]
        out = await responses_call(
            env, model, False, [{"type": "message", "role": "user", "content": content}]
        )
    elif client == "anthropic":
        content = [
            {"type": "text", "text": QUESTION},
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
            },
            {"type": "image", "source": {"type": "url", "url": IMAGE_URL}},
        ]
        out = await anthropic_call(env, model, False, [{"role": "user", "content": content}])
    else:
        parts = [
            gtypes.Part(text=QUESTION),
            gtypes.Part.from_bytes(data=PNG, mime_type="image/png"),
            gtypes.Part.from_uri(file_uri=IMAGE_URL, mime_type="image/png"),
        ]
        out = await gemini_call(env, model, False, [gtypes.Content(role="user", parts=parts)])
    return out.text


def _standard_b64(data: str) -> bytes:
    """Decode strictly: a url-safe alphabet or stray characters fail here."""
    return base64.b64decode(data, validate=True)


def _data_url_bytes(url: str) -> bytes:
    head, _, data = url.partition(",")
    assert head == "data:image/png;base64", head
    return _standard_b64(data)


@pytest.mark.parametrize(("client", "fmt"), CASES)
async def test_base64_and_url_images_reach_upstream_in_its_shape(
    env: Env, client: str, fmt: str
) -> None:
    up = env.upstreams[fmt]
    env.serve(up, False, upstream_reply(up, False))
    assert await _send(env, client, up) == TEXT
    body = env.last_request(up).json()

    if fmt == "openai":
        parts = body["messages"][-1]["content"]
        assert parts[0] == {"type": "text", "text": QUESTION}
        urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
        assert len(urls) == 2
        assert _data_url_bytes(urls[0]) == PNG
        assert urls[1] == IMAGE_URL
    elif fmt == "openai-responses":
        item = body["input"][-1]
        parts = item["content"]
        assert {"type": "input_text", "text": QUESTION}.items() <= parts[0].items()
        urls = [p["image_url"] for p in parts if p["type"] == "input_image"]
        assert len(urls) == 2
        assert _data_url_bytes(urls[0]) == PNG
        assert urls[1] == IMAGE_URL
    elif fmt == "anthropic":
        blocks = body["messages"][-1]["content"]
        assert blocks[0]["type"] == "text" and blocks[0]["text"] == QUESTION
        sources = [b["source"] for b in blocks if b["type"] == "image"]
        assert len(sources) == 2
        assert sources[0]["type"] == "base64" and sources[0]["media_type"] == "image/png"
        assert _standard_b64(sources[0]["data"]) == PNG
        assert sources[1] == {"type": "url", "url": IMAGE_URL}
    else:
        parts = body["contents"][-1]["parts"]
        assert parts[0] == {"text": QUESTION}
        inline = [p.get("inlineData") or p.get("inline_data") for p in parts]
        files = [p.get("fileData") or p.get("file_data") for p in parts]
        (blob,) = [b for b in inline if b]
        assert (blob.get("mimeType") or blob.get("mime_type")) == "image/png"
        assert b64_bytes(blob["data"]) == PNG
        (ref,) = [f for f in files if f]
        assert (ref.get("fileUri") or ref.get("file_uri")) == IMAGE_URL
