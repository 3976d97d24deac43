"""Moving one upstream SSE stream to the client, event by event.

The upstream bytes are always decoded (SSE framing, then the upstream
format's decoder into IR events) so the gateway can see errors, the first
real token and usage. What the client receives depends on the lane:

- pass-through (client format == upstream format): the upstream's own bytes,
  unchanged, cut only at event boundaries so an error event we may append
  never lands inside a half-sent event;
- translating: the IR events re-encoded in the client's dialect.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

from omniroute.formats import ir
from omniroute.formats.accumulate import Accumulator
from omniroute.formats.common import drop_fields, dump_json, merge_usage
from omniroute.formats.sse import SSEDecoder, SSEEvent, encode_sse
from omniroute.formats.wire import StreamEncoder, WireFormat
from omniroute.gateway.secrets import Scrubber

# The events that mean "the model has started answering": once one of these
# has been sent, the request can no longer move to another upstream.
_CONTENT_EVENTS = (ir.BlockStart, ir.TextDelta, ir.ThinkingDelta, ir.ToolArgsDelta)


_CUT_SHORT = ir.ErrorInfo(
    502, "api_error", "The upstream stream ended before it was complete (cut short)."
)


def _last_event_boundary(buf: bytearray) -> int:
    """Index just past the last complete SSE event in ``buf`` (0 if none)."""
    best = 0
    for sep in (b"\n\n", b"\r\n\r\n", b"\r\r"):
        at = buf.rfind(sep)
        if at >= 0:
            best = max(best, at + len(sep))
    return best


class StreamRelay:
    __slots__ = (
        "_sse",
        "_format",
        "_decoder",
        "_encoder",
        "_pending",
        "_input_estimate",
        "_answer_id",
        "_include_usage",
        "_switch",
        "_held",
        "_held_events",
        "answer",
        "started",
        "error",
        "truncated",
        "_scrubber",
        "_strip",
        "_strip_marks",
    )

    def __init__(
        self,
        upstream_fmt: WireFormat,
        encoder: StreamEncoder | None,
        input_estimate: Callable[[], int],
        answer_id: str | None = None,
        include_usage: bool = False,
        switch: Callable[[], StreamEncoder] | None = None,
        scrubber: Scrubber | None = None,
        strip: tuple[str, ...] = (),
    ) -> None:
        """``encoder`` is the client format's StreamEncoder, or None to pass
        the upstream bytes through unchanged. ``input_estimate`` stands in for
        the prompt tokens if the upstream never reports usage;
        ``include_usage`` says the (OpenAI) client asked for a usage chunk.
        ``switch`` (pass-through only) makes the client's encoder: used when
        the answer opens with ``<think>`` tags, which the client must get as
        reasoning, so the bytes can no longer pass unchanged."""
        self._sse = SSEDecoder()
        self._format = upstream_fmt
        self._decoder = upstream_fmt.stream_decoder()
        self._encoder = encoder
        self._pending = bytearray()  # pass-through bytes not yet at an event boundary
        self._input_estimate = input_estimate
        self._answer_id = answer_id  # replaces the upstream's id when translating
        self._include_usage = include_usage
        self._switch = switch
        # Pass-through bytes and events held until the model starts answering.
        self._held: bytearray | None = None if encoder is not None else bytearray()
        self._held_events: list[ir.Event] = []
        self.answer = Accumulator()  # the whole answer, assembled as it flows
        self.started = False  # a content event has been seen
        self.error: ir.ErrorInfo | None = None  # an upstream error event, or the cut
        self.truncated = False  # the upstream stopped before its format's end event
        self._scrubber = scrubber or Scrubber(())  # the account's secrets, kept out of errors
        # Fields to take out of passed-through events, and the text that shows
        # an event may hold one (checked before any JSON is parsed).
        self._strip = strip
        self._strip_marks = tuple({f'"{path.rsplit(".", 1)[-1]}"' for path in strip})

    @property
    def usage(self) -> ir.Usage:
        """The upstream's figures, with what it left out (all of it, or the
        output of a stream cut short) estimated and marked so."""
        usage = self.answer.usage
        if usage is None or _needs_estimate(usage):
            return self._completed(None)
        return usage

    def _estimated_usage(self) -> ir.Usage:
        return ir.Usage(
            input_tokens=self._input_estimate(),
            output_tokens=self.answer.estimated_output_tokens(),
            estimated=True,
        )

    def _completed(self, usage: ir.Usage | None) -> ir.Usage:
        """The upstream's figures with the missing ones estimated."""
        known = merge_usage(self.answer.usage, usage)
        if known is None:
            return self._estimated_usage()
        return dataclasses.replace(
            known,
            input_tokens=known.input_tokens or self._input_estimate(),
            output_tokens=known.output_tokens or self.answer.estimated_output_tokens(),
            estimated=True,
        )

    def feed(self, chunk: bytes) -> bytes:
        """Take upstream bytes; return the bytes for the client."""
        out = bytearray()
        if self._encoder is not None:
            for event in self._sse.feed(chunk):
                self._on_events(self._decoder.feed(event.event, event.data), out)
            return bytes(out)
        self._pending += chunk
        cut = _last_event_boundary(self._pending)
        if cut:
            block = bytes(self._pending[:cut])
            del self._pending[:cut]
            out += self._pass(block, self._sse.feed(block))
        return self._release(bytes(out), final=False)

    def _release(self, passed: bytes, *, final: bool) -> bytes:
        """Pass-through output, held until the first content (or the end)."""
        if self._held is None:
            return passed
        self._held += passed
        if not (self.started or final):
            return b""
        held, self._held = bytes(self._held), None
        events, self._held_events = self._held_events, []
        if self._switch is None or not self._decoder.content_moved:
            return held
        encoder = self._encoder = self._switch()
        out = bytearray(b"".join(encoder.encode(ev) for ev in events))
        # The start of an event not complete yet was kept back for the
        # pass-through lane: from now on it is decoded like the rest.
        rest = bytes(self._pending)
        self._pending.clear()
        for event in self._sse.feed(rest):
            self._on_events(self._decoder.feed(event.event, event.data), out)
        return bytes(out)

    def close(self) -> bytes:
        """The upstream ended its body: flush what is left. A stream that
        ended without its format's end event was cut short: the client gets
        an error event instead of a made-up normal ending."""
        out = bytearray()
        if self._encoder is not None:
            for event in self._sse.close():
                self._on_events(self._decoder.feed(event.event, event.data), out)
            if self._cut_short():
                self._on_events([ir.StreamError(_CUT_SHORT)], out)
            else:
                self._on_events(self._decoder.close(), out)
            return bytes(out)
        block = bytes(self._pending)
        self._pending.clear()
        out += self._pass(block, self._sse.feed(block) + self._sse.close())
        if self._cut_short():
            self.error = _CUT_SHORT
            out += self._format.error_event(_CUT_SHORT)
        else:
            self._on_events(self._decoder.close(), out)
            if self._usage_missing() and self.error is None:
                out += self._format.usage_trailer(self._completed(None), self.answer.model)
        return self._release(bytes(out), final=True)

    def _cut_short(self) -> bool:
        self.truncated = self.error is None and not self._decoder.complete
        return self.truncated

    def _usage_missing(self) -> bool:
        """The upstream has reported no (complete) usage so far."""
        usage = self.answer.usage
        return usage is None or usage.estimated

    def _pass(self, block: bytes, events: list[SSEEvent]) -> bytes:
        """Pass-through: the block unchanged, unless usage must be added at
        one of its events, an error event quotes a secret, or an event holds
        fields the provider adds that strict SDKs refuse; then the block's
        events are written anew."""
        replaced: dict[int, bytes] = {}
        for n, event in enumerate(events):
            decoded = self._decoder.feed(event.event, event.data)
            if self._scrubber and any(isinstance(ev, ir.StreamError) for ev in decoded):
                clean = self._scrubber.text(event.data)
                if clean != event.data:
                    replaced[n] = encode_sse(clean, event.event)
            elif self._strip_marks and any(m in event.data for m in self._strip_marks):
                stripped = self._stripped(event)
                if stripped is not None:
                    event = events[n] = stripped
                    replaced[n] = encode_sse(event.data, event.event)
            if self._usage_missing():
                replacement = self._format.usage_before_event(
                    event,
                    self._completed(None),
                    self.answer.id,
                    self.answer.model,
                    self._include_usage,
                )
                if replacement is not None:
                    replaced[n] = replacement
            self._on_events(decoded, bytearray())
        if not replaced:
            return block
        return b"".join(
            replaced.get(n) or encode_sse(e.data, e.event) for n, e in enumerate(events)
        )

    def _stripped(self, event: SSEEvent) -> SSEEvent | None:
        try:
            obj = json.loads(event.data)
        except ValueError:
            return None
        if not drop_fields(obj, self._strip):
            return None
        return SSEEvent(dump_json(obj), event.event, event.id)

    def error_bytes(self, info: ir.ErrorInfo) -> bytes:
        """The client's mid-stream error event: from the encoder when
        translating (so its event numbering goes on), else in the shared
        format's own shape."""
        if self._encoder is not None:
            return self._encoder.encode(ir.StreamError(info))
        return self._format.error_event(info)

    def _on_events(self, events: list[ir.Event], out: bytearray) -> None:
        for ev in events:
            if isinstance(ev, _CONTENT_EVENTS):
                self.started = True
            elif isinstance(ev, ir.StreamError):
                if self._scrubber:
                    ev = ir.StreamError(
                        dataclasses.replace(ev.error, message=self._scrubber.text(ev.error.message))
                    )
                self.error = ev.error
            elif isinstance(ev, ir.MessageStart) and self._answer_id is not None:
                ev = ir.MessageStart(self._answer_id, ev.model, ev.usage)
            elif isinstance(ev, ir.MessageDelta) and _needs_estimate(
                ev.usage if ev.usage is not None else self.answer.usage
            ):
                # the client always gets usage; estimated where unknown.
                ev = ir.MessageDelta(ev.stop_reason, ev.stop_sequence, self._completed(ev.usage))
            self.answer.feed(ev)
            if self._encoder is not None:
                out += self._encoder.encode(ev)
            elif self._held is not None:
                self._held_events.append(ev)


def _needs_estimate(usage: ir.Usage | None) -> bool:
    return usage is None or usage.input_tokens == 0 or usage.output_tokens == 0
