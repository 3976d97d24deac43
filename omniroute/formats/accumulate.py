"""Whole answers and streams of IR events, one made from the other.

``Accumulator`` assembles a whole ``ir.Response`` from a stream: where the
gateway needs the complete answer of a streamed exchange (usage estimates,
a Responses conversation to remember). ``events_of`` goes the other way: the
stream a whole answer could have been, for an upstream that answered a
streamed request with plain JSON.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from omniroute.formats import ir
from omniroute.formats.common import merge_usage, tokens_for_chars
from omniroute.formats.wire import StreamEncoder


class Accumulator:
    __slots__ = ("id", "model", "_parts", "stop_reason", "stop_sequence", "usage", "chars")

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self._parts: dict[int, ir.TextPart | ir.ThinkingPart | ir.ToolCallPart] = {}
        self.stop_reason: ir.StopReason | None = None
        self.stop_sequence: str | None = None
        self.usage: ir.Usage | None = None
        self.chars = 0  # generated characters so far (text, thinking, tool arguments)

    def feed(self, ev: ir.Event) -> None:
        if isinstance(ev, ir.MessageStart):
            self.id, self.model = ev.id, ev.model
            self.usage = merge_usage(self.usage, ev.usage)
        elif isinstance(ev, ir.BlockStart):
            self._parts[ev.index] = _new_part(ev)
        elif isinstance(ev, ir.TextDelta | ir.ThinkingDelta):
            part = self._parts.get(ev.index)
            if isinstance(part, ir.TextPart | ir.ThinkingPart):
                part.text += ev.text
            self.chars += len(ev.text)
        elif isinstance(ev, ir.ToolArgsDelta):
            part = self._parts.get(ev.index)
            if isinstance(part, ir.ToolCallPart):
                part.arguments = (
                    "" if part.arguments == "{}" else part.arguments
                ) + ev.partial_json
            self.chars += len(ev.partial_json)
        elif isinstance(ev, ir.SignatureDelta):
            part = self._parts.get(ev.index)
            if isinstance(part, ir.ThinkingPart | ir.ToolCallPart):
                part.signature = (part.signature or "") + ev.signature
        elif isinstance(ev, ir.MessageDelta):
            self.stop_reason = ev.stop_reason or self.stop_reason
            self.stop_sequence = ev.stop_sequence or self.stop_sequence
            self.usage = merge_usage(self.usage, ev.usage)

    def estimated_output_tokens(self) -> int:
        return tokens_for_chars(self.chars)

    def response(self) -> ir.Response:
        parts = [self._parts[i] for i in sorted(self._parts)]
        stop = self.stop_reason or (
            "tool_use" if any(isinstance(p, ir.ToolCallPart) for p in parts) else "end_turn"
        )
        return ir.Response(
            id=self.id,
            model=self.model,
            parts=parts,
            stop_reason=stop,
            stop_sequence=self.stop_sequence,
            usage=self.usage or ir.Usage(),
        )


def _new_part(ev: ir.BlockStart) -> ir.TextPart | ir.ThinkingPart | ir.ToolCallPart:
    if ev.kind == "tool_call":
        return ir.ToolCallPart(id=ev.id or "", name=ev.name or "", arguments="{}")
    if ev.kind == "thinking":
        return ir.ThinkingPart(redacted=ev.redacted, id=ev.id)
    return ir.TextPart("")


def encoded_whole(encoder: StreamEncoder, resp: ir.Response) -> AsyncIterator[bytes]:
    """A whole answer as a stream of one chunk, encoded now (so a failure
    shows before the response starts)."""
    body = b"".join(encoder.encode(ev) for ev in events_of(resp))

    async def once() -> AsyncIterator[bytes]:
        yield body

    return once()


def events_of(resp: ir.Response) -> list[ir.Event]:
    """The answer as a stream: start, one block per part, the stop reason and
    usage, stop."""
    events: list[ir.Event] = [ir.MessageStart(resp.id, resp.model)]
    for index, part in enumerate(resp.parts):
        if isinstance(part, ir.ToolCallPart):
            events.append(ir.BlockStart(index, "tool_call", id=part.id, name=part.name))
            if part.arguments:
                events.append(ir.ToolArgsDelta(index, part.arguments))
            if part.signature:
                events.append(ir.SignatureDelta(index, part.signature))
        elif isinstance(part, ir.ThinkingPart):
            events.append(ir.BlockStart(index, "thinking", id=part.id, redacted=part.redacted))
            if part.text:
                events.append(ir.ThinkingDelta(index, part.text))
            if part.signature:
                events.append(ir.SignatureDelta(index, part.signature))
        else:
            events.append(ir.BlockStart(index, "text"))
            if part.text:
                events.append(ir.TextDelta(index, part.text))
        events.append(ir.BlockStop(index))
    events.append(ir.MessageDelta(resp.stop_reason, resp.stop_sequence, resp.usage))
    events.append(ir.MessageStop())
    return events
