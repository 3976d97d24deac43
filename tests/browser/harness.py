"""The real gateway and a mock upstream on loopback, for browser tests.

Playwright's sync API drives the browser from the test's thread; the gateway
and the mock upstream run on an asyncio loop in a thread of their own, so
neither waits on the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import Json, MockUpstream, Usage, openai_chat_json

T = TypeVar("T")
PASSWORD = "correct horse battery staple"
MOCK_MODELS = ("mock-small", "mock-large")
MOCK_ANSWER = "Hello from the mock upstream."


class LoopThread:
    """An asyncio loop in a daemon thread; ``run`` waits for a coroutine there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@dataclass
class Served:
    """What a test talks to: the gateway's URL, the mock, the loop they run on."""

    url: str
    mock_url: str
    mock: MockUpstream
    harness: Harness
    loop: LoopThread
    client_key: str
    extra: dict[str, Any] = field(default_factory=dict)

    def run(self, coro: Awaitable[T]) -> T:
        return self.loop.run(coro)

    def chat(self, model: str, key: str | None = None) -> httpx.Response:
        """One chat request through the gateway, as a client would send it."""
        return httpx.post(
            self.url + "/v1/chat/completions",
            headers={"authorization": f"Bearer {key or self.client_key}"},
            json={"model": model, "messages": [{"role": "user", "content": "Hello"}]},
            timeout=15,
        )

    def set_password(self, password: str = PASSWORD) -> None:
        auth = self.harness.gateway.admin_api.auth
        self.run(auth.set_password(password, actor="test", address="127.0.0.1"))


def mock_routes(mock: MockUpstream) -> None:
    """An OpenAI-compatible upstream: chat answers and a model list."""
    answer = openai_chat_json(MOCK_ANSWER, MOCK_MODELS[0], usage=Usage(input=12, output=7))
    mock.route("POST", "/v1/chat/completions", Json(answer))
    listing = {"object": "list", "data": [{"id": m, "object": "model"} for m in MOCK_MODELS]}
    mock.route("GET", "/v1/models", Json(listing))


@contextlib.contextmanager
def serve(tmp_path: Path) -> Iterator[Served]:
    """A fresh gateway (no password, no providers) and a mock upstream."""
    loop = LoopThread()
    stack = contextlib.AsyncExitStack()
    try:

        async def enter() -> tuple[MockUpstream, Harness]:
            mock = await stack.enter_async_context(MockUpstream())
            mock_routes(mock)
            harness = await stack.enter_async_context(running_gateway(tmp_path))
            return mock, harness

        mock, harness = loop.run(enter())
        yield Served(
            url=harness.admin_url,
            mock_url=mock.url,
            mock=mock,
            harness=harness,
            loop=loop,
            client_key=harness.client_key,
        )
    finally:
        with contextlib.suppress(Exception):
            loop.run(stack.aclose())
        loop.close()
