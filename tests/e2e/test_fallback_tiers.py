"""The 4-tier story (subscription -> API key -> cheap -> free) configured
only through the ``omniroute`` command, against a running gateway.

Each tier is a provider of a different wire format on one loopback mock;
the first three fail in three different ways, the free one answers.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import anthropic
import httpx
import pytest

from omniroute.gateway.resilience import account_model_key, model_key
from tests.support.harness import Harness, run_cli, running_gateway
from tests.support.mock_upstream import (
    Hang,
    Json,
    MockUpstream,
    RecordedRequest,
    Reply,
    Sse,
    Status,
    anthropic_error,
    gemini_json,
    gemini_sse,
    openai_error,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

TIERS = (
    # name, wire format, path prefix, model
    ("sub", "anthropic", "/sub/v1", "claude-sub"),
    ("api", "openai", "/api/v1", "gpt-api"),
    ("cheap", "openai", "/cheap/v1", "cheap-model"),
    ("free", "gemini", "/free/v1beta", "gemini-free"),
)
FREE_ANSWER = "Free tier to the rescue."


def free_reply(req: RecordedRequest) -> Reply:
    if req.path.endswith(":streamGenerateContent"):
        return Sse(gemini_sse(["Free tier ", "to the rescue."], "gemini-free"))
    return Json(gemini_json(FREE_ANSWER, "gemini-free"))


async def wait_for_model(gw: Harness, name: str) -> None:
    """The server picks CLI changes up by polling; wait (bounded) until it has."""
    deadline = time.monotonic() + 5.0
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=5) as http:
        while time.monotonic() < deadline:
            listing = await http.get(
                "/v1/models", headers={"authorization": f"Bearer {gw.client_key}"}
            )
            if name in [m["id"] for m in listing.json()["data"]]:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never appeared in /v1/models")


async def test_four_tiers_through_the_cli(tmp_path: Path) -> None:
    async with (
        MockUpstream() as mock,
        running_gateway(tmp_path, upstream_first_byte_timeout=0.5) as gw,
    ):
        data = gw.settings.data_dir
        for name, fmt, prefix, model in TIERS:
            run_cli(
                "provider",
                "add",
                name,
                "--format",
                fmt,
                "--base-url",
                mock.url + prefix,
                "--api-key",
                f"sk-{name}-tier-key-0123456789",
                "--models",
                model,
                data_dir=data,
            )
        run_cli(
            "combo",
            "add",
            "everyday",
            "sub/claude-sub",
            "api/gpt-api",
            "cheap/cheap-model",
            "free/gemini-free",
            "--strategy",
            "fill-first",
            data_dir=data,
        )
        await wait_for_model(gw, "everyday")
        # The subscription's quota is spent, the API key's provider is down,
        # the cheap one hangs before answering, the free one answers.
        mock.route(
            "POST",
            "/sub/v1/messages",
            Status(
                429,
                json.dumps(anthropic_error("quota exhausted", "rate_limit_error")),
                {"retry-after": "60"},
            ),
        )
        mock.route(
            "POST",
            "/api/v1/chat/completions",
            Status(500, json.dumps(openai_error("internal", "server_error"))),
        )
        mock.route("POST", "/cheap/v1/chat/completions", Hang())
        mock.route("POST", "/free/v1beta/models/*", free_reply)

        ant = gw.track(
            anthropic.AsyncAnthropic(
                base_url=gw.base_url, api_key=gw.client_key, max_retries=0, timeout=20
            )
        )
        raw = await ant.messages.with_raw_response.create(
            model="everyday", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        )
        msg = await raw.parse()
        assert [b.text for b in msg.content if b.type == "text"] == [FREE_ANSWER]
        assert raw.headers["x-omniroute-provider"] == "free"
        assert raw.headers["x-omniroute-combo"] == "everyday"
        assert raw.headers["x-omniroute-combo-step"] == "3"
        assert raw.headers["x-omniroute-attempts"] == "4"
        seen = [r.path.split("/")[1] for r in mock.requests]
        assert seen == ["sub", "api", "cheap", "free"]

        # The subscription now rests for its Retry-After; the next request
        # skips it without a call, and streams as well.
        sub_account = gw.gateway.registry().provider("sub").accounts[0].id
        cooling = gw.gateway.resilience.cooldowns.remaining(
            account_model_key(sub_account, "claude-sub")
        )
        assert 55 < cooling <= 60
        async with ant.messages.stream(
            model="everyday", max_tokens=64, messages=[{"role": "user", "content": "again"}]
        ) as s:
            final = await s.get_final_message()
        assert "".join(b.text for b in final.content if b.type == "text") == FREE_ANSWER
        seen = [r.path.split("/")[1] for r in mock.requests]
        assert seen[4:] == ["api", "cheap", "free"]
        breakers = {b.key: b for b in gw.gateway.resilience.breakers.listing()}
        assert breakers[model_key("api", "gpt-api")].recent_failures == 2
        assert breakers[model_key("cheap", "cheap-model")].recent_failures == 2
