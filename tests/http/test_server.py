"""The server loop, driven by raw bytes over a loopback socket."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable

import pytest

from omniroute import errors
from omniroute.http import Handler, Request, Response, Router, StreamResponse
from omniroute.settings import Settings
from tests.http.wire import RawResponse, Wire, get, serving

pytestmark = pytest.mark.anyio


async def _until(condition: Callable[[], bool], tries: int = 100) -> None:
    """Give the server up to ``tries`` short turns to make ``condition`` true
    (the caller asserts it)."""
    for _ in range(tries):
        if condition():
            return
        await asyncio.sleep(0.01)


def _streams(produce: Callable[[], AsyncIterator[bytes]]) -> Handler:
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


# -- keep-alive and pipelining ---------------------------------------------------


async def test_keep_alive_serves_two_requests_on_one_connection() -> None:
    async with serving(echo) as (server, port):
        wire = await Wire.open(port)
        await wire.send(get("/one"))
        first = await wire.response()
        await wire.send(get("/two?x=1&x=2&y="))
        second = await wire.response()
        assert first.status == second.status == 200
        assert json.loads(first.body)["path"] == "/one"
        assert json.loads(second.body)["query"] == {"x": "1", "y": ""}
        assert first.header("connection") is None
        assert first.header("date")
        assert server.connection_count == 1
        await wire.close()


async def test_pipelined_requests_are_answered_in_order() -> None:
    delays = {"/a": 0.15, "/b": 0.0, "/c": 0.05}
    order: list[str] = []

    async def slow(request: Request) -> Response:
        order.append(request.path)
        await asyncio.sleep(delays[request.path])
        return Response(200, request.path.encode(), content_type="text/plain")

    async with serving(slow) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/a") + get("/b") + get("/c"))
        bodies = [(await wire.response()).body for _ in range(3)]
        assert bodies == [b"/a", b"/b", b"/c"]
        assert order == ["/a", "/b", "/c"]  # one at a time
        await wire.close()


async def test_pipelined_bytes_during_a_handler_are_kept_and_not_taken_for_eof() -> None:
    release = asyncio.Event()
    seen: list[tuple[str, bool]] = []

    async def handler(request: Request) -> Response:
        if request.path == "/slow":
            await release.wait()
        seen.append((request.path, request.disconnected.is_set()))
        return Response(200, request.path.encode())

    async with serving(handler) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/slow"))
        await asyncio.sleep(0.05)
        body = b'{"k": 1}'
        post = b"POST /next HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        await wire.send(post)  # arrives while /slow is still running
        await asyncio.sleep(0.05)
        release.set()
        assert (await wire.response()).body == b"/slow"
        assert (await wire.response()).body == b"/next"
        assert seen == [("/slow", False), ("/next", False)]
        await wire.close()


async def test_unread_bytes_are_bounded_while_a_handler_runs() -> None:
    release = asyncio.Event()

    async def handler(request: Request) -> Response:
        await release.wait()
        return Response(200, b"first")

    settings = Settings(pipeline_buffer_bytes=64 * 1024)
    async with serving(handler, settings) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        chunk = b"x" * 65536
        sent = 0
        # If the server kept reading, this would run to the end without ever
        # stalling; with the cap only the kernel buffers fill, then it stalls.
        while sent < 256 * 1024 * 1024:
            wire.writer.write(chunk)
            try:
                async with asyncio.timeout(0.5):
                    await wire.writer.drain()
            except TimeoutError:
                break
            sent += len(chunk)
        assert sent < 64 * 1024 * 1024
        release.set()
        response = await wire.response()
        assert response.status == 200 and response.body == b"first"
        wire.writer.transport.abort()


async def test_request_body_content_length_and_chunked() -> None:
    async with serving(echo) as (_, port):
        wire = await Wire.open(port)
        await wire.send(b"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        assert json.loads((await wire.response()).body)["body"] == "hello"
        await wire.send(
            b"POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
        )
        assert json.loads((await wire.response()).body)["body"] == "abcdefg"
        await wire.close()


async def test_expect_100_continue_gets_an_interim_response() -> None:
    async with serving(echo) as (_, port):
        wire = await Wire.open(port)
        await wire.send(
            b"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = await wire.head()
        assert interim.status == 100
        await wire.send(b"xyz")
        assert json.loads((await wire.response()).body)["body"] == "xyz"
        await wire.close()


async def test_percent_decoded_path_and_raw_path() -> None:
    async with serving(echo) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/a%20b/c%2Fd?q=%C3%A9"))
        data = json.loads((await wire.response()).body)
        assert data["path"] == "/a b/c/d"
        assert data["raw_path"] == "/a%20b/c%2Fd"
        assert data["query"] == {"q": "é"}
        await wire.close()


async def test_http10_gets_connection_close() -> None:
    async with serving(echo) as (_, port):
        wire = await Wire.open(port)
        await wire.send(b"GET /old HTTP/1.0\r\n\r\n")
        response = await wire.response()
        assert response.status == 200
        assert response.header("connection") == "close"
        assert json.loads(response.body)["version"] == "1.0"
        await wire.closed()


# -- rejections ---------------------------------------------------------------------


REJECTED = {
    "te_and_cl": (
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "connect": b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    "absolute_form": b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "authority_form": b"GET example.com:80 HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "bare_lf": b"GET / HTTP/1.1\nHost: t\n\n",
    "bare_lf_in_one_header": b"GET / HTTP/1.1\r\nHost: t\nX-A: b\r\n\r\n",
    "folded_header": b"GET / HTTP/1.1\r\nHost: t\r\nX-Long: a\r\n  continued\r\n\r\n",
    "folded_with_tab": b"GET / HTTP/1.1\r\nHost: t\r\nX-Long: a\r\n\tcontinued\r\n\r\n",
    "garbage": b"\x16\x03\x01 hello\r\n\r\n",
    "missing_host": b"GET / HTTP/1.1\r\n\r\n",
    "bad_chunk": b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
}


@pytest.mark.parametrize("name", sorted(REJECTED))
async def test_malformed_requests_get_400_and_close(name: str) -> None:
    calls: list[str] = []

    async def handler(request: Request) -> Response:
        calls.append(request.path)
        return Response(200, b"ok")

    async with serving(handler) as (_, port):
        wire = await Wire.open(port)
        await wire.send(REJECTED[name])
        response = await wire.response()
        assert response.status == 400
        assert response.header("connection") == "close"
        error = json.loads(response.body)["error"]
        assert error["code"] == 400 and error["type"] == "invalid_request_error"
        await wire.closed()
        assert calls == []


async def test_bare_lf_split_across_packets_is_still_refused() -> None:
    async with serving(echo) as (_, port):
        wire = await Wire.open(port)
        await wire.send(b"GET / HTTP/1.1\r\nHost: t\r")
        await asyncio.sleep(0.05)
        await wire.send(b"\nX-A: 1\n\r\n")
        assert (await wire.response()).status == 400
        await wire.closed()


async def test_body_over_limit_by_content_length_is_413() -> None:
    calls: list[str] = []

    async def handler(request: Request) -> Response:
        calls.append(request.path)
        return Response()

    async with serving(handler, Settings(max_body_bytes=100)) as (_, port):
        wire = await Wire.open(port)
        await wire.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n" + b"x" * 50)
        response = await wire.response()
        assert response.status == 413
        assert response.header("connection") == "close"
        await wire.closed()
        assert calls == []


async def test_chunked_body_over_limit_is_413_as_soon_as_it_exceeds() -> None:
    async with serving(echo, Settings(max_body_bytes=100)) as (_, port):
        wire = await Wire.open(port)
        await wire.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        await wire.send(b"40\r\n" + b"a" * 64 + b"\r\n")
        await wire.send(b"40\r\n" + b"b" * 64 + b"\r\n")  # 128 > 100; no final chunk sent
        response = await wire.response()
        assert response.status == 413
        await wire.closed()


async def test_body_at_the_limit_is_accepted() -> None:
    async with serving(echo, Settings(max_body_bytes=10)) as (_, port):
        wire = await Wire.open(port)
        await wire.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789")
        assert json.loads((await wire.response()).body)["body"] == "0123456789"
        await wire.close()


@pytest.mark.parametrize("trickle", [False, True])
async def test_head_over_limit_is_431(trickle: bool) -> None:
    settings = Settings(max_header_bytes=1024)
    async with serving(echo, settings) as (_, port):
        wire = await Wire.open(port)
        big = get("/", "X-Big: " + "a" * 2000)
        if trickle:
            await wire.send(big[:600])
            await asyncio.sleep(0.05)
            await wire.send(big[600:1200])
            await asyncio.sleep(0.05)
            await wire.send(big[1200:])
        else:
            await wire.send(big)
        response = await wire.response()
        assert response.status == 431
        await wire.closed()


async def test_slowloris_is_cut_off_at_the_header_deadline() -> None:
    settings = Settings(header_timeout=0.3)
    async with serving(echo, settings) as (_, port):
        wire = await Wire.open(port)

        async def trickle() -> None:
            for byte in get("/", *(f"X-{i}: y" for i in range(100))):
                await wire.send(bytes([byte]))
                await asyncio.sleep(0.02)

        sender = asyncio.create_task(trickle())
        try:
            received = await wire.closed(timeout=4.0)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        assert received.startswith(b"HTTP/1.1 408 ")
        assert b"connection: close" in received.lower()


async def test_silent_new_connection_is_closed_after_header_timeout() -> None:
    async with serving(echo, Settings(header_timeout=0.2)) as (server, port):
        wire = await Wire.open(port)
        assert await wire.closed(timeout=3.0) == b""


async def test_idle_keep_alive_connection_is_closed() -> None:
    async with serving(echo, Settings(keepalive_timeout=0.2)) as (server, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        assert (await wire.response()).status == 200
        assert await wire.closed(timeout=3.0) == b""  # closed quietly, no 408
        await _until(lambda: server.connection_count == 0)
        assert server.connection_count == 0


async def test_body_timeout_answers_408() -> None:
    async with serving(echo, Settings(body_timeout=0.2)) as (_, port):
        wire = await Wire.open(port)
        await wire.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        response = await wire.response()
        assert response.status == 408
        await wire.closed()


async def test_connections_over_the_cap_are_closed_at_once() -> None:
    async with serving(echo, Settings(max_connections=2)) as (server, port):
        first, second = await Wire.open(port), await Wire.open(port)
        for wire in (first, second):
            await wire.send(get("/"))
            assert (await wire.response()).status == 200
        third = await Wire.open(port)
        assert await third.closed(timeout=2.0) == b""
        assert server.connection_count == 2
        await first.close()
        await _until(lambda: server.connection_count < 2, tries=200)
        fourth = await Wire.open(port)
        await fourth.send(get("/"))
        assert (await fourth.response()).status == 200
        await second.close()
        await fourth.close()


# -- answers --------------------------------------------------------------------


def hello_router() -> Router:
    router = Router()

    async def hello(request: Request) -> Response:
        return Response(200, b"hello", [("x-kind", "greeting")], "text/plain")

    router.add("GET", "/hello", hello)
    router.add(["POST", "PUT"], "/items/{id}", echo)
    return router


async def test_head_runs_get_and_sends_no_body() -> None:
    async with serving(hello_router()) as (_, port):
        wire = await Wire.open(port)
        await wire.send(b"HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        head = await wire.response(method="HEAD")
        assert head.status == 200
        assert head.header("content-length") == "5"
        assert head.header("x-kind") == "greeting"
        # No body bytes may follow: the next response must parse cleanly.
        await wire.send(get("/hello"))
        assert (await wire.response()).body == b"hello"
        await wire.close()


async def test_head_of_a_stream_does_not_run_the_stream() -> None:
    state = {"iterated": False, "closed": False}

    async def produce() -> AsyncIterator[bytes]:
        try:
            state["iterated"] = True
            yield b"data"
        finally:
            state["closed"] = True

    async with serving(_streams(produce)) as (_, port):
        wire = await Wire.open(port)
        await wire.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
        head = await wire.response(method="HEAD")
        assert head.status == 200
        assert head.header("content-type") == "text/event-stream"
        await wire.send(get("/"))
        assert (await wire.response()).body == b"data"
        await wire.close()


async def test_405_lists_allowed_methods() -> None:
    async with serving(hello_router()) as (_, port):
        wire = await Wire.open(port)
        await wire.send(b"DELETE /items/7 HTTP/1.1\r\nHost: t\r\n\r\n")
        response = await wire.response()
        assert response.status == 405
        assert response.header("allow") == "POST, PUT"
        assert json.loads(response.body)["error"]["code"] == 405
        await wire.send(b"POST /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
        response = await wire.response()
        assert response.status == 405
        assert response.header("allow") == "GET, HEAD"
        await wire.close()


async def test_404_for_unknown_path_keeps_the_connection() -> None:
    async with serving(hello_router()) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/nope"))
        response = await wire.response()
        assert response.status == 404
        assert response.header("connection") is None
        await wire.send(b"PUT /items/42 HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi")
        data = json.loads((await wire.response()).body)
        assert data["params"] == {"id": "42"} and data["body"] == "hi"
        await wire.close()


async def test_handler_exception_is_a_500_without_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(request: Request) -> Response:
        raise RuntimeError("sk-secret-in-exception")

    caplog.set_level(logging.ERROR, logger="omniroute.http")
    async with serving(broken) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/evil\x7fpath".replace("\x7f", "%7F"), "Authorization: Bearer sk-x"))
        response = await wire.response()
        assert response.status == 500
        body = response.body.decode()
        assert json.loads(body) == {
            "error": {
                "message": "internal server error",
                "type": "invalid_request_error",
                "code": 500,
            }
        }
        assert "Traceback" not in body and "sk-secret" not in body
        # The connection survives a handler failure.
        await wire.send(get("/again"))
        assert (await wire.response()).status == 500
        await wire.close()
    messages = [record.getMessage() for record in caplog.records]
    assert any("handler failed for GET /evil%7Fpath" in m for m in messages)
    assert not any("Bearer" in m for m in messages)


async def test_omni_errors_use_their_status_and_the_error_factory() -> None:
    async def limited(request: Request) -> Response:
        raise errors.RateLimited("slow down", retry_after=2.4)

    def factory(status: int, message: str, request: Request | None) -> Response:
        path = request.path if request is not None else None
        return Response.json({"custom": message, "status": status, "path": path}, status=status)

    async with serving(limited, error_factory=factory) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/x"))
        response = await wire.response()
        assert response.status == 429
        assert response.header("retry-after") == "2"
        assert json.loads(response.body) == {"custom": "slow down", "status": 429, "path": "/x"}
        await wire.send(b"GET / HTTP/1.1\nHost: t\n\n")  # protocol error: no request parsed
        response = await wire.response()
        assert response.status == 400
        assert json.loads(response.body)["path"] is None
        await wire.closed()


async def test_invalid_response_from_handler_becomes_500() -> None:
    async def bad_header(request: Request) -> Response:
        return Response(200, b"x", [("x-evil", "a\r\nInjected: yes")])

    async with serving(bad_header) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        response = await wire.response()
        assert response.status == 500
        assert response.header("injected") is None
        await wire.close()


# -- streaming and disconnects ------------------------------------------------------


async def test_stream_chunks_reach_the_client_one_by_one() -> None:
    got_first = asyncio.Event()
    produced: list[int] = []

    async def produce() -> AsyncIterator[bytes]:
        produced.append(1)
        yield b"data: one\n\n"
        await got_first.wait()  # only once the client has chunk 1
        produced.append(2)
        yield b"data: two\n\n"

    async with serving(_streams(produce)) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/stream"))
        head = await wire.head()
        assert head.status == 200
        assert head.header("transfer-encoding") == "chunked"
        assert head.header("content-type") == "text/event-stream"
        assert await wire.chunk() == b"data: one\n\n"
        assert produced == [1]
        got_first.set()
        assert await wire.chunk() == b"data: two\n\n"
        assert await wire.chunk() is None
        await wire.send(get("/stream"))  # keep-alive after a stream
        got_first.set()
        assert (await wire.response()).body == b"data: one\n\ndata: two\n\n"
        await wire.close()


async def test_stream_to_http10_client_is_close_delimited() -> None:
    async def produce() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"

    async def handler(request: Request) -> StreamResponse:
        return StreamResponse(produce(), content_type="text/plain")

    async with serving(handler) as (_, port):
        wire = await Wire.open(port)
        await wire.send(b"GET / HTTP/1.0\r\n\r\n")
        response = await wire.response()
        assert response.header("transfer-encoding") is None
        assert response.header("content-length") is None
        assert response.body == b"ab"
        await wire.close()


async def test_client_disconnect_mid_stream_closes_the_producer() -> None:
    loop = asyncio.get_running_loop()
    finished = asyncio.Event()
    record: dict[str, float | bool] = {}

    async def produce(request: Request) -> AsyncIterator[bytes]:
        try:
            yield b"first"
            await asyncio.Event().wait()  # an upstream that never sends again
            yield b"never"
        finally:
            record["at"] = loop.time()
            record["disconnected"] = request.disconnected.is_set()
            finished.set()

    async def handler(request: Request) -> StreamResponse:
        return StreamResponse(produce(request))

    async with serving(handler) as (server, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        await wire.head()
        assert await wire.chunk() == b"first"
        assert server.active_requests == 1
        closed_at = loop.time()
        await wire.close()
        async with asyncio.timeout(2):
            await finished.wait()
        assert record["at"] - closed_at < 0.25
        assert record["disconnected"] is True
        await _until(lambda: server.active_requests == 0)
        assert server.active_requests == 0


async def test_client_disconnect_while_the_first_chunk_is_awaited() -> None:
    finished = asyncio.Event()

    async def produce() -> AsyncIterator[bytes]:
        try:
            await asyncio.Event().wait()
            yield b"never"
        finally:
            finished.set()

    async with serving(_streams(produce)) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        await asyncio.sleep(0.05)
        await wire.close()
        async with asyncio.timeout(0.25):
            await finished.wait()


class _Stuck:
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


async def test_client_disconnect_cancels_a_waiting_handler() -> None:
    loop = asyncio.get_running_loop()
    handler = _Stuck()
    started, cancelled, record = handler.started, handler.cancelled, handler.record

    async with serving(handler) as (server, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        async with asyncio.timeout(2):
            await started.wait()
        closed_at = loop.time()
        await wire.close()
        async with asyncio.timeout(2):
            await cancelled.wait()
        assert record["at"] - closed_at < 0.25
        assert record["disconnected"] is True


async def _answer_when_the_producer_raises(error: Exception) -> RawResponse:
    """The answer to a stream whose producer raises ``error`` before its first chunk."""

    async def produce() -> AsyncIterator[bytes]:
        raise error
        yield b""  # pragma: no cover - makes this an async generator

    async with serving(_streams(produce)) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        response = await wire.response()
        await wire.close()
    return response


async def test_producer_error_before_first_chunk_is_a_500() -> None:
    response = await _answer_when_the_producer_raises(ValueError("upstream exploded"))
    assert response.status == 500
    assert b"exploded" not in response.body


async def test_producer_omni_error_before_first_chunk_keeps_its_status() -> None:
    error = errors.UpstreamTimeout("upstream too slow", phase="first_byte")
    response = await _answer_when_the_producer_raises(error)
    assert response.status == 504
    assert json.loads(response.body)["error"]["message"] == "upstream too slow"


async def test_producer_error_mid_stream_truncates_and_closes() -> None:
    async def produce() -> AsyncIterator[bytes]:
        yield b"partial"
        raise ValueError("upstream exploded")

    async with serving(_streams(produce)) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        await wire.head()
        assert await wire.chunk() == b"partial"
        rest = await wire.closed()
        assert b"0\r\n\r\n" not in rest  # no terminating chunk: the client sees truncation


# -- shutdown -------------------------------------------------------------------------


async def test_graceful_shutdown_finishes_in_flight_and_refuses_new() -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def handler(request: Request) -> Response:
        if request.path == "/slow":
            started.set()
            await release.wait()
        return Response(200, b"done")

    server_cm = serving(handler)
    server, port = await server_cm.__aenter__()
    try:
        busy = await Wire.open(port)
        idle = await Wire.open(port)
        await idle.send(get("/quick"))
        assert (await idle.response()).status == 200
        await busy.send(get("/slow"))
        async with asyncio.timeout(2):
            await started.wait()
        stopping = asyncio.create_task(server.shutdown(grace=5.0))
        assert await idle.closed(timeout=2.0) == b""  # idle keep-alive closed at once
        with pytest.raises(OSError):
            await Wire.open(port)
        assert not stopping.done()
        release.set()
        response = await busy.response()
        assert response.status == 200 and response.body == b"done"
        assert response.header("connection") == "close"
        async with asyncio.timeout(3):
            await stopping
        assert server.connection_count == 0
        assert server.active_requests == 0
        await busy.close()
    finally:
        await server_cm.__aexit__(None, None, None)


async def test_shutdown_cancels_requests_after_the_grace() -> None:
    handler = _Stuck()
    started, cancelled = handler.started, handler.cancelled

    async with serving(handler) as (server, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        async with asyncio.timeout(2):
            await started.wait()
        async with asyncio.timeout(3):
            await server.shutdown(grace=0.1)
        assert cancelled.is_set()
        response = await wire.response()
        assert response.status == 503
        assert response.header("connection") == "close"
        await wire.close()
