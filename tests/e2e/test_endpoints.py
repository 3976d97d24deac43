"""End to end: the official openai SDK -> the real gateway -> mock upstreams,
for the endpoints beside chat: embeddings (OpenAI-compatible and Gemini),
moderations, rerank, legacy completions (native and through chat), speech,
transcriptions, translations, image generation and edits."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from omniroute.api.admin.manage import API_NAMING
from omniroute.config.providers import ProviderChange, change_provider
from omniroute.store.records import ComboTargetRecord, RequestLogRow
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import (
    Json,
    MockUpstream,
    RecordedRequest,
    Sse,
    Status,
    anthropic_json,
    anthropic_sse,
    openai_chat_json,
    openai_chat_sse,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

KEY = "sk-upstream-endpoints-0123456789abcdef"
GEMINI_KEY = "AIza-endpoints-0123456789abcdef"


@pytest.fixture
async def gw(tmp_path: Path, mock: MockUpstream) -> AsyncIterator[Harness]:
    async with running_gateway(tmp_path, upstream_first_byte_timeout=5.0) as harness:
        # A custom OpenAI-compatible server serves every operation.
        await harness.add_provider("oc", "openai", mock.url + "/oc/v1", KEY, ["m"])
        await harness.add_provider("gem", "gemini", mock.url + "/gem/v1beta", GEMINI_KEY, ["e"])
        await harness.add_provider("ant", "anthropic", mock.url + "/ant/v1", KEY, ["claude-x"])
        yield harness


def sdk(gw: Harness) -> openai.AsyncOpenAI:
    return gw.track(
        openai.AsyncOpenAI(
            base_url=gw.base_url + "/v1", api_key=gw.client_key, max_retries=0, timeout=15
        )
    )


def floats(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


async def rows(gw: Harness) -> list[RequestLogRow]:
    await gw.gateway.store.flush_logs()
    return list(reversed(await gw.gateway.store.recent_requests(100)))


def form_fields(req: RecordedRequest) -> dict[str, bytes]:
    """The parts of a multipart request the mock received, by name."""
    boundary = req.headers["content-type"].split("boundary=", 1)[1].strip('"')
    found: dict[str, bytes] = {}
    for chunk in req.body.split(b"--" + boundary.encode())[1:-1]:
        head, _, content = chunk[2:].partition(b"\r\n\r\n")
        name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
        found[name] = content[:-2]
    return found


# -- embeddings ---------------------------------------------------------------------


async def test_embeddings_pass_through_with_usage(gw: Harness, mock: MockUpstream) -> None:
    mock.route(
        "POST",
        "/oc/v1/embeddings",
        Json(
            {
                "object": "list",
                "data": [{"object": "embedding", "index": 0, "embedding": floats([0.5, -1.0])}],
                "model": "m",
                "usage": {"prompt_tokens": 3, "total_tokens": 3},
            }
        ),
    )
    resp = await sdk(gw).embeddings.create(model="oc/m", input="hello there")
    assert resp.data[0].embedding == [0.5, -1.0]  # the SDK asks for base64 and decodes it
    assert resp.usage.prompt_tokens == 3
    sent = mock.requests[-1].json()
    assert sent["model"] == "m" and sent["input"] == "hello there"
    assert sent["encoding_format"] == "base64"
    row = (await rows(gw))[-1]
    assert (row.operation, row.status, row.provider, row.input_tokens) == (
        "embeddings",
        200,
        "oc",
        3,
    )


@pytest.mark.parametrize("encoding", ["float", "base64"])
async def test_embeddings_translated_to_gemini(
    gw: Harness, mock: MockUpstream, encoding: str
) -> None:
    mock.route(
        "POST",
        "/gem/v1beta/models/e:batchEmbedContents",
        Json({"embeddings": [{"values": [0.25, 0.5]}, {"values": [1.0, -2.0]}]}),
    )
    resp = await sdk(gw).embeddings.create(
        model="gem/e",
        input=["one", "two"],
        dimensions=2,
        encoding_format=encoding,  # type: ignore[arg-type]
    )
    vectors = [
        list(struct.unpack("<2f", base64.b64decode(d.embedding)))  # type: ignore[arg-type]
        if encoding == "base64"
        else d.embedding
        for d in resp.data
    ]
    assert vectors == [[0.25, 0.5], [1.0, -2.0]]
    assert [d.index for d in resp.data] == [0, 1]
    assert resp.usage.prompt_tokens > 0  # Gemini reports none: ours, estimated
    sent = mock.requests[-1]
    assert sent.headers["x-goog-api-key"] == GEMINI_KEY
    assert sent.json() == {
        "requests": [
            {"model": "models/e", "outputDimensionality": 2, "content": {"parts": [{"text": t}]}}
            for t in ("one", "two")
        ]
    }
    row = (await rows(gw))[-1]
    assert row.usage_estimated and row.operation == "embeddings"


async def test_bad_embeddings_input_is_a_400_in_openai_shape(gw: Harness) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk(gw).embeddings.create(model="oc/m", input=[])
    assert "'input'" in caught.value.message
    with pytest.raises(openai.BadRequestError):
        await sdk(gw).embeddings.create(model="oc/m", input="x", encoding_format="hex")  # type: ignore[arg-type]


# -- moderations and rerank -----------------------------------------------------------


async def test_moderations(gw: Harness, mock: MockUpstream) -> None:
    answer = {
        "id": "modr-1",
        "model": "omni-moderation-latest",
        "results": [{"flagged": False, "categories": {}, "category_scores": {}}],
    }
    mock.route("POST", "/oc/v1/moderations", Json(answer))
    resp = await sdk(gw).moderations.create(model="oc/mod", input="hello")
    assert resp.results[0].flagged is False
    assert mock.requests[-1].json() == {"model": "mod", "input": "hello"}


async def test_rerank_in_cohere_and_jina_shape(gw: Harness, mock: MockUpstream) -> None:
    answer = {
        "results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.1}],
        "usage": {"total_tokens": 12},
    }
    mock.route("POST", "/oc/v1/rerank", Json(answer))
    body = {"model": "oc/r", "query": "q", "documents": ["a", "b"], "top_n": 2}
    got = await sdk(gw).post("/rerank", body=body, cast_to=httpx.Response)
    assert got.json()["results"][0] == {"index": 1, "relevance_score": 0.9}
    assert mock.requests[-1].json() == {**body, "model": "r"}
    row = (await rows(gw))[-1]
    assert (row.operation, row.input_tokens) == ("rerank", 12)
    with pytest.raises(openai.BadRequestError):
        await sdk(gw).post("/rerank", body={**body, "documents": []}, cast_to=httpx.Response)


# -- legacy completions ---------------------------------------------------------------


async def test_completions_pass_through_json_and_stream(gw: Harness, mock: MockUpstream) -> None:
    answer = {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1,
        "model": "m",
        "choices": [{"text": " world", "index": 0, "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3},
    }
    mock.route("POST", "/oc/v1/completions", Json(answer))
    resp = await sdk(gw).completions.create(model="oc/m", prompt="hello", suffix="!")
    assert resp.choices[0].text == " world"
    assert mock.requests[-1].json()["suffix"] == "!"  # the endpoint itself: passed on

    chunks = [
        {**answer, "choices": [{"text": t, "index": 0, "logprobs": None, "finish_reason": None}]}
        for t in (" wor", "ld")
    ]
    chunks.append({**answer, "choices": []})
    mock.route("POST", "/oc/v1/completions", Sse([*chunks, "data: [DONE]\n\n"]))
    stream = await sdk(gw).completions.create(model="oc/m", prompt="hello", stream=True)
    texts = [c.choices[0].text async for c in stream if c.choices]
    assert "".join(texts) == " world"
    row = (await rows(gw))[-1]
    assert (row.operation, row.status, row.output_tokens) == ("completions", 200, 1)


async def test_completions_through_chat_of_another_format(gw: Harness, mock: MockUpstream) -> None:
    mock.route("POST", "/ant/v1/messages", Json(anthropic_json("Paris.", "claude-x")))
    resp = await sdk(gw).completions.create(model="ant/claude-x", prompt="Capital of France?")
    assert resp.object == "text_completion"
    assert resp.choices[0].text == "Paris."
    sent = mock.requests[-1].json()
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Capital of France?"}]}
    ] or sent["messages"] == [{"role": "user", "content": "Capital of France?"}]

    mock.route("POST", "/ant/v1/messages", Sse(anthropic_sse(["Pa", "ris."], "claude-x")))
    stream = await sdk(gw).completions.create(model="ant/claude-x", prompt="Capital?", stream=True)
    texts = [c.choices[0].text async for c in stream if c.choices]
    assert "".join(texts) == "Paris."


async def test_suffix_without_an_upstream_that_can_is_a_400(
    gw: Harness, mock: MockUpstream
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk(gw).completions.create(model="ant/claude-x", prompt="a", suffix="b")
    assert "suffix" in caught.value.message
    assert not mock.requests


# -- speech -----------------------------------------------------------------------------


async def test_speech_streams_the_first_bytes_before_the_upstream_ends(
    gw: Harness, mock: MockUpstream
) -> None:
    # The upstream sends two pieces and then never finishes: what the client
    # reads can only have come while the upstream was still sending.
    mock.route(
        "POST",
        "/oc/v1/audio/speech",
        Sse([b"ID3-first-", b"second"], end="hang", headers={"content-type": "audio/mpeg"}),
    )
    async with sdk(gw).audio.speech.with_streaming_response.create(
        model="oc/tts", voice="alloy", input="Hello"
    ) as resp:
        assert resp.headers["content-type"] == "audio/mpeg"
        got = b""
        async for piece in resp.iter_bytes():
            got += piece
            if len(got) >= len(b"ID3-first-second"):
                break
    assert got == b"ID3-first-second"
    assert mock.requests[-1].json() == {"model": "tts", "voice": "alloy", "input": "Hello"}


async def test_speech_whole(gw: Harness, mock: MockUpstream) -> None:
    mock.route(
        "POST",
        "/oc/v1/audio/speech",
        Sse([b"\x00\x01", b"\x02"], headers={"content-type": "audio/wav"}),
    )
    resp = await sdk(gw).audio.speech.create(model="oc/tts", voice="alloy", input="Hi")
    assert resp.content == b"\x00\x01\x02"
    row = (await rows(gw))[-1]
    assert (row.operation, row.status) == ("speech", 200)


# -- transcriptions and translations ---------------------------------------------------


AUDIO = bytes(range(256)) * 40 + b"\r\n--not-a-boundary\r\n"


@pytest.mark.parametrize("kind", ["transcriptions", "translations"])
async def test_audio_upload_json_and_text(gw: Harness, mock: MockUpstream, kind: str) -> None:
    mock.route("POST", f"/oc/v1/audio/{kind}", Json({"text": "hello world"}))
    api = getattr(sdk(gw).audio, kind)
    resp = await api.create(model="oc/whisper", file=("a.wav", AUDIO, "audio/wav"))
    assert resp.text == "hello world"
    sent = form_fields(mock.requests[-1])
    assert sent["model"] == b"whisper" and sent["file"] == AUDIO
    assert mock.requests[-1].headers["authorization"] == f"Bearer {KEY}"

    mock.route(
        "POST",
        f"/oc/v1/audio/{kind}",
        Status(200, "1\n00:00:00,000 --> 00:00:01,000\nhello\n", {"content-type": "text/plain"}),
    )
    text = await api.create(model="oc/whisper", file=("a.wav", AUDIO), response_format="srt")
    assert "hello" in text
    assert form_fields(mock.requests[-1])["response_format"] == b"srt"
    row = (await rows(gw))[-1]
    op = "transcription" if kind == "transcriptions" else "translation"
    assert (row.operation, row.status) == (op, 200)


async def test_audio_upload_refusals(tmp_path: Path, mock: MockUpstream) -> None:
    async with running_gateway(tmp_path, max_upload_bytes=2000, max_body_bytes=4096) as gw:
        await gw.add_provider("oc", "openai", mock.url + "/oc/v1", KEY, ["m"])
        client = sdk(gw)
        with pytest.raises(openai.BadRequestError):  # no file part
            await client.post(
                "/audio/transcriptions",
                body=None,
                options={"headers": {"content-type": "multipart/form-data; boundary=b"}},
                cast_to=httpx.Response,
                files=[("model", ("", b"oc/m"))],
            )
        with pytest.raises(openai.APIStatusError) as caught:  # the file over its cap
            await client.audio.transcriptions.create(model="oc/m", file=("a.wav", b"x" * 3000))
        assert caught.value.status_code == 413
        http = gw.track(
            httpx.AsyncClient(
                base_url=gw.base_url, headers={"authorization": f"Bearer {gw.client_key}"}
            )
        )
        # Content-Length over the route's cap: refused before the body is read.
        big = await http.post(
            "/v1/audio/transcriptions",
            content=b"x" * (2000 + 1024 * 1024 + 1),
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert big.status_code == 413
        assert big.json()["error"]["type"]
        broken = await http.post(
            "/v1/audio/transcriptions",
            content=b"--b\r\nno header end",
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert broken.status_code == 400 and "error" in broken.json()
        many = b"".join(
            b'--b\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % i for i in range(40)
        )
        too_many = await http.post(
            "/v1/audio/transcriptions",
            content=many + b"--b--\r\n",
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert too_many.status_code == 400 and "parts" in too_many.json()["error"]["message"]
        # Other routes keep the general cap.
        general = await http.post(
            "/v1/embeddings", content=b"x" * 5000, headers={"content-type": "application/json"}
        )
        assert general.status_code == 413
        assert not mock.requests


# -- images ----------------------------------------------------------------------------


async def test_image_generation_b64_and_url(gw: Harness, mock: MockUpstream) -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    mock.route(
        "POST",
        "/oc/v1/images/generations",
        Json({"created": 1, "data": [{"b64_json": png}], "usage": {"input_tokens": 5}}),
    )
    resp = await sdk(gw).images.generate(model="oc/img", prompt="a cat", response_format="b64_json")
    assert resp.data and resp.data[0].b64_json == png
    assert mock.requests[-1].json()["model"] == "img"
    mock.route(
        "POST",
        "/oc/v1/images/generations",
        Json({"created": 1, "data": [{"url": "https://img.example/cat.png"}]}),
    )
    resp = await sdk(gw).images.generate(model="oc/img", prompt="a cat", response_format="url")
    assert resp.data and resp.data[0].url == "https://img.example/cat.png"


async def test_image_generation_on_gemini_imagen(gw: Harness, mock: MockUpstream) -> None:
    png = base64.b64encode(b"\x89PNG imagen").decode()
    mock.route(
        "POST",
        "/gem/v1beta/models/imagen:predict",
        Json({"predictions": [{"bytesBase64Encoded": png, "mimeType": "image/png"}]}),
    )
    resp = await sdk(gw).images.generate(
        model="gem/imagen", prompt="a cat", n=1, size="1792x1024", response_format="b64_json"
    )
    assert resp.data and resp.data[0].b64_json == png
    assert mock.requests[-1].json() == {
        "instances": [{"prompt": "a cat"}],
        "parameters": {"sampleCount": 1, "aspectRatio": "16:9"},
    }
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk(gw).images.generate(model="gem/imagen", prompt="a cat", response_format="url")
    assert "b64_json" in caught.value.message
    row = (await rows(gw))[-1]
    assert (row.operation, row.status) == ("images", 400)


async def test_image_edit_upload(gw: Harness, mock: MockUpstream) -> None:
    png = base64.b64encode(b"edited").decode()
    mock.route("POST", "/oc/v1/images/edits", Json({"created": 1, "data": [{"b64_json": png}]}))
    resp = await sdk(gw).images.edit(
        model="oc/img", image=("cat.png", b"\x89PNG image", "image/png"), prompt="add a hat"
    )
    assert resp.data and resp.data[0].b64_json == png
    sent = form_fields(mock.requests[-1])
    assert sent["image"] == b"\x89PNG image" and sent["prompt"] == b"add a hat"
    assert sent["model"] == b"img"


# -- capabilities, /v1/models, fallback ---------------------------------------------------


async def test_models_filtered_by_capability(gw: Harness) -> None:
    await narrow(gw, "ant", None)
    client = sdk(gw)
    every = {m.id for m in (await client.models.list()).data}
    assert {"oc/m", "gem/e", "ant/claude-x"} <= every
    listed = await client.get("/models?capability=embeddings", cast_to=httpx.Response)
    assert {m["id"] for m in listed.json()["data"]} == {"oc/m", "gem/e"}
    listed = await client.get("/models?capability=speech", cast_to=httpx.Response)
    assert {m["id"] for m in listed.json()["data"]} == {"oc/m"}
    with pytest.raises(openai.BadRequestError):
        await client.get("/models?capability=telepathy", cast_to=httpx.Response)


async def narrow(gw: Harness, provider: str, capabilities: list[str] | None) -> None:
    if capabilities is not None:
        await change_provider(
            gw.config, provider, ProviderChange(capabilities=capabilities), naming=API_NAMING
        )
    await gw.reload()


async def test_a_combo_skips_targets_without_the_capability(
    gw: Harness, mock: MockUpstream
) -> None:
    await gw.add_provider("chatty", "openai", mock.url + "/chatty/v1", KEY, ["m"])
    await narrow(gw, "chatty", ["chat"])
    await gw.config.upsert_combo("mix", [ComboTargetRecord("chatty/m"), ComboTargetRecord("oc/m")])
    await gw.reload()
    mock.route(
        "POST",
        "/oc/v1/embeddings",
        Json({"object": "list", "data": [], "model": "m", "usage": {"prompt_tokens": 1}}),
    )
    mock.route("POST", "/chatty/v1/chat/completions", Json(openai_chat_json("hi", "m")))
    await sdk(gw).embeddings.create(model="mix", input="x", encoding_format="float")
    assert [r.path for r in mock.requests] == ["/oc/v1/embeddings"]
    await sdk(gw).chat.completions.create(model="mix", messages=[{"role": "user", "content": "x"}])
    assert mock.requests[-1].path == "/chatty/v1/chat/completions"
    listed = await sdk(gw).get("/models?capability=embeddings", cast_to=httpx.Response)
    ids = {m["id"] for m in listed.json()["data"]}
    assert "mix" in ids and "chatty/m" not in ids


EMBEDDED = {"object": "list", "data": [], "model": "m", "usage": {"prompt_tokens": 1}}
COMPLETED = {"id": "c", "object": "text_completion", "created": 1, "model": "m", "choices": []}
FALLBACK_CASES: list[tuple[str, str, Any]] = [
    ("embeddings", "/embeddings", EMBEDDED),
    ("moderations", "/moderations", {"id": "m", "model": "m", "results": []}),
    ("rerank", "/rerank", {"results": []}),
    ("completions", "/completions", COMPLETED),
    ("images", "/images/generations", {"created": 1, "data": []}),
    ("transcriptions", "/audio/transcriptions", {"text": "ok"}),
    ("translations", "/audio/translations", {"text": "ok"}),
    ("image_edits", "/images/edits", {"created": 1, "data": []}),
    ("speech", "/audio/speech", None),
]  # fmt: skip


async def _call(client: openai.AsyncOpenAI, case: str) -> Any:
    model = "pair"
    match case:
        case "embeddings":
            return await client.embeddings.create(model=model, input="x", encoding_format="float")
        case "moderations":
            return await client.moderations.create(model=model, input="x")
        case "rerank":
            body = {"model": model, "query": "q", "documents": ["a"]}
            return await client.post("/rerank", body=body, cast_to=httpx.Response)
        case "completions":
            return await client.completions.create(model=model, prompt="x")
        case "images":
            return await client.images.generate(model=model, prompt="x")
        case "transcriptions":
            return await client.audio.transcriptions.create(model=model, file=("a.wav", b"RIFF"))
        case "translations":
            return await client.audio.translations.create(model=model, file=("a.wav", b"RIFF"))
        case "image_edits":
            return await client.images.edit(model=model, image=("a.png", b"PNG"), prompt="x")
        case _:
            return await client.audio.speech.create(model=model, voice="alloy", input="x")


@pytest.mark.parametrize("case", [c[0] for c in FALLBACK_CASES])
async def test_fallback_from_a_failing_provider(gw: Harness, mock: MockUpstream, case: str) -> None:
    path, answer = next((p, a) for c, p, a in FALLBACK_CASES if c == case)
    await gw.add_provider("bad", "openai", mock.url + "/bad/v1", KEY, ["m"])
    await gw.config.upsert_combo("pair", [ComboTargetRecord("bad/m"), ComboTargetRecord("oc/m")])
    await gw.reload()
    mock.route("POST", "/bad/v1" + path, Status(503, "down"))
    good = (
        Sse([b"audio"], headers={"content-type": "audio/mpeg"}) if answer is None else Json(answer)
    )
    mock.route("POST", "/oc/v1" + path, good)
    await _call(sdk(gw), case)
    assert [r.path for r in mock.requests] == ["/bad/v1" + path, "/oc/v1" + path]
    row = (await rows(gw))[-1]
    assert (row.status, row.provider) == (200, "oc")


async def test_chat_still_answers(gw: Harness, mock: MockUpstream) -> None:
    mock.route("POST", "/oc/v1/chat/completions", Sse(openai_chat_sse(["a", "b"], "m")))
    stream = await sdk(gw).chat.completions.create(
        model="oc/m", messages=[{"role": "user", "content": "x"}], stream=True
    )
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == "ab"
    assert json.loads(mock.requests[-1].body)["stream"] is True


async def test_an_idempotency_key_never_shares_a_different_upload(
    gw: Harness, mock: MockUpstream
) -> None:
    mock.route("POST", "/oc/v1/audio/transcriptions", Json({"text": "ok"}))
    client = sdk(gw)
    same = {"extra_headers": {"idempotency-key": "upload-1"}}
    for audio in (b"first file", b"second file"):  # same key and fields, other files
        await client.audio.transcriptions.create(model="oc/w", file=("a.wav", audio), **same)
    assert [form_fields(r)["file"] for r in mock.requests] == [b"first file", b"second file"]
