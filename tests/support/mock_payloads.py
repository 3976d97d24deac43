"""Realistic response bodies in each provider's dialect, for the mock upstream.

One small builder per shape; shapes follow each provider's public API
reference (cited per section). JSON builders return the body as a dict (wrap
it in ``Json``); stream builders return the list of events (wrap it in
``Sse``, choosing delay and ending). Ids and timestamps are fixed so that
payloads compare equal across runs. This module knows nothing of
``omniroute.formats``: it is the independent side of every translation test.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

# A mapping goes out as ``data: <json>\n\n``; str and bytes as they are.
SseEvent: TypeAlias = bytes | str | Mapping[str, Any]

CREATED = 1_700_000_000  # fixed, so recorded payloads compare equal across runs

ToolCall: TypeAlias = tuple[str, str, str]  # (id, name, arguments as a JSON string)
Thinking: TypeAlias = tuple[str, str]  # (thinking text, signature)


@dataclass(frozen=True, slots=True)
class Usage:
    input: int = 12
    output: int = 7
    cached: int = 0  # of the input tokens, how many came from the prompt cache
    reasoning: int = 0  # of the output tokens, how many were reasoning


def _halves(text: str) -> list[str]:
    """Split so that consumers must concatenate streamed pieces."""
    cut = len(text) // 2
    return [part for part in (text[:cut], text[cut:]) if part]


def _named_event(name: str, obj: Mapping[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(obj, separators=(',', ':'))}\n\n"


# -- OpenAI Chat Completions (platform.openai.com/docs/api-reference/chat) ---


def openai_usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input,
        "completion_tokens": usage.output,
        "total_tokens": usage.input + usage.output,
        "prompt_tokens_details": {"cached_tokens": usage.cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def openai_chat_json(
    text: str | None,
    model: str,
    tool_call: ToolCall | None = None,
    usage: Usage = Usage(),
    id: str = "chatcmpl-mock",
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text,
        "refusal": None,
        "annotations": [],
    }
    if tool_call is not None:
        call_id, name, arguments = tool_call
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        ]
    return {
        "id": id,
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if tool_call else "stop",
            }
        ],
        "usage": openai_usage(usage),
        "service_tier": "default",
        "system_fingerprint": "fp_mock",
    }


def openai_chat_sse(
    text_chunks: Sequence[str],
    model: str,
    tool_call: ToolCall | None = None,
    include_usage: bool = True,
    usage: Usage = Usage(),
    id: str = "chatcmpl-mock",
) -> list[SseEvent]:
    """Chunks, then the usage chunk (empty choices) when asked, then ``[DONE]``."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:  # with stream_options.include_usage every chunk carries "usage": null
            body["usage"] = None
        return body

    events: list[SseEvent] = [chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [chunk({"content": piece}) for piece in text_chunks]
    if tool_call is not None:
        call_id, name, arguments = tool_call
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": call_id,
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        events += [
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            for piece in _halves(arguments)
        ]
    events.append(chunk({}, "tool_calls" if tool_call else "stop"))
    if include_usage:
        last = chunk({})
        last["choices"], last["usage"] = [], openai_usage(usage)
        events.append(last)
    events.append("data: [DONE]\n\n")
    return events


def openai_error(
    message: str,
    type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


# -- Anthropic Messages (docs.anthropic.com/en/api/messages, .../streaming) -----


def anthropic_usage(usage: Usage, output: int | None = None) -> dict[str, Any]:
    return {
        "input_tokens": usage.input - usage.cached,  # Anthropic counts cache reads apart
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached,
        "output_tokens": usage.output if output is None else output,
        "service_tier": "standard",
    }


def _anthropic_blocks(
    text: str | None, tool_call: ToolCall | None, thinking: Thinking | None
) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if thinking is not None:
        blocks.append({"type": "thinking", "thinking": thinking[0], "signature": thinking[1]})
    if text:
        blocks.append({"type": "text", "text": text})
    if tool_call is not None:
        call_id, name, arguments = tool_call
        blocks.append(
            {"type": "tool_use", "id": call_id, "name": name, "input": json.loads(arguments)}
        )
    return blocks


def anthropic_json(
    text: str | None,
    model: str,
    tool_call: ToolCall | None = None,
    thinking: Thinking | None = None,
    usage: Usage = Usage(),
    id: str = "msg_mock",
) -> dict[str, Any]:
    return {
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _anthropic_blocks(text, tool_call, thinking),
        "stop_reason": "tool_use" if tool_call else "end_turn",
        "stop_sequence": None,
        "usage": anthropic_usage(usage),
    }


def anthropic_sse(
    text_chunks: Sequence[str],
    model: str,
    tool_call: ToolCall | None = None,
    thinking: Thinking | None = None,
    usage: Usage = Usage(),
    id: str = "msg_mock",
) -> list[SseEvent]:
    """The full event sequence: message_start, ping, one block per kind, message_delta, stop."""
    start = anthropic_json(None, model, usage=usage, id=id)
    start.update(content=[], stop_reason=None, usage=anthropic_usage(usage, output=1))
    events: list[SseEvent] = [
        _named_event("message_start", {"type": "message_start", "message": start}),
        _named_event("ping", {"type": "ping"}),
    ]
    blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    if thinking is not None:
        blocks.append(
            (
                {"type": "thinking", "thinking": ""},
                [{"type": "thinking_delta", "thinking": piece} for piece in _halves(thinking[0])]
                + [{"type": "signature_delta", "signature": thinking[1]}],
            )
        )
    if text_chunks:
        blocks.append(
            (
                {"type": "text", "text": ""},
                [{"type": "text_delta", "text": piece} for piece in text_chunks],
            )
        )
    if tool_call is not None:
        call_id, name, arguments = tool_call
        blocks.append(
            (
                {"type": "tool_use", "id": call_id, "name": name, "input": {}},
                [
                    {"type": "input_json_delta", "partial_json": piece}
                    for piece in ["", *_halves(arguments)]
                ],
            )
        )
    for index, (block, deltas) in enumerate(blocks):
        events += _anthropic_block_events(index, block, deltas)
    events.append(
        _named_event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": "tool_use" if tool_call else "end_turn",
                    "stop_sequence": None,
                },
                "usage": {"output_tokens": usage.output},
            },
        )
    )
    events.append(_named_event("message_stop", {"type": "message_stop"}))
    return events


