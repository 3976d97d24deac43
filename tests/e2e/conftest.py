"""Shared pieces of the translation tests (official SDKs x upstream formats).

One mock upstream serves one provider per wire format, each under its own
path prefix, so a module can run every pair through a single gateway. The
helpers here call the gateway with each SDK from one neutral description of
a request and reduce each SDK's parsed answer to the same ``Outcome`` shape;
``check_upstream_request`` asserts that what the mock received is a valid
request of its own format (field names from each provider's API reference).

Fixtures here are module scoped: a module using them declares its own
module-scoped ``anyio_backend`` (the root conftest's one is per test).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from omniroute.formats.wire import WIRE_FORMATS
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import (
    Json,
    MockUpstream,
    RecordedRequest,
    Reply,
    Sse,
    SseEvent,
    Thinking,
    ToolCall,
    Usage,
    anthropic_json,
    anthropic_sse,
    gemini_json,
    gemini_sse,
    openai_chat_json,
    openai_chat_sse,
    responses_json,
    responses_sse,
)

CLIENTS = ("openai", "responses", "anthropic", "gemini")
FORMATS = WIRE_FORMATS
# The client dialect that speaks the same wire format as an upstream format.
SAME_FORMAT = {
    "openai": "openai",
    "responses": "openai-responses",
    "anthropic": "anthropic",
    "gemini": "gemini",
}

PROMPT = "What is the weather in Paris?"
SYSTEM = "You are a terse weather assistant."
TEXT_CHUNKS = ("It is sunny ", "in Paris, ", "22 degrees.")
TEXT = "".join(TEXT_CHUNKS)
TOOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city"],
}
TOOL_NAME = "get_weather"
TOOL_DESCRIPTION = "Current weather for a city."
TOOL_ARGS = {"city": "Paris", "unit": "celsius"}
TOOL_CALL: ToolCall = ("call_Wx7Kd2pQ9", TOOL_NAME, json.dumps(TOOL_ARGS))
# Opaque reasoning state as providers send it: standard base64 (with a '/',
# which the url-safe alphabet the Gemini SDK re-encodes with spells '_').
SIGNATURE = "EqQBCkgIARABGAIiQPvv/790aG91Z2h0LXNpZ25hdHVyZS12MQ=="

# A 2x2 PNG whose standard base64 holds both '+' and '/', so a wrong
# alphabet (url-safe vs standard) shows up in every upstream shape.
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR42mNQbbhtNvENg/uivxGb+QAr"
    "MQYztXKiagAAAABJRU5ErkJggg=="
)
PNG = base64.b64decode(PNG_B64)
IMAGE_URL = "https://example.com/images/cat.png"
DEFAULT_USAGE = Usage()


# --------------------------------------------------------------------- upstreams


@dataclass(frozen=True, slots=True)
class Upstream:
    """One provider of the gateway, served by the mock under ``prefix``."""

    name: str
    fmt: str
    prefix: str  # e.g. "/oa/v1"; the provider's base URL is mock.url + prefix
    model: str
    key: str

    @property
    def model_string(self) -> str:
        return f"{self.name}/{self.model}"

    def path(self, stream: bool) -> str:
        if self.fmt == "openai":
            return self.prefix + "/chat/completions"
        if self.fmt == "openai-responses":
            return self.prefix + "/responses"
        if self.fmt == "anthropic":
            return self.prefix + "/messages"
        action = "streamGenerateContent" if stream else "generateContent"
        return f"{self.prefix}/models/{self.model}:{action}"


_MODELS = {
    "openai": "gpt-mx",
    "openai-responses": "resp-mx",
    "anthropic": "claude-mx",
    "gemini": "gemini-mx",
}
_VERSION_SEGMENT = {"openai": "v1", "openai-responses": "v1", "anthropic": "v1", "gemini": "v1beta"}


async def add_upstream(env: Env, fmt: str, name: str, key: str | None = None) -> Upstream:
    """Configure one more provider of format ``fmt`` the way a user would."""
    up = Upstream(
        name,
        fmt,
        f"/{name}/{_VERSION_SEGMENT[fmt]}",
        _MODELS[fmt],
        key or f"sk-{name}-upstream-key-0123456789",
    )
    await env.gw.add_provider(name, fmt, env.mock.url + up.prefix, up.key, [up.model])
    env.upstreams.setdefault(fmt, up)
    return up


class Env:
    """The module's gateway, its mock upstream, the providers, the three SDKs."""

    def __init__(self, gw: Harness, mock: MockUpstream) -> None:
        self.gw = gw
        self.mock = mock
        self.upstreams: dict[str, Upstream] = {}  # the first provider of each format
        self.openai = openai.AsyncOpenAI(
            base_url=gw.base_url + "/v1", api_key=gw.client_key, max_retries=0, timeout=15
        )
        self.anthropic = anthropic.AsyncAnthropic(
            base_url=gw.base_url, api_key=gw.client_key, max_retries=0, timeout=15
        )
        self.genai = genai.Client(
            api_key=gw.client_key,
            http_options=gtypes.HttpOptions(
                base_url=gw.base_url, api_version="v1beta", timeout=15_000
            ),
        )

    async def aclose(self) -> None:
        await self.openai.close()
        await self.anthropic.close()
        await self.genai.aio.aclose()

    def serve(self, up: Upstream, stream: bool, reply: Reply | Callable[..., Reply]) -> None:
        self.mock.route("POST", up.path(stream), reply)

    def last_request(self, up: Upstream) -> RecordedRequest:
        for req in reversed(self.mock.requests):
            if req.path.startswith(up.prefix + "/"):
                return req
        raise AssertionError(f"the upstream {up.name} received no request")

    def requests_to(self, up: Upstream) -> list[RecordedRequest]:
        return [r for r in self.mock.requests if r.path.startswith(up.prefix + "/")]


