"""Loopback SOCKS and HTTP CONNECT proxy servers for tests.

Each proxy listens on 127.0.0.1 (ephemeral port), tunnels bytes to the
requested destination, and records every destination it tunnelled in
``connections`` so a test can prove traffic went through it::

    proxy = Socks5Proxy(username="u", password="p")
    await proxy.start()
    try:
        ... client.send(..., proxy=proxy.url) ...
        assert proxy.connections == [("127.0.0.1", port)]
    finally:
        await proxy.stop()

``Socks5Proxy`` speaks SOCKS5 (RFC 1928) with optional username/password
authentication (RFC 1929), and also SOCKS4/4a (the user id must equal
``username`` when one is set). ``HttpConnectProxy`` speaks HTTP CONNECT
(RFC 9110 section 9.3.6) with optional Basic ``Proxy-Authorization``.
Refusals are counted in ``refused`` (bad credentials, unreachable
destination, malformed handshake).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import struct
from typing import Self
from urllib.parse import quote

_HANDSHAKE_TIMEOUT = 10.0
_MAX_HEAD = 16 * 1024


class _TunnelProxy:
    scheme = ""

    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self.username = username
        self.password = password
        self.host = "127.0.0.1"
        self.port = 0
        self.connections: list[tuple[str, int]] = []
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        auth = ""
        if self.username is not None:
            auth = quote(self.username, safe="")
            if self.password is not None:
                auth += ":" + quote(self.password, safe="")
            auth += "@"
        return f"{self.scheme}://{auth}{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            async with asyncio.timeout(_HANDSHAKE_TIMEOUT):
                upstream = await self._handshake(reader, writer)
            if upstream is None:
                self.refused += 1
                return
            up_reader, up_writer = upstream
            self._writers.add(up_writer)
            try:
                await _splice(reader, writer, up_reader, up_writer)
            finally:
                self._writers.discard(up_writer)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            self.refused += 1
        except asyncio.CancelledError:
            pass  # stop() is tearing the proxy down
        finally:
            self._writers.discard(writer)
            writer.transport.abort()
            self._tasks.discard(task)

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        raise NotImplementedError

    async def _dial(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        try:
            return await asyncio.open_connection(host, port)
        except OSError:
            return None


class Socks5Proxy(_TunnelProxy):
    scheme = "socks5"

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        version = (await reader.readexactly(1))[0]
        if version == 4:
            return await self._socks4(reader, writer)
        if version != 5:
            return None
        methods = await reader.readexactly((await reader.readexactly(1))[0])
        wanted = 0x02 if self.username is not None else 0x00
        if wanted not in methods:
            writer.write(b"\x05\xff")  # no acceptable method
            return None
        writer.write(bytes([5, wanted]))
        if wanted == 0x02 and not await self._check_password(reader, writer):
            return None
        ver, cmd, _rsv, atyp = await reader.readexactly(4)
        host = await _read_socks5_address(reader, atyp)
        port = struct.unpack("!H", await reader.readexactly(2))[0]
        if ver != 5 or cmd != 1 or host is None:
            writer.write(b"\x05\x07\x00\x01" + bytes(6))  # command not supported
            return None
        upstream = await self._dial(host, port)
        if upstream is None:
            writer.write(b"\x05\x05\x00\x01" + bytes(6))  # connection refused
            return None
        self.connections.append((host, port))
        writer.write(b"\x05\x00\x00\x01" + bytes(6))  # succeeded, bound 0.0.0.0:0
        await writer.drain()
        return upstream

    async def _check_password(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        # RFC 1929: VER=1, ULEN, UNAME, PLEN, PASSWD
        if (await reader.readexactly(1))[0] != 1:
            return False
        user = await reader.readexactly((await reader.readexactly(1))[0])
        password = await reader.readexactly((await reader.readexactly(1))[0])
        ok = user.decode() == self.username and password.decode() == (self.password or "")
        writer.write(b"\x01\x00" if ok else b"\x01\x01")
        await writer.drain()
        return ok

    async def _socks4(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        cmd = (await reader.readexactly(1))[0]
        port = struct.unpack("!H", await reader.readexactly(2))[0]
        ip = await reader.readexactly(4)
        user_id = (await reader.readuntil(b"\x00"))[:-1].decode()
        host = str(ipaddress.IPv4Address(ip))
        if ip[:3] == b"\x00\x00\x00" and ip[3] != 0:  # SOCKS4a: the name follows
            host = (await reader.readuntil(b"\x00"))[:-1].decode()
        if cmd != 1 or (self.username is not None and user_id != self.username):
            writer.write(b"\x00\x5b" + bytes(6))  # rejected
            return None
        upstream = await self._dial(host, port)
        if upstream is None:
            writer.write(b"\x00\x5b" + bytes(6))
            return None
        self.connections.append((host, port))
        writer.write(b"\x00\x5a" + bytes(6))  # granted
        await writer.drain()
        return upstream


class HttpConnectProxy(_TunnelProxy):
    scheme = "http"

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > _MAX_HEAD:
            return None
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or parts[0] != "CONNECT":
            writer.write(_reply(405, "Method Not Allowed"))
            return None
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if self.username is not None and not self._authorized(headers):
            writer.write(
                _reply(407, "Proxy Authentication Required", 'Proxy-Authenticate: Basic realm="t"')
            )
            return None
        host, _, port_text = parts[1].rpartition(":")
        host = host.strip("[]")
        if not host or not port_text.isdigit():
            writer.write(_reply(400, "Bad Request"))
            return None
        upstream = await self._dial(host, int(port_text))
        if upstream is None:
            writer.write(_reply(502, "Bad Gateway"))
            return None
        self.connections.append((host, int(port_text)))
        # One write: clients may parse the reply from a single read.
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        return upstream

    def _authorized(self, headers: dict[str, str]) -> bool:
        scheme, _, encoded = headers.get("proxy-authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("latin-1")
        except ValueError:
            return False
        return decoded == f"{self.username}:{self.password or ''}"


def _reply(status: int, reason: str, extra: str = "") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", "Content-Length: 0", "Connection: close"]
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_socks5_address(reader: asyncio.StreamReader, atyp: int) -> str | None:
    if atyp == 1:
        return str(ipaddress.IPv4Address(await reader.readexactly(4)))
    if atyp == 3:
        return (await reader.readexactly((await reader.readexactly(1))[0])).decode("idna")
    if atyp == 4:
        return str(ipaddress.IPv6Address(await reader.readexactly(16)))
    return None


async def _splice(
    a_reader: asyncio.StreamReader,
    a_writer: asyncio.StreamWriter,
    b_reader: asyncio.StreamReader,
    b_writer: asyncio.StreamWriter,
) -> None:
    """Copy both ways until both directions ended; a half-close is passed on."""
    back = asyncio.create_task(_copy(b_reader, a_writer))
    try:
        await _copy(a_reader, b_writer)
        await back
    finally:
        back.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await back
        b_writer.transport.abort()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        writer.transport.abort()
        return
    if writer.can_write_eof() and not writer.transport.is_closing():
        with contextlib.suppress(OSError):
            writer.write_eof()
