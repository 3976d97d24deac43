"""The Providers page shows each account's usage windows, as the upstream's
rate-limit headers report them, and when routing skips the account."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Watch, screenshot
from tests.browser.harness import MOCK_ANSWER, MOCK_MODELS, Served
from tests.browser.layout import assert_fits, narrow_page
from tests.support.mock_upstream import Json, Usage, openai_chat_json

LIMIT_HEADERS = {
    # 960 of 1000 requests used, resetting in six minutes: at the 95 % line.
    "x-ratelimit-limit-requests": "1000",
    "x-ratelimit-remaining-requests": "40",
    "x-ratelimit-reset-requests": "6m0s",
    "x-ratelimit-limit-tokens": "100000",
    "x-ratelimit-remaining-tokens": "75000",
    "x-ratelimit-reset-tokens": "20s",
}


def test_usage_windows_and_the_skip_are_shown(
    served: Served, admin: Page, watch: Watch, browser: Browser
) -> None:
    answer = openai_chat_json(MOCK_ANSWER, MOCK_MODELS[0], usage=Usage(input=3, output=2))
    served.mock.route("POST", "/v1/chat/completions", Json(answer, headers=LIMIT_HEADERS))
    served.run(
        served.harness.add_provider(
            "mock", "openai", served.mock_url + "/v1", "sk-mock-quota-0001", MOCK_MODELS
        )
    )
    assert served.chat(f"mock/{MOCK_MODELS[0]}").status_code == 200

    admin.goto(served.url + "/#/providers")
    section = admin.get_by_role("region", name="mock", exact=True)
    expect(section.get_by_text("requests: 96% used")).to_be_visible()
    expect(section.get_by_text("tokens: 25% used")).to_be_visible()
    expect(section.get_by_label("requests: 96% used")).to_have_attribute("value", "96")
    expect(section.get_by_text("skipped until its quota resets")).to_be_visible()
    # The next request is refused before it reaches the upstream: nothing else serves it.
    calls = sum(1 for r in served.mock.requests if r.path == "/v1/chat/completions")
    refused = served.chat(f"mock/{MOCK_MODELS[0]}")
    assert refused.status_code == 503 and "quota" in refused.text
    assert sum(1 for r in served.mock.requests if r.path == "/v1/chat/completions") == calls
    screenshot(admin, "providers-quota")
    watch.assert_clean()

    with narrow_page(browser, served, watch) as narrow:  # 360 px, right to left
        narrow.goto(served.url + "/#/providers")
        expect(narrow.locator("section meter")).to_have_count(2)
        assert_fits(narrow)