@pytest.fixture
async def mock() -> AsyncIterator[MockUpstream]:
    """A fresh scriptable upstream for one test."""
    async with MockUpstream() as up:
        yield up


@pytest.fixture(scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    async with MockUpstream() as mock:
        tmp: Path = tmp_path_factory.mktemp("gw")
        async with running_gateway(tmp, upstream_first_byte_timeout=5.0) as gw:
            state = Env(gw, mock)
            try:
                for fmt in FORMATS:
                    await add_upstream(state, fmt, "mx-" + fmt.replace("openai-", ""))
                yield state
            finally:
                await state.aclose()


# ------------------------------------------------------ upstream replies


def _patch_sse(events: list[SseEvent], fix: Callable[[dict[str, Any]], None]) -> list[SseEvent]:
    """Apply ``fix`` to the JSON of every named event (``event: x\\ndata: {...}``)."""
    out: list[SseEvent] = []
    for event in events:
        if isinstance(event, str) and "\ndata: {" in event:
            head, data = event.split("\ndata: ", 1)
            obj = json.loads(data)
            fix(obj)
            out.append(f"{head}\ndata: {json.dumps(obj, separators=(',', ':'))}\n\n")
        else:
            out.append(event)
    return out


def _add_encrypted_content(signature: str) -> Callable[[dict[str, Any]], None]:
    """Responses reasoning items carry their opaque state in ``encrypted_content``
    (returned when ``include: ["reasoning.encrypted_content"]`` is asked)."""

    def fix(obj: dict[str, Any]) -> None:
        items: list[Any] = []
        if isinstance(obj.get("item"), dict):
            items.append(obj["item"])
        if isinstance(obj.get("response"), dict):
            items += obj["response"].get("output") or []
        if isinstance(obj.get("output"), list):
            items += obj["output"]
        for item in items:
            if item.get("type") == "reasoning":
                item["encrypted_content"] = signature

    return fix


def upstream_reply(
    up: Upstream,
    stream: bool,
    *,
    text: str | None = TEXT,
    tool: ToolCall | None = None,
    thinking: Thinking | None = None,
    usage: Usage = DEFAULT_USAGE,
    with_usage: bool = True,
    delay: float = 0.0,
) -> Reply:
    """A realistic answer of ``up``'s format: text (streamed in TEXT_CHUNKS
    when it is TEXT), an optional tool call and optional thinking."""
    chunks = list(TEXT_CHUNKS) if text == TEXT else ([text] if text else [])
    if up.fmt == "openai":
        return _openai_reply(up, stream, text, chunks, tool, thinking, usage, with_usage, delay)
    if up.fmt == "openai-responses":
        return _responses_reply(up, stream, text, chunks, tool, thinking, usage, with_usage, delay)
    if up.fmt == "anthropic":
        if stream:
            return Sse(anthropic_sse(chunks, up.model, tool, thinking, usage), delay=delay)
        return Json(anthropic_json(text, up.model, tool, thinking, usage))
    if stream:
        events = gemini_sse(chunks, up.model, tool, thinking, usage)
        if not with_usage:
            events = [_strip_gemini_usage(e) for e in events]
        return Sse(events, delay=delay)
    body = gemini_json(text, up.model, tool, thinking, usage)
    if not with_usage:
        body.pop("usageMetadata")
    return Json(body)


def _strip_gemini_usage(event: SseEvent) -> SseEvent:
    assert isinstance(event, str)
    obj = json.loads(event.removeprefix("data: "))
    obj.pop("usageMetadata", None)
    return f"data: {json.dumps(obj, separators=(',', ':'))}\r\n\r\n"


def _openai_reply(
    up: Upstream,
    stream: bool,
    text: str | None,
    chunks: list[str],
    tool: ToolCall | None,
    thinking: Thinking | None,
    usage: Usage,
    with_usage: bool,
    delay: float,
) -> Reply:
    # OpenAI-compatible reasoning models (DeepSeek, vLLM, ...) send their
    # reasoning as ``reasoning_content`` beside ``content``.
    if not stream:
        body = openai_chat_json(text, up.model, tool, usage)
        if thinking is not None:
            body["choices"][0]["message"]["reasoning_content"] = thinking[0]
        if not with_usage:
            body.pop("usage")
        return Json(body)
    events = openai_chat_sse(chunks, up.model, tool, include_usage=with_usage, usage=usage)
    if thinking is not None:
        first = json.loads(json.dumps(events[0]))
        first["choices"][0]["delta"] = {"reasoning_content": thinking[0]}
        events.insert(1, first)
    return Sse(events, delay=delay)


def _responses_reply(
    up: Upstream,
    stream: bool,
    text: str | None,
    chunks: list[str],
    tool: ToolCall | None,
    thinking: Thinking | None,
    usage: Usage,
    with_usage: bool,
    delay: float,
) -> Reply:
    summary = thinking[0] if thinking else None
    if stream:
        events = responses_sse(chunks, up.model, tool, summary, usage)
        if thinking is not None:
            events = _patch_sse(events, _add_encrypted_content(thinking[1]))
        if not with_usage:
            events = _patch_sse(events, _drop_response_usage)
        return Sse(events, delay=delay)
    body = responses_json(text, up.model, tool, summary, usage)
    if thinking is not None:
        _add_encrypted_content(thinking[1])(body)
    if not with_usage:
        body["usage"] = None
    return Json(body)


def _drop_response_usage(obj: dict[str, Any]) -> None:
    if isinstance(obj.get("response"), dict):
        obj["response"]["usage"] = None


# ------------------------------------------------------- calling the gateway


@dataclass(slots=True)
class Call:
    id: str | None
    name: str
    args: Any


@dataclass(slots=True)
class Outcome:
    """One answer as the client's SDK parsed it, reduced to a common shape."""

    text: str = ""
    reasoning: str = ""
    calls: list[Call] = field(default_factory=list)
    finish: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    signatures: list[str] = field(default_factory=list)  # thinking signatures seen
    events: list[str] = field(default_factory=list)  # stream event types, in order
    parts: list[Any] = field(default_factory=list)  # Gemini: every part, all chunks
    raw: Any = None  # the SDK's final object (message / response / last chunk)


@dataclass(frozen=True, slots=True)
class Ask:
    """A neutral request: rendered in each client dialect by ``ask``."""

    prompt: str = PROMPT
    system: str | None = SYSTEM
    tools: bool = False
    max_tokens: int = 512


async def ask(env: Env, client: str, model: str, stream: bool, spec: Ask = Ask()) -> Outcome:
    if client == "openai":
        return await chat_call(
            env, model, stream, chat_messages(spec), tools=[chat_tool()] if spec.tools else None
        )
    if client == "responses":
        return await responses_call(
            env,
            model,
            stream,
            responses_input(spec.prompt),
            instructions=spec.system,
            tools=[responses_tool()] if spec.tools else None,
        )
    if client == "anthropic":
        extra: dict[str, Any] = {"tools": [anthropic_tool()]} if spec.tools else {}
        if spec.system:
            extra["system"] = spec.system
        return await anthropic_call(
            env,
            model,
            stream,
            [{"role": "user", "content": spec.prompt}],
            max_tokens=spec.max_tokens,
            **extra,
        )
    config = gtypes.GenerateContentConfig(
        system_instruction=spec.system,
        tools=[gemini_tool()] if spec.tools else None,
    )
    return await gemini_call(
        env,
        model,
        stream,
        [gtypes.Content(role="user", parts=[gtypes.Part(text=spec.prompt)])],
        config,
    )


def chat_messages(spec: Ask) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if spec.system:
        messages.append({"role": "system", "content": spec.system})
    messages.append({"role": "user", "content": spec.prompt})
    return messages


def responses_input(prompt: str) -> list[dict[str, Any]]:
    # The item-list form Codex CLI sends.
    return [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]}
    ]


