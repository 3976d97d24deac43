"""The Health page: the process's numbers, a cooldown and a breaker provoked
through real traffic, their Reset buttons, and the 10-second refresh that
stops when the page is left."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import Watch
from tests.browser.harness import Served
from tests.support.mock_upstream import Status

CHAT = "/v1/chat/completions"


def chat(served: Served, model: str) -> httpx.Response:
    return httpx.post(
        served.url + CHAT,
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {served.client_key}"},
        timeout=15,
    )


def fail_next(served: Served, path: str, status: Status) -> None:
    async def enqueue() -> None:
        served.mock.enqueue("POST", path, status)

    served.run(enqueue())


def tracked(served: Served) -> set[str]:
    async def keys() -> set[str]:
        return served.harness.gateway.resilience.tracked()

    return served.run(keys())


def test_health_shows_and_resets_a_cooldown_and_a_breaker(
    served: Served, admin: Page, watch: Watch
) -> None:
    harness = served.harness
    acme = harness.add_provider("acme", "openai", served.mock_url + "/v1", "sk-acme-001", ["m1"])
    served.run(acme)
    # One failure opens a breaker; a cooldown lasts long enough to be seen.
    settings = {"breaker.failure-threshold": 1, "cooldown.base": 120}
    served.run(harness.config.change_settings(settings))
    served.run(harness.reload())
    fail_next(served, CHAT, Status(429, b'{"error":{"message":"slow down"}}'))
    assert chat(served, "acme/m1").status_code == 429

    admin.goto(served.url + "/#/health")
    expect(admin.get_by_text("Uptime")).to_be_visible()
    expect(admin.get_by_text("Memory")).to_be_visible()
    # Percentiles per model, from the telemetry windows.
    percentiles = admin.locator("section").filter(has_text="Latency percentiles")
    first = percentiles.get_by_role("row").filter(has_text="acme/m1")
    expect(first.locator("td").nth(1)).to_have_text("1")  # one request, refused upstream
    expect(first.locator("td").nth(2)).to_have_text("0%")
    expect(percentiles.get_by_label("Window")).to_have_value("1h")
    expect(admin.get_by_text("Request log queue")).to_be_visible()
    cooling = admin.get_by_role("row").filter(has_text="account 1 of acme")
    expect(cooling).to_contain_text("rate_limit")
    cooldown_key = "account:1/m1"
    assert cooldown_key in tracked(served)
    cooling.get_by_role("button", name=f"Reset {cooldown_key}").click()
    expect(admin.get_by_text("Nothing is cooling down.")).to_be_visible()
    assert chat(served, "acme/m1").status_code == 200

    # A server error opens the model's breaker (threshold 1); Refresh shows it.
    fail_next(served, CHAT, Status(500, b"boom"))
    assert chat(served, "acme/m1").status_code >= 500
    admin.get_by_role("button", name="Refresh").click()
    breaker = admin.get_by_role("row").filter(has_text="model m1 of acme")
    expect(breaker).to_contain_text("open")
    breaker.get_by_role("button", name="Reset model:acme/m1").click()
    expect(breaker).to_contain_text("closed")
    assert chat(served, "acme/m1").status_code == 200

    # Reset everything, after a question.
    fail_next(served, CHAT, Status(429, b'{"error":{"message":"slow down"}}'))
    assert chat(served, "acme/m1").status_code == 429
    admin.get_by_role("button", name="Refresh").click()
    expect(admin.get_by_role("row").filter(has_text="account 1 of acme")).to_be_visible()
    admin.get_by_role("button", name="Reset everything").click()
    admin.get_by_role("dialog").get_by_role("button", name="Reset everything").click()
    expect(admin.get_by_text("Nothing is cooling down.")).to_be_visible()
    expect(admin.locator(".badge.bad")).to_have_count(0)  # no breaker open
    assert chat(served, "acme/m1").status_code == 200
    # Six requests, three of them failed (two 429s and a 500): all inside 5 minutes.
    percentiles.get_by_label("Window").select_option("5m")
    row = percentiles.get_by_role("row").filter(has_text="acme/m1")
    expect(row.locator("td").nth(1)).to_have_text("6")
    expect(row.locator("td").nth(2)).to_have_text("50%")
    expect(row.locator("td").nth(3)).to_contain_text("ms")
    watch.assert_clean()


def test_the_page_refreshes_every_ten_seconds_until_it_is_left(
    served: Served, admin: Page, watch: Watch
) -> None:
    admin.clock.install()
    admin.goto(served.url + "/#/health")
    expect(admin.get_by_text("Uptime")).to_be_visible()

    def health_calls() -> int:
        return sum(1 for method, url, _ in watch.api_calls if url.endswith("/api/health"))

    assert health_calls() == 1
    with admin.expect_response(lambda r: r.url.endswith("/api/health")):
        admin.clock.run_for(10_000)
    assert health_calls() == 2
    admin.get_by_role("link", name="Home").click()
    expect(admin.locator('#nav a[aria-current="page"]')).to_have_text("Home")
    admin.clock.run_for(30_000)
    admin.evaluate("() => new Promise((done) => requestAnimationFrame(() => done(null)))")
    assert health_calls() == 2
    watch.assert_clean()


def test_the_response_cache_block_shows_hits_and_size(
    served: Served, admin: Page, watch: Watch
) -> None:
    harness = served.harness
    served.run(
        harness.add_provider("acme", "openai", served.mock_url + "/v1", "sk-acme-001", ["m1"])
    )
    served.run(harness.config.change_settings({"cache.enabled": "on"}))
    served.run(harness.reload())
    body = {"model": "acme/m1", "temperature": 0, "messages": [{"role": "user", "content": "hi"}]}
    key = {"authorization": f"Bearer {served.client_key}"}
    answers = [httpx.post(served.url + CHAT, json=body, headers=key, timeout=15) for _ in range(2)]
    assert [a.headers.get("x-omniroute-cache") for a in answers] == ["miss", "hit"]

    admin.goto(served.url + "/#/health")
    block = admin.locator("section").filter(has_text="Response cache")
    expect(block.get_by_text("on", exact=True)).to_be_visible()
    expect(block.locator(".card").filter(has_text="Hit rate")).to_contain_text("50%")
    expect(block.locator(".card").filter(has_text="Hits / misses")).to_contain_text("1 / 1")
    expect(block.locator(".card").filter(has_text="Answers kept")).to_contain_text("1")
    expect(block.locator(".card").filter(has_text="Size")).to_contain_text("kB")
    watch.assert_clean()
