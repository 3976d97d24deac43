"""OpenAI Responses streams (typed SSE events) <-> IR events
(platform.openai.com/docs/api-reference/responses-streaming).

Every event is ``event: <type>`` + ``data: <json>`` where the JSON repeats the
type and carries a ``sequence_number`` (0, 1, 2...). One IR block is one
output item: text -> a message item with one output_text part, thinking -> a
reasoning item (summary text, encrypted_content from the signature, the item
id in ``BlockStart.id``), tool_call -> a function_call item.
"""

from __future__ import annotations

import json
from typing import Any

from omniroute import errors
from omniroute.formats import ir
from omniroute.formats.common import (
    dump_json,
    merge_usage,
    new_id,
    stable_id,
    tokens_for_chars,
)
from omniroute.formats.openai_responses_items import REDACTED_PREFIX
from omniroute.formats.openai_responses_response import (
    call_output_item,
    failed_error,
    final_status,
    message_item,
    output_text,
    parse_usage,
    response_id,
    response_object,
    stream_error_info,
)
from omniroute.formats.openai_responses_tools import InputStream, custom_arguments, split_echo
from omniroute.formats.sse import encode_sse

# ------------------------------------------------------------------ encoder


class _Item:
    __slots__ = (
        "kind", "out", "id", "call_id", "name", "text", "signature", "summary", "redacted",
        "client", "input",
    )  # fmt: skip

    def __init__(self, kind: str, out: int, item_id: str) -> None:
        self.kind = kind  # text | thinking | tool_call | custom (a custom tool's call)
        self.out = out  # output_index
        self.id = item_id
        self.call_id = ""
        self.name = ""
        self.text: list[str] = []  # text, summary text or argument fragments
        self.signature = ""
        self.summary = False  # a summary part was opened
        self.redacted = False
        self.client: dict[str, Any] | None = None  # the tool as the client declared it
        self.input = InputStream()  # a custom call's input, decoded as it streams


