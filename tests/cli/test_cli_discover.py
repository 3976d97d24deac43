"""``omniroute provider discover`` against a loopback mock upstream."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import cli_async
from tests.support.harness import run_cli
from tests.support.mock_upstream import Json, MockUpstream, RecordedRequest, Reply, Status
from tests.support.proxies import Socks5Proxy

pytestmark = pytest.mark.anyio

KEY = "sk-discover-secret-key-0123456789"
PROXY_PASSWORD = "socks-pass-777"


def _add(data: Path, fmt: str, base_url: str, *extra: str) -> None:
    run_cli(
        "provider",
        "add",
        "up",
        "--format",
        fmt,
        "--base-url",
        base_url,
        "--api-key",
        KEY,
        *extra,
        data_dir=data,
    )


def _models_line(data: Path) -> str:
    listing = run_cli("provider", "list", data_dir=data).stdout
    return next(line.strip() for line in listing.splitlines() if "models:" in line)


async def test_openai_listing_is_merged_into_the_given_models(tmp_path: Path) -> None:
    data = tmp_path / "d"
    async with MockUpstream() as mock:
        mock.route(
            "GET",
            "/v1/models",
            Json({"object": "list", "data": [{"id": "m-a"}, {"id": "m-b"}, {"id": "m-a"}]}),
        )
        _add(data, "openai", mock.url + "/v1", "--models", "mine,m-b")
        code, out, err = await cli_async(data, "provider", "discover", "up")
        assert code == 0, err
        # The hand-given models stay, in their order; the new ones follow.
        assert _models_line(data) == "models: mine, m-b, m-a"
        lines = out.splitlines()
        assert (
            lines[0]
            == "provider up: the upstream lists 2 model(s); 1 added, 0 removed, 2 unchanged"
        )
        assert lines[1] == "  + m-a"
        assert "1 model(s) the upstream does not list were kept" in lines[2]
        (request,) = mock.requests
        assert request.headers["authorization"] == f"Bearer {KEY}"

        # Nothing new: nothing changes, and it says so.
        code, out, err = await cli_async(data, "provider", "discover", "up")
        assert code == 0, err
        assert "0 added, 0 removed, 3 unchanged" in out and "  + " not in out
        assert _models_line(data) == "models: mine, m-b, m-a"
    assert KEY not in out + err


async def test_replace_makes_the_list_the_upstreams(tmp_path: Path) -> None:
    data = tmp_path / "d"
    async with MockUpstream() as mock:
        mock.route("GET", "/v1/models", Json({"data": [{"id": "m-a"}, {"id": "m-new"}]}))
        _add(data, "openai", mock.url + "/v1", "--models", "mine,m-a,gone")
        code, out, err = await cli_async(data, "provider", "discover", "up", "--replace")
    assert code == 0, err
    assert _models_line(data) == "models: m-a, m-new"
    assert out.splitlines() == [
        "provider up: the upstream lists 2 model(s); 1 added, 2 removed, 1 unchanged",
        "  + m-new",
        "  - mine",
        "  - gone",
    ]


async def test_anthropic_listing_follows_pages(tmp_path: Path) -> None:
    data = tmp_path / "d"

    def pages(request: RecordedRequest) -> Reply:
        if request.query.get("after_id") == "claude-b":
            return Json({"data": [{"id": "claude-c"}], "has_more": False, "last_id": "claude-c"})
        return Json(
            {
                "data": [{"id": "claude-a"}, {"id": "claude-b"}],
                "has_more": True,
                "last_id": "claude-b",
            }
        )

    async with MockUpstream() as mock:
        mock.route("GET", "/v1/models", pages)
        _add(data, "anthropic", mock.url + "/v1")
        # A configured header replaces the format's default instead of doubling it.
        run_cli("provider", "set", "up", "--header", "anthropic-version=2099-01-01", data_dir=data)
        code, out, err = await cli_async(data, "provider", "discover", "up")
    assert code == 0, err
    assert _models_line(data) == "models: claude-a, claude-b, claude-c"
    first, second = mock.requests
    assert first.headers["x-api-key"] == KEY
    assert first.headers["anthropic-version"] == "2099-01-01"
    assert "authorization" not in first.headers
    assert second.query["after_id"] == "claude-b"


async def test_gemini_listing_keeps_generation_models(tmp_path: Path) -> None:
    data = tmp_path / "d"
    listing = {
        "models": [
            {"name": "models/gemini-x-pro", "supportedGenerationMethods": ["generateContent"]},
            {"name": "models/text-embed", "supportedGenerationMethods": ["embedContent"]},
            {"name": "models/gemini-x-flash"},
        ]
    }
    async with MockUpstream() as mock:
        mock.route("GET", "/v1beta/models", Json(listing))
        _add(data, "gemini", mock.url + "/v1beta")
        code, out, err = await cli_async(data, "provider", "discover", "up")
    assert code == 0, err
    assert _models_line(data) == "models: gemini-x-pro, gemini-x-flash"
    (request,) = mock.requests
    assert request.headers["x-goog-api-key"] == KEY and "key" not in request.query


async def test_without_listing_a_tiny_chat_call_checks_the_account(tmp_path: Path) -> None:
    data = tmp_path / "d"
    async with MockUpstream() as mock:
        mock.route("GET", "/v1/models", Status(404, b'{"error": "no such route"}'))
        mock.route("POST", "/v1/chat/completions", Json({"choices": [], "object": "x"}))
        _add(data, "openai", mock.url + "/v1", "--models", "tiny-1,tiny-2")
        code, out, err = await cli_async(data, "provider", "discover", "up")
        assert code == 0, err
        assert "no /models endpoint; a test call to tiny-1 worked (HTTP 200)" in out
        probe = mock.requests[-1]
        assert probe.json() == {
            "model": "tiny-1",
            "messages": [{"role": "user", "content": "ping"}],
            "max_tokens": 1,
        }
        assert _models_line(data) == "models: tiny-1, tiny-2"  # unchanged

        # The upstream refuses the key and echoes it back: the key is masked.
        mock.route("POST", "/v1/chat/completions", Json({"error": f"bad key {KEY}"}, status=401))
        code, out, err = await cli_async(data, "provider", "discover", "up")
    assert code == 2
    assert "a test call to 'tiny-1' answered HTTP 401" in err and "bad key ***" in err
    assert KEY not in out + err and "Traceback" not in err


async def test_listing_errors_exit_2(tmp_path: Path) -> None:
    data = tmp_path / "d"
    async with MockUpstream() as mock:
        mock.route("GET", "/v1/models", Json({"error": "denied"}, status=403))
        _add(data, "openai", mock.url + "/v1")
        code, _, err = await cli_async(data, "provider", "discover", "up")
        assert code == 2 and "/v1/models answered HTTP 403" in err
        code, _, err = await cli_async(data, "provider", "discover", "ghost")
        assert code == 2 and "unknown provider 'ghost'" in err
    # Nobody listening any more: a clear connection error.
    code, _, err = await cli_async(data, "provider", "discover", "up")
    assert code == 2 and "could not reach" in err and "Traceback" not in err


async def test_discovery_goes_through_the_account_socks_proxy(tmp_path: Path) -> None:
    data = tmp_path / "d"
    async with MockUpstream() as mock, Socks5Proxy("me", PROXY_PASSWORD) as proxy:
        mock.route("GET", "/v1/models", Json({"data": [{"id": "via-proxy"}]}))
        _add(data, "openai", mock.url + "/v1", "--proxy", proxy.url)
        assert f":{PROXY_PASSWORD}@" in proxy.url
        code, out, err = await cli_async(data, "provider", "discover", "up")
    assert code == 0, err
    assert proxy.connections == [("127.0.0.1", mock.port)]
    assert _models_line(data) == "models: via-proxy"
    assert PROXY_PASSWORD not in out + err and KEY not in out + err


async def test_an_http_proxy_echoing_its_credentials_has_them_masked(tmp_path: Path) -> None:
    """A forwarding HTTP proxy refuses and quotes the Proxy-Authorization it
    was sent (user and password in Basic form) and the password itself."""
    data = tmp_path / "d"

    def refuse(request: RecordedRequest) -> Reply:
        sent = request.headers.get("proxy-authorization", "")
        return Json({"error": f"denied: {sent} (password {PROXY_PASSWORD})"}, status=502)

    async with MockUpstream() as proxy:  # speaks plain HTTP: enough for a forwarding proxy
        proxy.route("GET", "/v1/models", refuse)
        proxy_url = f"http://me:{PROXY_PASSWORD}@127.0.0.1:{proxy.port}"
        _add(data, "openai", "http://upstream.invalid/v1", "--proxy", proxy_url)
        code, out, err = await cli_async(data, "provider", "discover", "up")
        assert proxy.requests, "the request did not go through the proxy"
        sent = proxy.requests[0].headers["proxy-authorization"]
    assert code == 2 and "answered HTTP 502" in err and "denied: Basic ***" in err
    assert sent.removeprefix("Basic ") not in out + err
    assert PROXY_PASSWORD not in out + err and KEY not in out + err
