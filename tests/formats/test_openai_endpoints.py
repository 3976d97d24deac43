"""The shapes of the endpoints beside chat: usage in each provider's shape,
completions made from and turned back into chat, embeddings checked and
translated for Gemini, Imagen's answers."""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest

from omniroute.errors import BadRequest
from omniroute.formats import embeddings, ir
from omniroute.formats.openai_endpoints import (
    answer_usage,
    chat_request,
    completion_answer,
    completion_chunk,
    imagen_answer,
    imagen_request,
    native_only,
)


@pytest.mark.parametrize(
    ("answer", "usage"),
    [
        ({"usage": {"prompt_tokens": 3, "total_tokens": 3}}, ir.Usage(3, 0)),
        ({"usage": {"prompt_tokens": 3, "completion_tokens": 2}}, ir.Usage(3, 2)),
        ({"usage": {"input_tokens": 5, "output_tokens": 1}}, ir.Usage(5, 1)),
        ({"usage": {"total_tokens": 12}}, ir.Usage(12, 0)),  # Jina's rerank
        ({"meta": {"billed_units": {"input_tokens": 7}}}, ir.Usage(7, 0)),  # Cohere's
        ({"usage": {"prompt_tokens": True}}, None),
        ({"results": []}, None),
        ([1, 2], None),
    ],
)
def test_usage_in_each_shape(answer: Any, usage: ir.Usage | None) -> None:
    assert answer_usage(answer) == usage


def test_a_completion_becomes_one_user_message_and_back() -> None:
    body = {"model": "m", "prompt": ["Say hi"], "max_tokens": 5, "stop": "\n", "stream": True}
    assert chat_request(body) == {
        "model": "m",
        "messages": [{"role": "user", "content": "Say hi"}],
        "max_tokens": 5,
        "stop": "\n",
        "stream": True,
    }
    chat = {
        "id": "chatcmpl-abc",
        "created": 7,
        "model": "m",
        "choices": [{"index": 0, "message": {"content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3},
    }
    assert completion_answer(chat) == {
        "id": "cmpl-abc",
        "object": "text_completion",
        "created": 7,
        "model": "m",
        "choices": [{"text": "hi", "index": 0, "logprobs": None, "finish_reason": "stop"}],
        "usage": chat["usage"],
    }
    delta = {"index": 0, "delta": {"content": "h"}, "finish_reason": None}
    chunk = {"id": "chatcmpl-abc", "created": 7, "model": "m", "choices": [delta]}
    assert completion_chunk(chunk)["choices"] == [
        {"text": "h", "index": 0, "logprobs": None, "finish_reason": None}
    ]


@pytest.mark.parametrize(
    ("body", "needs"),
    [
        ({"prompt": "a"}, []),
        ({"prompt": ["a"]}, []),
        ({"prompt": "a", "suffix": "b"}, ["suffix"]),
        ({"prompt": "a", "echo": True, "logprobs": 2}, ["echo", "logprobs"]),
        ({"prompt": "a", "echo": False, "logprobs": None}, []),
        ({"prompt": ["a", "b"]}, ["prompt"]),
        ({"prompt": [1, 2, 3]}, ["prompt"]),
    ],
)
def test_what_only_the_completions_endpoint_can_do(body: dict[str, Any], needs: list[str]) -> None:
    assert native_only(body) == needs


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"input": ""},  # fine: a string
        {"input": []},
        {"input": [1, "a"]},
        {"input": [[1], ["a"]]},
        {"input": "a", "encoding_format": "hex"},
        {"input": "a", "dimensions": 0},
        {"input": "a", "dimensions": True},
        {"input": ["a"] * (embeddings.MAX_INPUTS + 1)},
    ],
)
def test_embeddings_requests_are_checked(body: dict[str, Any]) -> None:
    if body.get("input") == "":
        assert embeddings.read_request(body).texts == ("",)
        return
    with pytest.raises(BadRequest):
        embeddings.read_request(body)


def test_token_ids_are_accepted_but_cannot_go_to_gemini() -> None:
    assert embeddings.read_request({"input": [[1, 2], [3]]}).texts is None
    assert embeddings.read_request({"input": [1, 2]}).texts is None
    with pytest.raises(BadRequest, match="text only"):
        embeddings.gemini_request({"input": [1, 2]}, "e")


def test_gemini_embeddings_in_openai_shape_as_floats_or_base64() -> None:
    answer = {"embeddings": [{"values": [0.5, -1]}]}
    plain = embeddings.gemini_answer(answer, {"input": "a"}, "e")
    assert plain["data"] == [{"object": "embedding", "index": 0, "embedding": [0.5, -1.0]}]
    packed = embeddings.gemini_answer(answer, {"input": "a", "encoding_format": "base64"}, "e")
    raw = base64.b64decode(packed["data"][0]["embedding"])
    assert struct.unpack("<2f", raw) == (0.5, -1.0)
    with pytest.raises(ValueError):
        embeddings.gemini_answer({"embeddings": [{"values": ["x"]}]}, {"input": "a"}, "e")


def test_imagen_request_and_answer() -> None:
    assert imagen_request({"prompt": "cat", "n": 2, "size": "1024x1024"}) == {
        "instances": [{"prompt": "cat"}],
        "parameters": {"sampleCount": 2, "aspectRatio": "1:1"},
    }
    with pytest.raises(BadRequest):
        imagen_request({"prompt": "cat", "response_format": "url"})
    answer = imagen_answer({"predictions": [{"bytesBase64Encoded": "QUJD"}]})
    assert answer["data"] == [{"b64_json": "QUJD"}]
    with pytest.raises(ValueError):
        imagen_answer({"predictions": [{}]})