def chat_tool() -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": TOOL_NAME, "description": TOOL_DESCRIPTION, "parameters": TOOL_SCHEMA},
    }


def responses_tool() -> dict[str, Any]:
    return {
        "type": "function",
        "name": TOOL_NAME,
        "description": TOOL_DESCRIPTION,
        "parameters": TOOL_SCHEMA,
        "strict": False,
    }


def anthropic_tool() -> dict[str, Any]:
    return {"name": TOOL_NAME, "description": TOOL_DESCRIPTION, "input_schema": TOOL_SCHEMA}


def gemini_tool() -> gtypes.Tool:
    return gtypes.Tool(
        function_declarations=[
            gtypes.FunctionDeclaration(
                name=TOOL_NAME, description=TOOL_DESCRIPTION, parameters_json_schema=TOOL_SCHEMA
            )
        ]
    )


def _extra(obj: Any, name: str) -> Any:
    """A field the SDK's model does not declare (kept in pydantic's extras)."""
    value = getattr(obj, name, None)
    if value is None and getattr(obj, "model_extra", None):
        value = obj.model_extra.get(name)
    return value


# -- OpenAI Chat Completions


async def chat_call(
    env: Env, model: str, stream: bool, messages: list[dict[str, Any]], **kw: Any
) -> Outcome:
    kw = {k: v for k, v in kw.items() if v is not None}
    # Loosely typed on purpose: messages and options are plain dicts here.
    create: Any = env.openai.chat.completions.create
    if not stream:
        resp = await create(model=model, messages=messages, **kw)
        msg = resp.choices[0].message
        out = Outcome(
            text=msg.content or "",
            reasoning=_extra(msg, "reasoning_content") or "",
            finish=resp.choices[0].finish_reason,
            raw=resp,
        )
        for tc in msg.tool_calls or []:
            out.calls.append(Call(tc.id, tc.function.name, json.loads(tc.function.arguments)))
        out.usage = resp.usage.model_dump() if resp.usage else {}
        return out
    kw.setdefault("stream_options", {"include_usage": True})
    chunks = await create(model=model, messages=messages, stream=True, **kw)
    out = Outcome()
    calls: dict[int, list[Any]] = {}
    # Closed even when the SDK raises mid-way, so no half-read stream
    # is left for the garbage collector to finish in a later test.
    async with chunks:
        async for chunk in chunks:
            out.events.append("chunk")
            out.raw = chunk
            if chunk.usage is not None:
                out.usage = chunk.usage.model_dump()
            for choice in chunk.choices:
                delta = choice.delta
                out.text += delta.content or ""
                out.reasoning += _extra(delta, "reasoning_content") or ""
                for tc in delta.tool_calls or []:
                    slot = calls.setdefault(tc.index, [None, "", ""])
                    if tc.id:
                        slot[0] = tc.id
                    if tc.function and tc.function.name:
                        slot[1] += tc.function.name
                    if tc.function and tc.function.arguments:
                        slot[2] += tc.function.arguments
                if choice.finish_reason:
                    out.finish = choice.finish_reason
    out.calls = [Call(i, n, json.loads(a or "{}")) for i, n, a in (calls[k] for k in sorted(calls))]
    return out