def _anthropic_block_events(
    index: int, block: dict[str, Any], deltas: list[dict[str, Any]]
) -> list[SseEvent]:
    events: list[SseEvent] = [
        _named_event(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": block},
        )
    ]
    events += [
        _named_event(
            "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        )
        for delta in deltas
    ]
    events.append(
        _named_event("content_block_stop", {"type": "content_block_stop", "index": index})
    )
    return events


def anthropic_error(message: str, type: str = "invalid_request_error") -> dict[str, Any]:
    return {"type": "error", "error": {"type": type, "message": message}}


def anthropic_error_event(message: str, type: str = "overloaded_error") -> str:
    """An error arriving inside a 200 stream (the docs' overloaded_error example)."""
    return _named_event("error", anthropic_error(message, type))


# -- Gemini generateContent (ai.google.dev/api/generate-content) -----------------


def gemini_usage(usage: Usage) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "promptTokenCount": usage.input,
        "candidatesTokenCount": usage.output - usage.reasoning,
        "totalTokenCount": usage.input + usage.output,
    }
    if usage.reasoning:
        meta["thoughtsTokenCount"] = usage.reasoning
    if usage.cached:
        meta["cachedContentTokenCount"] = usage.cached
    return meta


def _gemini_parts(
    text: str | None, tool_call: ToolCall | None, thinking: Thinking | None
) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if text:
        parts.append({"text": text})
    if tool_call is not None:
        # Gemini has no call ids of its own; the gateway must invent them.
        parts.append({"functionCall": {"name": tool_call[1], "args": json.loads(tool_call[2])}})
    if thinking is not None:
        # The signature rides on the first part after the thought summary.
        if parts:
            parts[0]["thoughtSignature"] = thinking[1]
        parts.insert(0, {"text": thinking[0], "thought": True})
    return parts


