"""Live observation through the management API: telemetry windows, the
detailed health view, the live monitor (server-sent events), the console
log and its tail, and the request log's row limit."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.manage_env import CHAT, MODEL, Env, answering_env, manage_env, provider_body
from tests.support.mock_upstream import Sse, openai_chat_sse

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

KEY = "sk-observe-account-key-00112233"


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with answering_env(tmp_path, KEY) as e:
        yield e


async def refused(env: Env) -> str:
    """A request for a model nobody serves; its request id."""
    async with httpx.AsyncClient(base_url=env.gw.base_url, timeout=15) as http:
        answer = await http.post(
            CHAT,
            json={"model": "nobody/x", "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {env.gw.client_key}"},
        )
    assert answer.status_code == 404
    return answer.headers["x-request-id"]


async def test_telemetry_counts_requests_per_provider_model_and_account(env: Env) -> None:
    for _ in range(3):
        assert await env.chat(f"acme/{MODEL}")
    await refused(env)
    shown = await env.ok("GET", "/api/telemetry")
    assert set(shown["windows"]) == {"5m", "1h", "24h"}
    for window in shown["windows"].values():
        overall = window["overall"]
        assert overall["requests"] == 4 and overall["errors"] == 1
        assert overall["success_rate"] == 0.75
        (provider,) = window["providers"]
        assert provider["provider"] == "acme" and provider["requests"] == 3
        assert provider["success_rate"] == 1.0
        assert set(provider["latency_ms"]) == {"p50", "p95", "p99"}
        assert provider["latency_ms"]["p50"] > 0
        assert [m["model"] for m in window["models"]] == [f"acme/{MODEL}"]
        (account,) = window["accounts"]
        assert account["provider"] == "acme" and account["requests"] == 3
        assert provider["output_tokens"] > 0
    one = await env.ok("GET", "/api/telemetry", params={"window": "5m"})
    assert list(one["windows"]) == ["5m"]
    message = await env.refused("GET", "/api/telemetry", 400, params={"window": "2d"})
    assert "5m, 1h, 24h" in message


async def test_telemetry_is_rebuilt_from_the_log_after_a_restart(tmp_path: Path) -> None:
    async with manage_env(tmp_path) as e:
        e.upstream_answers()
        await e.ok("POST", "/api/providers", 201, json=provider_body(e.mock, KEY))
        for _ in range(2):
            assert await e.chat(f"acme/{MODEL}")
    async with manage_env(tmp_path) as again:
        overall: dict[str, Any] = {}
        for _ in range(100):  # the log is read back by a background task
            overall = (await again.ok("GET", "/api/telemetry"))["windows"]["1h"]["overall"]
            if overall["requests"] == 2:
                break
            await asyncio.sleep(0.05)
        assert overall["requests"] == 2 and overall["errors"] == 0


async def test_health_adds_the_process_and_keeps_its_fields(env: Env) -> None:
    assert await env.chat(f"acme/{MODEL}")
    health = await env.ok("GET", "/api/health")
    assert {"breakers", "cooldowns", "limiters", "health"} <= set(health)
    assert health["uptime_s"] >= 0 and health["version"]
    assert health["memory"]["rss_bytes"] > 1_000_000
    queues = health["queues"]
    assert {"request_log", "limiters", "monitor", "log_file"} <= set(queues)
    assert all(isinstance(v, int) and v >= 0 for v in queues.values())
    assert health["connections"]["open"] >= 1
    assert "idle" in json.dumps(health["pools"]["upstream"]) or health["pools"]["upstream"]
    # The local CLI's token reads it too.
    async with httpx.AsyncClient(base_url=env.gw.admin_url, timeout=15) as http:
        token = env.gw.gateway.admin.token
        answer = await http.get("/api/health", headers={"authorization": f"Bearer {token}"})
        assert answer.status_code == 200 and answer.json()["version"] == health["version"]


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    name = ""
    async for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            yield name, json.loads(line[6:])


async def test_monitor_shows_each_request_start_first_token_and_end_in_order(env: Env) -> None:
    env.mock.route("POST", CHAT, Sse(openai_chat_sse(["Hel", "lo"], MODEL)))
    seen: list[tuple[str, dict[str, Any]]] = []
    async with env.admin.http.stream("GET", "/api/monitor") as live:
        assert live.status_code == 200
        assert live.headers["content-type"].startswith("text/event-stream")
        events = sse_events(live.aiter_lines())

        async def until_two_ends() -> None:
            async for name, data in events:
                seen.append((name, data))
                if sum(1 for n, _ in seen if n == "end") == 2:
                    return

        reader = asyncio.create_task(until_two_ends())
        stream = await env.sdk.chat.completions.create(
            model=f"acme/{MODEL}", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        async for _ in stream:
            pass
        rid = await refused(env)
        await asyncio.wait_for(reader, 15)
    streamed = [(n, d) for n, d in seen if d["request_id"] != rid]
    assert [n for n, _ in streamed] == ["start", "first_token", "end"]
    end = streamed[-1][1]
    assert end["provider"] == "acme" and end["status"] == 200 and end["model"] == f"acme/{MODEL}"
    assert end["output_tokens"] > 0 and end["latency_ms"] >= end["ttft_ms"] >= 0
    assert [n for n, d in seen if d["request_id"] == rid] == ["start", "end"]
    assert [d["status"] for n, d in seen if d["request_id"] == rid and n == "end"] == [404]
    text = json.dumps(seen)
    assert "Hel" not in text and "hi" not in text.replace("hint", "")  # no bodies
    assert KEY not in text


async def test_monitor_needs_a_session(env: Env) -> None:
    async with httpx.AsyncClient(base_url=env.gw.admin_url, timeout=15) as http:
        token = env.gw.gateway.admin.token
        answer = await http.get("/api/monitor", headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert set(answer.json()["error"]) == {"message", "kind"}


async def test_a_watcher_that_never_reads_does_not_hold_requests_up(env: Env) -> None:
    cookie = "; ".join(f"{c.name}={c.value}" for c in env.admin.http.cookies.jar)
    host, port = env.gw.admin_url.removeprefix("http://").split(":")
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect((host, int(port)))
    with contextlib.closing(stalled):
        stalled.sendall(
            f"GET /api/monitor HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n\r\n".encode()
        )
        monitor = env.gw.gateway.observers.monitor
        for _ in range(100):
            if monitor.watchers:
                break
            await asyncio.sleep(0.02)
        assert monitor.watchers == 1
        answers = await asyncio.gather(*(env.chat(f"acme/{MODEL}") for _ in range(40)))
        assert all(answers)


async def test_console_log_filters_by_level_and_text_and_follows(env: Env, info_logs: None) -> None:
    rid = await refused(env)
    found = await env.ok("GET", "/api/logs/console", params={"q": rid, "level": "info"})
    (entry,) = found["entries"]
    assert entry["level"] == "info" and "404" in entry["message"]
    assert entry["logger"].startswith("omniroute")
    assert (await env.ok("GET", "/api/logs/console", params={"q": rid, "level": "error"}))[
        "entries"
    ] == []
    assert await env.refused("GET", "/api/logs/console", 400, params={"level": "loud"})
    # Following: only what comes after, as it is written.
    async with env.admin.http.stream(
        "GET", "/api/logs/console/stream", params={"q": "404"}
    ) as tail:
        assert tail.status_code == 200
        events = sse_events(tail.aiter_lines())
        later = await refused(env)
        name, data = await asyncio.wait_for(anext(events), 15)
    assert name == "log" and later in data["message"] and rid not in data["message"]
    async with env.admin.http.stream(
        "GET", "/api/logs/console", params={"follow": "1", "after": "0", "q": rid}
    ) as again:
        name, data = await asyncio.wait_for(anext(sse_events(again.aiter_lines())), 15)
    assert rid in data["message"]
    everything = json.dumps(await env.ok("GET", "/api/logs/console", params={"limit": "2000"}))
    assert KEY not in everything and env.gw.client_key not in everything


async def test_the_log_file_rotates_by_size(env: Env, info_logs: None, tmp_path: Path) -> None:
    path = tmp_path / "logs" / "omniroute.log"
    path.parent.mkdir()
    await env.ok(
        "PATCH",
        "/api/settings",
        json={"log.file": str(path), "log.max-bytes": 4096, "log.backups": 2},
    )
    for _ in range(40):
        await refused(env)
    env.gw.gateway.log_file.close()  # writes what is queued
    assert path.exists() and path.with_name("omniroute.log.1").exists()
    assert not path.with_name("omniroute.log.3").exists()
    assert path.stat().st_size <= 4096
    assert "404" in path.read_text()
    assert KEY not in path.read_text() and env.gw.client_key not in path.read_text()
    for wrong, named in (
        ({"log.max-bytes": 10}, "max_bytes"),
        ({"log.backups": 1000}, "backups"),
        ({"log.file": ""}, "file"),
    ):
        assert named in await env.refused("PATCH", "/api/settings", 400, json=wrong)
    # No file: the log goes to stderr only again.
    await env.ok("PATCH", "/api/settings", json={"log.file": None})
    assert env.gw.gateway.log_file.path is None


async def test_the_request_log_keeps_at_most_max_rows(env: Env) -> None:
    for _ in range(4):
        assert await env.chat(f"acme/{MODEL}")
    await env.gw.gateway.store.flush_logs()
    assert len((await env.ok("GET", "/api/logs/requests"))["requests"]) == 4
    await env.ok("PATCH", "/api/settings", json={"request-log.max-rows": 2})
    await env.gw.gateway.store.flush_logs()
    rows = (await env.ok("GET", "/api/logs/requests"))["requests"]
    assert len(rows) == 2
    message = await env.refused("PATCH", "/api/settings", 400, json={"request-log.max-rows": 0})
    assert "max_rows" in message


async def test_debug_capture_is_off_by_default_redacted_and_capped(env: Env) -> None:
    secret = "tok-in-the-body-0123456789"
    body = {
        "model": f"acme/{MODEL}",
        "messages": [{"role": "user", "content": "hi " + "x" * 600}],
        "metadata": {"api_key": secret},
    }

    async def ask() -> int:
        async with httpx.AsyncClient(base_url=env.gw.base_url, timeout=15) as http:
            answer = await http.post(
                CHAT, json=body, headers={"authorization": f"Bearer {env.gw.client_key}"}
            )
        assert answer.status_code == 200
        await env.gw.gateway.store.flush_logs()
        newest = (await env.ok("GET", "/api/logs/requests", params={"limit": 1}))["requests"]
        return int(newest[0]["id"])

    plain = await env.ok("GET", f"/api/logs/requests/{await ask()}")
    assert "capture" not in plain
    await env.ok("PATCH", "/api/settings", json={"request-log.capture-bodies": "on"})
    shown = await env.ok("GET", f"/api/logs/requests/{await ask()}")
    capture = shown["capture"]
    assert capture["status"] == 200 and "hello from the mock" in capture["response_body"]
    assert capture["request_headers"]["authorization"] == "***"
    assert json.loads(capture["request_body"])["metadata"] == {"api_key": "***"}
    text = json.dumps(shown)
    assert secret not in text and env.gw.client_key not in text and KEY not in text
    await env.ok("PATCH", "/api/settings", json={"request-log.capture-max-bytes": 256})
    capped = (await env.ok("GET", f"/api/logs/requests/{await ask()}"))["capture"]
    assert capped["request_truncated"] and len(capped["request_body"].encode()) <= 256
    refused = await env.refused(
        "PATCH", "/api/settings", 400, json={"request-log.capture-max-bytes": 10**9}
    )
    assert "capture_max_bytes" in refused


async def test_requests_refused_before_routing_get_rows_too(env: Env) -> None:
    async with httpx.AsyncClient(base_url=env.gw.base_url, timeout=15) as http:
        wrong_key = await http.post(
            CHAT,
            json={"model": f"acme/{MODEL}", "messages": []},
            headers={"authorization": "Bearer sk-not-a-key-0123456789"},
        )
        auth = {"authorization": f"Bearer {env.gw.client_key}"}
        no_model = await http.post(CHAT, json={"messages": []}, headers=auth)
        bad_json = await http.post(CHAT, content=b"{nope", headers=auth)
    assert [wrong_key.status_code, no_model.status_code, bad_json.status_code] == [401, 400, 400]
    await env.gw.gateway.store.flush_logs()
    rows = (await env.ok("GET", "/api/logs/requests"))["requests"]
    assert [(r["status"], r["error_kind"], r["client_format"]) for r in reversed(rows)] == [
        (401, "authentication", "openai"),
        (400, "invalid_request", "openai"),
        (400, "invalid_request", "openai"),
    ]
    assert [r["request_id"] for r in reversed(rows)] == [
        a.headers["x-request-id"] for a in (wrong_key, no_model, bad_json)
    ]
    overall = (await env.ok("GET", "/api/telemetry", params={"window": "5m"}))["windows"]["5m"]
    assert overall["overall"]["errors"] == 3
    assert "sk-not-a-key-0123456789" not in json.dumps(rows)


async def test_live_streams_end_when_the_gateway_stops(tmp_path: Path) -> None:
    async with manage_env(tmp_path, shutdown_grace=30.0) as e:
        async with e.admin.http.stream("GET", "/api/monitor") as live:
            lines = live.aiter_lines()
            assert (await anext(lines)).startswith(":")
            monitor = e.gw.gateway.observers.monitor
            stopping = asyncio.create_task(e.gw.gateway.stop())
            # The stream ends at once, well inside the 30-second grace.
            rest = await asyncio.wait_for(_rest(lines), 15)
            await asyncio.wait_for(stopping, 15)
        assert monitor.watchers == 0 and all(not line.startswith("data") for line in rest)


async def _rest(lines: AsyncIterator[str]) -> list[str]:
    return [line async for line in lines]