# -- OpenAI Responses


async def responses_call(env: Env, model: str, stream: bool, input: Any, **kw: Any) -> Outcome:
    kw = {k: v for k, v in kw.items() if v is not None}
    if not stream:
        resp = await env.openai.responses.create(model=model, input=input, **kw)
        return _responses_outcome(resp)
    events = await env.openai.responses.create(model=model, input=input, stream=True, **kw)
    types: list[str] = []
    deltas = ""
    final: Any = None
    # Closed even when the SDK raises mid-way, so no half-read stream
    # is left for the garbage collector to finish in a later test.
    async with events:
        async for event in events:
            types.append(event.type)
            if event.type == "response.output_text.delta":
                deltas += event.delta
            if event.type in ("response.completed", "response.incomplete", "response.failed"):
                final = event.response
    assert final is not None, f"no terminal response event in {types}"
    out = _responses_outcome(final)
    assert deltas == out.text, "streamed text deltas differ from the completed response"
    out.events = types
    return out


def _responses_outcome(resp: Any) -> Outcome:
    out = Outcome(text=resp.output_text, finish=resp.status, raw=resp)
    for item in resp.output:
        if item.type == "function_call":
            out.calls.append(Call(item.call_id, item.name, json.loads(item.arguments)))
        elif item.type == "reasoning":
            out.reasoning += "".join(s.text for s in item.summary or [])
            out.reasoning += "".join(c.text for c in getattr(item, "content", None) or [])
            if item.encrypted_content:
                out.signatures.append(item.encrypted_content)
    out.usage = resp.usage.model_dump() if resp.usage else {}
    return out


