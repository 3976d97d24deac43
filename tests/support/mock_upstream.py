"""A scriptable upstream LLM server on loopback, for end-to-end tests.

It speaks HTTP/1.1 through h11 over asyncio streams and shares no code with
``omniroute/http``, so it can check that code from the outside. A test routes
paths to replies, runs the gateway against ``mock.url`` and then inspects
``mock.requests``, ``mock.disconnects`` and ``mock.connections_opened``::

    async with MockUpstream() as up:
        up.route("POST", "/v1/chat/completions", Json(openai_chat_json("hi", "m")))
        up.enqueue("POST", "/v1/chat/completions", Status(429))  # first call only
        ...

Realistic bodies in each provider's dialect come from ``mock_payloads`` and
are re-exported here, so one import serves a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias
from urllib.parse import parse_qsl, urlsplit

import h11

from tests.support.mock_payloads import (
    CREATED,
    SseEvent,
    Thinking,
    ToolCall,
    Usage,
    anthropic_error,
    anthropic_error_event,
    anthropic_json,
    anthropic_sse,
    anthropic_usage,
    gemini_error,
    gemini_json,
    gemini_sse,
    gemini_usage,
    openai_chat_json,
    openai_chat_sse,
    openai_error,
    openai_usage,
    responses_error_event,
    responses_json,
    responses_sse,
    responses_usage,
)

__all__ = [
    "anthropic_error",
    "anthropic_error_event",
    "anthropic_json",
    "anthropic_sse",
    "anthropic_usage",
    "CREATED",
    "gemini_error",
    "gemini_json",
    "gemini_sse",
    "gemini_usage",
    "Hang",
    "Json",
    "MockUpstream",
    "openai_chat_json",
    "openai_chat_sse",
    "openai_error",
    "openai_usage",
    "Raw",
    "RecordedRequest",
    "Reply",
    "ReplySource",
    "Reset",
    "responses_error_event",
    "responses_json",
    "responses_sse",
    "responses_usage",
    "Sse",
    "SseEnd",
    "SseEvent",
    "Status",
    "Thinking",
    "ToolCall",
    "Usage",
]

READ_CHUNK = 65536

# ---------------------------------------------------------------------------
# What a test sees and scripts
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased; repeated headers joined with ", "
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class Json:
    obj: Any
    status: int = 200
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Status:
    code: int
    body: bytes | str = b""
    headers: Mapping[str, str] | None = None


SseEnd: TypeAlias = Literal["close", "reset", "hang"]


@dataclass(frozen=True, slots=True)
class Sse:
    """A text/event-stream reply.

    A mapping is sent as ``data: <json>\\n\\n``; str and bytes are sent as
    they are (so they carry their own ``event:`` lines and blank line).
    ``end``: "close" finishes the body normally (the connection may be
    reused), "reset" aborts the TCP connection with RST right after the last
    event (an upstream dying mid-stream), "hang" leaves the body unfinished
    and the connection open until the client goes or the mock stops.
    """

    events: Sequence[SseEvent]
    delay: float = 0.0  # seconds between two events
    end: SseEnd = "close"
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Hang:
    """Reads the request, then never answers (until the client goes or stop())."""


@dataclass(frozen=True, slots=True)
class Reset:
    """Reads the request, then aborts the connection (RST) without answering."""


@dataclass(frozen=True, slots=True)
class Raw:
    """Writes these exact bytes (no framing added), then closes the connection."""

    data: bytes


Reply: TypeAlias = Json | Status | Sse | Hang | Reset | Raw
ReplySource: TypeAlias = Reply | Callable[[RecordedRequest], Reply]


@dataclass(frozen=True, slots=True)
class _Route:
    method: str
    pattern: str
    source: ReplySource

    def matches(self, method: str, path: str) -> bool:
        return _matches(self.method, self.pattern, method, path)


@dataclass(frozen=True, slots=True)
class _Queue:
    method: str
    pattern: str
    replies: deque[Reply] = field(default_factory=deque)


def _matches(want_method: str, pattern: str, method: str, path: str) -> bool:
    if want_method not in ("*", method):
        return False
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    return path == pattern


class _ClientGone(Exception):
    """The client closed its side while we were still answering."""


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------


class MockUpstream:
    """Loopback HTTP/1.1 server answering with scripted replies.

    Unmatched requests get 404 with a JSON body naming the path. A reply
    callable that raises gets 500; the exception is kept in ``errors``.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.disconnects: list[float] = []
        self.errors: list[BaseException] = []
        self.connections_opened = 0
        self._routes: list[_Route] = []
        self._queues: list[_Queue] = []
        self._server: asyncio.Server | None = None
        self._port = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._disconnect_seen = asyncio.Condition()
        self._disconnects_returned = 0

    # -- lifecycle ---------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("MockUpstream is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_connect, "127.0.0.1", 0)
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> MockUpstream:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- scripting ---------------------------------------------------------

    def route(self, method: str, path: str, reply: ReplySource) -> None:
        """Answer ``method path`` (exact, or a prefix when it ends with "*")."""
        self._routes.append(_Route(method.upper(), path, reply))

    def enqueue(self, method: str, path: str, *replies: Reply) -> None:
        """One-shot replies, used in order before the routes are consulted."""
        self._queues.append(_Queue(method.upper(), path, deque(replies)))

    async def wait_disconnect(self, timeout: float) -> float | None:
        """The next disconnect not yet returned by this method, or None on timeout."""

        def ready() -> bool:
            return len(self.disconnects) > self._disconnects_returned

        async with self._disconnect_seen:
            try:
                await asyncio.wait_for(self._disconnect_seen.wait_for(ready), timeout)
            except TimeoutError:
                return None
            moment = self.disconnects[self._disconnects_returned]
            self._disconnects_returned += 1
            return moment

    def _pick(self, request: RecordedRequest) -> Reply:
        for queue in reversed(self._queues):
            if queue.replies and _matches(
                queue.method, queue.pattern, request.method, request.path
            ):
                return queue.replies.popleft()
        for route in reversed(self._routes):
            if route.matches(request.method, request.path):
                return self._resolve(route.source, request)
        return Json(
            {"error": f"mock upstream: no route for {request.method} {request.path}"}, status=404
        )

    def _resolve(self, source: ReplySource, request: RecordedRequest) -> Reply:
        if not callable(source):
            return source
        try:
            return source(request)
        except Exception as exc:  # a broken test script must not kill the server
            self.errors.append(exc)
            return Status(500, f"mock upstream: reply function raised {type(exc).__name__}")

    async def _note_disconnect(self) -> None:
        async with self._disconnect_seen:
            self.disconnects.append(time.monotonic())
            self._disconnect_seen.notify_all()

    # -- connections -------------------------------------------------------

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections_opened += 1
        try:
            await self._serve(reader, writer)
        except (ConnectionError, h11.ProtocolError):
            pass
        except asyncio.CancelledError:
            # stop() cancels open connections; ending normally keeps asyncio's
            # stream callback from logging the cancellation as an error.
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        while True:
            request = await _read_request(conn, reader, writer)
            if request is None:
                return
            self.requests.append(request)
            keep_open = await self._answer(conn, reader, writer, self._pick(request))
            if not keep_open or conn.our_state is not h11.DONE:
                return
            if conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()

    async def _answer(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        reply: Reply,
    ) -> bool:
        """Send ``reply`` while watching for the client leaving; False = close."""
        sending = asyncio.ensure_future(self._send(conn, writer, reply))
        watching = asyncio.ensure_future(_watch_for_eof(conn, reader))
        try:
            await asyncio.wait({sending, watching}, return_when=asyncio.FIRST_COMPLETED)
            if sending.done():
                try:
                    return sending.result()
                except (_ClientGone, ConnectionError):
                    await self._note_disconnect()
                    return False
            await self._note_disconnect()
            return False
        finally:
            for task in (sending, watching):
                task.cancel()
            await asyncio.gather(sending, watching, return_exceptions=True)

    async def _send(self, conn: h11.Connection, writer: asyncio.StreamWriter, reply: Reply) -> bool:
        match reply:
            case Json(obj, status, headers):
                body = json.dumps(obj, separators=(",", ":")).encode()
                await _send_whole(conn, writer, status, body, "application/json", headers)
            case Status(code, body, headers):
                data = body.encode() if isinstance(body, str) else body
                await _send_whole(conn, writer, code, data, "text/plain; charset=utf-8", headers)
            case Sse():
                return await self._send_sse(conn, writer, reply)
            case Hang():
                await self._stopping.wait()
                return False
            case Reset():
                _abort(writer)
                return False
            case Raw(data):
                writer.write(data)
                await writer.drain()
                return False
        return True

    async def _send_sse(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, reply: Sse
    ) -> bool:
        head = _headers("text/event-stream", reply.headers, {"cache-control": "no-cache"})
        await _write(conn, writer, h11.Response(status_code=200, headers=head))
        for index, event in enumerate(reply.events):
            if index and reply.delay:
                await asyncio.sleep(reply.delay)
            await _write(conn, writer, h11.Data(data=_sse_bytes(event)))
        if reply.end == "reset":
            _abort(writer)
            return False
        if reply.end == "hang":
            await self._stopping.wait()
            return False
        await _write(conn, writer, h11.EndOfMessage())
        return True


