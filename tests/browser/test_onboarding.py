"""A new user's first minutes: set the password, follow the guide, and use
the key it made."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Watch, new_page
from tests.browser.harness import MOCK_ANSWER, PASSWORD, Served


def test_first_run_guide_connects_a_provider_and_makes_a_working_key(
    served: Served, browser: Browser, watch: Watch
) -> None:
    context, page = new_page(browser, watch)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served.url)
    page.goto(served.url + "/")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()

    # Step 2: a custom provider pointing at the mock upstream, then its test.
    expect(page.get_by_role("heading", name="First provider")).to_be_visible()
    page.get_by_role("tab", name="Custom (any compatible server)").click()
    page.get_by_label("Provider name").fill("mock")
    page.get_by_label("Base URL").fill(served.mock_url + "/v1")
    page.get_by_label("API key").fill("sk-upstream-secret")
    page.get_by_label("Models").fill("mock-small, mock-large")
    page.get_by_role("button", name="Add provider").click()
    expect(page.get_by_text("Added mock.")).to_be_visible()
    page.get_by_role("button", name="Test it").click()
    expect(page.get_by_text("It answers")).to_be_visible()
    assert any(r.path == "/v1/chat/completions" for r in served.mock.requests)
    page.get_by_role("button", name="Next").click()

    # Step 3: the key is shown once; copying puts it on the clipboard.
    page.get_by_label("Key name").fill("laptop")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_text("it is shown only once")).to_be_visible()
    key = page.locator(".key-once code").inner_text()
    assert key.startswith("sk-omni-")
    page.locator(".key-once").get_by_role("button", name="Copy").click()
    expect(page.get_by_text("Copied to the clipboard.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key
    page.get_by_role("button", name="Next").click()

    # Step 4: the snippets carry this gateway's address, the key and a model.
    page.get_by_role("tab", name="OpenAI SDK (Python)").click()
    snippet = page.locator(".copy-box code").inner_text()
    assert f'base_url="{served.url}/v1"' in snippet and key in snippet
    assert "mock/mock-small" in snippet

    # The snippet's settings work: the key reaches the mock through the gateway.
    answer = served.chat("mock/mock-small", key)
    assert answer.status_code == 200
    assert answer.json()["choices"][0]["message"]["content"] == MOCK_ANSWER

    page.get_by_role("button", name="Finish").click()
    expect(page.get_by_role("heading", name="Today")).to_be_visible()
    expect(page.locator('[data-stat="healthy"] .stat')).to_have_text("1 of 1")

    # That request, made with the new key, is in the request log and the usage chart.
    served.run(served.harness.gateway.store.flush_logs())
    page.get_by_role("link", name="Logs", exact=True).click()
    row = page.locator("[role=tabpanel] tbody tr.clickable").filter(has_text="laptop")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("mock-small")
    expect(row).to_contain_text("200")
    page.get_by_role("link", name="Usage & cost").click()
    chart = page.get_by_role("img", name=re.compile("per day"))
    expect(chart.locator("rect title", has_text="mock")).to_contain_text("1 request")
    page.get_by_label("Group by").select_option("key")
    expect(
        page.get_by_role("img", name=re.compile("per day")).locator("rect title")
    ).to_contain_text("laptop")
    watch.assert_clean()
    context.close()


def test_the_guide_stays_away_once_finished(admin: Page, served: Served, watch: Watch) -> None:
    expect(admin.get_by_role("heading", name="Welcome to OmniRoute")).to_be_visible()
    admin.get_by_role("button", name="Skip the guide").click()
    expect(admin.get_by_role("heading", name="Today")).to_be_visible()
    admin.reload()
    expect(admin.get_by_role("heading", name="Today")).to_be_visible()
    admin.get_by_role("button", name="Setup guide").click()
    expect(admin.get_by_role("heading", name="Welcome to OmniRoute")).to_be_visible()
    watch.assert_clean()
