"""Gemini ``streamGenerateContent?alt=sse`` streams <-> IR events.

Each ``data:`` event is a whole GenerateContentResponse holding the parts
produced since the previous one (ai.google.dev/api/generate-content).
Signatures flow as described in ``omniroute.formats.gemini``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from omniroute import errors
from omniroute.formats import ir
from omniroute.formats.common import (
    dump_json,
    estimate_tokens,
    merge_usage,
    new_id,
    parse_json_object,
)
from omniroute.formats.gemini_parts import get_field, id_factory, parse_parts, wrap_signature
from omniroute.formats.gemini_response import (
    error_event,
    error_info,
    finish_reason,
    parse_usage,
    render_usage,
    stop_reason,
)
from omniroute.formats.sse import encode_sse

# ------------------------------------------------------------------ decoder


class StreamDecoder:
    """Gemini SSE chunks -> IR events. Text and thought parts extend the open
    block of their kind; a functionCall arrives whole and becomes a complete
    tool block; finishReason and usageMetadata (cumulative) -> MessageDelta;
    ``close()`` -> MessageStop."""

    content_moved = False  # the content is always passed on as it came

    __slots__ = (
        "_id",
        "_open",
        "_open_kind",
        "_open_signed",
        "_next",
        "_parts_seen",
        "_saw_call",
        "_finish",
        "_usage",
        "_sent_usage",
        "_delta_sent",
        "_ended",
    )

    @property
    def complete(self) -> bool:
        """A finishReason arrived: Gemini streams have no other end marker."""
        return self._finish is not None

    def __init__(self) -> None:
        self._id: str | None = None  # set by the first chunk (MessageStart sent)
        self._open: int | None = None
        self._open_kind = ""
        self._open_signed = False
        self._next = 0
        self._parts_seen = 0
        self._saw_call = False
        self._finish: str | None = None
        self._usage: ir.Usage | None = None
        self._sent_usage: ir.Usage | None = None
        self._delta_sent = False
        self._ended = False  # an error event ended the stream

    def feed(self, event: str | None, data: str) -> list[ir.Event]:
        data = data.strip()
        if self._ended or not data or data == "[DONE]":
            return []
        try:
            chunk: Any = json.loads(data)
        except ValueError:
            raise errors.UpstreamProtocolError("The Gemini stream sent an event that is not JSON.")
        out: list[ir.Event] = []
        for item in chunk if isinstance(chunk, list) else [chunk]:
            if isinstance(item, dict) and not self._ended:
                self._chunk(item, out)
        return out

    def close(self) -> list[ir.Event]:
        if self._ended:
            return []
        out: list[ir.Event] = []
        self._start({}, out)
        self._close_block(out)
        if not self._delta_sent or self._usage != self._sent_usage:
            self._message_delta(out)
        out.append(ir.MessageStop())
        self._ended = True
        return out

    # ------------------------------------------------------------ internals

    def _chunk(self, chunk: dict[str, Any], out: list[ir.Event]) -> None:
        error = chunk.get("error")
        if isinstance(error, dict):
            out.append(ir.StreamError(error_info(error)))
            self._ended = True
            return
        self._start(chunk, out)
        usage = parse_usage(get_field(chunk, "usageMetadata"))
        if usage is not None:
            self._usage = usage
        candidates = chunk.get("candidates")
        candidate = candidates[0] if isinstance(candidates, list) and candidates else None
        feedback = get_field(chunk, "promptFeedback")
        if isinstance(feedback, dict) and get_field(feedback, "blockReason"):
            self._finish = "SAFETY"  # the prompt itself was blocked
        if not isinstance(candidate, dict):
            if self._delta_sent and usage is not None:
                self._message_delta(out)
            return
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else []:
            if isinstance(part, dict):
                self._part(part, out)
                self._parts_seen += 1
        finish = get_field(candidate, "finishReason")
        if isinstance(finish, str):
            self._finish = finish
            self._close_block(out)
            self._message_delta(out)
        elif self._delta_sent and usage is not None:
            self._message_delta(out)

    def _start(self, chunk: dict[str, Any], out: list[ir.Event]) -> None:
        if self._id is not None:
            return
        resp_id = get_field(chunk, "responseId")
        self._id = resp_id if isinstance(resp_id, str) and resp_id else new_id("resp_")
        model = str(get_field(chunk, "modelVersion") or "")
        out.append(ir.MessageStart(self._id, model, parse_usage(get_field(chunk, "usageMetadata"))))

    def _message_delta(self, out: list[ir.Event]) -> None:
        reason = stop_reason(self._finish, self._saw_call)
        out.append(ir.MessageDelta(stop_reason=reason, usage=self._usage))
        self._delta_sent = True
        self._sent_usage = self._usage

    def _begin(
        self,
        kind: Literal["text", "thinking", "tool_call"],
        out: list[ir.Event],
        call: tuple[str, str] | None = None,
    ) -> int:
        self._close_block(out)
        index = self._next
        self._next += 1
        call_id, name = call or (None, None)
        out.append(ir.BlockStart(index, kind, id=call_id, name=name))
        self._open, self._open_kind, self._open_signed = index, kind, False
        return index

    def _close_block(self, out: list[ir.Event]) -> None:
        if self._open is not None:
            out.append(ir.BlockStop(self._open))
        self._open, self._open_kind, self._open_signed = None, "", False

    def _part(self, part: dict[str, Any], out: list[ir.Event]) -> None:
        sig = get_field(part, "thoughtSignature")
        sig = sig if isinstance(sig, str) and sig else None
        text = part.get("text")
        if part.get("thought") is True:
            if self._open_kind != "thinking" or self._open_signed:
                self._begin("thinking", out)
            assert self._open is not None
            if isinstance(text, str) and text:
                out.append(ir.ThinkingDelta(self._open, text))
            if sig:
                out.append(ir.SignatureDelta(self._open, sig))
                self._open_signed = True
            return
        if sig:  # the signature of the thinking that led to this part
            index = self._begin("thinking", out)
            out.append(ir.SignatureDelta(index, sig))
            self._close_block(out)
        if isinstance(text, str):
            self._text(text, out)
            return
        call = get_field(part, "functionCall")
        if isinstance(call, dict):
            self._call(call, out)
            return
        try:  # code execution parts become text, media parts have no stream form
            parsed = parse_parts([part], "chunk", id_factory("resp", str(self._id)))
        except errors.BadRequest:
            return
        for p in parsed:
            if isinstance(p, ir.TextPart):
                self._text(p.text, out)

    def _text(self, text: str, out: list[ir.Event]) -> None:
        if not text:
            return
        if self._open_kind != "text":
            self._begin("text", out)
        assert self._open is not None
        out.append(ir.TextDelta(self._open, text))

    def _call(self, call: dict[str, Any], out: list[ir.Event]) -> None:
        name = str(call.get("name") or "")
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id:
            call_id = id_factory("resp", str(self._id))(name, self._parts_seen)
        args = call.get("args")
        index = self._begin("tool_call", out, (call_id, name))
        out.append(ir.ToolArgsDelta(index, dump_json(args if isinstance(args, dict) else {})))
        self._close_block(out)
        self._saw_call = True


# ------------------------------------------------------------------ encoder


class _Block:
    __slots__ = ("kind", "redacted", "id", "name", "args", "signature", "had_text")

    def __init__(self, start: ir.BlockStart) -> None:
        self.kind = start.kind
        self.redacted = start.redacted
        self.id = start.id or ""
        self.name = start.name or ""
        self.args: list[str] = []
        self.signature = ""
        self.had_text = False


class StreamEncoder:
    """IR events -> Gemini SSE (``data: <GenerateContentResponse>``). Text and
    thoughts go out as they come; a tool call goes out as one functionCall part
    when its block stops; the last chunk has finishReason and usageMetadata.
    ``include_usage`` is accepted for the common interface: Gemini always
    reports usage."""

    __slots__ = (
        "_model",
        "_id",
        "_blocks",
        "_held",
        "_pending",
        "_stop",
        "_usage",
        "_input",
        "_chars",
        "_done",
    )

    def __init__(self, model: str, *, include_usage: bool = False) -> None:
        self._model = model
        self._id = ""
        self._blocks: dict[int, _Block] = {}
        self._held: dict[int, _Block] = {}  # finished calls waiting for earlier ones
        self._pending: str | None = None  # a wrapped signature for the next non-thought part
        self._stop: ir.StopReason | None = None
        self._usage: ir.Usage | None = None
        self._input = 0  # prompt tokens from MessageStart, for an estimate
        self._chars: list[str] = []  # what was sent, for an estimate
        self._done = False

    def encode(self, ev: ir.Event) -> bytes:
        if self._done:
            return b""
        if isinstance(ev, ir.StreamError):
            self._done = True
            return error_event(ev.error)
        if not self._id:
            self._id = ev.id if isinstance(ev, ir.MessageStart) else new_id("resp_")
        if isinstance(ev, ir.MessageStart):
            self._model = self._model or ev.model
            self._input = ev.usage.input_tokens if ev.usage else 0
            return b""
        if isinstance(ev, ir.MessageDelta):
            self._stop = ev.stop_reason or self._stop
            if ev.usage is not None:  # a later report may leave out the prompt tokens
                base = self._usage or ir.Usage(input_tokens=self._input)
                self._usage = merge_usage(base, ev.usage)
            return b""
        if isinstance(ev, ir.MessageStop):
            return self._finish()
        return self._content(ev)

    def _content(self, ev: ir.Event) -> bytes:
        if isinstance(ev, ir.BlockStart):
            # Gemini output is linear: thinking still open when something new
            # starts is over, and its signature must come before what follows.
            out = b"".join(
                self._stop_block(i) for i, b in list(self._blocks.items()) if b.kind == "thinking"
            )
            self._blocks[ev.index] = _Block(ev)
            return out
        block = self._blocks.get(getattr(ev, "index", -1))
        if block is None:
            return b""
        if isinstance(ev, ir.TextDelta) and ev.text:
            self._chars.append(ev.text)
            return self._chunk([self._with_pending({"text": ev.text})])
        if isinstance(ev, ir.ThinkingDelta) and ev.text and not block.redacted:
            block.had_text = True
            self._chars.append(ev.text)
            return self._chunk([*self._flush(), {"text": ev.text, "thought": True}])
        if isinstance(ev, ir.SignatureDelta):
            block.signature += ev.signature
        elif isinstance(ev, ir.ToolArgsDelta):
            block.args.append(ev.partial_json)
        elif isinstance(ev, ir.BlockStop):
            return self._stop_block(ev.index)
        return b""

    def _stop_block(self, index: int) -> bytes:
        block = self._blocks.pop(index)
        if block.kind == "tool_call":
            self._held[index] = block
            return self._release_calls()
        if block.kind != "thinking" or block.redacted or not block.signature:
            return b""
        sig = wrap_signature(block.signature)  # the stream goes to a Gemini client
        if block.had_text:
            return self._chunk([{"text": "", "thought": True, "thoughtSignature": sig}])
        parts = self._flush()
        self._pending = sig
        return self._chunk(parts) if parts else b""

    def _release_calls(self) -> bytes:
        """Calls go out whole, in the order they started: a call still
        streaming its arguments holds back the ones that started after it."""
        first_open = min(
            (i for i, b in self._blocks.items() if b.kind == "tool_call"), default=None
        )
        out = bytearray()
        for index in sorted(self._held):
            if first_open is not None and index > first_open:
                break
            out += self._call_chunk(self._held.pop(index))
        return bytes(out)

    def _call_chunk(self, block: _Block) -> bytes:
        self._stop = self._stop or "tool_use"
        args = "".join(block.args)
        self._chars.append(block.name + args)
        call = {"id": block.id, "name": block.name, "args": parse_json_object(args)}
        parts = self._flush() if block.signature and self._pending else []
        part: dict[str, Any] = {"functionCall": call}
        if block.signature:
            part["thoughtSignature"] = wrap_signature(block.signature)
        else:
            part = self._with_pending(part)
        return self._chunk([*parts, part])

    def _finish(self) -> bytes:
        out = bytearray()
        for index in sorted(self._blocks):
            out += self._stop_block(index)
        parts = self._flush() or [{"text": ""}]
        usage = self._usage
        if usage is None:
            usage = ir.Usage(self._input, estimate_tokens("".join(self._chars)), estimated=True)
        chunk = self._body(parts)
        chunk["candidates"][0]["finishReason"] = finish_reason(self._stop)
        chunk["usageMetadata"] = render_usage(usage)
        out += encode_sse(dump_json(chunk))
        self._done = True
        return bytes(out)

    def _with_pending(self, part: dict[str, Any]) -> dict[str, Any]:
        if self._pending:
            part["thoughtSignature"] = self._pending
            self._pending = None
        return part

    def _flush(self) -> list[dict[str, Any]]:
        """A waiting signature with nothing to sit on goes out on an empty text part."""
        if not self._pending:
            return []
        part = {"text": "", "thoughtSignature": self._pending}
        self._pending = None
        return [part]

    def _body(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}],
            "modelVersion": self._model,
            "responseId": self._id,
        }

    def _chunk(self, parts: list[dict[str, Any]]) -> bytes:
        return encode_sse(dump_json(self._body(parts)))
