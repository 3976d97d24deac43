"""Request and response values exchanged between the server and handlers.

Nothing here touches the network: a handler receives a fully read
:class:`Request` and returns a :class:`Response` (whole body, sent with
Content-Length) or a :class:`StreamResponse` (chunks sent as they come).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from urllib.parse import parse_qsl, unquote

__all__ = [
    "ErrorFactory",
    "Handler",
    "Headers",
    "Request",
    "Response",
    "StreamResponse",
    "default_error_factory",
    "escape_for_log",
]


def _text(value: str | bytes) -> str:
    # Header bytes are latin-1 by definition (RFC 9110 section 5.5: obs-text).
    return value.decode("latin-1") if isinstance(value, bytes) else value


class Headers:
    """Case-insensitive, multi-valued view of request headers, in wire order."""

    __slots__ = ("_items",)

    def __init__(self, raw: Iterable[tuple[str | bytes, str | bytes]] = ()) -> None:
        self._items: list[tuple[str, str]] = [
            (_text(name).lower(), _text(value)) for name, value in raw
        ]

    @classmethod
    def from_wire(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        """From a parser that already lower-cased the names (h11 does)."""
        headers = cls.__new__(cls)
        headers._items = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]
        return headers

    @classmethod
    def from_lowered(cls, items: list[tuple[str, str]]) -> Headers:
        """From (lower-case name, value) pairs, kept as they are (not copied)."""
        headers = cls.__new__(cls)
        headers._items = items
        return headers

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name``, or ``default``."""
        key = name.lower()
        for item_name, value in self._items:
            if item_name == key:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [value for item_name, value in self._items if item_name == key]

    def items(self) -> list[tuple[str, str]]:
        """(lower-case name, value) pairs; a copy the caller may keep."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return any(item_name == key for item_name, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        # Values may carry credentials (Authorization, x-api-key, cookies):
        # only the names are shown.
        return f"Headers({[name for name, _ in self._items]!r})"


class Request:
    """One fully received HTTP request.

    ``target`` is the request-target as sent (origin-form, with an optional
    query). ``path`` is its percent-decoded path; ``raw_path`` keeps the
    encoding, so ``%2F`` stays distinguishable there.
    """

    __slots__ = (
        "_query",
        "body",
        "client",
        "disconnected",
        "headers",
        "http_version",
        "method",
        "path",
        "path_params",
        "query_string",
        "raw_path",
        "state",
    )

    def __init__(
        self,
        method: str,
        target: str,
        headers: Headers | Iterable[tuple[str | bytes, str | bytes]] = (),
        body: bytes | bytearray = b"",
        *,
        client: tuple[str, int] | None = None,
        http_version: str = "1.1",
    ) -> None:
        # Methods are case-sensitive (RFC 9110 section 9.1): kept as sent.
        self.method = method
        raw_path, _, self.query_string = target.partition("?")
        self.raw_path = raw_path
        self.path = unquote(raw_path, errors="replace") if "%" in raw_path else raw_path
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self.body = body
        self.client = client
        self.http_version = http_version
        self.path_params: dict[str, str] = {}
        self.disconnected = asyncio.Event()
        self.state: dict[str, object] = {}
        self._query: dict[str, str] | None = None

    @property
    def query(self) -> dict[str, str]:
        """Query parameters, decoded on first use; the first value of a name wins."""
        if self._query is None:
            parsed: dict[str, str] = {}
            for key, value in parse_qsl(self.query_string, keep_blank_values=True):
                parsed.setdefault(key, value)
            self._query = parsed
        return self._query

    def __repr__(self) -> str:
        return f"<Request {self.method} {escape_for_log(self.raw_path)!s}>"


class Response:
    """A complete response; the server adds Content-Length."""

    __slots__ = ("body", "headers", "status")

    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
        content_type: str | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.headers: list[tuple[str, str]] = list(headers) if headers else []
        if content_type is not None:
            # An explicit content_type replaces one given in ``headers``.
            self.headers = [h for h in self.headers if h[0].lower() != "content-type"]
            self.headers.append(("content-type", content_type))

    @classmethod
    def json(
        cls, obj: object, status: int = 200, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return cls(status, body, headers, "application/json")

    def __repr__(self) -> str:
        return f"<Response {self.status} {len(self.body)} bytes>"


class StreamResponse:
    """A response whose body is produced while it is sent.

    HTTP/1.1 clients get chunked encoding, HTTP/1.0 clients a body delimited
    by closing the connection. Each chunk is written and flushed on its own.
    If the client goes away, iteration stops and the iterator's ``aclose()``
    (when it has one) is awaited, so a generator's ``finally`` runs.

    ``on_shutdown`` is for a server that stops while the stream is still
    being sent: once its grace has run out, the server calls it, closes the
    iterator, writes what it returned as one last chunk (an error event in
    the client's dialect, say) and ends the body cleanly. Without it the body
    is cut off, which the client sees as a truncated stream.
    """

    __slots__ = ("chunks", "headers", "on_shutdown", "status")

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        status: int = 200,
        headers: list[tuple[str, str]] | None = None,
        content_type: str = "text/event-stream",
        *,
        on_shutdown: Callable[[], bytes] | None = None,
    ) -> None:
        self.chunks = chunks
        self.on_shutdown = on_shutdown
        self.status = status
        self.headers: list[tuple[str, str]] = list(headers) if headers else []
        # Here content_type has a default, so a Content-Type in ``headers`` wins.
        if content_type and not any(name.lower() == "content-type" for name, _ in self.headers):
            self.headers.append(("content-type", content_type))

    def __repr__(self) -> str:
        return f"<StreamResponse {self.status}>"


class GuardedStream:
    """Chunks from ``source``, with ``on_close`` awaited exactly once when
    the stream ends, fails or is closed, even if iteration never began.

    An async generator's ``finally`` does not run when it is closed before
    its first step; a producer that holds resources (an upstream connection,
    a rate-limit slot) uses this wrapper instead.
    """

    __slots__ = ("_source", "_on_close", "_closed")

    def __init__(
        self, source: AsyncIterator[bytes], on_close: Callable[[], Awaitable[None]]
    ) -> None:
        self._source = source
        self._on_close = on_close
        self._closed = False

    def __aiter__(self) -> GuardedStream:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._source.__anext__()
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._source, "aclose", None)
            if close is not None:
                await close()
        finally:
            await self._on_close()


Handler = Callable[[Request], Awaitable[Response | StreamResponse]]
ErrorFactory = Callable[[int, str, Request | None], Response]


def default_error_factory(status: int, message: str, request: Request | None) -> Response:
    """OpenAI-style error body, the shape most clients can show."""
    del request  # the default body does not depend on the request
    return Response.json(
        {"error": {"message": message, "type": "invalid_request_error", "code": status}},
        status=status,
    )


def escape_for_log(value: str, limit: int = 200) -> str:
    """Make text from the wire safe for a log line.

    Control characters (C0, DEL, C1) become ``\\xNN`` so a client cannot forge
    log lines or terminal escapes; long values are cut to ``limit``.
    """
    if len(value) > limit:
        value = value[:limit] + "..."
    if value.isprintable():
        return value
    return "".join(ch if ch.isprintable() else _escape_char(ch) for ch in value)


def _escape_char(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
