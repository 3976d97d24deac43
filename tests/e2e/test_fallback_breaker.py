"""Circuit breakers through the real gateway: a target opens
after N failures, is skipped without a call while open, lets exactly one
probe through after its cooldown, and shows its state in ``/api/status``.
A probe whose outcome never arrives (its client left, or the upstream
answered with a client error) must not hold the breaker half-open.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from omniroute.gateway.resilience import account_key, account_model_key, combo_key, model_key
from omniroute.routing.breaker import BreakerState
from omniroute.store.records import ComboTargetRecord
from tests.e2e import test_fallback as base
from tests.e2e.test_fallback import (
    ANSWER_B,
    CHAT,
    KEY_A,
    KEY_B,
    account_ids,
    by_account,
    chat,
    chat_text,
    header,
    ok_for,
    sent_to,
)
from tests.support.harness import Harness
from tests.support.mock_upstream import (
    Hang,
    MockUpstream,
    Status,
    openai_error,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

# The fixtures of test_fallback: provider ``p`` with accounts A and B.
gw = base.gw


async def set_breaker(gw: Harness, threshold: int, cooldown: float) -> None:
    await gw.config.set_setting(
        "breaker", {"failure_threshold": threshold, "window": 60, "cooldown": cooldown}
    )
    await gw.reload()


# --------------------------------------------------------- circuit breaker


async def _two_target_combo(gw: Harness, mock: MockUpstream, name: str = "duo") -> None:
    await gw.add_provider(
        "bad", "openai", mock.url + "/bad/v1", "sk-bad-provider-0123456789", ["m"]
    )
    await gw.add_provider(
        "good", "openai", mock.url + "/good/v1", "sk-good-provider-012345678", ["m"]
    )
    await gw.config.upsert_combo(
        name,
        [ComboTargetRecord("bad/m", 1, True), ComboTargetRecord("good/m", 1, True)],
        strategy="fill-first",
    )
    await gw.reload()


async def test_breaker_opens_after_threshold_and_probes_exactly_once(
    gw: Harness, mock: MockUpstream
) -> None:
    await _two_target_combo(gw, mock)
    # The cooldown is long enough that a slow machine cannot outrun it while
    # the open breaker is being checked.
    await set_breaker(gw, threshold=3, cooldown=2.0)
    failing = Status(500, json.dumps(openai_error("internal", "server_error")).encode())
    mock.route("POST", "/bad/v1/chat/completions", failing)
    mock.route("POST", "/good/v1/chat/completions", ok_for("good answer"))
    breakers = gw.gateway.resilience.breakers
    for _ in range(3):
        resp = await chat(gw, "duo")
        assert chat_text(resp) == "good answer"
        assert header(resp, "x-omniroute-attempts") == "2"
    assert sent_to(mock, "/bad/") == 3
    assert breakers.state(model_key("bad", "m")) is BreakerState.OPEN
    assert breakers.state(combo_key("duo", 0)) is BreakerState.OPEN
    # Open: the bad target is skipped without a call.
    for _ in range(5):
        resp = await chat(gw, "duo")
        assert chat_text(resp) == "good answer"
        assert header(resp, "x-omniroute-attempts") == "1"
        assert header(resp, "x-omniroute-combo-step") == "1"
    assert sent_to(mock, "/bad/") == 3
    # After the cooldown, many concurrent requests let exactly one probe through.
    await asyncio.sleep(2.1)
    answers = await asyncio.gather(*(chat(gw, "duo") for _ in range(6)))
    assert [chat_text(r) for r in answers] == ["good answer"] * 6
    assert sent_to(mock, "/bad/") == 4
    assert breakers.state(model_key("bad", "m")) is BreakerState.OPEN  # the probe failed
    # The upstream recovers: the next probe closes the breaker, traffic returns.
    mock.route("POST", "/bad/v1/chat/completions", ok_for("bad is back"))
    await asyncio.sleep(2.1)
    probe = await chat(gw, "duo")
    assert chat_text(probe) == "bad is back"
    assert breakers.state(model_key("bad", "m")) is BreakerState.CLOSED
    assert chat_text(await chat(gw, "duo")) == "bad is back"
    assert sent_to(mock, "/bad/") == 6


async def test_open_breaker_on_a_direct_model_fails_fast(gw: Harness, mock: MockUpstream) -> None:
    await gw.add_provider(
        "solo", "openai", mock.url + "/solo/v1", "sk-solo-provider-01234567", ["m"]
    )
    await set_breaker(gw, threshold=2, cooldown=5)
    mock.route("POST", "/solo/v1/chat/completions", Status(502, b"bad gateway"))
    for _ in range(2):
        assert (await chat(gw, "solo/m")).status_code == 502
    started = time.monotonic()
    resp = await chat(gw, "solo/m")
    assert time.monotonic() - started < 2
    assert resp.status_code == 503
    assert 1 <= int(resp.headers["retry-after"]) <= 5
    assert "circuit" in resp.json()["error"]["message"]
    assert sent_to(mock, "/solo/") == 2


# ---------------------------------------------------------------- visibility


async def test_status_view_shows_open_breaker_and_cooling_account(
    gw: Harness, mock: MockUpstream
) -> None:
    a, _ = account_ids(gw, "p")
    await _two_target_combo(gw, mock)
    await set_breaker(gw, threshold=2, cooldown=30)
    mock.route("POST", "/bad/v1/chat/completions", Status(500, b"{}"))
    mock.route("POST", "/good/v1/chat/completions", ok_for("good"))
    mock.route(
        "POST",
        CHAT,
        by_account({KEY_A: Status(429, b"{}", {"retry-after": "40"}), KEY_B: ok_for(ANSWER_B)}),
    )
    for _ in range(2):
        assert chat_text(await chat(gw, "duo")) == "good"
    assert chat_text(await chat(gw, "p/m")) == ANSWER_B
    admin = json.loads((gw.settings.data_dir / "admin.json").read_text())
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=10) as http:
        denied = await http.get("/api/status")
        denied_client_key = await http.get(
            "/api/status", headers={"authorization": f"Bearer {gw.client_key}"}
        )
        status = (
            await http.get("/api/status", headers={"authorization": f"Bearer {admin['token']}"})
        ).json()
    assert denied.status_code == 401 and denied_client_key.status_code == 401
    breakers = {b["key"]: b for b in status["breakers"]}
    assert breakers[model_key("bad", "m")]["state"] == "open"
    assert 0 < breakers[model_key("bad", "m")]["retry_in"] <= 30
    assert breakers[combo_key("duo", 0)]["state"] == "open"
    cooling = {c["key"]: c for c in status["cooldowns"]}
    assert 35 < cooling[account_model_key(a, "m")]["remaining"] <= 40
    assert KEY_A not in json.dumps(status) and KEY_B not in json.dumps(status)


async def test_abandoned_probe_does_not_hold_the_breaker(gw: Harness, mock: MockUpstream) -> None:
    """The half-open probe's client hangs up before the upstream answered.
    The probe never reports, yet the breaker must not keep every request
    away from a recovered upstream for longer than a few cooldowns."""
    await _two_target_combo(gw, mock)
    await set_breaker(gw, threshold=1, cooldown=0.3)
    mock.route("POST", "/bad/v1/chat/completions", Status(500, b"{}"))
    mock.route("POST", "/good/v1/chat/completions", ok_for("good"))
    assert chat_text(await chat(gw, "duo")) == "good"
    assert gw.gateway.resilience.breakers.state(model_key("bad", "m")) is BreakerState.OPEN
    await asyncio.sleep(0.4)
    mock.route("POST", "/bad/v1/chat/completions", Hang())
    body = {"model": "duo", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=0.2) as http:
        with pytest.raises(httpx.TimeoutException):
            await http.post(
                "/v1/chat/completions",
                json=body,
                headers={"authorization": f"Bearer {gw.client_key}"},
            )
    assert await mock.wait_disconnect(2.0) is not None, "the probe was never cancelled"
    assert sent_to(mock, "/bad/") == 2
    mock.route("POST", "/bad/v1/chat/completions", ok_for("bad is back"))
    deadline = time.monotonic() + 3.0
    answer = ""
    while answer != "bad is back" and time.monotonic() < deadline:
        answer = chat_text(await chat(gw, "duo"))
        await asyncio.sleep(0.1)
    assert answer == "bad is back", (
        "the breaker still refuses the recovered upstream: "
        f"{gw.gateway.resilience.breakers.get(model_key('bad', 'm')).info()}"
    )


# ----------------------------------------------------------- breaker probes


@pytest.mark.parametrize("probe_answer", [429, 400])
async def test_probe_answered_with_a_client_error_still_reports(
    gw: Harness, mock: MockUpstream, probe_answer: int
) -> None:
    """The half-open probe meets a 429 (the account then rests) or a 400 (the
    request is refused). Either way the upstream answered: the breaker must
    hear the outcome, not hold its single probe slot for minutes."""
    await _two_target_combo(gw, mock)
    await set_breaker(gw, threshold=1, cooldown=0.3)
    mock.route("POST", "/good/v1/chat/completions", ok_for("from good"))
    mock.route("POST", "/bad/v1/chat/completions", Status(500, b"{}"))
    assert chat_text(await chat(gw, "duo")) == "from good"
    breakers = gw.gateway.resilience.breakers
    assert breakers.state(model_key("bad", "m")) is BreakerState.OPEN
    await asyncio.sleep(0.4)
    answer = Status(probe_answer, b"{}", {"retry-after": "0"})
    mock.route("POST", "/bad/v1/chat/completions", answer)
    probe = await chat(gw, "duo")
    assert probe.status_code == (400 if probe_answer == 400 else 200)
    assert sent_to(mock, "/bad/") == 2
    mock.route("POST", "/bad/v1/chat/completions", ok_for("from bad"))
    deadline = time.monotonic() + 3.0
    served = ""
    while served != "from bad" and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        served = chat_text(await chat(gw, "duo"))
    assert served == "from bad", (
        f"bad is still avoided: {breakers.get(model_key('bad', 'm')).info()}"
    )


async def test_a_probe_unused_because_every_account_cools_is_given_back(
    gw: Harness, mock: MockUpstream
) -> None:
    """Half-open, but both accounts are cooling: the probe slot the request
    took must not hold the breaker shut once the accounts are back."""
    await set_breaker(gw, threshold=1, cooldown=0.2)
    mock.route("POST", CHAT, Status(500, b"{}"))
    assert (await chat(gw)).status_code >= 500
    assert gw.gateway.resilience.breakers.state(model_key("p", "m")) is BreakerState.OPEN
    await asyncio.sleep(0.25)  # half-open now
    for account in account_ids(gw, "p"):
        gw.gateway.resilience.cooldowns.trip(account_key(account), 0.3)
    refused = await chat(gw)
    assert refused.status_code >= 400 and "cooling down" in refused.text
    await asyncio.sleep(0.35)  # the accounts are back; the probe slot must be free
    mock.route("POST", CHAT, ok_for("recovered"))
    answer = await chat(gw)
    assert answer.status_code == 200 and chat_text(answer) == "recovered"
    assert gw.gateway.resilience.breakers.state(model_key("p", "m")) is BreakerState.CLOSED
