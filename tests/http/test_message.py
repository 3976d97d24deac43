from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from omniroute.http import (
    Headers,
    Request,
    Response,
    StreamResponse,
    default_error_factory,
    escape_for_log,
)


def test_headers_are_case_insensitive_and_multi_valued() -> None:
    headers = Headers([(b"Accept", b"a"), (b"x-Multi", b"1"), ("X-MULTI", "2")])
    assert headers.get("accept") == "a"
    assert headers.get("ACCEPT") == "a"
    assert headers.get("missing") is None
    assert headers.get("missing", "d") == "d"
    assert headers.get_all("x-multi") == ["1", "2"]
    assert "X-Multi" in headers and "nope" not in headers
    assert headers.items() == [("accept", "a"), ("x-multi", "1"), ("x-multi", "2")]


def test_header_bytes_decode_as_latin1() -> None:
    assert Headers([(b"x", b"caf\xe9")]).get("x") == "café"


def test_reprs_hold_no_secrets() -> None:
    headers = Headers([("Authorization", "Bearer sk-very-secret")])
    request = Request("POST", "/v1/chat?key=sk-query-secret", headers, b'{"k":"sk-body"}')
    for text in (repr(headers), repr(request)):
        assert "sk-" not in text
    assert "authorization" in repr(headers)


def test_request_target_parsing() -> None:
    request = Request("GET", "/a%2Fb/%E2%9C%93?x=1&x=2&flag&e=%20")
    assert request.method == "GET"
    assert request.raw_path == "/a%2Fb/%E2%9C%93"
    assert request.path == "/a/b/\u2713"
    assert request.query_string == "x=1&x=2&flag&e=%20"
    assert request.query == {"x": "1", "flag": "", "e": " "}
    assert request.path_params == {} and request.state == {}
    assert not request.disconnected.is_set()


def test_method_is_kept_as_sent() -> None:
    # Methods are case-sensitive (RFC 9110 section 9.1): "get" is not GET.
    assert Request("get", "/").method == "get"


def test_response_json_is_compact_utf8() -> None:
    response = Response.json({"a": [1, 2], "t": "é"}, status=201, headers=[("x-a", "1")])
    assert response.status == 201
    assert response.body == '{"a":[1,2],"t":"é"}'.encode()
    assert response.headers == [("x-a", "1"), ("content-type", "application/json")]


def test_explicit_content_type_replaces_header() -> None:
    response = Response(200, b"x", [("Content-Type", "text/html")], "text/plain")
    assert response.headers == [("content-type", "text/plain")]


def test_stream_response_keeps_a_given_content_type() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b""

    stream = StreamResponse(chunks(), headers=[("Content-Type", "application/x-ndjson")])
    assert stream.headers == [("Content-Type", "application/x-ndjson")]
    assert StreamResponse(chunks()).headers == [("content-type", "text/event-stream")]


def test_default_error_factory_shape() -> None:
    response = default_error_factory(404, "no route", None)
    assert response.status == 404
    assert json.loads(response.body) == {
        "error": {"message": "no route", "type": "invalid_request_error", "code": 404}
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/plain/path", "/plain/path"),
        ("/a\r\nINFO fake line", "/a\\x0d\\x0aINFO fake line"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("tab\there", "tab\\x09here"),
        ("del\x7f", "del\\x7f"),
        ("c1\x85", "c1\\x85"),
        ("sep\u2028", "sep\\u2028"),
        ("café ✓", "café ✓"),
    ],
)
def test_escape_for_log(raw: str, expected: str) -> None:
    assert escape_for_log(raw) == expected


def test_escape_for_log_truncates() -> None:
    assert escape_for_log("x" * 500, limit=10) == "x" * 10 + "..."
