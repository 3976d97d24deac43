"""The sans-IO HTTP/1.1 connection, driven from raw bytes with a fake clock."""

from __future__ import annotations

import json

import pytest

from omniroute.http import Request, Response
from omniroute.http.protocol import (
    CLOSE,
    LINGER_BYTES,
    LINGER_SECONDS,
    NEED_DATA,
    Interim,
    RequestReceived,
)
from omniroute.settings import Settings
from tests.http.sansio import CLIENT, Driver, refused
from tests.http.wire import get, split_response


def post(path: str, body: bytes, *extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: t", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(path: str, body: bytes, *extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: t", "Transfer-Encoding: chunked", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def text(body: bytes = b"ok") -> Response:
    return Response(200, body, content_type="text/plain")


# -- requests ----------------------------------------------------------------------


def test_request_fields_come_from_the_head() -> None:
    driver = Driver()
    request = driver.request(
        b"PATCH /a%20b/c%2Fd?q=%C3%A9&q=2&e= HTTP/1.1\r\nHost: t\r\n"
        b"X-Mixed-Case: caf\xe9\r\nX-Multi: 1\r\nx-multi: 2\r\n\r\n"
    )
    assert request.method == "PATCH"
    assert request.path == "/a b/c/d"
    assert request.raw_path == "/a%20b/c%2Fd"
    assert request.query == {"q": "é", "e": ""}
    assert request.http_version == "1.1"
    assert request.client == CLIENT
    assert request.body == b""
    assert request.headers.get("x-mixed-case") == "café"
    assert request.headers.get_all("X-MULTI") == ["1", "2"]
    assert request.headers.items()[0] == ("host", "t")
    assert not request.disconnected.is_set()


def test_content_length_body_in_pieces() -> None:
    driver = Driver()
    assert driver.feed(post("/p", b"hello world")[:-6]) == [NEED_DATA]
    assert driver.feed(b" ") == [NEED_DATA]
    request = driver.request(b"world")
    assert request.body == b"hello world"


def test_chunked_body_is_decoded() -> None:
    driver = Driver()
    request = driver.request(chunked("/p", b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-T: 1\r\n\r\n"))
    assert request.body == b"abcdefg"


def test_chunked_body_split_anywhere_reads_the_same() -> None:
    data = chunked("/p", b"3\r\nabc\r\n10\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n") + get("/next")
    for cut in range(1, len(data)):
        driver = Driver()
        events = driver.feed(data[:cut]) + driver.feed(data[cut:])
        requests = [e.request for e in events if isinstance(e, RequestReceived)]
        assert [r.body for r in requests] == [b"abc" + b"x" * 16], cut
        driver.respond(text())
        assert driver.next_request().path == "/next", cut


def test_options_asterisk_is_accepted() -> None:
    request = Driver().request(b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n")
    assert request.method == "OPTIONS" and request.raw_path == "*"


# -- keep-alive and pipelining --------------------------------------------------------


def test_keep_alive_serves_requests_one_after_another() -> None:
    driver = Driver()
    first = driver.request(get("/one"))
    assert first.path == "/one"
    assert driver.conn.busy and driver.conn.deadline is None
    driver.respond(text(b"1"))
    response = driver.answer()
    assert response.status == 200 and response.body == b"1"
    assert response.header("connection") is None
    assert response.header("content-length") == "1"
    assert response.header("date") is not None
    # Idle now: the keep-alive deadline runs from the end of the answer.
    assert driver.conn.deadline == driver.now + Settings().keepalive_timeout
    assert driver.request(get("/two")).path == "/two"


def test_pipelined_requests_wait_their_turn() -> None:
    driver = Driver()
    pipelined = get("/b") + post("/c", b"xyz")
    events = driver.feed(get("/a") + pipelined)
    assert isinstance(events[-1], RequestReceived) and events[-1].request.path == "/a"
    # While /a is answered, what follows stays buffered and unparsed.
    assert driver.events() == [NEED_DATA]
    assert driver.conn.buffered == len(pipelined)
    driver.feed(b"GET /d")
    assert driver.conn.buffered == len(pipelined) + 6
    assert not driver.conn.over_pipeline_cap
    driver.respond(text(b"a"))
    assert driver.next_request().path == "/b"
    driver.respond(text(b"b"))
    assert driver.next_request().body == b"xyz"
    driver.respond(text(b"c"))
    assert driver.feed(b" HTTP/1.1\r\nHost: t\r\n\r\n")[-1].request.path == "/d"  # type: ignore[union-attr]
    driver.respond(text(b"d"))
    data = driver.take()
    bodies = []
    while data:
        response, data = split_response(data)
        bodies.append(response.body)
    assert bodies == [b"a", b"b", b"c", b"d"]


def test_pipelined_bytes_over_the_cap_are_reported_until_parsed() -> None:
    driver = Driver(Settings(pipeline_buffer_bytes=1000))
    driver.request(get("/a"))
    pipelined = b"".join(get(f"/{i:03}") for i in range(40))
    assert len(pipelined) > 1000
    driver.feed(pipelined)
    assert driver.conn.over_pipeline_cap  # the server stops reading here
    for i in range(40):
        driver.respond(text())
        assert driver.next_request().path == f"/{i:03}"
        assert driver.conn.over_pipeline_cap == (driver.conn.buffered > 1000)
    assert driver.conn.buffered == 0 and not driver.conn.over_pipeline_cap


def test_client_connection_close_ends_after_the_answer() -> None:
    driver = Driver()
    driver.request(get("/", "Connection: keep-alive, Close") + get("/never"))
    driver.respond(text())
    assert driver.answer().header("connection") == "close"
    assert driver.events() == [CLOSE]


def test_http10_gets_connection_close() -> None:
    driver = Driver()
    request = driver.request(b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert request.http_version == "1.0"
    driver.respond(text())
    response = driver.answer()
    assert response.header("connection") == "close"
    assert response.header("content-length") == "2"
    assert driver.events() == [CLOSE]


# -- refusals ----------------------------------------------------------------------------

REJECTED = {
    "te_and_cl": (
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "connect": b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    "absolute_form": b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "authority_form": b"GET example.com:80 HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "asterisk_for_get": b"GET * HTTP/1.1\r\nHost: t\r\n\r\n",
    "bare_lf": b"GET / HTTP/1.1\nHost: t\n\n",
    "bare_lf_in_one_header": b"GET / HTTP/1.1\r\nHost: t\nX-A: b\r\n\r\n",
    "folded_header": b"GET / HTTP/1.1\r\nHost: t\r\nX-Long: a\r\n  continued\r\n\r\n",
    "folded_with_tab": b"GET / HTTP/1.1\r\nHost: t\r\nX-Long: a\r\n\tcontinued\r\n\r\n",
    "garbage": b"\x16\x03\x01 hello\r\n\r\n",
    "missing_host": b"GET / HTTP/1.1\r\n\r\n",
    "leading_empty_line": b"\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
    "two_lengths": b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    "bad_chunk": chunked("/", b"zz\r\n"),
    "chunk_ext_bare_cr": chunked("/", b"3d;a\rb\r\n" + b"x" * 0x3D + b"\r\n0\r\n\r\n"),
    "chunk_size_bare_cr": chunked("/", b"3\r\r\nabc\r\n0\r\n\r\n"),
    "chunk_size_bare_lf": chunked("/", b"3\nabc\r\n0\r\n\r\n"),
    "chunk_data_without_crlf": chunked("/", b"3\r\nabcX\r\n0\r\n\r\n"),
    "chunk_size_space": chunked("/", b"3 ;x\r\nabc\r\n0\r\n\r\n"),
    "trailer_bare_cr": chunked("/", b"3\r\nabc\r\n0\r\nX-T: a\rb\r\n\r\n"),
    "trailer_bare_lf": chunked("/", b"3\r\nabc\r\n0\r\nX-T: a\n\r\n"),
    "trailer_folded": chunked("/", b"3\r\nabc\r\n0\r\nX-T: a\r\n b\r\n\r\n"),
    "last_chunk_bare_lf": chunked("/", b"3\r\nabc\r\n0\n\r\n"),
}


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_malformed_requests_get_400_and_close(name: str) -> None:
    driver = Driver()
    response = refused(driver, REJECTED[name])
    assert response.status == 400
    error = json.loads(response.body)["error"]
    assert error["code"] == 400 and error["type"] == "invalid_request_error"


TRANSFER_ENCODINGS = {
    "chunked_then_identity": ["chunked, identity"],
    "identity": ["identity"],
    "two_headers": ["chunked", "chunked"],
    "chunked_then_identity_headers": ["chunked", "identity"],
    "xchunked": ["xchunked"],
    "quoted": ['"chunked"'],
    "chunked_twice": ["chunked, chunked"],
    "with_content_length": ["gzip, chunked", "+cl"],
}


@pytest.mark.parametrize("name", sorted(TRANSFER_ENCODINGS))
def test_transfer_encoding_not_ending_in_chunked_is_400(name: str) -> None:
    # RFC 9112 section 6.3: the body length cannot be determined: 400, close.
    lines = [
        "Content-Length: 5" if value == "+cl" else f"Transfer-Encoding: {value}"
        for value in TRANSFER_ENCODINGS[name]
    ]
    head = "\r\n".join(["POST / HTTP/1.1", "Host: t", *lines]) + "\r\n\r\n"
    driver = Driver()
    assert refused(driver, head.encode() + b"0\r\n\r\n").status == 400


def test_unknown_coding_before_chunked_is_501() -> None:
    driver = Driver()
    data = b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
    assert refused(driver, data).status == 501


@pytest.mark.parametrize("method", ["get", "head", "Get", "TRACE", "PROPFIND", "BREW", "post"])
def test_unknown_methods_get_501(method: str) -> None:
    # Methods are case-sensitive (RFC 9110 section 9.1): "get" is not GET.
    driver = Driver()
    response = refused(driver, f"{method} /health HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    assert response.status == 501
    assert response.body  # a whole answer, not a dropped connection
    assert driver.wait(LINGER_SECONDS) == [CLOSE]


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_known_methods_are_passed_as_sent(method: str) -> None:
    request = Driver().request(f"{method} / HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    assert request.method == method


def test_bare_lf_split_across_reads_is_still_refused() -> None:
    driver = Driver()
    assert driver.feed(b"GET / HTTP/1.1\r\nHost: t\r") == [NEED_DATA]
    refused(driver, b"\nX-A: 1\n\r\n")


def test_crlf_split_across_reads_is_not_a_bare_lf() -> None:
    driver = Driver()
    data = get("/", "X-A: 1")
    for byte in data[:-1]:
        assert driver.feed(bytes([byte])) == [NEED_DATA]
    assert driver.request(data[-1:]).headers.get("x-a") == "1"


def test_refusal_lingers_then_closes() -> None:
    driver = Driver()
    refused(driver, b"GET / HTTP/1.1\nHost: t\n\n")
    # The client may still be sending: read and drop for a moment.
    assert driver.feed(b"more bytes from the client") == [NEED_DATA]
    assert driver.take() == b""
    assert driver.wait(LINGER_SECONDS / 2) == [NEED_DATA]
    assert driver.wait(LINGER_SECONDS / 2) == [CLOSE]


def test_linger_ends_early_on_eof_or_enough_bytes() -> None:
    driver = Driver()
    refused(driver, b"\x16\x03\x01\r\n\r\n")
    assert driver.eof() == [CLOSE]
    driver = Driver()
    refused(driver, b"\x16\x03\x01\r\n\r\n")
    assert driver.feed(b"x" * (LINGER_BYTES - 1)) == [NEED_DATA]
    assert driver.feed(b"x") == [CLOSE]


def test_refusals_pass_the_request_to_the_error_factory_when_there_is_one() -> None:
    seen: list[tuple[int, str | None]] = []

    def factory(status: int, message: str, request: Request | None) -> Response:
        seen.append((status, request.path if request is not None else None))
        return Response.json({"custom": message}, status=status)

    driver = Driver(Settings(max_body_bytes=10), factory)
    assert refused(driver, post("/big", b"x" * 11)).body == (
        b'{"custom":"request body is larger than 10 bytes"}'
    )
    driver = Driver(error_factory=factory)
    refused(driver, b"GET / HTTP/1.1\nHost: t\n\n")
    assert seen == [(413, "/big"), (400, None)]


def test_an_error_factory_answer_that_cannot_be_written_falls_back() -> None:
    def factory(status: int, message: str, request: Request | None) -> Response:
        return Response(status, b"x", [("bad name", "v")])

    driver = Driver(error_factory=factory)
    response = refused(driver, b"GET / HTTP/1.1\nHost: t\n\n")
    assert json.loads(response.body)["error"]["code"] == 400


# -- limits -------------------------------------------------------------------------------


def test_body_over_the_limit_by_content_length_is_413_at_once() -> None:
    driver = Driver(Settings(max_body_bytes=100))
    head = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\nExpect: 100-continue\r\n\r\n"
    response = refused(driver, head)
    assert response.status == 413  # and no 100 Continue before it


def test_body_at_the_limit_is_accepted() -> None:
    driver = Driver(Settings(max_body_bytes=10))
    assert driver.request(post("/", b"0123456789")).body == b"0123456789"


def test_chunked_body_over_the_limit_is_413_as_soon_as_it_exceeds() -> None:
    driver = Driver(Settings(max_body_bytes=100))
    assert driver.feed(chunked("/", b"40\r\n" + b"a" * 64 + b"\r\n")) == [NEED_DATA]
    # The second chunk's size line alone brings the total over: refused before its data.
    assert refused(driver, b"40\r\n").status == 413


def uploads_larger(request: Request) -> int | None:
    return 1000 if request.path == "/upload" else None


def test_a_route_may_have_its_own_body_cap() -> None:
    driver = Driver(Settings(max_body_bytes=100), body_limit=uploads_larger)
    assert driver.request(post("/upload", b"u" * 1000)).body == b"u" * 1000
    assert refused(Driver(Settings(max_body_bytes=100)), post("/upload", b"u" * 101)).status == 413
    over = b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n"
    driver = Driver(Settings(max_body_bytes=100), body_limit=uploads_larger)
    assert refused(driver, over).status == 413  # before any of the body was read
    driver = Driver(Settings(max_body_bytes=100), body_limit=uploads_larger)
    assert driver.feed(chunked("/upload", b"3e8\r\n" + b"a" * 1000 + b"\r\n")) == [NEED_DATA]
    assert refused(driver, b"1\r\n").status == 413  # as soon as the chunks pass it


def test_a_large_body_arrives_whole_in_any_pieces() -> None:
    body = bytes(range(256)) * 8192  # 2 MiB: read into one buffer of its size
    driver = Driver(Settings(max_body_bytes=4 * 1024 * 1024))
    message = post("/", body)
    head_end = message.index(b"\r\n\r\n") + 4
    assert driver.feed(message[:head_end]) == [NEED_DATA]
    for start in range(head_end, len(message) - 70001, 70001):
        assert driver.feed(message[start : start + 70001]) == [NEED_DATA]
    received = driver.request(message[start + 70001 :])
    assert received.body == body


@pytest.mark.parametrize("trickle", [False, True])
def test_head_over_the_limit_is_431(trickle: bool) -> None:
    driver = Driver(Settings(max_header_bytes=1024))
    big = get("/", "X-Big: " + "a" * 2000)
    if trickle:
        assert driver.feed(big[:600]) == [NEED_DATA]
        assert driver.feed(big[600:1000]) == [NEED_DATA]
        data = big[1000:1200]
    else:
        data = big  # in one piece, body bytes after it or not
    assert refused(driver, data).status == 431


def test_head_exactly_at_the_limit_is_accepted() -> None:
    data = get("/", "X-Pad: ")
    pad = 1024 - len(data)
    data = get("/", "X-Pad: " + "p" * pad)
    assert len(data) == 1024
    assert Driver(Settings(max_header_bytes=1024)).request(data).path == "/"
    assert refused(Driver(Settings(max_header_bytes=1023)), data).status == 431


def test_trailer_over_the_limit_is_431() -> None:
    driver = Driver(Settings(max_header_bytes=256))
    data = chunked("/", b"1\r\na\r\n0\r\nX-T: " + b"t" * 300 + b"\r\n\r\n")
    assert refused(driver, data).status == 431


def test_expect_100_continue_is_answered_before_the_body() -> None:
    driver = Driver()
    head = b"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
    events = driver.feed(head)
    assert isinstance(events[0], Interim) and events[1:] == [NEED_DATA]
    assert driver.take() == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert driver.feed(b"x") == [NEED_DATA]
    assert driver.request(b"yz").body == b"xyz"
    assert driver.take() == b""  # only once


def test_no_100_continue_when_the_body_came_with_the_head() -> None:
    driver = Driver()
    head = b"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
    assert driver.request(head + b"abc").body == b"abc"
    assert driver.take() == b""


# -- deadlines -----------------------------------------------------------------------------


def test_silent_new_connection_is_closed_quietly_at_the_header_deadline() -> None:
    driver = Driver(Settings(header_timeout=2.0))
    assert driver.wait(1.9) == [NEED_DATA]
    assert driver.wait(0.1) == [CLOSE]
    assert driver.take() == b""


def test_slowloris_head_is_cut_off_from_its_first_byte() -> None:
    driver = Driver(Settings(header_timeout=2.0, keepalive_timeout=60.0))
    driver.request(get("/"))
    driver.respond(text())
    driver.take()
    driver.wait(30.0)  # idle keep-alive: no head deadline yet
    for byte in get("/slow", "X-A: b")[:20]:
        assert driver.feed(bytes([byte])) == [NEED_DATA]
        driver.now += 0.05  # each byte keeps the connection busy, but not the head alive
    assert driver.wait(0.9) == [NEED_DATA]  # 1.9 s after the first byte
    driver.wait(0.2)
    assert driver.rejected == [408]
    response = driver.answer()
    assert response.status == 408 and response.header("connection") == "close"


def test_idle_keep_alive_connection_is_closed_quietly() -> None:
    driver = Driver(Settings(keepalive_timeout=5.0))
    driver.request(get("/"))
    driver.wait(60.0)  # the handler's time does not count
    driver.respond(text())
    driver.take()
    assert driver.wait(4.9) == [NEED_DATA]
    assert driver.wait(0.1) == [CLOSE]
    assert driver.take() == b""


def test_body_deadline_answers_408() -> None:
    driver = Driver(Settings(body_timeout=3.0))
    assert driver.feed(post("/", b"0123456789")[:-7]) == [NEED_DATA]
    assert driver.wait(2.9) == [NEED_DATA]
    driver.wait(0.1)
    assert driver.rejected == [408]
    assert driver.answer().status == 408


def test_pipelined_head_gets_its_deadline_when_its_turn_comes() -> None:
    driver = Driver(Settings(header_timeout=2.0))
    driver.request(get("/a") + b"GET /b HTTP/1.1\r\n")
    driver.wait(10.0)  # a slow handler
    driver.respond(text())
    driver.take()
    assert driver.events() == [NEED_DATA]
    assert driver.conn.deadline == driver.now + 2.0


# -- answers -------------------------------------------------------------------------------


def test_head_answer_has_the_get_length_and_no_body() -> None:
    driver = Driver()
    driver.request(b"HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n" + get("/after"))
    driver.respond(Response(200, b"hello", [("x-kind", "greeting")], "text/plain"))
    response, rest = split_response(driver.take(), method="HEAD")
    assert response.header("content-length") == "5" and response.header("x-kind") == "greeting"
    assert rest == b""
    assert driver.next_request().path == "/after"


@pytest.mark.parametrize("status", [204, 304])
def test_204_and_304_have_no_body_and_no_length(status: int) -> None:
    driver = Driver()
    driver.request(get("/"))
    driver.respond(Response(status, b"ignored", [("etag", '"1"')]))
    response, rest = split_response(driver.take(), method="GET")
    assert response.status == status and rest == b""
    assert response.header("content-length") is None
    assert response.header("etag") == '"1"'


def test_framing_headers_belong_to_the_server() -> None:
    driver = Driver()
    driver.request(get("/"))
    handler_headers = [
        ("Content-Length", "999"),
        ("Transfer-Encoding", "chunked"),
        ("Connection", "close"),
        ("Keep-Alive", "timeout=5"),
        ("X-Kept", "yes"),
    ]
    driver.respond(Response(200, b"abc", handler_headers))
    response = driver.answer()
    assert response.header("content-length") == "3"
    assert response.header("transfer-encoding") is None
    assert response.header("connection") is None and response.header("keep-alive") is None
    assert response.header("x-kept") == "yes"
    assert driver.events() == [NEED_DATA]  # still keep-alive


@pytest.mark.parametrize(
    "response",
    [
        Response(200, b"x", [("x-evil", "a\r\nInjected: yes")]),
        Response(200, b"x", [("bad name", "v")]),
        Response(200, b"x", [("x-text", "snowman \u2603")]),
        Response(200, b"x", [("x-nul", "a\x00b")]),
        Response(99, b"x"),
        Response(1000, b"x"),
    ],
)
def test_a_response_that_cannot_be_written_becomes_500(response: Response) -> None:
    driver = Driver()
    driver.request(get("/"))
    driver.respond(response)
    answer = driver.answer()
    assert answer.status == 500
    assert answer.header("injected") is None and answer.header("x-evil") is None


def test_unknown_status_goes_out_without_a_reason() -> None:
    driver = Driver()
    driver.request(get("/"))
    driver.respond(Response(599, b"x"))
    assert driver.take().startswith(b"HTTP/1.1 599 \r\n")


# -- streams -------------------------------------------------------------------------------


def test_stream_is_chunked_and_keeps_the_connection() -> None:
    driver = Driver()
    driver.request(get("/s"))
    conn = driver.conn
    assert conn.body_allowed(200)
    out = conn.start_stream(200, [("content-type", "text/event-stream")])
    assert conn.response_started
    out += conn.frame(b"data: one\n\n") + conn.frame(b"") + conn.frame(b"data: two\n\n")
    out += conn.end_stream(driver.now)
    response, rest = split_response(out)
    assert response.header("transfer-encoding") == "chunked"
    assert response.chunks == [b"data: one\n\n", b"data: two\n\n"] and response.terminated
    assert rest == b""
    assert not conn.response_started
    assert driver.request(get("/next")).path == "/next"


def test_stream_to_http10_is_close_delimited() -> None:
    driver = Driver()
    driver.request(b"GET / HTTP/1.0\r\n\r\n")
    conn = driver.conn
    out = conn.start_stream(200, []) + conn.frame(b"a") + conn.frame(b"b")
    out += conn.end_stream(driver.now)
    response, _ = split_response(out)
    assert response.header("transfer-encoding") is None
    assert response.header("content-length") is None
    assert response.header("connection") == "close"
    assert response.body == b"ab"
    assert driver.events() == [CLOSE]


def test_head_of_a_stream_has_its_framing_but_no_body() -> None:
    driver = Driver()
    driver.request(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
    conn = driver.conn
    assert not conn.body_allowed(200)
    out = conn.start_stream(200, [("content-type", "text/event-stream")])
    out += conn.end_stream(driver.now)
    response, rest = split_response(out, method="HEAD")
    assert response.header("transfer-encoding") == "chunked"
    assert rest == b""
    assert driver.events() == [NEED_DATA]


def test_aborted_stream_is_not_terminated_and_closes() -> None:
    driver = Driver()
    driver.request(get("/"))
    conn = driver.conn
    out = conn.start_stream(200, []) + conn.frame(b"partial")
    conn.abort()
    response, _ = split_response(out)
    assert response.body == b"partial" and not response.terminated
    assert driver.events() == [CLOSE]


# -- closing -------------------------------------------------------------------------------


def test_start_closing_closes_an_idle_connection() -> None:
    driver = Driver()
    driver.conn.start_closing()
    assert driver.events() == [CLOSE]


def test_start_closing_lets_the_current_request_finish_with_close() -> None:
    driver = Driver()
    driver.request(get("/") + get("/pipelined"))
    driver.conn.start_closing()
    driver.respond(text())
    assert driver.answer().header("connection") == "close"
    assert driver.events() == [CLOSE]


def test_start_closing_lets_a_partial_head_finish_then_closes() -> None:
    driver = Driver()
    driver.feed(b"GET / HTTP/1.1\r\n")
    driver.conn.start_closing()
    assert driver.events() == [NEED_DATA]
    driver.request(b"Host: t\r\n\r\n")
    driver.respond(text())
    assert driver.answer().header("connection") == "close"
    assert driver.events() == [CLOSE]


def test_refusal_while_closing_does_not_linger() -> None:
    driver = Driver()
    driver.feed(b"GET / HTTP/1.1\r\n")
    driver.conn.start_closing()
    events = driver.feed(b"Host: t\nX: 1\n\n")
    assert events[-1] is CLOSE and driver.rejected == [400]


def test_eof_mid_request_closes_without_an_answer() -> None:
    driver = Driver()
    driver.feed(b"GET / HTTP/1.1\r\nHo")
    assert driver.eof() == [CLOSE]
    assert driver.take() == b""


def test_eof_while_busy_closes_after_the_answer() -> None:
    driver = Driver()
    driver.request(get("/"))
    assert driver.eof() == [NEED_DATA]
    driver.respond(text())
    assert driver.answer().header("connection") == "close"
    assert driver.events() == [CLOSE]
