"""Combo shapes through the real gateway: nested combos, disabled targets and
providers, zero weights, and breaker state that survives a restart
.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest

from omniroute.errors import BadRequest
from omniroute.gateway.resilience import model_key
from omniroute.routing.breaker import BreakerState
from omniroute.store.records import ComboTargetRecord
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import (
    Json,
    MockUpstream,
    RecordedRequest,
    Reply,
    Status,
    openai_chat_json,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_gateway(tmp_path, upstream_first_byte_timeout=5.0) as harness:
        yield harness


def answer(name: str) -> Reply:
    return Json(openai_chat_json(f"from {name}", "m"))


async def providers(gw: Harness, mock: MockUpstream, *names: str) -> None:
    for name in names:
        await gw.add_provider(
            name, "openai", f"{mock.url}/{name}/v1", f"sk-{name}-combo-key-0123456789", ["m"]
        )
        mock.route("POST", f"/{name}/v1/chat/completions", answer(name))


async def combo(
    gw: Harness,
    name: str,
    targets: Sequence[ComboTargetRecord],
    strategy: str = "fill-first",
) -> None:
    await gw.config.upsert_combo(name, list(targets), strategy=strategy)
    await gw.reload()


async def ask(gw: Harness, model: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=20) as http:
        return await http.post(
            "/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {gw.client_key}"},
        )


def text(resp: httpx.Response) -> str:
    assert resp.status_code == 200, resp.text
    return str(resp.json()["choices"][0]["message"]["content"])


def served_by(mock: MockUpstream) -> Counter[str]:
    return Counter(r.path.split("/")[1] for r in mock.requests)


def t(ref: str, weight: int = 1, enabled: bool = True) -> ComboTargetRecord:
    return ComboTargetRecord(ref, weight, enabled)


async def test_nested_combo_falls_through_to_the_outer_target(
    gw: Harness, mock: MockUpstream
) -> None:
    await providers(gw, mock, "a", "b", "c")
    await combo(gw, "inner", [t("a/m"), t("b/m")])
    await combo(gw, "outer", [t("inner"), t("c/m")])
    assert text(await ask(gw, "outer")) == "from a"
    for name in ("a", "b"):
        mock.route("POST", f"/{name}/v1/chat/completions", Status(503, b"overloaded"))
    resp = await ask(gw, "outer")
    assert text(resp) == "from c"
    assert resp.headers["x-omniroute-combo"] == "outer"
    assert resp.headers["x-omniroute-combo-step"] == "1"
    assert resp.headers["x-omniroute-attempts"] == "3"
    assert served_by(mock) == {"a": 2, "b": 1, "c": 1}


async def test_combo_cycle_is_refused(gw: Harness, mock: MockUpstream) -> None:
    await providers(gw, mock, "a")
    await combo(gw, "one", [t("a/m")])
    await combo(gw, "two", [t("one")])
    with pytest.raises(BadRequest, match="cycle"):
        await gw.config.upsert_combo("one", [t("two")])
    assert text(await ask(gw, "two")) == "from a"  # the saved configuration still works


async def test_disabled_target_and_disabled_provider_are_skipped(
    gw: Harness, mock: MockUpstream
) -> None:
    await providers(gw, mock, "a", "b", "c")
    await combo(gw, "skip", [t("a/m", enabled=False), t("b/m"), t("c/m")])
    resp = await ask(gw, "skip")
    assert text(resp) == "from b"
    assert resp.headers["x-omniroute-combo-step"] == "1"
    await gw.gateway.store.set_provider_enabled("b", False)
    await gw.reload()
    resp = await ask(gw, "skip")
    assert text(resp) == "from c"
    assert resp.headers["x-omniroute-combo-step"] == "2"
    assert resp.headers["x-omniroute-attempts"] == "1"
    assert served_by(mock) == {"b": 1, "c": 1}


async def test_zero_weight_target_only_catches_failures(gw: Harness, mock: MockUpstream) -> None:
    await providers(gw, mock, "main", "spare")
    await combo(gw, "w0", [t("main/m", 1), t("spare/m", 0)], strategy="weighted")
    for _ in range(30):
        assert text(await ask(gw, "w0")) == "from main"
    mock.route("POST", "/main/v1/chat/completions", Status(500, b"{}"))
    assert text(await ask(gw, "w0")) == "from spare"
    assert served_by(mock) == {"main": 31, "spare": 1}


async def test_open_breaker_survives_a_restart(tmp_path: Path) -> None:
    async with MockUpstream() as mock:

        def bad(req: RecordedRequest) -> Reply:
            return Status(500, json.dumps({"error": {"message": "down"}}).encode())

        async with running_gateway(tmp_path, upstream_first_byte_timeout=5.0) as gw:
            await providers(gw, mock, "bad", "good")
            mock.route("POST", "/bad/v1/chat/completions", bad)
            await gw.config.set_setting(
                "breaker", {"failure_threshold": 2, "window": 60, "cooldown": 60}
            )
            await combo(gw, "pair", [t("bad/m"), t("good/m")])
            for _ in range(2):
                assert text(await ask(gw, "pair")) == "from good"
            assert gw.gateway.resilience.breakers.state(model_key("bad", "m")) is BreakerState.OPEN
        assert served_by(mock)["bad"] == 2
        async with running_gateway(tmp_path, upstream_first_byte_timeout=5.0) as again:
            breakers = again.gateway.resilience.breakers
            assert breakers.state(model_key("bad", "m")) is BreakerState.OPEN
            resp = await ask(again, "pair")
            assert text(resp) == "from good"
            assert resp.headers["x-omniroute-attempts"] == "1"
        assert served_by(mock)["bad"] == 2  # not asked again after the restart