class StreamEncoder:
    """IR events -> the Responses event sequence: response.created,
    response.in_progress, per block output_item.added ... output_item.done,
    then response.completed (or response.incomplete) with the whole response;
    a StreamError -> response.failed and nothing after it. A call of a
    custom tool (per the request's tool map, carried in ``echo``) is a
    custom_tool_call item whose input streams as
    response.custom_tool_call_input.delta events."""

    __slots__ = (
        "_model", "_rid", "_created", "_seq", "_items", "_done", "_next", "_stop", "_usage",
        "_chars", "_finished", "_echo", "_tools",
    )  # fmt: skip

    def __init__(
        self, model: str, *, include_usage: bool = False, echo: dict[str, Any] | None = None
    ) -> None:
        """``echo``: request fields the response object repeats (e.g.
        previous_response_id), as the Responses API does."""
        self._model = model
        self._echo, self._tools = split_echo(echo)
        self._rid = ""
        self._created = 0
        self._seq = 0
        self._items: dict[int, _Item] = {}  # open items by IR block index
        self._done: dict[int, dict[str, Any]] = {}  # finished items by output_index
        self._next = 0
        self._stop: ir.StopReason | None = None
        self._usage: ir.Usage | None = None
        self._chars = 0
        self._finished = False

    def encode(self, ev: ir.Event) -> bytes:
        if self._finished:
            return b""
        out = bytearray()
        if not self._rid:
            self._start(ev, out)
        if isinstance(ev, ir.StreamError):
            self._emit(out, "response.failed", response=self._response("failed", ev.error))
            self._finished = True
        elif isinstance(ev, ir.MessageDelta):
            self._stop = ev.stop_reason or self._stop
            self._usage = merge_usage(self._usage, ev.usage)
        elif isinstance(ev, ir.MessageStop):
            self._finish(out)
        elif isinstance(ev, ir.BlockStart):
            self._open(ev, out)
        elif isinstance(ev, ir.TextDelta | ir.ThinkingDelta | ir.ToolArgsDelta | ir.SignatureDelta):
            self._delta(ev, out)
        elif isinstance(ev, ir.BlockStop) and ev.index in self._items:
            self._close(self._items.pop(ev.index), out)
        return bytes(out)

    # --------------------------------------------------------------- pieces

    def _emit(self, out: bytearray, kind: str, **fields: Any) -> None:
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        out += encode_sse(dump_json(payload), event=kind)

    def _start(self, ev: ir.Event, out: bytearray) -> None:
        start = ev if isinstance(ev, ir.MessageStart) else None
        self._rid = response_id(start.id if start else new_id("resp_"))
        self._model = self._model or (start.model if start else "")
        self._usage = start.usage if start else None
        created = self._response("in_progress")
        self._created = created["created_at"]
        self._emit(out, "response.created", response=created)
        self._emit(out, "response.in_progress", response=self._response("in_progress"))

    def _response(self, status: str, err: ir.ErrorInfo | None = None) -> dict[str, Any]:
        output = [self._done[k] for k in sorted(self._done)]
        usage = self._usage if status != "in_progress" else None
        return response_object(
            self._rid,
            self._model,
            self._created,
            status=status,
            output=output,
            usage=usage,
            stop=self._stop,
            error=failed_error(err) if err else None,
            echo=self._echo,
        )

    def _open(self, ev: ir.BlockStart, out: bytearray) -> None:
        index = self._next
        self._next += 1
        if ev.kind == "tool_call":
            client = self._tools.get(ev.name or "")
            item = _Item("custom" if client and client.get("custom") else "tool_call", index, "")
            item.call_id, item.name, item.client = ev.id or new_id("call_"), ev.name or "", client
            part = ir.ToolCallPart(item.call_id, item.name, "")
            raw = call_output_item(self._rid, part, client, "in_progress")
            item.id = raw["id"]
        elif ev.kind == "thinking":
            prefix = REDACTED_PREFIX if ev.redacted else "rs_"
            given = ev.id if ev.id and ev.id.startswith(prefix) else None
            item = _Item("thinking", index, given or stable_id(prefix, self._rid, str(index)))
            item.redacted = ev.redacted
            raw = {"id": item.id, "type": "reasoning", "summary": []}
        else:
            item = _Item("text", index, stable_id("msg_", self._rid, str(index)))
            raw = message_item(item.id, [], "in_progress")
        self._items[ev.index] = item
        self._emit(out, "response.output_item.added", output_index=index, item=raw)
        if item.kind == "text":
            self._emit(out, "response.content_part.added", **self._at(item, content_index=0),
                       part=output_text(""))  # fmt: skip

    def _at(self, item: _Item, **more: int) -> dict[str, Any]:
        return {"item_id": item.id, "output_index": item.out, **more}

    def _delta(self, ev: ir.Event, out: bytearray) -> None:
        item = self._items.get(getattr(ev, "index", -1))
        if item is None:
            return
        if isinstance(ev, ir.SignatureDelta):
            item.signature += ev.signature
            return
        assert isinstance(ev, ir.TextDelta | ir.ThinkingDelta | ir.ToolArgsDelta)
        piece = ev.partial_json if isinstance(ev, ir.ToolArgsDelta) else ev.text
        if not piece:
            return
        item.text.append(piece)
        self._chars += len(piece)
        if item.kind == "text" and isinstance(ev, ir.TextDelta):
            self._emit(out, "response.output_text.delta", **self._at(item, content_index=0),
                       delta=piece, logprobs=[])  # fmt: skip
        elif item.kind == "tool_call" and isinstance(ev, ir.ToolArgsDelta):
            self._emit(out, "response.function_call_arguments.delta", **self._at(item), delta=piece)
        elif item.kind == "custom" and isinstance(ev, ir.ToolArgsDelta):
            decoded = item.input.feed(piece)
            if decoded:
                self._emit(out, "response.custom_tool_call_input.delta", **self._at(item),
                           delta=decoded)  # fmt: skip
        elif item.kind == "thinking" and isinstance(ev, ir.ThinkingDelta):
            if not item.summary:
                item.summary = True
                self._emit(out, "response.reasoning_summary_part.added",
                           **self._at(item, summary_index=0), part=_summary(""))  # fmt: skip
            self._emit(out, "response.reasoning_summary_text.delta",
                       **self._at(item, summary_index=0), delta=piece)  # fmt: skip

    def _close(self, item: _Item, out: bytearray) -> None:
        text = "".join(item.text)
        if item.kind == "text":
            at = self._at(item, content_index=0)
            self._emit(out, "response.output_text.done", **at, text=text, logprobs=[])
            self._emit(out, "response.content_part.done", **at, part=output_text(text))
            raw = message_item(item.id, [output_text(text)])
        elif item.kind == "tool_call":
            args = text or "{}"
            self._emit(out, "response.function_call_arguments.done", **self._at(item),
                       arguments=args)  # fmt: skip
            part = ir.ToolCallPart(item.call_id, item.name, args)
            raw = call_output_item(self._rid, part, item.client)
        elif item.kind == "custom":
            full, rest = item.input.finish()
            if rest:
                self._emit(out, "response.custom_tool_call_input.delta", **self._at(item),
                           delta=rest)  # fmt: skip
            self._emit(out, "response.custom_tool_call_input.done", **self._at(item), input=full)
            part = ir.ToolCallPart(item.call_id, item.name, custom_arguments(full))
            raw = call_output_item(self._rid, part, item.client)
        else:
            if item.summary:
                at = self._at(item, summary_index=0)
                self._emit(out, "response.reasoning_summary_text.done", **at, text=text)
                self._emit(out, "response.reasoning_summary_part.done", **at, part=_summary(text))
            raw = {"id": item.id, "type": "reasoning", "summary": [_summary(text)] if text else []}
            if item.signature:
                raw["encrypted_content"] = item.signature
        self._done[item.out] = raw
        self._emit(out, "response.output_item.done", output_index=item.out, item=raw)

    def _finish(self, out: bytearray) -> None:
        for index in sorted(self._items):
            self._close(self._items.pop(index), out)
        if self._stop is None:
            calls = any(
                i.get("type") in ("function_call", "custom_tool_call") for i in self._done.values()
            )
            self._stop = "tool_use" if calls else "end_turn"
        if self._usage is None or (self._usage.estimated and not self._usage.output_tokens):
            base = self._usage or ir.Usage()
            self._usage = ir.Usage(base.input_tokens, tokens_for_chars(self._chars), estimated=True)
        status = final_status(self._stop)
        self._emit(out, f"response.{status}", response=self._response(status))
        self._finished = True


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _summary(text: str) -> dict[str, Any]:
    return {"type": "summary_text", "text": text}


