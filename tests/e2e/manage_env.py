"""A running gateway, a mock upstream and a logged-in admin, for the tests
of the management API; and the OpenAI SDK pointed at the gateway."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai

from tests.e2e.admin_helpers import Admin
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import Json, MockUpstream, openai_chat_json

MODEL = "m1"
CHAT = "/v1/chat/completions"


@dataclass
class Env:
    gw: Harness
    mock: MockUpstream
    admin: Admin
    sdk: openai.AsyncOpenAI
    seen: list[str]  # every response body the admin got, for secret checks

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        answer = await self.admin.call(method, path, **kwargs)
        self.seen.append(answer.text)
        return answer

    async def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        answer = await self.call(method, path, **kwargs)
        assert answer.status_code == status, (method, path, answer.status_code, answer.text)
        return answer.json()

    async def refused(self, method: str, path: str, status: int, **kwargs: Any) -> str:
        """The error message of a refused call, in the management shape."""
        answer = await self.call(method, path, **kwargs)
        assert answer.status_code == status, (method, path, answer.status_code, answer.text)
        error = answer.json()["error"]
        assert set(error) == {"message", "kind"}
        assert "Traceback" not in answer.text
        return str(error["message"])

    async def chat(self, model: str) -> str:
        """One OpenAI SDK call through the gateway: the answer's text."""
        done = await self.sdk.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}]
        )
        return done.choices[0].message.content or ""

    def upstream_answers(self, text: str = "hello from the mock") -> None:
        self.mock.route("POST", CHAT, Json(openai_chat_json(text, MODEL)))


@contextlib.asynccontextmanager
async def manage_env(tmp_path: Path, **settings: Any) -> AsyncIterator[Env]:
    async with MockUpstream() as mock, running_gateway(tmp_path, **settings) as gw:
        admin = await Admin.login(gw)
        sdk = gw.track(
            openai.AsyncOpenAI(
                base_url=gw.base_url + "/v1", api_key=gw.client_key, max_retries=0, timeout=15
            )
        )
        yield Env(gw, mock, admin, sdk, [])


@contextlib.asynccontextmanager
async def answering_env(tmp_path: Path, key: str, **settings: Any) -> AsyncIterator[Env]:
    """A managed gateway with one provider ("acme") whose mock answers chat."""
    async with manage_env(tmp_path, **settings) as env:
        env.upstream_answers()
        await env.ok("POST", "/api/providers", 201, json=provider_body(env.mock, key))
        yield env


def provider_body(mock: MockUpstream, key: str, name: str = "acme", **more: Any) -> dict[str, Any]:
    """A custom OpenAI-format provider served by the mock under /v1."""
    return {
        "name": name,
        "format": "openai",
        "base_url": mock.url + "/v1",
        "api_key": key,
        "models": [MODEL],
        **more,
    }
