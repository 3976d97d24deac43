"""Anthropic Messages streams: SSE events <-> IR events."""

from __future__ import annotations

import json
from typing import Any

from omniroute import errors
from omniroute.formats import ir
from omniroute.formats.anthropic_response import (
    STOP_FROM_WIRE,
    STOP_TO_WIRE,
    error_event,
    kind_of,
    msg_id,
    parse_usage,
    render_usage,
)
from omniroute.formats.common import (
    dump_json,
    error_fields,
    merge_usage,
    new_id,
    safe_error_text,
    status_for_kind,
    usage_or_estimate,
)
from omniroute.formats.sse import encode_sse


class StreamDecoder:
    """Anthropic SSE events -> IR events.

    Blocks with no IR form (server tool use and results) are skipped with
    their deltas; the remaining blocks are renumbered 0, 1, 2...
    """

    content_moved = False  # the content is always passed on as it came

    __slots__ = ("_done", "_index", "_next", "_open", "_started", "_usage", "complete")

    def __init__(self) -> None:
        self._started = self._done = False
        self.complete = False  # message_stop arrived: the stream ended as it should
        self._index: dict[int, int | None] = {}  # wire index -> IR index (None: skipped)
        self._next = 0
        self._open: list[int] = []
        self._usage: dict[str, Any] = {}  # raw usage so far (fields arrive in pieces)

    def feed(self, event: str | None, data: str) -> list[ir.Event]:
        if self._done:
            return []
        try:
            obj = json.loads(data)
        except ValueError:
            raise errors.UpstreamProtocolError("upstream sent a stream event that is not JSON")
        if not isinstance(obj, dict):
            return []
        kind = obj.get("type") or event
        if kind == "error":
            self._done = True
            return [ir.StreamError(_stream_error(obj))]
        if kind == "message_start":
            return self._start(obj.get("message") or {})
        if kind == "content_block_start":
            return self._block_start(obj)
        if kind == "content_block_delta":
            return self._block_delta(obj)
        if kind == "content_block_stop":
            index = self._index.get(_int(obj.get("index")))
            if index is None or index not in self._open:
                return []
            self._open.remove(index)
            return [ir.BlockStop(index=index)]
        if kind == "message_delta":
            return self._message_delta(obj)
        if kind == "message_stop":
            self.complete = True
            return self._end()
        return []  # ping and event types added later

    def close(self) -> list[ir.Event]:
        return [] if self._done or not self._started else self._end()

    def _start(self, message: dict[str, Any]) -> list[ir.Event]:
        if self._started:
            return []
        self._started = True
        usage = message.get("usage")
        if isinstance(usage, dict):
            self._usage.update({k: v for k, v in usage.items() if v is not None})
        return [
            ir.MessageStart(
                id=str(message.get("id") or ""),
                model=str(message.get("model") or ""),
                usage=parse_usage(self._usage) if self._usage else None,
            )
        ]

    def _block_start(self, obj: dict[str, Any]) -> list[ir.Event]:
        out = self._start({}) if not self._started else []
        wire = _int(obj.get("index"))
        block = obj.get("content_block") or {}
        kind = block.get("type")
        if kind not in ("text", "thinking", "redacted_thinking", "tool_use"):
            self._index[wire] = None
            return out
        index = self._index[wire] = self._next
        self._next += 1
        self._open.append(index)
        if kind == "tool_use":
            out.append(
                ir.BlockStart(index, "tool_call", id=block.get("id"), name=block.get("name"))
            )
            if block.get("input"):  # normally {} with the JSON streamed after
                out.append(ir.ToolArgsDelta(index, dump_json(block["input"])))
        elif kind == "redacted_thinking":
            out.append(ir.BlockStart(index, "thinking", redacted=True))
            out.append(ir.SignatureDelta(index, str(block.get("data") or "")))
        elif kind == "thinking":
            out.append(ir.BlockStart(index, "thinking"))
            if block.get("thinking"):
                out.append(ir.ThinkingDelta(index, block["thinking"]))
            if block.get("signature"):
                out.append(ir.SignatureDelta(index, block["signature"]))
        else:
            out.append(ir.BlockStart(index, "text"))
            if block.get("text"):
                out.append(ir.TextDelta(index, block["text"]))
        return out

    def _block_delta(self, obj: dict[str, Any]) -> list[ir.Event]:
        index = self._index.get(_int(obj.get("index")))
        delta = obj.get("delta") or {}
        kind = delta.get("type")
        if index is None or index not in self._open:
            return []
        if kind == "text_delta" and delta.get("text"):
            return [ir.TextDelta(index, delta["text"])]
        if kind == "thinking_delta" and delta.get("thinking"):
            return [ir.ThinkingDelta(index, delta["thinking"])]
        if kind == "signature_delta" and delta.get("signature"):
            return [ir.SignatureDelta(index, delta["signature"])]
        if kind == "input_json_delta" and delta.get("partial_json"):
            return [ir.ToolArgsDelta(index, delta["partial_json"])]
        return []  # citations_delta and empty fragments

    def _message_delta(self, obj: dict[str, Any]) -> list[ir.Event]:
        out = self._close_blocks()
        usage = obj.get("usage")
        if isinstance(usage, dict):
            self._usage.update({k: v for k, v in usage.items() if v is not None})
        delta = obj.get("delta") or {}
        wire = delta.get("stop_reason")
        stop = STOP_FROM_WIRE.get(wire, "end_turn") if isinstance(wire, str) else None
        usage_ir = parse_usage(self._usage) if self._usage else None
        out.append(ir.MessageDelta(stop, delta.get("stop_sequence"), usage_ir))
        return out

    def _close_blocks(self) -> list[ir.Event]:
        out: list[ir.Event] = [ir.BlockStop(i) for i in self._open]
        self._open.clear()
        return out

    def _end(self) -> list[ir.Event]:
        out = self._close_blocks()
        self._done = True
        out.append(ir.MessageStop())
        return out