def _gemini_response(
    parts: list[dict[str, Any]], model: str, finish: str | None, usage_meta: dict[str, Any]
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": usage_meta,
        "modelVersion": model,
        "responseId": "mock-response-id",
    }


def gemini_json(
    text: str | None,
    model: str,
    tool_call: ToolCall | None = None,
    thinking: Thinking | None = None,
    usage: Usage = Usage(),
) -> dict[str, Any]:
    return _gemini_response(
        _gemini_parts(text, tool_call, thinking), model, "STOP", gemini_usage(usage)
    )


def gemini_sse(
    text_chunks: Sequence[str],
    model: str,
    tool_call: ToolCall | None = None,
    thinking: Thinking | None = None,
    usage: Usage = Usage(),
) -> list[SseEvent]:
    """Each event a whole GenerateContentResponse; the last one has finishReason and usage.

    No ``[DONE]``: the stream simply ends. Lines end with CRLF, which the SSE
    grammar allows, so decoders get exercised on it.
    """
    pieces: list[list[dict[str, Any]]] = []
    if thinking is not None:
        pieces.append([{"text": thinking[0], "thought": True}])
    pieces += [[{"text": chunk}] for chunk in text_chunks]
    if tool_call is not None:
        pieces.append(_gemini_parts(None, tool_call, None))
    if thinking is not None and len(pieces) > 1:
        pieces[1][0]["thoughtSignature"] = thinking[1]
    running = {"promptTokenCount": usage.input, "totalTokenCount": usage.input}
    events: list[SseEvent] = []
    for index, parts in enumerate(pieces):
        last = index == len(pieces) - 1
        body = _gemini_response(
            parts, model, "STOP" if last else None, gemini_usage(usage) if last else running
        )
        events.append(f"data: {json.dumps(body, separators=(',', ':'))}\r\n\r\n")
    return events


def gemini_error(code: int, message: str, status: str) -> dict[str, Any]:
    """E.g. gemini_error(429, "Quota exceeded", "RESOURCE_EXHAUSTED") (google.rpc.Status)."""
    return {"error": {"code": code, "message": message, "status": status}}


# -- OpenAI Responses (platform.openai.com/docs/api-reference/responses) ---------


def responses_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input,
        "input_tokens_details": {"cached_tokens": usage.cached, "cache_write_tokens": 0},
        "output_tokens": usage.output,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning},
        "total_tokens": usage.input + usage.output,
    }


def _responses_object(
    model: str, id: str, status: str, output: list[dict[str, Any]], usage: Usage | None
) -> dict[str, Any]:
    return {
        "id": id,
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": None if usage is None else responses_usage(usage),
        "user": None,
        "metadata": {},
    }


def _responses_reasoning_item(summary: str, done: bool) -> dict[str, Any]:
    return {
        "id": "rs_mock",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": summary}] if done else [],
    }


def _responses_message_item(text: str, done: bool) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {
        "id": "msg_mock",
        "type": "message",
        "role": "assistant",
        "status": "completed" if done else "in_progress",
        "content": content if done else [],
    }


def _responses_call_item(tool_call: ToolCall, done: bool) -> dict[str, Any]:
    return {
        "id": "fc_mock",
        "type": "function_call",
        "call_id": tool_call[0],
        "name": tool_call[1],
        "arguments": tool_call[2] if done else "",
        "status": "completed" if done else "in_progress",
    }


def _responses_output(
    text: str | None, tool_call: ToolCall | None, reasoning: str | None
) -> list[dict[str, Any]]:
    output: list[dict[str, Any]] = []
    if reasoning is not None:
        output.append(_responses_reasoning_item(reasoning, True))
    if text:
        output.append(_responses_message_item(text, True))
    if tool_call is not None:
        output.append(_responses_call_item(tool_call, True))
    return output


def responses_json(
    text: str | None,
    model: str,
    tool_call: ToolCall | None = None,
    reasoning: str | None = None,
    usage: Usage = Usage(),
    id: str = "resp_mock",
) -> dict[str, Any]:
    """``reasoning`` is the summary text of one reasoning item."""
    return _responses_object(
        model, id, "completed", _responses_output(text, tool_call, reasoning), usage
    )


