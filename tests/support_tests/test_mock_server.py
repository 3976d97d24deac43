"""The mock upstream itself: every reply kind, routing, recording, disconnects."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from tests.support.mock_upstream import (
    Hang,
    Json,
    MockUpstream,
    Raw,
    RecordedRequest,
    Reply,
    Reset,
    Sse,
    SseEvent,
    Status,
)

pytestmark = pytest.mark.anyio


def client(up: MockUpstream, timeout: float = 5.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=up.url, timeout=timeout)


async def test_json_reply_and_recorded_request() -> None:
    async with MockUpstream() as up, client(up) as http:
        up.route(
            "POST", "/v1/chat/completions", Json({"ok": True}, status=201, headers={"X-Extra": "1"})
        )
        resp = await http.post(
            "/v1/chat/completions?alt=sse&key=k",
            json={"model": "m"},
            headers={"Authorization": "Bearer sk-x", "X-Multi": "a"},
        )
        assert resp.status_code == 201
        assert resp.json() == {"ok": True}
        assert resp.headers["content-type"] == "application/json"
        assert resp.headers["x-extra"] == "1"
        [req] = up.requests
        assert (req.method, req.path) == ("POST", "/v1/chat/completions")
        assert req.query == {"alt": "sse", "key": "k"}
        assert req.headers["authorization"] == "Bearer sk-x"
        assert req.headers["x-multi"] == "a"
        assert req.json() == {"model": "m"}


async def test_repeated_headers_are_joined() -> None:
    async with MockUpstream() as up, client(up) as http:
        up.route("GET", "/h", Status(204))
        await http.get("/h", headers=[("x-a", "1"), ("x-a", "2")])
        assert up.requests[0].headers["x-a"] == "1, 2"


async def test_status_reply_with_body_and_headers() -> None:
    async with MockUpstream() as up, client(up) as http:
        up.route("GET", "/limited", Status(429, "slow down", headers={"retry-after": "7"}))
        resp = await http.get("/limited")
        assert resp.status_code == 429
        assert resp.text == "slow down"
        assert resp.headers["retry-after"] == "7"


async def test_unrouted_path_is_404_json() -> None:
    async with MockUpstream() as up, client(up) as http:
        resp = await http.get("/nowhere")
        assert resp.status_code == 404
        assert "/nowhere" in resp.json()["error"]


async def test_prefix_routes_and_later_routes_win() -> None:
    async with MockUpstream() as up, client(up) as http:
        up.route("POST", "/v1beta/models/*", Json({"which": "prefix"}))
        up.route("POST", "/v1beta/models/g:generateContent", Json({"which": "exact"}))
        up.route("POST", "/v1beta/*", Json({"which": "later prefix"}))
        r1 = await http.post("/v1beta/models/g:generateContent", content=b"{}")
        assert r1.json() == {"which": "later prefix"}
        up.route("POST", "/v1beta/models/g:generateContent", Json({"which": "exact again"}))
        r2 = await http.post("/v1beta/models/g:generateContent", content=b"{}")
        r3 = await http.post("/v1beta/models/other", content=b"{}")
        assert r2.json() == {"which": "exact again"}
        assert r3.json() == {"which": "later prefix"}
        # method matters
        assert (await http.get("/v1beta/models/other")).status_code == 404


async def test_enqueued_replies_come_first_then_the_route() -> None:
    async with MockUpstream() as up, client(up) as http:
        up.route("POST", "/x", Json({"n": "route"}))
        up.enqueue("POST", "/x", Status(429), Json({"n": 1}))
        codes = [(await http.post("/x")).status_code for _ in range(3)]
        assert codes == [429, 200, 200]
        assert (await http.post("/x")).json() == {"n": "route"}


async def test_callable_reply_sees_the_request() -> None:
    def echo(req: RecordedRequest) -> Reply:
        return Json({"model": req.json()["model"], "path": req.path})

    async with MockUpstream() as up, client(up) as http:
        up.route("POST", "/v1/*", echo)
        resp = await http.post("/v1/messages", json={"model": "claude"})
        assert resp.json() == {"model": "claude", "path": "/v1/messages"}


async def test_callable_that_raises_answers_500_and_is_kept() -> None:
    def broken(req: RecordedRequest) -> Reply:
        raise KeyError("nope")

    async with MockUpstream() as up, client(up) as http:
        up.route("GET", "/b", broken)
        resp = await http.get("/b")
        assert resp.status_code == 500
        assert [type(e) for e in up.errors] == [KeyError]


async def test_keep_alive_reuses_one_connection() -> None:
    async with MockUpstream() as up, client(up) as http:
        up.route("GET", "/k", Json([]))
        up.route("GET", "/s", Sse([{"a": 1}]))
        for path in ("/k", "/s", "/k", "/s"):
            assert (await http.get(path)).status_code == 200
        assert up.connections_opened == 1
        assert len(up.requests) == 4


async def test_sse_events_dicts_strings_and_bytes() -> None:
    events: list[SseEvent] = [{"a": 1}, "event: x\ndata: raw\n\n", b"data: [DONE]\n\n"]
    async with MockUpstream() as up, client(up) as http:
        up.route("POST", "/s", Sse(events, headers={"x-stream": "yes"}))
        resp = await http.post("/s")
        assert resp.headers["content-type"] == "text/event-stream"
        assert resp.headers["x-stream"] == "yes"
        assert resp.content == b'data: {"a":1}\n\nevent: x\ndata: raw\n\ndata: [DONE]\n\n'


async def test_sse_delay_spaces_the_events() -> None:
    async with MockUpstream() as up, client(up) as http:
        up.route("GET", "/s", Sse(["data: 1\n\n", "data: 2\n\n", "data: 3\n\n"], delay=0.1))
        arrivals: list[float] = []
        async with http.stream("GET", "/s") as resp:
            async for _ in resp.aiter_raw():
                arrivals.append(time.monotonic())
        assert len(arrivals) >= 3
        assert arrivals[-1] - arrivals[0] >= 0.15  # two gaps of 0.1 s


async def test_sse_end_reset_kills_the_stream_after_the_events() -> None:
    async with MockUpstream() as up, client(up) as http:
        up.route("GET", "/s", Sse([{"n": 1}, {"n": 2}], end="reset"))
        received = b""
        with pytest.raises(httpx.TransportError):
            async with http.stream("GET", "/s") as resp:
                async for chunk in resp.aiter_raw():
                    received += chunk
        assert received == b'data: {"n":1}\n\ndata: {"n":2}\n\n'
        assert up.disconnects == []  # the server went away, not the client


async def test_sse_end_hang_keeps_the_body_open() -> None:
    async with MockUpstream() as up, client(up, timeout=0.3) as http:
        up.route("GET", "/s", Sse([{"n": 1}], end="hang"))
        got = b""
        with pytest.raises(httpx.ReadTimeout):
            async with http.stream("GET", "/s") as resp:
                async for chunk in resp.aiter_raw():
                    got += chunk
        assert got == b'data: {"n":1}\n\n'


async def test_client_leaving_mid_stream_is_recorded() -> None:
    async with MockUpstream() as up, client(up) as http:
        up.route("GET", "/s", Sse([{"n": i} for i in range(100)], delay=0.05))
        async with http.stream("GET", "/s") as resp:
            async for _ in resp.aiter_raw():
                break
        left = time.monotonic()
        moment = await up.wait_disconnect(2.0)
        assert moment is not None
        assert moment - left < 0.5
        assert up.disconnects == [moment]
        assert await up.wait_disconnect(0.05) is None  # each disconnect is returned once


async def test_hang_never_answers_and_notices_the_client_leaving() -> None:
    async with MockUpstream() as up, client(up, timeout=0.2) as http:
        up.route("POST", "/h", Hang())
        with pytest.raises(httpx.ReadTimeout):
            await http.post("/h", content=b"x")
        assert await up.wait_disconnect(2.0) is not None
        assert up.requests[0].body == b"x"


async def test_stop_releases_a_hanging_request() -> None:
    up = MockUpstream()
    await up.start()
    up.route("GET", "/h", Hang())
    async with client(up) as http:
        pending = asyncio.ensure_future(http.get("/h"))
        for _ in range(100):
            if up.requests:
                break
            await asyncio.sleep(0.01)
        await asyncio.wait_for(up.stop(), 2.0)
        with pytest.raises(httpx.RemoteProtocolError):
            await asyncio.wait_for(pending, 2.0)


async def test_reset_answers_nothing() -> None:
    async with MockUpstream() as up, client(up) as http:
        up.route("GET", "/r", Reset())
        with pytest.raises(httpx.TransportError):
            await http.get("/r")
        assert len(up.requests) == 1


async def test_raw_bytes_go_out_verbatim() -> None:
    async with MockUpstream() as up, client(up) as http:
        up.route("GET", "/raw", Raw(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi"))
        resp = await http.get("/raw")
        assert resp.text == "hi"
    async with MockUpstream() as up, client(up) as http:
        up.route("GET", "/junk", Raw(b"not http at all\r\n\r\n"))
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get("/junk")


async def test_wait_disconnect_times_out_with_none() -> None:
    async with MockUpstream() as up:
        assert await up.wait_disconnect(0.05) is None


async def test_expect_100_continue_is_honoured() -> None:
    async with MockUpstream() as up:
        up.route("PUT", "/u", Json({"ok": 1}))
        reader, writer = await asyncio.open_connection("127.0.0.1", up.port)
        writer.write(
            b"PUT /u HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n"
        )
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2.0)
        assert interim.startswith(b"HTTP/1.1 100 ")
        writer.write(b"{}")
        final = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2.0)
        assert final.startswith(b"HTTP/1.1 200 ")
        assert json.loads(await asyncio.wait_for(reader.readexactly(8), 2.0)) == {"ok": 1}
        writer.close()
        assert up.requests[0].body == b"{}"


async def test_url_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        _ = MockUpstream().url
