"""OpenAI Chat Completions streams: ``chat.completion.chunk`` SSE <-> IR events."""

from __future__ import annotations

import json
import time
from typing import Any

from omniroute import errors
from omniroute.formats import ir
from omniroute.formats.common import (
    ThinkSplitter,
    dump_json,
    merge_usage,
    new_id,
    usage_or_estimate,
)
from omniroute.formats.openai_chat_response import (
    STOP_TO_FINISH,
    chat_id,
    error_event,
    error_from_object,
    parse_usage,
    render_usage,
    stop_reason_of,
)
from omniroute.formats.sse import encode_sse


class StreamDecoder:
    """``chat.completion.chunk`` data lines -> IR events.

    Text, thinking and each tool call are separate IR blocks. A text or
    thinking block closes when another kind of content starts; tool-call
    blocks stay open until the finish (a call's arguments may be sent in
    several chunks) and are closed in order then.
    """

    __slots__ = (
        "_done", "_finished", "_next", "_open", "_pending", "_split", "_started", "_text",
        "_think", "_tools", "_usage", "complete",
    )  # fmt: skip

    def __init__(self) -> None:
        self._started = self._finished = self._done = False
        self.complete = False  # ``[DONE]`` arrived: the stream ended as it should
        self._next = 0
        self._text: int | None = None
        self._think: int | None = None
        self._tools: dict[int, int] = {}  # openai tool index -> IR block index
        self._pending: dict[int, dict[str, str]] = {}  # tool fragments seen before a name
        self._open: list[int] = []  # open IR blocks
        self._split = ThinkSplitter()
        self._usage: ir.Usage | None = None

    def feed(self, event: str | None, data: str) -> list[ir.Event]:
        if self._done:
            return []
        if data.strip() == "[DONE]":
            self.complete = True
            return self._end()
        try:
            obj = json.loads(data)
        except ValueError:
            raise errors.UpstreamProtocolError("upstream sent a stream chunk that is not JSON")
        if not isinstance(obj, dict):
            return []
        if "error" in obj or event == "error":
            self._done = True
            return [ir.StreamError(error_from_object(obj))]
        out: list[ir.Event] = []
        if not self._started:
            self._started = True
            out.append(
                ir.MessageStart(id=str(obj.get("id") or ""), model=str(obj.get("model") or ""))
            )
        usage = parse_usage(obj.get("usage"))
        if usage is not None:
            self._usage = usage
            if self._finished:
                out.append(ir.MessageDelta(usage=usage))
        choices = obj.get("choices") or []
        choice = choices[0] if choices and isinstance(choices[0], dict) else None
        if choice is not None and choice.get("index", 0) == 0:
            self._delta(choice.get("delta") or {}, out)
            if choice.get("finish_reason") and not self._finished:
                self._finish(choice["finish_reason"], out)
        return out

    def close(self) -> list[ir.Event]:
        return [] if self._done or not self._started else self._end()

    @property
    def content_moved(self) -> bool:
        """Reasoning came inside the content, in ``<think>`` tags, and was
        moved out of it: the upstream's own bytes no longer say what the
        events say."""
        return self._split.found

    # -- internals

    def _end(self) -> list[ir.Event]:
        out: list[ir.Event] = []
        if not self._started:
            self._started = True
            out.append(ir.MessageStart(id="", model=""))
        if not self._finished:
            self._finish(None, out)
        self._done = True
        out.append(ir.MessageStop())
        return out

    def _block(self, kind: str, out: list[ir.Event]) -> int:
        """The open text/thinking block of ``kind``, opening it (and closing
        the other one) when needed."""
        current, other = (self._text, self._think) if kind == "text" else (self._think, self._text)
        if current is not None:
            return current
        if other is not None:
            self._stop(other, out)
        index = self._start(out, kind)
        if kind == "text":
            self._text, self._think = index, None
        else:
            self._think, self._text = index, None
        return index

    def _start(self, out: list[ir.Event], kind: Any, **extra: Any) -> int:
        index = self._next
        self._next += 1
        self._open.append(index)
        out.append(ir.BlockStart(index=index, kind=kind, **extra))
        return index

    def _stop(self, index: int, out: list[ir.Event]) -> None:
        if index in self._open:
            self._open.remove(index)
            out.append(ir.BlockStop(index=index))
        if index == self._text:
            self._text = None
        if index == self._think:
            self._think = None

    def _pieces(self, pieces: list[tuple[str, str]], out: list[ir.Event]) -> None:
        for kind, text in pieces:
            index = self._block(kind, out)
            cls = ir.TextDelta if kind == "text" else ir.ThinkingDelta
            out.append(cls(index=index, text=text))

    def _delta(self, delta: dict[str, Any], out: list[ir.Event]) -> None:
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            self._pieces([("thinking", reasoning)], out)
        for key in ("content", "refusal"):
            if isinstance(delta.get(key), str) and delta[key]:
                self._pieces(list(self._split.feed(delta[key])), out)
        calls = list(delta.get("tool_calls") or [])
        if isinstance(delta.get("function_call"), dict):
            calls.append({"index": 0, "function": delta["function_call"]})
        for position, call in enumerate(calls):
            if isinstance(call, dict):
                self._tool_fragment(call, position, out)

    def _tool_fragment(self, call: dict[str, Any], position: int, out: list[ir.Event]) -> None:
        tool = call.get("index", position)
        fn = call.get("function") or {}
        pending = self._pending.setdefault(tool, {"id": "", "name": "", "args": ""})
        if call.get("id") and not pending["id"]:
            pending["id"] = str(call["id"])
        args = fn.get("arguments")
        if isinstance(args, dict):  # a few servers send the object itself
            args = dump_json(args)
        if tool not in self._tools:
            pending["name"] += fn.get("name") or ""
            pending["args"] += args or ""
            if pending["name"]:
                self._open_tool(tool, out)
        elif args:
            out.append(ir.ToolArgsDelta(index=self._tools[tool], partial_json=args))

    def _open_tool(self, tool: int, out: list[ir.Event]) -> None:
        pending = self._pending[tool]
        self._pieces(list(self._split.flush()), out)
        for index in (self._text, self._think):
            if index is not None:
                self._stop(index, out)
        call_id = pending["id"] or new_id("call_")
        index = self._start(out, "tool_call", id=call_id, name=pending["name"])
        self._tools[tool] = index
        if pending["args"]:
            out.append(ir.ToolArgsDelta(index=index, partial_json=pending["args"]))

    def _finish(self, finish: Any, out: list[ir.Event]) -> None:
        self._pieces(list(self._split.flush()), out)
        for tool in list(self._pending):
            if tool not in self._tools:  # a call that never got a name
                self._pending[tool]["name"] = self._pending[tool]["name"] or "unknown"
                self._open_tool(tool, out)
        for index in sorted(self._open):
            self._stop(index, out)
        self._finished = True
        out.append(
            ir.MessageDelta(
                stop_reason=stop_reason_of(finish, bool(self._tools)), usage=self._usage
            )
        )


