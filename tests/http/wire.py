"""A raw-bytes HTTP/1.1 client for the server tests, plus a server fixture."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from omniroute.http import ErrorFactory, Handler, Request, Response, Server, StreamResponse
from omniroute.settings import Settings

TIMEOUT = 5.0


@dataclass
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    chunks: list[bytes] = field(default_factory=list)
    terminated: bool = True  # a chunked body ended with its last chunk

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name.lower():
                return value
        return None


class Wire:
    """One client socket: send raw bytes, parse responses by hand."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Wire:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def head(self) -> RawResponse:
        async with asyncio.timeout(TIMEOUT):
            raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw[:-4].decode("latin-1").split("\r\n")
        version, status, *_ = lines[0].split(" ", 2)
        assert version in ("HTTP/1.1", "HTTP/1.0"), lines[0]
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        return RawResponse(int(status), headers)

    async def response(self, *, method: str = "GET") -> RawResponse:
        """One whole response (framing by Content-Length, chunked or close)."""
        response = await self.head()
        if method == "HEAD" or response.status in (204, 304):
            return response
        async with asyncio.timeout(TIMEOUT):
            if response.header("transfer-encoding") == "chunked":
                while (chunk := await self.chunk()) is not None:
                    response.chunks.append(chunk)
                response.body = b"".join(response.chunks)
            elif (length := response.header("content-length")) is not None:
                response.body = await self.reader.readexactly(int(length))
            else:
                response.body = await self.reader.read()
        return response

    async def chunk(self) -> bytes | None:
        """The next chunk of a chunked body; None at the last (empty) chunk."""
        async with asyncio.timeout(TIMEOUT):
            size_line = await self.reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")  # no trailers: the final CRLF
                return None
            data = await self.reader.readexactly(size)
            assert await self.reader.readexactly(2) == b"\r\n"
            return data

    async def closed(self, timeout: float = TIMEOUT) -> bytes:
        """Read until the server closes; returns what came before. Fails on timeout."""
        received = bytearray()
        async with asyncio.timeout(timeout):
            while True:
                try:
                    data = await self.reader.read(65536)
                except ConnectionError:
                    break
                if not data:
                    break
                received += data
        await self.close()
        return bytes(received)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


def split_response(data: bytes, *, method: str = "GET") -> tuple[RawResponse, bytes]:
    """The first response in ``data`` and the bytes after it.

    A chunked body without its last chunk, or a close-delimited one, takes
    the rest of ``data``; ``terminated`` says whether the last chunk came.
    """
    end = data.index(b"\r\n\r\n")
    lines = data[:end].decode("latin-1").split("\r\n")
    version, status, *_ = lines[0].split(" ", 2)
    assert version == "HTTP/1.1", lines[0]
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        assert colon and name == name.strip(), line
        headers.append((name.lower(), value.strip()))
    response = RawResponse(int(status), headers)
    rest = data[end + 4 :]
    if method == "HEAD" or response.status in (204, 304) or response.status < 200:
        return response, rest
    if response.header("transfer-encoding") == "chunked":
        response.terminated = False
        while rest:
            size_line, _, after = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                assert after.startswith(b"\r\n"), after
                rest = after[2:]
                response.terminated = True
                break
            response.chunks.append(after[:size])
            assert after[size : size + 2] == b"\r\n"
            rest = after[size + 2 :]
        response.body = b"".join(response.chunks)
    elif (length := response.header("content-length")) is not None:
        response.body, rest = rest[: int(length)], rest[int(length) :]
        assert len(response.body) == int(length)
    else:
        response.body, rest = rest, b""
    return response, rest


def get(path: str = "/", *extra: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: test", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@contextlib.asynccontextmanager
async def serving(
    handler: Handler, settings: Settings | None = None, *, error_factory: ErrorFactory | None = None
) -> AsyncIterator[tuple[Server, int]]:
    server = Server(handler, settings or Settings(), error_factory=error_factory)
    _, port = await server.start("127.0.0.1", 0)
    try:
        yield server, port
    finally:
        await server.shutdown(grace=1.0)


async def until(condition: Callable[[], bool], tries: int = 100) -> None:
    """Give the server up to ``tries`` short turns to make ``condition`` true
    (the caller asserts it)."""
    for _ in range(tries):
        if condition():
            return
        await asyncio.sleep(0.01)


def streams(produce: Callable[[], AsyncIterator[bytes]]) -> Handler:
    """A handler answering every request with a stream from ``produce()``."""

    async def handler(request: Request) -> StreamResponse:
        return StreamResponse(produce())

    return handler


async def echo(request: Request) -> Response:
    return Response.json(
        {
            "method": request.method,
            "path": request.path,
            "raw_path": request.raw_path,
            "query": request.query,
            "body": request.body.decode("latin-1"),
            "params": request.path_params,
            "version": request.http_version,
        }
    )


class Stuck:
    """A handler that never answers by itself; it notes when it is cancelled
    and whether the client had gone by then."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.record: dict[str, float | bool] = {}

    async def __call__(self, request: Request) -> Response:
        self.started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.record["at"] = asyncio.get_running_loop().time()
            self.record["disconnected"] = request.disconnected.is_set()
            self.cancelled.set()
            raise
        return Response()