class _Numbered:
    """Typed Responses events, each with the next sequence_number."""

    __slots__ = ("events", "_next")

    def __init__(self) -> None:
        self.events: list[SseEvent] = []
        self._next = 0

    def add(self, type: str, **fields: Any) -> None:
        self.events.append(
            _named_event(type, {"type": type, "sequence_number": self._next, **fields})
        )
        self._next += 1


def responses_sse(
    text_chunks: Sequence[str],
    model: str,
    tool_call: ToolCall | None = None,
    reasoning: str | None = None,
    usage: Usage = Usage(),
    id: str = "resp_mock",
) -> list[SseEvent]:
    out = _Numbered()
    out.add("response.created", response=_responses_object(model, id, "in_progress", [], None))
    out.add("response.in_progress", response=_responses_object(model, id, "in_progress", [], None))
    index = 0
    if reasoning is not None:
        _responses_reasoning_events(out, index, reasoning)
        index += 1
    if text_chunks:
        _responses_text_events(out, index, text_chunks)
        index += 1
    if tool_call is not None:
        _responses_call_events(out, index, tool_call)
    final = _responses_output("".join(text_chunks), tool_call, reasoning)
    out.add("response.completed", response=_responses_object(model, id, "completed", final, usage))
    return out.events


def _responses_reasoning_events(out: _Numbered, index: int, summary: str) -> None:
    where = {"item_id": "rs_mock", "output_index": index, "summary_index": 0}
    out.add(
        "response.output_item.added",
        output_index=index,
        item=_responses_reasoning_item(summary, False),
    )
    out.add(
        "response.reasoning_summary_part.added", **where, part={"type": "summary_text", "text": ""}
    )
    for piece in _halves(summary):
        out.add("response.reasoning_summary_text.delta", **where, delta=piece)
    out.add("response.reasoning_summary_text.done", **where, text=summary)
    out.add(
        "response.reasoning_summary_part.done",
        **where,
        part={"type": "summary_text", "text": summary},
    )
    out.add(
        "response.output_item.done",
        output_index=index,
        item=_responses_reasoning_item(summary, True),
    )


def _responses_text_events(out: _Numbered, index: int, chunks: Sequence[str]) -> None:
    text = "".join(chunks)
    where = {"item_id": "msg_mock", "output_index": index, "content_index": 0}
    out.add(
        "response.output_item.added", output_index=index, item=_responses_message_item(text, False)
    )
    out.add(
        "response.content_part.added",
        **where,
        part={"type": "output_text", "text": "", "annotations": [], "logprobs": []},
    )
    for piece in chunks:
        out.add("response.output_text.delta", **where, delta=piece, logprobs=[])
    out.add("response.output_text.done", **where, text=text, logprobs=[])
    out.add(
        "response.content_part.done",
        **where,
        part={"type": "output_text", "text": text, "annotations": [], "logprobs": []},
    )
    out.add(
        "response.output_item.done", output_index=index, item=_responses_message_item(text, True)
    )


def _responses_call_events(out: _Numbered, index: int, tool_call: ToolCall) -> None:
    where = {"item_id": "fc_mock", "output_index": index}
    out.add(
        "response.output_item.added",
        output_index=index,
        item=_responses_call_item(tool_call, False),
    )
    for piece in _halves(tool_call[2]):
        out.add("response.function_call_arguments.delta", **where, delta=piece)
    out.add("response.function_call_arguments.done", **where, arguments=tool_call[2])
    out.add(
        "response.output_item.done", output_index=index, item=_responses_call_item(tool_call, True)
    )


def responses_error_event(
    message: str, code: str = "server_error", sequence_number: int = 0
) -> str:
    """A stream-level ``error`` event (ResponseErrorEvent in the API reference)."""
    return _named_event(
        "error",
        {
            "type": "error",
            "code": code,
            "message": message,
            "param": None,
            "sequence_number": sequence_number,
        },
    )
