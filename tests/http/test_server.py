"""The server over a loopback socket: what needs real connections.

The HTTP rules themselves (framing, refusals, limits, deadlines, answers)
are tested without sockets in test_protocol.py; here are keep-alive and
pipelining through real tasks, read backpressure, the connection cap, the
deadlines' timers, the handler's errors, and the edge cases end to end.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from omniroute import errors
from omniroute.http import Request, Response, Router
from omniroute.settings import Settings
from tests.http.wire import Stuck, Wire, echo, get, serving, until

pytestmark = pytest.mark.anyio


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


async def test_http10_answer_then_close() -> None:
    async with serving(echo) as (_, port):
        wire = await Wire.open(port)
        await wire.send(b"GET /old HTTP/1.0\r\n\r\n")
        response = await wire.response()
        assert response.header("connection") == "close"
        assert json.loads(response.body)["version"] == "1.0"
        assert await wire.closed() == b""


# -- refusals, end to end ----------------------------------------------------------


def health_router(calls: list[str]) -> Router:
    router = Router()

    async def health(request: Request) -> Response:
        calls.append(request.method)
        return Response(200, b"ok", content_type="text/plain")

    router.add("GET", "/health", health)
    router.add("POST", "/upload", health)
    return router


EDGE_CASES = {
    # RFC 9112 section 6.3: chunked not final -> 400 and close (h11 hints 501).
    "te_chunked_identity": (
        b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
        400,
    ),
    "te_identity": (
        b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n\r\n",
        400,
    ),
    "te_two_headers": (
        b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    "te_xchunked": (
        b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n",
        400,
    ),
    "te_quoted": (b'POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: "chunked"\r\n\r\n', 400),
    # A bare CR in a chunk extension is read differently by different parsers.
    "chunk_ext_bare_cr": (
        b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3d;a\rb\r\n" + b"x" * 0x3D + b"\r\n0\r\n\r\n",
        400,
    ),
    # Methods are case-sensitive (RFC 9110 section 9.1).
    "lower_case_get": (b"get /health HTTP/1.1\r\nHost: t\r\n\r\n", 501),
    "lower_case_head": (b"head /health HTTP/1.1\r\nHost: t\r\n\r\n", 501),
    "unknown_method": (b"BREW /health HTTP/1.1\r\nHost: t\r\n\r\n", 501),
    # and the refusals kept from before
    "bare_lf": (b"GET /health HTTP/1.1\nHost: t\n\n", 400),
    "connect": (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 400),
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
async def test_refusals_end_to_end(name: str) -> None:
    data, status = EDGE_CASES[name]
    calls: list[str] = []
    async with serving(health_router(calls)) as (_, port):
        wire = await Wire.open(port)
        await wire.send(data)
        response = await wire.response()
        assert response.status == status
        assert response.header("connection") == "close"
        assert json.loads(response.body)["error"]["code"] == status
        await wire.closed()
        assert calls == []


async def test_upper_case_methods_still_work_end_to_end() -> None:
    calls: list[str] = []
    async with serving(health_router(calls)) as (_, port):
        wire = await Wire.open(port)
        await wire.send(b"HEAD /health HTTP/1.1\r\nHost: t\r\n\r\n")
        head = await wire.response(method="HEAD")
        assert head.status == 200 and head.header("content-length") == "2"
        await wire.send(get("/health"))
        assert (await wire.response()).body == b"ok"
        await wire.send(
            b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3;a=b\r\nabc\r\n0\r\n\r\n"
        )
        assert (await wire.response()).status == 200
        assert calls == ["HEAD", "GET", "POST"]
        await wire.close()


# -- deadlines and the connection cap ---------------------------------------------------


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
    # The first timer is armed for the header deadline; the keep-alive one is
    # later, so it fires, finds the new deadline and re-arms.
    async with serving(echo, Settings(header_timeout=0.1, keepalive_timeout=0.3)) as (server, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        assert (await wire.response()).status == 200
        assert await wire.closed(timeout=3.0) == b""  # closed quietly, no 408
        await until(lambda: server.connection_count == 0)
        assert server.connection_count == 0


async def test_head_deadline_earlier_than_the_keep_alive_one_is_kept() -> None:
    # The armed keep-alive timer would fire much later: the head deadline,
    # earlier, must re-arm it.
    settings = Settings(header_timeout=0.2, keepalive_timeout=30.0)
    async with serving(echo, settings) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        assert (await wire.response()).status == 200
        await asyncio.sleep(0.3)  # the first timer fired and re-armed for keep-alive
        await wire.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n")
        received = await wire.closed(timeout=3.0)
        assert received.startswith(b"HTTP/1.1 408 ")


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
        await until(lambda: server.connection_count < 2, tries=200)
        fourth = await Wire.open(port)
        await fourth.send(get("/"))
        assert (await fourth.response()).status == 200
        await second.close()
        await fourth.close()


# -- handler errors ------------------------------------------------------------------


def hello_router() -> Router:
    router = Router()

    async def hello(request: Request) -> Response:
        return Response(200, b"hello", [("x-kind", "greeting")], "text/plain")

    router.add("GET", "/hello", hello)
    router.add(["POST", "PUT"], "/items/{id}", echo)
    return router


async def test_405_lists_allowed_methods_and_404_keeps_the_connection() -> None:
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


async def test_handler_returning_something_else_is_a_500() -> None:
    async def confused(request: Request) -> Response:
        return "not a response"  # type: ignore[return-value]

    async with serving(confused) as (_, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        assert (await wire.response()).status == 500
        await wire.close()


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


# -- the client going away -------------------------------------------------------------


@pytest.mark.parametrize("how", ["close", "half_close"])
async def test_client_leaving_cancels_a_waiting_handler(how: str) -> None:
    loop = asyncio.get_running_loop()
    handler = Stuck()
    async with serving(handler) as (server, port):
        wire = await Wire.open(port)
        await wire.send(get("/"))
        async with asyncio.timeout(2):
            await handler.started.wait()
        assert server.active_requests == 1
        left_at = loop.time()
        if how == "close":
            await wire.close()
        else:
            wire.writer.write_eof()  # EOF: the client is done with this connection
        async with asyncio.timeout(2):
            await handler.cancelled.wait()
        assert handler.record["at"] - left_at < 0.25
        assert handler.record["disconnected"] is True
        await until(lambda: server.active_requests == 0)
        assert server.active_requests == 0
        await until(lambda: server.connection_count == 0)
        assert server.connection_count == 0
        await wire.close()
