"""End to end: the official openai SDK -> the real gateway -> a mock OpenAI upstream."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.harness import Harness, run_cli, running_gateway
from tests.support.mock_upstream import (
    Hang,
    Json,
    MockUpstream,
    Sse,
    Status,
    openai_chat_json,
    openai_chat_sse,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

UPSTREAM_KEY = "sk-upstream-test-0123456789abcdef"
CHAT = "/v1/chat/completions"


@pytest.fixture
async def gw(tmp_path: Path, mock: MockUpstream):
    async with running_gateway(tmp_path, upstream_first_byte_timeout=1.0) as harness:
        await harness.add_provider("mock", "openai", mock.url + "/v1", UPSTREAM_KEY, ["m1", "m2"])
        yield harness


def sdk(gw: Harness, key: str | None = None) -> openai.AsyncOpenAI:
    return gw.track(
        openai.AsyncOpenAI(
            base_url=gw.base_url + "/v1", api_key=key or gw.client_key, max_retries=0, timeout=10
        )
    )


async def test_json_completion_round_trip(gw: Harness, mock: MockUpstream) -> None:
    mock.route("POST", CHAT, Json(openai_chat_json("Hello from upstream", "m1")))
    client = sdk(gw)
    resp = await client.chat.completions.create(
        model="mock/m1", messages=[{"role": "user", "content": "hi"}]
    )
    assert resp.choices[0].message.content == "Hello from upstream"
    sent = mock.requests[-1]
    assert sent.json()["model"] == "m1"  # the provider prefix is removed
    assert sent.json()["messages"] == [{"role": "user", "content": "hi"}]
    assert "stream" not in sent.json()  # absent stays absent: means false
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"  # not the client's key
    raw = await client.chat.completions.with_raw_response.create(
        model="mock/m1", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-omniroute-provider"] == "mock"
    assert raw.headers["x-request-id"]


async def test_stream_chunks_arrive_as_sent(gw: Harness, mock: MockUpstream) -> None:
    chunks = ["one ", "two ", "three ", "four"]
    mock.route("POST", CHAT, Sse(openai_chat_sse(chunks, "m1"), delay=0.25))
    client = sdk(gw)
    stream = await client.chat.completions.create(
        model="mock/m1", messages=[{"role": "user", "content": "count"}], stream=True
    )
    arrivals: list[tuple[float, str]] = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append((time.monotonic(), chunk.choices[0].delta.content))
    assert "".join(text for _, text in arrivals) == "one two three four"
    # The upstream paused 0.25 s between events: had the gateway buffered,
    # every piece would arrive at once.
    spread = arrivals[-1][0] - arrivals[0][0]
    assert spread > 0.4, f"chunks arrived together ({spread:.3f}s apart)"


async def test_passthrough_stream_bytes_unchanged(gw: Harness, mock: MockUpstream) -> None:
    # Spacing no JSON encoder of ours would produce: re-encoding would show.
    events = [
        e if isinstance(e, str | bytes) else "data:  " + json.dumps(e, indent=None) + "\r\n\r\n"
        for e in openai_chat_sse(["a", "b"], "m1")
    ]
    mock.route("POST", CHAT, Sse(events))
    async with httpx.AsyncClient(base_url=gw.base_url) as http:
        resp = await http.post(
            CHAT,
            json={
                "model": "mock/m1",
                "messages": [{"role": "user", "content": "x"}],
                "stream": True,
            },
            headers={"authorization": f"Bearer {gw.client_key}"},
        )
    expected = b"".join(e if isinstance(e, bytes) else e.encode() for e in events)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.content == expected


@pytest.mark.parametrize(
    ("reply", "status", "error_type"),
    [
        (
            Status(500, b'{"error":{"message":"boom","type":"server_error"}}'),
            502,
            openai.APIStatusError,
        ),
        (Status(503, b"upstream overloaded"), 503, openai.APIStatusError),
        (
            Status(429, b'{"error":{"message":"slow down"}}', {"retry-after": "7"}),
            429,
            openai.RateLimitError,
        ),
        (Status(400, b'{"error":{"message":"bad field"}}'), 400, openai.BadRequestError),
        (Hang(), 504, openai.APIStatusError),
    ],
)
async def test_upstream_failures_become_openai_errors(
    gw: Harness, mock: MockUpstream, reply: object, status: int, error_type: type
) -> None:
    mock.route("POST", CHAT, reply)  # type: ignore[arg-type]
    with pytest.raises(error_type) as caught:
        await sdk(gw).chat.completions.create(
            model="mock/m1", messages=[{"role": "user", "content": "hi"}]
        )
    err = caught.value
    assert err.status_code == status
    body = err.response.json()
    assert set(body["error"]) >= {"message", "type"}
    assert "Traceback" not in err.response.text
    if status == 429:
        assert err.response.headers["retry-after"] == "7"


async def test_second_account_takes_over(gw: Harness, mock: MockUpstream) -> None:
    # `provider add` for the same name again adds a second account.
    await gw.add_provider("mock", "openai", mock.url + "/v1", "sk-second-account-key-0000", [])
    mock.enqueue("POST", CHAT, Status(429, b"{}"))
    mock.route("POST", CHAT, Json(openai_chat_json("from the second", "m1")))
    resp = await sdk(gw).chat.completions.with_raw_response.create(
        model="mock/m1", messages=[{"role": "user", "content": "hi"}]
    )
    assert resp.parse().choices[0].message.content == "from the second"
    assert resp.headers["x-omniroute-attempts"] == "2"
    assert [r.headers["authorization"] for r in mock.requests[-2:]] == [
        f"Bearer {UPSTREAM_KEY}",
        "Bearer sk-second-account-key-0000",
    ]


async def test_client_disconnect_cancels_upstream(gw: Harness, mock: MockUpstream) -> None:
    mock.route("POST", CHAT, Sse(openai_chat_sse(["x"] * 50, "m1"), delay=0.1, end="hang"))
    body = json.dumps(
        {"model": "mock/m1", "messages": [{"role": "user", "content": "x"}], "stream": True}
    ).encode()
    host, port = gw.gateway.address  # type: ignore[misc]
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {gw.client_key}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    first = await asyncio.wait_for(reader.read(65536), 5)
    assert b"200" in first.split(b"\r\n", 1)[0]
    closed_at = time.monotonic()
    writer.close()
    gone = await mock.wait_disconnect(2.0)
    assert gone is not None, "the upstream request was never cancelled"
    assert gone - closed_at < 0.25


async def test_midstream_death_gives_error_event_without_done(
    gw: Harness, mock: MockUpstream
) -> None:
    events = openai_chat_sse(["partial ", "answer"], "m1")[:-2]  # no finish, no [DONE]
    mock.route("POST", CHAT, Sse(events, end="reset"))
    async with httpx.AsyncClient(base_url=gw.base_url) as http:
        resp = await http.post(
            CHAT,
            json={
                "model": "mock/m1",
                "messages": [{"role": "user", "content": "x"}],
                "stream": True,
            },
            headers={"authorization": f"Bearer {gw.client_key}"},
        )
    text = resp.text
    assert "partial " in text
    assert "[DONE]" not in text
    last = [line for line in text.splitlines() if line.startswith("data:")][-1]
    assert "error" in json.loads(last[5:])
    # And the SDK turns that event into an exception instead of a silent cut.
    mock.route("POST", CHAT, Sse(events, end="reset"))
    stream = await sdk(gw).chat.completions.create(
        model="mock/m1", messages=[{"role": "user", "content": "x"}], stream=True
    )
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass


@pytest.mark.parametrize("key", [None, "sk-omni-wrong"])
async def test_missing_or_wrong_key_is_401(
    gw: Harness, mock: MockUpstream, key: str | None
) -> None:
    mock.route("POST", CHAT, Json(openai_chat_json("never", "m1")))
    headers = {"authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(base_url=gw.base_url) as http:
        resp = await http.post(CHAT, json={"model": "mock/m1", "messages": []}, headers=headers)
        models = await http.get("/v1/models", headers=headers)
    assert resp.status_code == 401 and models.status_code == 401
    assert resp.json()["error"]["type"] == "authentication_error"
    assert mock.requests == []


async def test_models_aliases_and_request_id(gw: Harness, mock: MockUpstream) -> None:
    mock.route("POST", CHAT, Json(openai_chat_json("ok", "m2")))
    client = sdk(gw)
    ids = [m.id async for m in client.models.list()]
    assert ids == ["mock/m1", "mock/m2"]
    headers = {"authorization": f"Bearer {gw.client_key}", "x-request-id": "trace-42"}
    async with httpx.AsyncClient(base_url=gw.base_url, headers=headers) as http:
        for path in ("/models", "/v1/v1/models"):
            assert [m["id"] for m in (await http.get(path)).json()["data"]] == ids
        for path in ("/chat/completions", "/v1/v1/chat/completions"):
            resp = await http.post(path, json={"model": "mock/m2", "messages": []})
            assert resp.status_code == 200
            assert resp.headers["x-request-id"] == "trace-42"
        health = await http.get("/health", headers={"authorization": ""})
    assert health.status_code == 200 and health.json()["status"] == "ok"


async def test_bad_requests_get_openai_errors(gw: Harness, mock: MockUpstream) -> None:
    headers = {"authorization": f"Bearer {gw.client_key}"}
    async with httpx.AsyncClient(base_url=gw.base_url, headers=headers) as http:
        not_json = await http.post(
            CHAT, content=b"{nope", headers={"content-type": "application/json"}
        )
        no_model = await http.post(CHAT, json={"messages": []})
        unknown = await http.post(CHAT, json={"model": "mock-m1", "messages": []})
        wrong_method = await http.get(CHAT)
        generated = await http.post(CHAT, json={"model": "nope/x", "messages": []})
    assert (
        not_json.status_code == 400 and not_json.json()["error"]["type"] == "invalid_request_error"
    )
    assert no_model.status_code == 400 and "model" in no_model.json()["error"]["message"]
    assert unknown.status_code == 404 and "mock/m1" in unknown.json()["error"]["message"]
    assert wrong_method.status_code == 405 and "POST" in wrong_method.headers["allow"]
    assert len(generated.headers["x-request-id"]) >= 16
    assert mock.requests == []


async def test_request_log_rows(gw: Harness, mock: MockUpstream) -> None:
    mock.route("POST", CHAT, Json(openai_chat_json("logged", "m1")))
    await sdk(gw).chat.completions.create(
        model="mock/m1", messages=[{"role": "user", "content": "q"}]
    )
    mock.route("POST", CHAT, Sse(openai_chat_sse(["s1", "s2"], "m1")))
    stream = await sdk(gw).chat.completions.create(
        model="mock/m1", messages=[{"role": "user", "content": "q"}], stream=True
    )
    async for _ in stream:
        pass
    await asyncio.sleep(0.05)  # the stream's record is written as its generator closes
    await gw.gateway.store.flush_logs()
    rows = await gw.gateway.store.recent_requests(10)
    by_stream = {row.stream: row for row in rows}
    assert set(by_stream) == {False, True}
    for row in rows:
        assert row.status == 200
        assert row.model == "mock/m1" and row.resolved_model == "m1" and row.provider == "mock"
        assert row.account_id is not None and row.client_key_id is not None
        assert row.output_tokens > 0 and row.request_id
    assert by_stream[True].ttft_ms is not None


async def test_cli_changes_reach_the_running_server(
    gw: Harness, mock: MockUpstream, tmp_path: Path
) -> None:
    mock.route("POST", CHAT, Json(openai_chat_json("late provider", "fresh-model")))
    run_cli(
        "provider",
        "add",
        "late",
        "--format",
        "openai",
        "--base-url",
        mock.url + "/v1",
        "--api-key",
        "sk-late-provider-key-1234",
        "--models",
        "fresh-model",
        data_dir=gw.settings.data_dir,
    )
    client = sdk(gw)
    deadline = time.monotonic() + 1.0
    ids: list[str] = []
    while time.monotonic() < deadline:
        ids = [m.id async for m in client.models.list()]
        if "late/fresh-model" in ids:
            break
        await asyncio.sleep(0.05)
    assert "late/fresh-model" in ids
    resp = await client.chat.completions.create(
        model="late/fresh-model", messages=[{"role": "user", "content": "hi"}]
    )
    assert resp.choices[0].message.content == "late provider"
    assert mock.requests[-1].headers["authorization"] == "Bearer sk-late-provider-key-1234"


async def test_no_secret_in_logs(
    gw: Harness, mock: MockUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mock.route(
        "POST", CHAT, Status(401, f'{{"error":{{"message":"bad key {UPSTREAM_KEY}"}}}}'.encode())
    )
    with pytest.raises(openai.APIStatusError) as caught:
        await sdk(gw).chat.completions.create(
            model="mock/m1", messages=[{"role": "user", "content": "x"}]
        )
    assert UPSTREAM_KEY not in caught.value.response.text
    mock.route("POST", CHAT, Sse(openai_chat_sse(["a"], "m1"), end="reset"))
    async with httpx.AsyncClient(base_url=gw.base_url) as http:
        await http.post(
            CHAT,
            json={"model": "mock/m1", "messages": [], "stream": True},
            headers={"authorization": f"Bearer {gw.client_key}"},
        )
        await http.post(
            CHAT, json={"model": "mock/m1"}, headers={"authorization": "Bearer sk-omni-bogus"}
        )
    listing = run_cli("provider", "list", data_dir=gw.settings.data_dir)
    captured = caplog.text + listing.stdout + listing.stderr
    assert captured  # something was logged, so the check below means something
    for secret in (UPSTREAM_KEY, gw.client_key, "sk-omni-bogus"):
        assert secret not in captured


async def test_odd_model_names_never_break_headers(gw: Harness, mock: MockUpstream) -> None:
    mock.route("POST", CHAT, Json(openai_chat_json("fine", "m1")))
    headers = {"authorization": f"Bearer {gw.client_key}"}
    async with httpx.AsyncClient(base_url=gw.base_url, headers=headers) as http:
        for model in ("mock/m1\r\nX-Injected: 1", "mock/模型"):
            resp = await http.post(CHAT, json={"model": model, "messages": []})
            assert resp.status_code == 200, resp.text
            assert "x-injected" not in resp.headers
            assert "\n" not in resp.headers["x-omniroute-model"]


async def test_refused_requests_are_logged_too(gw: Harness, mock: MockUpstream) -> None:
    headers = {"authorization": f"Bearer {gw.client_key}"}
    async with httpx.AsyncClient(base_url=gw.base_url, headers=headers) as http:
        unknown = await http.post(CHAT, json={"model": "nope-model", "messages": []})
        # An Anthropic request the translator cannot read (a role it does not know).
        await gw.add_provider("other", "anthropic", mock.url + "/v1", "sk-other-key-0000", ["c"])
        unreadable = await http.post(
            CHAT, json={"model": "other/c", "messages": [{"role": "wizard", "content": "x"}]}
        )
    assert unknown.status_code == 404 and unreadable.status_code == 400
    await gw.gateway.store.flush_logs()
    rows = {row.model: row for row in await gw.gateway.store.recent_requests(10)}
    assert rows["nope-model"].status == 404 and rows["nope-model"].error_kind == "not_found"
    assert rows["other/c"].status == 400 and rows["other/c"].error_kind == "invalid_request"
    assert mock.requests == []