# -- Anthropic Messages


async def anthropic_call(
    env: Env,
    model: str,
    stream: bool,
    messages: list[dict[str, Any]],
    *,
    max_tokens: int = 512,
    **kw: Any,
) -> Outcome:
    if not stream:
        msg = await env.anthropic.messages.create(
            model=model,
            messages=messages,  # type: ignore[arg-type]
            max_tokens=max_tokens,
            **kw,
        )
        return _anthropic_outcome(msg)
    types: list[str] = []
    async with env.anthropic.messages.stream(
        model=model,
        messages=messages,  # type: ignore[arg-type]
        max_tokens=max_tokens,
        **kw,
    ) as events:
        async for event in events:
            types.append(event.type)
        msg = await events.get_final_message()
    out = _anthropic_outcome(msg)
    out.events = types
    return out


def _anthropic_outcome(msg: Any) -> Outcome:
    out = Outcome(finish=msg.stop_reason, raw=msg)
    for block in msg.content:
        if block.type == "text":
            out.text += block.text
        elif block.type == "thinking":
            out.reasoning += block.thinking
            if block.signature:
                out.signatures.append(block.signature)
        elif block.type == "tool_use":
            out.calls.append(Call(block.id, block.name, block.input))
    out.usage = msg.usage.model_dump()
    return out


# -- Gemini


async def gemini_call(
    env: Env,
    model: str,
    stream: bool,
    contents: Any,
    config: gtypes.GenerateContentConfig | None = None,
) -> Outcome:
    if not stream:
        resp = await env.genai.aio.models.generate_content(
            model=model, contents=contents, config=config
        )
        out = Outcome(raw=resp)
        _gemini_collect(resp, out)
        return out
    out = Outcome()
    async for chunk in await env.genai.aio.models.generate_content_stream(
        model=model, contents=contents, config=config
    ):
        out.events.append("chunk")
        out.raw = chunk
        _gemini_collect(chunk, out)
    return out


