"""Small loopback servers the upstream-client tests script byte by byte.

A ``Server`` runs ``handler(peer)`` for every accepted connection. ``Peer``
reads requests (our client never sends chunked bodies, so Content-Length is
enough) and writes raw response bytes, so a test controls exactly what
arrives and when.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from omniroute.settings import Settings


@dataclass
class Request:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    conn: int  # index of the connection it arrived on (0-based)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def header_names(self) -> set[str]:
        return {key.lower() for key, _ in self.headers}


@dataclass
class Peer:
    server: Server
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    index: int
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def read_request(self) -> Request | None:
        """The next request, or None at EOF."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ")
        headers = []
        for line in lines[1:]:
            if line:
                name, value = line.split(":", 1)
                headers.append((name.strip(), value.strip()))
        request = Request(method, target, headers, b"", self.index)
        length = int(request.header("content-length") or 0)
        request.body = await self.reader.readexactly(length) if length else b""
        self.server.requests.append(request)
        return request

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    def respond(
        self,
        status: int = 200,
        body: bytes = b"",
        headers: tuple[tuple[str, str], ...] = (),
        reason: str = "OK",
    ) -> None:
        lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    async def wait_eof(self) -> None:
        """Return once the client closed or reset the connection."""
        try:
            while await self.reader.read(65536):
                pass
        except ConnectionError:
            pass

    def reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0) instead of a FIN."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


Handler = Callable[[Peer], Awaitable[None]]


class Server:
    def __init__(self, handler: Handler, ssl_context: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self.port = 0
        self.requests: list[Request] = []
        self.peers: list[Peer] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def connections(self) -> int:
        return len(self.peers)

    def url(self, path: str = "/", scheme: str | None = None) -> str:
        scheme = scheme or ("https" if self.ssl_context else "http")
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> Server:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", 0, ssl=self.ssl_context
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for peer in self.peers:
            peer.writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        peer = Peer(self, reader, writer, len(self.peers))
        self.peers.append(peer)
        try:
            await self.handler(peer)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            pass  # the server is stopping
        finally:
            writer.transport.abort()
            peer.closed.set()
            self._tasks.discard(task)


async def serve_forever(peer: Peer) -> None:
    """Answer every request with 200 and a JSON echo of its body length."""
    while (request := await peer.read_request()) is not None:
        body = b'{"ok":true,"len":%d}' % len(request.body)
        peer.respond(200, body, (("Content-Type", "application/json"),))


async def never_answer(peer: Peer) -> None:
    """Accept, read whatever comes, never write a byte."""
    await peer.wait_eof()


def closed_port() -> int:
    """A loopback port with (almost certainly) nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings(**overrides: object) -> Settings:
    """Settings with short limits, so a broken test fails fast rather than hangs."""
    values: dict[str, object] = {
        "upstream_connect_timeout": 5.0,
        "upstream_first_byte_timeout": 5.0,
        "upstream_idle_timeout": 5.0,
        "upstream_total_timeout": 10.0,
    }
    values.update(overrides)
    return Settings().replace(**values)


@dataclass(frozen=True)
class SelfSigned:
    cert_pem: bytes
    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert_path, self.key_path)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.cert_pem.decode("ascii"))


def make_self_signed(directory: Path) -> SelfSigned:
    """A certificate for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "omniroute test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(cert_pem)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return SelfSigned(cert_pem, cert_path, key_path)
