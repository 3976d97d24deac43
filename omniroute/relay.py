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

from collections.abc import Callable
from types import ModuleType
from typing import Any

from omniroute.formats import ir
from omniroute.formats.accumulate import Accumulator
from omniroute.http.sse import SSEDecoder

# The events that mean "the model has started answering": once one of these
# has been sent, the request can no longer move to another upstream.
_CONTENT_EVENTS = (ir.BlockStart, ir.TextDelta, ir.ThinkingDelta, ir.ToolArgsDelta)


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
        "answer",
        "started",
        "error",
        "finished",
    )

    def __init__(
        self, upstream_fmt: ModuleType, encoder: Any | None, input_estimate: Callable[[], int]
    ) -> None:
        """``encoder`` is the client format's StreamEncoder, or None to pass
        the upstream bytes through unchanged. ``input_estimate`` stands in for
        the prompt tokens if the upstream never reports usage."""
        self._sse = SSEDecoder()
        self._format = upstream_fmt
        self._decoder = upstream_fmt.StreamDecoder()
        self._encoder = encoder
        self._pending = bytearray()  # pass-through bytes not yet at an event boundary
        self._input_estimate = input_estimate
        self.answer = Accumulator()  # the whole answer, assembled as it flows
        self.started = False  # a content event has been seen
        self.error: ir.ErrorInfo | None = None  # an upstream error event
        self.finished = False  # the upstream said the message is complete

    @property
    def usage(self) -> ir.Usage:
        """The upstream's figures, or an estimate (marked so) when it gave none."""
        return self.answer.usage or self._estimated_usage()

    def _estimated_usage(self) -> ir.Usage:
        return ir.Usage(
            input_tokens=self._input_estimate(),
            output_tokens=self.answer.estimated_output_tokens(),
            estimated=True,
        )

    def feed(self, chunk: bytes) -> bytes:
        """Take upstream bytes; return the bytes for the client."""
        out = bytearray()
        for event in self._sse.feed(chunk):
            self._on_events(self._decoder.feed(event.event, event.data), out)
        if self._encoder is None:
            self._pending += chunk
            cut = _last_event_boundary(self._pending)
            if cut:
                out += self._pending[:cut]
                del self._pending[:cut]
        return bytes(out)

    def close(self) -> bytes:
        """The upstream ended its body: flush what is left."""
        out = bytearray()
        for event in self._sse.close():
            self._on_events(self._decoder.feed(event.event, event.data), out)
        self._on_events(self._decoder.close(), out)
        if self._encoder is None and self._pending:
            out += self._pending
            self._pending.clear()
        return bytes(out)

    def error_bytes(self, info: ir.ErrorInfo) -> bytes:
        """The client's mid-stream error event: from the encoder when
        translating (so its event numbering goes on), else in the shared
        format's own shape."""
        if self._encoder is not None:
            out: bytes = self._encoder.encode(ir.StreamError(info))
            return out
        raw: bytes = self._format.error_event(info)
        return raw

    def _on_events(self, events: list[ir.Event], out: bytearray) -> None:
        for ev in events:
            if isinstance(ev, _CONTENT_EVENTS):
                self.started = True
            elif isinstance(ev, ir.StreamError):
                self.error = ev.error
            elif isinstance(ev, ir.MessageStop):
                self.finished = True
            elif isinstance(ev, ir.MessageDelta) and ev.usage is None and self.answer.usage is None:
                # B-08: the client always gets usage; estimated when unknown.
                ev = ir.MessageDelta(ev.stop_reason, ev.stop_sequence, self._estimated_usage())
            self.answer.feed(ev)
            if self._encoder is not None:
                out += self._encoder.encode(ev)