def _int(value: Any) -> int:
    return value if isinstance(value, int) else -1


def _stream_error(obj: dict[str, Any]) -> ir.ErrorInfo:
    message, etype, _ = error_fields(obj)
    kind = kind_of(etype)
    text = safe_error_text(message or "upstream stream error")
    return ir.ErrorInfo(status=status_for_kind(kind), kind=kind, message=text)


class StreamEncoder:
    """IR events -> Anthropic SSE: message_start, ping, one block at a time
    (content_block_start/delta/stop), message_delta, message_stop.

    Anthropic allows one open block at a time, so a BlockStart closes the open
    block; deltas that arrive later for a closed block are dropped (OpenAI
    streams each tool call's arguments before starting the next one, so this
    does not happen with well-behaved upstreams)."""

    __slots__ = (
        "_chars", "_done", "_id", "_kinds", "_map", "_model", "_next", "_open", "_pending",
        "_started", "_stop", "_stop_seq", "_tool_used", "_usage",
    )  # fmt: skip

    def __init__(self, model: str, *, include_usage: bool = False) -> None:
        # include_usage: Anthropic streams always carry usage
        self._model = model
        self._id: str | None = None
        self._started = self._done = self._tool_used = False
        self._map: dict[int, int] = {}  # IR index -> wire index
        self._kinds: dict[int, str] = {}  # IR index -> text | thinking | tool_call
        self._next = 0
        self._open: int | None = None  # IR index of the open block
        self._pending: int | None = None  # redacted block waiting for its data
        self._stop: ir.StopReason | None = None
        self._stop_seq: str | None = None
        self._usage: ir.Usage | None = None
        self._chars = 0

    def encode(self, ev: ir.Event) -> bytes:
        if self._done:
            return b""
        if isinstance(ev, ir.StreamError):
            self._done = True
            return error_event(ev.error)
        if isinstance(ev, ir.MessageStart):
            self._id = self._id or ev.id
            self._usage = merge_usage(self._usage, ev.usage)
            return self._head()
        out = self._head()
        if isinstance(ev, ir.MessageDelta):
            self._stop = ev.stop_reason or self._stop
            self._stop_seq = ev.stop_sequence or self._stop_seq
            self._usage = merge_usage(self._usage, ev.usage)
        elif isinstance(ev, ir.MessageStop):
            out += self._finish()
        elif isinstance(ev, ir.BlockStart):
            out += self._close() + self._open_block(ev)
        elif isinstance(ev, ir.BlockStop):
            if ev.index == self._open:
                out += self._close()
        else:
            out += self._delta(ev)
        return out

    def _frame(self, obj: dict[str, Any]) -> bytes:
        return encode_sse(dump_json(obj), event=obj["type"])

    def _head(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        usage = render_usage(self._usage or ir.Usage())
        message: dict[str, Any] = {
            "id": msg_id(self._id),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        start = self._frame({"type": "message_start", "message": message})
        return start + self._frame({"type": "ping"})

    def _open_block(self, ev: ir.BlockStart, data: str | None = None) -> bytes:
        self._kinds[ev.index] = ev.kind
        self._open = ev.index
        if ev.redacted and data is None:
            self._pending = ev.index  # started once its payload (a SignatureDelta) is known
            return b""
        wire = self._map[ev.index] = self._next
        self._next += 1
        block: dict[str, Any]
        if ev.redacted:
            block = {"type": "redacted_thinking", "data": data}
        elif ev.kind == "tool_call":
            self._tool_used = True
            block = {"type": "tool_use", "id": ev.id or new_id("toolu_"), "name": ev.name or ""}
            block["input"] = {}
        elif ev.kind == "thinking":
            block = {"type": "thinking", "thinking": "", "signature": ""}
        else:
            block = {"type": "text", "text": ""}
        return self._frame({"type": "content_block_start", "index": wire, "content_block": block})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        out = b""
        if self._pending == self._open:  # a redacted block that never got data
            out = self._open_block(ir.BlockStart(self._open, "thinking", redacted=True), "")
        index, self._open, self._pending = self._map[self._open], None, None
        return out + self._frame({"type": "content_block_stop", "index": index})

    def _delta(self, ev: ir.Event) -> bytes:
        index = getattr(ev, "index", None)
        if index is None:
            return b""
        out = b""
        if index not in self._kinds and isinstance(ev, ir.TextDelta | ir.ThinkingDelta):
            # a delta without a BlockStart (sparse decoder): open the block now
            start = ir.BlockStart(index, "text" if isinstance(ev, ir.TextDelta) else "thinking")
            out = self._close() + self._open_block(start)
        if index != self._open:
            return out  # late delta for a closed block
        if self._pending == index:
            if isinstance(ev, ir.SignatureDelta):
                self._pending = None
                return self._open_block(
                    ir.BlockStart(index, "thinking", redacted=True), ev.signature
                )
            return b""
        delta = self._wire_delta(ev, self._kinds[index])
        if delta is None:
            return out
        return out + self._frame(
            {"type": "content_block_delta", "index": self._map[index], "delta": delta}
        )

    def _wire_delta(self, ev: ir.Event, kind: str) -> dict[str, Any] | None:
        if isinstance(ev, ir.TextDelta) and kind == "text" and ev.text:
            self._chars += len(ev.text)
            return {"type": "text_delta", "text": ev.text}
        if isinstance(ev, ir.ThinkingDelta) and kind == "thinking" and ev.text:
            self._chars += len(ev.text)
            return {"type": "thinking_delta", "thinking": ev.text}
        if isinstance(ev, ir.SignatureDelta) and kind == "thinking" and ev.signature:
            return {"type": "signature_delta", "signature": ev.signature}
        if isinstance(ev, ir.ToolArgsDelta) and kind == "tool_call" and ev.partial_json:
            self._chars += len(ev.partial_json)
            return {"type": "input_json_delta", "partial_json": ev.partial_json}
        return None  # e.g. a Gemini signature on a tool call: no Anthropic form

    def _finish(self) -> bytes:
        out = self._close()
        stop = self._stop or ("tool_use" if self._tool_used else "end_turn")
        usage = usage_or_estimate(self._usage, self._chars)
        delta = {"stop_reason": STOP_TO_WIRE[stop], "stop_sequence": self._stop_seq}
        out += self._frame({"type": "message_delta", "delta": delta, "usage": render_usage(usage)})
        self._done = True
        return out + self._frame({"type": "message_stop"})