class StreamEncoder:
    """IR events -> ``chat.completion.chunk`` SSE lines, then ``[DONE]``."""

    __slots__ = (
        "_chars", "_created", "_done", "_id", "_include_usage", "_model", "_role_sent", "_stop",
        "_tools", "_usage",
    )  # fmt: skip

    def __init__(self, model: str, *, include_usage: bool = False) -> None:
        self._model = model
        self._include_usage = include_usage
        self._id: str | None = None
        self._created = int(time.time())
        self._role_sent = self._done = False
        self._tools: dict[int, int] = {}  # IR block index -> openai tool index
        self._stop: ir.StopReason | None = None
        self._usage: ir.Usage | None = None
        self._chars = 0  # output characters, for an estimate when no usage comes

    def encode(self, ev: ir.Event) -> bytes:
        if self._done:
            return b""
        if isinstance(ev, ir.StreamError):
            self._done = True
            return error_event(ev.error)
        if isinstance(ev, ir.MessageStart):
            if self._id is None:
                self._id = chat_id(ev.id)
            self._usage = merge_usage(self._usage, ev.usage)
            return self._head()
        if isinstance(ev, ir.MessageDelta):
            self._stop = ev.stop_reason or self._stop
            self._usage = merge_usage(self._usage, ev.usage)
            return b""
        if isinstance(ev, ir.MessageStop):
            return self._finish()
        delta = self._delta(ev)
        return self._head() + (self._chunk(delta) if delta else b"")

    def _delta(self, ev: ir.Event) -> dict[str, Any] | None:
        if isinstance(ev, ir.TextDelta) and ev.text:
            self._chars += len(ev.text)
            return {"content": ev.text}
        if isinstance(ev, ir.ThinkingDelta) and ev.text:
            self._chars += len(ev.text)
            return {"reasoning_content": ev.text}
        if isinstance(ev, ir.BlockStart) and ev.kind == "tool_call":
            k = self._tools[ev.index] = len(self._tools)
            fn = {"name": ev.name or "", "arguments": ""}
            call = {"index": k, "id": ev.id or new_id("call_"), "type": "function", "function": fn}
            return {"tool_calls": [call]}
        if isinstance(ev, ir.ToolArgsDelta) and ev.index in self._tools and ev.partial_json:
            self._chars += len(ev.partial_json)
            fn = {"arguments": ev.partial_json}
            return {"tool_calls": [{"index": self._tools[ev.index], "function": fn}]}
        return None  # BlockStart of text/thinking, BlockStop, SignatureDelta

    def _chunk(
        self, delta: dict[str, Any] | None, finish: str | None = None, usage: ir.Usage | None = None
    ) -> bytes:
        if self._id is None:
            self._id = chat_id(None)
        obj: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [],
        }
        if delta is not None:
            obj["choices"] = [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            ]
        if usage is not None:
            obj["usage"] = render_usage(usage)
        return encode_sse(dump_json(obj))

    def _head(self) -> bytes:
        """The first chunk carries the role (as OpenAI sends it)."""
        if self._role_sent:
            return b""
        self._role_sent = True
        return self._chunk({"role": "assistant", "content": ""})

    def _finish(self) -> bytes:
        out = self._head()
        stop = self._stop or ("tool_use" if self._tools else "end_turn")
        out += self._chunk({}, finish=STOP_TO_FINISH[stop])
        if self._include_usage:
            out += self._chunk(None, usage=usage_or_estimate(self._usage, self._chars))
        self._done = True
        return out + b"data: [DONE]\n\n"
