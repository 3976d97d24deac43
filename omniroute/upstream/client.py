"""The upstream HTTP/1.1 client used on every proxied request.

``http11`` frames the messages, asyncio transports carry them, and a
keep-alive pool per (scheme, host, port, proxy) saves the TCP and TLS
handshakes. Four
separate limits bound an exchange: connect (TCP + proxy tunnel + TLS), first
byte (sending the request until the response head), idle (between two body
reads) and total (everything, body included).

Error text names ``scheme://host:port/path`` only: never the query string
(Gemini carries ``?key=`` there), header values or proxy credentials.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11  # only for the error a bad header block raises

from omniroute.errors import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from omniroute.http import wire_headers
from omniroute.settings import Settings
from omniroute.upstream.http11 import Head, ProtocolError, ResponseParser, request_head
from omniroute.upstream.pool import Connection, Pool, PoolKey, Wire, open_connection
from omniroute.upstream.proxy import ProxyRoute
from omniroute.upstream.response import UpstreamResponse

# Request bodies up to this size leave in the same write as the head.
_SMALL_BODY = 64 * 1024
_UPLOAD_SLICE = 64 * 1024  # an upload's pieces go out this much at a time
Piece = bytes | memoryview
Body = bytes | Sequence[Piece]
# Hop-by-hop headers (RFC 9110 section 7.6.1) plus the two we always set.
_DROPPED = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host", "content-length"}
)
# Methods whose requests carry Content-Length even when the body is empty
# (RFC 9110 section 8.6: other methods should omit it when there is no body).
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_MAX_CACHED_ROUTES = 256
# RFC 9110 section 9.1 (a token) and RFC 9112 section 3.2 (origin-form:
# visible ASCII, no spaces).
_METHOD = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TARGET = re.compile(r"/[\x21-\x7e]*")
# Response heads larger than this are refused (some upstreams send long
# header sets, so well above the usual 16 KiB).
_MAX_HEAD_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float
    first_byte: float
    idle: float
    total: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Timeouts:
        return cls(
            connect=settings.upstream_connect_timeout,
            first_byte=settings.upstream_first_byte_timeout,
            idle=settings.upstream_idle_timeout,
            total=settings.upstream_total_timeout,
        )


@dataclass(frozen=True, slots=True)
class _Target:
    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent on the request line
    authority: str  # the Host header's value
    label: str  # scheme://host:port/path: no query, no userinfo


class _StaleConnection(Exception):
    """A reused connection failed before any byte of the response arrived:
    the server had closed it while it sat idle."""


class UpstreamClient:
    __slots__ = ("_settings", "_timeouts", "_pool", "_ssl", "_routes", "_targets")

    def __init__(self, settings: Settings, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._settings = settings
        self._timeouts = Timeouts.from_settings(settings)
        self._pool = Pool(settings.upstream_pool_max_idle, settings.upstream_pool_idle_ttl)
        self._ssl = ssl_context  # created on first https use when not given
        self._routes: dict[str, ProxyRoute] = {}
        self._targets: dict[str, _Target] = {}  # parsed URLs: a few per provider

    async def send(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        body: Body = b"",
        *,
        proxy: str | None = None,
        timeouts: Timeouts | None = None,
    ) -> UpstreamResponse:
        """Send one request; return once the response head has arrived.
        ``body`` is bytes, or pieces sent one after the other (an upload
        forwarded without joining it into one more copy)."""
        target = self._targets.get(url)
        if target is None:
            target = _parse_url(url)
            if len(self._targets) >= _MAX_CACHED_ROUTES:
                self._targets.clear()
            self._targets[url] = target
        length = len(body) if isinstance(body, bytes) else sum(len(p) for p in body)
        request = _build_request(method, target, headers, length)
        route = self._route(proxy) if proxy else None
        tm = timeouts or self._timeouts
        deadline = asyncio.get_running_loop().time() + tm.total
        key: PoolKey = (target.scheme, target.host, target.port, proxy or "")
        conn = self._pool.acquire(key)
        if conn is not None:
            try:
                return await self._exchange(conn, request, body, target, tm, deadline, True)
            except _StaleConnection:
                pass  # the server dropped it while idle: once more on a fresh one
        conn = await self._open(key, target, route, tm, deadline)
        return await self._exchange(conn, request, body, target, tm, deadline, False)

    async def aclose(self) -> None:
        """Close every idle pooled connection; responses still open close
        their connections when done. Requests sent afterwards still work, on
        connections that are not kept."""
        self._pool.close_all()
        await asyncio.sleep(0)  # let the transports run their close callbacks

    def stats(self) -> dict[str, int]:
        return self._pool.stats()

    # -- connecting

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            import certifi  # only once the first TLS upstream is reached

            ctx = ssl.create_default_context(cafile=certifi.where())
            ctx.set_alpn_protocols(["http/1.1"])  # we speak nothing else
            self._ssl = ctx
        return self._ssl

    def _route(self, proxy: str) -> ProxyRoute:
        route = self._routes.get(proxy)
        if route is None:
            route = ProxyRoute.parse(proxy)
            if len(self._routes) >= _MAX_CACHED_ROUTES:
                self._routes.clear()
            self._routes[proxy] = route
        return route

    async def _open(
        self,
        key: PoolKey,
        target: _Target,
        route: ProxyRoute | None,
        tm: Timeouts,
        deadline: float,
    ) -> Connection:
        connect_end = asyncio.get_running_loop().time() + tm.connect
        phase = "connect" if connect_end < deadline else "total"
        ctx = self._ssl_context() if target.scheme == "https" else None
        timer = asyncio.timeout_at(min(connect_end, deadline))
        try:
            async with timer:
                conn = await open_connection(key, ctx, route, tm.connect)
        except Exception as exc:
            if timer.expired():
                limit = tm.connect if phase == "connect" else tm.total
                via = f" via proxy {route.label}" if route else ""
                raise UpstreamTimeout(
                    f"could not connect to {target.label}{via} within {limit:g} s", phase=phase
                ) from None
            raise _connect_error(exc, target, route) from exc
        self._pool.track_new(conn)
        return conn

    # -- one request/response head

    async def _exchange(
        self,
        conn: Connection,
        request: bytes,
        body: Body,
        target: _Target,
        tm: Timeouts,
        deadline: float,
        reused: bool,
    ) -> UpstreamResponse:
        first_byte_end = asyncio.get_running_loop().time() + tm.first_byte
        phase = "first_byte" if first_byte_end < deadline else "total"
        wire = conn.wire
        parser = ResponseParser(max_head=_MAX_HEAD_BYTES, head_request=request.startswith(b"HEAD "))
        received = False
        timer = asyncio.timeout_at(min(first_byte_end, deadline))
        try:
            async with timer:
                if isinstance(body, bytes):
                    _write_request(wire, request, body)
                    await wire.drain()
                else:
                    await _write_pieces(wire, request, body)
                while True:
                    event = parser.next_event()
                    if type(event) is Head:
                        break
                    data = await wire.read()
                    received = received or bool(data)
                    parser.feed(data)
        except TimeoutError as exc:
            self._pool.discard(conn)
            if timer.expired():
                limit = tm.first_byte if phase == "first_byte" else tm.total
                raise UpstreamTimeout(
                    f"no response from {target.label} within {limit:g} s", phase=phase
                ) from None
            raise _exchange_error(exc, target, reused and not received) from None
        except (OSError, ProtocolError) as exc:
            self._pool.discard(conn)
            raise _exchange_error(exc, target, reused and not received) from None
        except BaseException:
            self._pool.discard(conn)  # cancelled: the socket goes now
            raise
        return UpstreamResponse(
            event,
            parser,
            conn,
            self._pool,
            target.label,
            idle=tm.idle,
            deadline=deadline,
            total=tm.total,
            max_bytes=self._settings.upstream_max_response_bytes,
        )


async def _write_pieces(wire: Wire, head: bytes, pieces: Sequence[Piece]) -> None:
    """The head, then each piece in slices, waiting for the socket between
    them: the transport never buffers a copy of a large upload."""
    wire.write(head)
    for piece in pieces:
        view = memoryview(piece)
        for start in range(0, len(view), _UPLOAD_SLICE):
            wire.write(view[start : start + _UPLOAD_SLICE])
            await wire.drain()
    await wire.drain()


def _write_request(wire: Wire, head: bytes, body: bytes) -> None:
    if len(body) <= _SMALL_BODY:
        wire.write(head + body)  # one write, one packet for most requests
        return
    wire.write(head)
    wire.write(body)  # large bodies go to the transport as they are, not copied


def _exchange_error(exc: BaseException, target: _Target, stale: bool) -> Exception:
    if stale:
        return _StaleConnection()
    if isinstance(exc, OSError):
        what = "the connection was reset"
    else:
        # The parser's text says only what was wrong, never the bytes.
        what = "the connection closed early or the response head was malformed"
    return UpstreamProtocolError(f"no valid response from {target.label}: {what}")


def _connect_error(exc: Exception, target: _Target, route: ProxyRoute | None) -> UpstreamError:
    via = f" via proxy {route.label}" if route else ""
    if isinstance(exc, TimeoutError):  # the kernel's or python-socks' own connect timeout
        return UpstreamTimeout(f"could not connect to {target.label}{via} in time", phase="connect")
    if route is not None:
        # Loaded already: the proxied connection imported python-socks.
        from python_socks import ProxyConnectionError, ProxyError

        if isinstance(exc, ProxyError):
            code = f" (code {exc.error_code})" if exc.error_code is not None else ""
            return UpstreamConnectError(
                f"proxy {route.label} refused the tunnel to {target.label}{code}"
            )
        if isinstance(exc, ProxyConnectionError):
            return UpstreamConnectError(f"could not reach proxy {route.label} for {target.label}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or "verification failed"
        return UpstreamConnectError(f"TLS certificate of {target.label} rejected{via}: {reason}")
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or type(exc).__name__
        return UpstreamConnectError(f"TLS handshake with {target.label} failed{via}: {reason}")
    if isinstance(exc, socket.gaierror):
        return UpstreamConnectError(f"could not resolve the host of {target.label}{via}")
    if isinstance(exc, ConnectionRefusedError):
        return UpstreamConnectError(f"connection to {target.label} refused{via}")
    if isinstance(exc, OSError):
        reason = exc.strerror or type(exc).__name__
        return UpstreamConnectError(f"could not connect to {target.label}{via}: {reason}")
    return UpstreamConnectError(f"could not connect to {target.label}{via} ({type(exc).__name__})")


def _parse_url(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise UpstreamConnectError("the upstream URL cannot be parsed") from None
    if scheme not in ("http", "https") or not host:
        raise UpstreamConnectError("the upstream URL must be http(s)://host/...")
    default_port = 443 if scheme == "https" else 80
    if port is None:
        port = default_port
    shown = f"[{host}]" if ":" in host else host
    path = parts.path or "/"
    target = f"{path}?{parts.query}" if parts.query else path
    authority = shown if port == default_port else f"{shown}:{port}"
    return _Target(scheme, host, port, target, authority, f"{scheme}://{shown}:{port}{path}")


def _build_request(
    method: str, target: _Target, headers: Sequence[tuple[str, str]], length: int
) -> bytes:
    """The request line and headers, checked in one pass."""
    dropped: frozenset[str] | set[str] = _DROPPED
    for name, value in headers:
        if name.lower() == "connection":  # headers it names are hop-by-hop too
            dropped = set(dropped)
            dropped.update(token.strip().lower() for token in value.split(","))
    try:
        out: list[tuple[bytes, bytes]] = [(b"Host", _ascii_host(target.authority))]
        accept_encoding = False
        for name, value in headers:
            lname = name.lower()
            if lname in dropped or lname.startswith("proxy-"):
                continue
            accept_encoding = accept_encoding or lname == "accept-encoding"
            out.append((name.encode("ascii"), value.encode("latin-1")))
        if not accept_encoding:
            # Bodies are passed on as they come; a compressed one would have
            # to be decoded before any format translation.
            out.append((b"Accept-Encoding", b"identity"))
        if length or method.upper() in _BODY_METHODS:
            out.append((b"Content-Length", str(length).encode("ascii")))
        wire_headers.check(out)
        if not _METHOD.fullmatch(method) or not _TARGET.fullmatch(target.target):
            raise ValueError("method or target")
        return request_head(method, target.target, out)
    except (UnicodeError, ValueError, TypeError, h11.LocalProtocolError):
        # The underlying text quotes the offending value, which may be a secret.
        raise UpstreamProtocolError(
            f"the request to {target.label} has an invalid method, path or header"
        ) from None


def _ascii_host(authority: str) -> bytes:
    try:
        return authority.encode("ascii")
    except UnicodeEncodeError:
        return authority.encode("idna")