def _gemini_collect(resp: gtypes.GenerateContentResponse, out: Outcome) -> None:
    if resp.usage_metadata is not None:
        out.usage = resp.usage_metadata.model_dump(exclude_none=True)
    for cand in resp.candidates or []:
        if cand.finish_reason is not None:
            out.finish = cand.finish_reason.value
        for part in (cand.content.parts if cand.content else None) or []:
            out.parts.append(part)
            if part.thought_signature:
                out.signatures.append(_b64(part.thought_signature))
            if part.function_call is not None:
                fc = part.function_call
                out.calls.append(Call(fc.id, fc.name or "", dict(fc.args or {})))
            elif part.thought and part.text:
                out.reasoning += part.text
            elif part.text:
                out.text += part.text


def _b64(data: bytes) -> str:
    # The SDK decodes thoughtSignature into bytes; compare in the wire's form.
    return base64.b64encode(data).decode()


# ------------------------------------------------ what the upstream received


def b64_bytes(data: str) -> bytes:
    """Decode base64 in either alphabet (Gemini accepts both; the SDK sends url-safe)."""
    padded = data + "=" * (-len(data) % 4)
    return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))


def content_text(content: Any) -> str:
    """The text of a message's content in any of the four formats."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        return content_text(content.get("parts") or content.get("content") or content.get("text"))
    if isinstance(content, list):
        return "".join(
            part
            if isinstance(part, str)
            else str(part.get("text", ""))
            if isinstance(part, Mapping) and not part.get("thought")
            else ""
            for part in content
        )
    return ""


def check_upstream_request(
    up: Upstream,
    req: RecordedRequest,
    stream: bool,
    *,
    prompt: str = PROMPT,
    system: str | None = SYSTEM,
    tools: bool = False,
) -> dict[str, Any]:
    """Assert ``req`` is a valid ``up.fmt`` request carrying the neutral request."""
    body: dict[str, Any] = req.json()
    assert req.method == "POST"
    assert req.path == up.path(stream), f"{up.fmt} upstream called at {req.path}"
    assert _credential(up, req) == up.key
    if up.fmt == "gemini":
        assert "model" not in body  # the model is named in the URL
        assert req.query.get("alt") == ("sse" if stream else None)
        assert all(c["role"] in ("user", "model") for c in body["contents"])
    else:
        assert body["model"] == up.model
        assert (body.get("stream") is True) == stream
    if up.fmt == "anthropic":
        assert req.headers.get("anthropic-version")
        assert isinstance(body.get("max_tokens"), int) and body["max_tokens"] > 0
        assert body["messages"][0]["role"] == "user"
        assert all(m["role"] in ("user", "assistant") for m in body["messages"])
    assert _last_turn(up.fmt, body) == ("user", prompt)
    if system:
        assert _system_text(up.fmt, body) == system
    declared = _declared_tools(up.fmt, body)
    if tools:
        ((name, schema),) = declared
        assert name == TOOL_NAME
        assert same_schema(schema, TOOL_SCHEMA)
    else:
        assert declared == []
    return body


def _credential(up: Upstream, req: RecordedRequest) -> str | None:
    if up.fmt == "anthropic":
        return req.headers.get("x-api-key")
    if up.fmt == "gemini":
        return req.headers.get("x-goog-api-key") or req.query.get("key")
    auth = req.headers.get("authorization", "")
    return auth[len("Bearer ") :] if auth.startswith("Bearer ") else None


def _last_turn(fmt: str, body: dict[str, Any]) -> tuple[str, str]:
    if fmt == "gemini":
        last = body["contents"][-1]
        return last["role"], content_text(last["parts"])
    if fmt == "openai-responses":
        items = body["input"]
        if isinstance(items, str):
            return "user", items
        last = items[-1]
        assert last.get("type", "message") == "message"
        return last["role"], content_text(last["content"])
    last = body["messages"][-1]
    return last["role"], content_text(last["content"])


def _system_text(fmt: str, body: dict[str, Any]) -> str | None:
    if fmt == "gemini":
        # The API takes camelCase or snake_case field names.
        instruction = body.get("systemInstruction") or body.get("system_instruction") or {}
        return content_text(instruction.get("parts"))
    if fmt == "anthropic":
        return content_text(body.get("system"))
    if fmt == "openai-responses" and body.get("instructions"):
        return str(body["instructions"])
    turns = body["messages"] if fmt == "openai" else body["input"]
    return next(
        (
            content_text(t["content"])
            for t in turns
            if isinstance(t, dict) and t.get("role") in ("system", "developer")
        ),
        None,
    )


def _declared_tools(fmt: str, body: dict[str, Any]) -> list[tuple[str, Any]]:
    tools = body.get("tools") or []
    if fmt == "openai":
        assert all(t["type"] == "function" for t in tools)
        return [(t["function"]["name"], t["function"].get("parameters")) for t in tools]
    if fmt == "openai-responses":
        assert all(t["type"] == "function" for t in tools)
        return [(t["name"], t.get("parameters")) for t in tools]
    if fmt == "anthropic":
        return [(t["name"], t.get("input_schema")) for t in tools]
    decls = [d for t in tools for d in t.get("functionDeclarations", [])]
    # The Gemini SDK sends parameters_json_schema in snake_case; both are accepted.
    return [
        (
            d["name"],
            d.get("parametersJsonSchema") or d.get("parameters_json_schema") or d.get("parameters"),
        )
        for d in decls
    ]


def same_schema(got: Any, want: Any) -> bool:
    """``got`` has everything ``want`` has, ignoring the case of ``type``
    (Gemini's OpenAPI subset spells types in capitals); extra keys are allowed."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return False
        for key in want:
            if key == "type" and isinstance(want.get(key), str):
                if str(got.get(key, "")).lower() != want[key].lower():
                    return False
            elif not same_schema(got.get(key), want.get(key)):
                return False
        return True
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(same_schema(g, w) for g, w in zip(got, want, strict=True))
        )
    return bool(got == want)