# ---------------------------------------------------------------------------
# h11 plumbing
# ---------------------------------------------------------------------------


async def _read_request(
    conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> RecordedRequest | None:
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(READ_CHUNK))
        elif isinstance(event, h11.Request):
            head = event
            if conn.they_are_waiting_for_100_continue:
                await _write(conn, writer, h11.InformationalResponse(status_code=100, headers=[]))
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            return _record(head, bytes(body))
        else:  # ConnectionClosed or PAUSED: nothing more to read on this connection
            return None


def _record(head: h11.Request, body: bytes) -> RecordedRequest:
    target = urlsplit(head.target.decode("ascii", "replace"))
    headers: dict[str, str] = {}
    for raw_name, raw_value in head.headers:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return RecordedRequest(
        method=head.method.decode("ascii"),
        path=target.path,
        query=dict(parse_qsl(target.query, keep_blank_values=True)),
        headers=headers,
        body=body,
    )


async def _watch_for_eof(conn: h11.Connection, reader: asyncio.StreamReader) -> None:
    """Return when the client closes; bytes it sends meanwhile wait in h11's buffer."""
    while True:
        try:
            data = await reader.read(READ_CHUNK)
        except ConnectionError:
            return
        if not data:
            return
        conn.receive_data(data)


def _headers(
    content_type: str, given: Mapping[str, str] | None, defaults: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    merged = {"content-type": content_type, **(defaults or {})}
    merged.update({k.lower(): v for k, v in (given or {}).items()})
    return list(merged.items())


async def _send_whole(
    conn: h11.Connection,
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    content_type: str,
    given: Mapping[str, str] | None,
) -> None:
    head = _headers(content_type, given)
    if not any(name == "content-length" for name, _ in head):
        head.append(("content-length", str(len(body))))
    await _write(conn, writer, h11.Response(status_code=status, headers=head))
    if body:
        await _write(conn, writer, h11.Data(data=body))
    await _write(conn, writer, h11.EndOfMessage())


async def _write(conn: h11.Connection, writer: asyncio.StreamWriter, event: h11.Event) -> None:
    data = conn.send(event)
    if data:
        if writer.is_closing():
            raise _ClientGone
        writer.write(data)
        await writer.drain()


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with RST instead of FIN: SO_LINGER on with a zero timeout (socket(7))."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _sse_bytes(event: SseEvent) -> bytes:
    if isinstance(event, bytes):
        return event
    if isinstance(event, str):
        return event.encode()
    return b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"