def error_event(err: ir.ErrorInfo) -> bytes:
    """A lone ``response.failed`` event, for code that ends a stream without
    the encoder (whose own StreamError handling continues the sequence
    numbers and carries the output so far)."""
    failed = response_object(
        new_id("resp_"), "", 0, status="failed", output=[], error=failed_error(err)
    )
    payload = {"type": "response.failed", "sequence_number": 0, "response": failed}
    return encode_sse(dump_json(payload), event="response.failed")


# ------------------------------------------------------------------ decoder


class StreamDecoder:
    """Responses events from an upstream -> IR events. Unknown event types
    are skipped; output items map to blocks as in the module doc; a
    custom_tool_call is a tool_call block whose arguments are
    ``{"input": <its input>}``, streamed as the input comes."""

    content_moved = False  # the content is always passed on as it came

    __slots__ = (
        "_started", "_ended", "_open", "_next", "_streamed", "_saw_call", "_summaries", "_custom",
        "complete",
    )  # fmt: skip

    def __init__(self) -> None:
        self._started = False
        self._ended = False
        self.complete = False  # response.completed (or .incomplete) arrived
        self._open: dict[tuple[Any, ...], int] = {}  # item key -> IR block index
        self._next = 0
        self._streamed: set[tuple[Any, ...]] = set()  # keys that got deltas
        self._saw_call = False
        self._summaries: dict[tuple[Any, ...], int] = {}
        self._custom: set[tuple[Any, ...]] = set()  # open custom_tool_call blocks

    def feed(self, event: str | None, data: str) -> list[ir.Event]:
        data = data.strip()
        if self._ended or not data or data == "[DONE]":
            return []
        try:
            obj: Any = json.loads(data)
        except ValueError:
            raise errors.UpstreamProtocolError(
                "The Responses stream sent an event that is not JSON."
            )
        if not isinstance(obj, dict):
            return []
        out: list[ir.Event] = []
        kind = obj.get("type") or event or ""
        if kind in ("error", "response.failed"):
            self._error(obj, kind, out)
            return out
        resp = _dict(obj.get("response"))
        self._start(resp, out)
        if kind in ("response.completed", "response.incomplete"):
            self.complete = True
            self._end(resp, out)
        else:
            self._item_event(kind, obj, out)
        return out

    def close(self) -> list[ir.Event]:
        if self._ended:
            return []
        out: list[ir.Event] = []
        self._start({}, out)
        self._end({}, out)
        return out

    # ------------------------------------------------------------ internals

    def _start(self, resp: dict[str, Any], out: list[ir.Event]) -> None:
        if not self._started:
            self._started = True
            rid = resp.get("id") if isinstance(resp.get("id"), str) else None
            out.append(ir.MessageStart(rid or new_id("resp_"), str(resp.get("model") or "")))

    def _error(self, obj: dict[str, Any], kind: str, out: list[ir.Event]) -> None:
        if kind == "response.failed":
            resp = _dict(obj.get("response"))
            err = _dict(resp.get("error"))
        else:
            err = obj
        out.append(ir.StreamError(stream_error_info(err)))
        self._ended = True

    def _begin(self, key: tuple[Any, ...], out: list[ir.Event], start: ir.BlockStart) -> int:
        index = self._next
        self._next += 1
        self._open[key] = index
        out.append(
            ir.BlockStart(index, start.kind, id=start.id, name=start.name, redacted=start.redacted)
        )
        return index

    def _stop(self, key: tuple[Any, ...], out: list[ir.Event]) -> None:
        index = self._open.pop(key, None)
        if index is not None:
            if key in self._custom:  # end the {"input": "... string
                self._custom.discard(key)
                out.append(ir.ToolArgsDelta(index, '"}'))
            out.append(ir.BlockStop(index))

    def _custom_input(self, key: tuple[Any, ...], text: Any, out: list[ir.Event]) -> None:
        if key in self._custom and isinstance(text, str) and text:
            self._streamed.add(key)
            out.append(ir.ToolArgsDelta(self._open[key], dump_json(text)[1:-1]))

    def _text_block(self, key: tuple[Any, ...], out: list[ir.Event]) -> int:
        index = self._open.get(key)
        return self._begin(key, out, ir.BlockStart(0, "text")) if index is None else index

    def _item_event(self, kind: str, obj: dict[str, Any], out: list[ir.Event]) -> None:
        oi = obj.get("output_index", 0)
        key: tuple[Any, ...] = ("item", oi)
        text_key: tuple[Any, ...] = ("text", oi, obj.get("content_index", 0))
        if kind == "response.output_item.added":
            self._item_added(obj.get("item"), key, out)
        elif kind == "response.output_item.done":
            self._item_done(obj.get("item"), key, out)
        elif kind == "response.content_part.added":
            part = _dict(obj.get("part"))
            if part.get("type") in ("output_text", "refusal"):
                self._text_block(text_key, out)
        elif kind in ("response.output_text.delta", "response.refusal.delta"):
            self._streamed.add(text_key)
            out.append(ir.TextDelta(self._text_block(text_key, out), str(obj.get("delta") or "")))
        elif kind in ("response.output_text.done", "response.refusal.done"):
            text = obj.get("text") or obj.get("refusal")
            if text_key not in self._streamed and isinstance(text, str) and text:
                self._streamed.add(text_key)
                out.append(ir.TextDelta(self._text_block(text_key, out), text))
        elif kind == "response.content_part.done":
            self._stop(text_key, out)
        elif kind == "response.reasoning_summary_part.added":
            self._summary_part(key, obj, out)
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            if key in self._open and obj.get("delta"):
                self._streamed.add(key)
                out.append(ir.ThinkingDelta(self._open[key], str(obj["delta"])))
        elif kind == "response.function_call_arguments.delta":
            if key in self._open and obj.get("delta"):
                self._streamed.add(key)
                out.append(ir.ToolArgsDelta(self._open[key], str(obj["delta"])))
        elif kind == "response.function_call_arguments.done":
            self._args_once(key, obj.get("arguments"), out)
        elif kind == "response.custom_tool_call_input.delta":
            self._custom_input(key, obj.get("delta"), out)
        elif kind == "response.custom_tool_call_input.done" and key not in self._streamed:
            self._custom_input(key, obj.get("input"), out)

    def _summary_part(self, key: tuple[Any, ...], obj: dict[str, Any], out: list[ir.Event]) -> None:
        # Several summary parts read as one text, separated like the
        # non-streamed parse joins them.
        count = self._summaries.get(key, 0)
        self._summaries[key] = count + 1
        if count and key in self._open:
            out.append(ir.ThinkingDelta(self._open[key], "\n\n"))

    def _args_once(self, key: tuple[Any, ...], args: Any, out: list[ir.Event]) -> None:
        if key in self._open and key not in self._streamed and isinstance(args, str) and args:
            self._streamed.add(key)
            out.append(ir.ToolArgsDelta(self._open[key], args))

    def _item_added(self, item: Any, key: tuple[Any, ...], out: list[ir.Event]) -> None:
        if not isinstance(item, dict) or key in self._open:
            return
        kind = item.get("type")
        if kind == "reasoning":
            rid = item.get("id") if isinstance(item.get("id"), str) else None
            redacted = bool(rid and rid.startswith(REDACTED_PREFIX))
            self._begin(key, out, ir.BlockStart(0, "thinking", id=rid, redacted=redacted))
        elif kind == "function_call":
            call_id = str(item.get("call_id") or item.get("id") or new_id("call_"))
            self._begin(key, out, ir.BlockStart(0, "tool_call", id=call_id, name=item.get("name")))
            self._saw_call = True
            args = item.get("arguments")
            if isinstance(args, str) and args:
                self._streamed.add(key)
                out.append(ir.ToolArgsDelta(self._open[key], args))
        elif kind == "custom_tool_call":
            call_id = str(item.get("call_id") or item.get("id") or new_id("call_"))
            index = self._begin(
                key, out, ir.BlockStart(0, "tool_call", id=call_id, name=item.get("name"))
            )
            self._saw_call = True
            self._custom.add(key)
            out.append(ir.ToolArgsDelta(index, '{"input":"'))
            self._custom_input(key, item.get("input"), out)

    def _item_done(self, item: Any, key: tuple[Any, ...], out: list[ir.Event]) -> None:
        if not isinstance(item, dict):
            return
        kind = item.get("type")
        if kind == "message":
            for ci, c in enumerate(item.get("content") or []):
                text = c.get("text") or c.get("refusal") if isinstance(c, dict) else None
                text_key = ("text", key[1], ci)
                if text_key not in self._streamed and isinstance(text, str) and text:
                    self._streamed.add(text_key)
                    out.append(ir.TextDelta(self._text_block(text_key, out), text))
                self._stop(text_key, out)
            return
        if kind not in ("reasoning", "function_call", "custom_tool_call"):
            return
        if key not in self._open:
            self._item_added(item, key, out)
        elif kind == "custom_tool_call" and key not in self._streamed:
            self._custom_input(key, item.get("input"), out)
        if kind == "function_call":
            self._args_once(key, item.get("arguments"), out)
        elif kind == "reasoning":
            self._reasoning_done(item, key, out)
        self._stop(key, out)

    def _reasoning_done(
        self, item: dict[str, Any], key: tuple[Any, ...], out: list[ir.Event]
    ) -> None:
        index = self._open[key]
        if key not in self._streamed:
            summary = [s.get("text", "") for s in item.get("summary") or [] if isinstance(s, dict)]
            text = "\n\n".join(t for t in summary if t)
            if text:
                out.append(ir.ThinkingDelta(index, text))
        sig = item.get("encrypted_content")
        if isinstance(sig, str) and sig:
            out.append(ir.SignatureDelta(index, sig))

    def _end(self, resp: dict[str, Any], out: list[ir.Event]) -> None:
        for key in list(self._open):
            self._stop(key, out)
        for item in resp.get("output") or []:
            if isinstance(item, dict) and item.get("type") in ("function_call", "custom_tool_call"):
                self._saw_call = True
        status = resp.get("status")
        stop: ir.StopReason = "tool_use" if self._saw_call else "end_turn"
        if status == "incomplete":
            details = resp.get("incomplete_details")
            reason = details.get("reason") if isinstance(details, dict) else None
            stop = "content_filter" if reason == "content_filter" else "max_tokens"
        out.append(ir.MessageDelta(stop_reason=stop, usage=parse_usage(resp.get("usage"))))
        out.append(ir.MessageStop())
        self._ended = True