# -- raw streams -------------------------------------------------------------------

PARTIAL = TEXT_CHUNKS[0]


def cut_stream(up: Upstream) -> list[SseEvent]:
    """The upstream's stream cut after the first text pieces: no finish, no end."""
    chunks = list(TEXT_CHUNKS)
    if up.fmt == "openai":
        events = openai_chat_sse(chunks, up.model)[:3]  # role chunk + two text chunks
    elif up.fmt == "openai-responses":
        events = responses_sse(chunks, up.model)[:6]  # up to the second text delta
    elif up.fmt == "anthropic":
        events = anthropic_sse(chunks, up.model)[:5]  # start, ping, block start, 2 deltas
    else:
        events = gemini_sse(chunks, up.model)[:2]  # two chunks, no finishReason
    # Trailing padding (an empty line: no event), so that a reset swallowing
    # the last unread bytes loses nothing that matters.
    return [*events, "\n"]


def sse_events(raw: str) -> list[tuple[str | None, str]]:
    """(event name, data) pairs of an SSE body (only what the tests need)."""
    out: list[tuple[str | None, str]] = []
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
        if data:
            out.append((name, "\n".join(data)))
    return out


async def raw_stream(env: Env, client: str, up: Upstream) -> httpx.Response:
    key = env.gw.client_key
    if client == "openai":
        path, headers = "/v1/chat/completions", {"authorization": f"Bearer {key}"}
        body: dict[str, Any] = {
            "model": up.model_string,
            "stream": True,
            "messages": [{"role": "user", "content": PROMPT}],
        }
    elif client == "responses":
        path, headers = "/v1/responses", {"authorization": f"Bearer {key}"}
        body = {"model": up.model_string, "stream": True, "input": PROMPT}
    elif client == "anthropic":
        path = "/v1/messages"
        headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
        body = {
            "model": up.model_string,
            "stream": True,
            "max_tokens": 256,
            "messages": [{"role": "user", "content": PROMPT}],
        }
    else:
        path = f"/v1beta/models/{up.model_string}:streamGenerateContent?alt=sse"
        headers = {"x-goog-api-key": key}
        body = {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}
    async with httpx.AsyncClient(base_url=env.gw.base_url, timeout=15) as http:
        return await http.post(path, json=body, headers=headers)
