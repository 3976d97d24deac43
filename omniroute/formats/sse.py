"""Server-sent events: an incremental decoder and an encoder.

The decoder follows the WHATWG HTML "event stream interpretation" rules
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
UTF-8 with invalid sequences replaced, one leading BOM dropped, lines ended by
CRLF, LF or CR, ``:`` comments ignored, one space after the colon dropped,
``data`` lines joined with LF, an event dispatched at a blank line, and the
last event id carried over to later events until it is changed. One
deliberate difference: :meth:`SSEDecoder.close` dispatches a final event whose
blank line never came, because some upstreams end their stream that way.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = ["SSEDecoder", "SSEEvent", "encode_sse"]

_EOL = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str | None = None  # None means the default type, "message"
    id: str | None = None  # the last event id in effect, None if unset or empty


class SSEDecoder:
    """Feed bytes in any split; get complete events out."""

    __slots__ = (
        "_data",
        "_decoder",
        "_event",
        "_has_data",
        "_id",
        "_skip_lf",
        "_started",
        "_tail",
        "retry",
    )

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._tail = ""  # an unterminated line
        self._skip_lf = False  # the previous text ended in CR: a leading LF belongs to it
        self._started = False  # the BOM check is done
        self._data: list[str] = []
        self._has_data = False
        self._event = ""
        self._id = ""
        self.retry: int | None = None  # last valid "retry:" value, in milliseconds

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        return self._feed_text(self._decoder.decode(chunk))

    def close(self) -> list[SSEEvent]:
        """End of input: flush partial UTF-8, the last line and a pending event."""
        events = self._feed_text(self._decoder.decode(b"", final=True))
        if self._tail:
            self._line(self._tail, events)
            self._tail = ""
        self._line("", events)
        self._decoder.reset()
        self._started = False
        self._skip_lf = False
        return events

    def _feed_text(self, text: str) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        if not text:
            return events
        if not self._started:
            self._started = True
            if text[0] == "\ufeff":
                text = text[1:]
        if self._skip_lf:
            self._skip_lf = False
            if text.startswith("\n"):
                text = text[1:]
        buffer = self._tail + text if self._tail else text
        if "\r" in buffer:
            lines = _EOL.split(buffer)
            # A CR at the very end ends a line now; an LF arriving next is
            # the second half of a CRLF and must not end another one.
            self._skip_lf = buffer.endswith("\r")
        else:
            lines = buffer.split("\n")
        self._tail = lines.pop()
        for line in lines:
            self._line(line, events)
        return events

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if not line:
            self._dispatch(events)
            return
        if line[0] == ":":
            return  # comment
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if self._has_data:
            events.append(SSEEvent("\n".join(self._data), self._event or None, self._id or None))
        self._data = []
        self._has_data = False
        self._event = ""


def encode_sse(data: str, event: str | None = None) -> bytes:
    """One event in wire form. Each line of ``data`` (split at CRLF, CR or LF)
    becomes its own ``data:`` line, so a decoder rebuilds it joined with LF.
    Compact JSON never holds a line break, so that case is one format call."""
    if "\n" not in data and "\r" not in data:
        if event is None:
            return f"data: {data}\n\n".encode()
        if "\n" not in event and "\r" not in event:
            return f"event: {event}\ndata: {data}\n\n".encode()
    parts: list[str] = []
    if event is not None:
        if _EOL.search(event):
            raise ValueError("an SSE event name cannot contain a line break")
        parts.append(f"event: {event}\n")
    parts.extend(f"data: {line}\n" for line in _EOL.split(data))
    parts.append("\n")
    return "".join(parts).encode("utf-8")
