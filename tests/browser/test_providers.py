"""The Providers page: add a custom provider pointing at the mock, test it,
disable it, add and remove an account, add one from the catalog, edit rate
limits; each checked through the gateway's own store."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, Locator, Page, expect

from omniroute.gateway.resilience import account_key, provider_key
from tests.browser.conftest import Watch, screenshot
from tests.browser.harness import Served
from tests.browser.layout import api_post, assert_fits, narrow_page


def provider(served: Served, name: str) -> Any:
    return served.run(served.harness.gateway.store.snapshot()).provider(name)


def accounts(served: Served, name: str) -> list[Any]:
    snapshot = served.run(served.harness.gateway.store.snapshot())
    record = snapshot.provider(name)
    return [] if record is None else list(snapshot.accounts_for(record.id))


def chat_calls(served: Served) -> int:
    return sum(1 for r in served.mock.requests if r.path == "/v1/chat/completions")


def open_page(admin: Page, served: Served) -> None:
    admin.goto(served.url + "/#/providers")
    expect(admin.get_by_role("heading", name="Providers & accounts")).to_be_visible()


def open_add_card(admin: Page) -> Locator:
    card = admin.locator("details.add-provider")
    if not card.evaluate("details => details.open"):
        card.get_by_text("Add a provider", exact=True).click()
    return card


def add_custom(admin: Page, served: Served) -> Locator:
    card = open_add_card(admin)
    card.get_by_role("tab", name="Custom provider").click()
    card.get_by_label("Provider name").fill("mock")
    card.get_by_label("API format").select_option("openai")
    card.get_by_label("Base URL").fill(served.mock_url + "/v1")
    card.get_by_label("API key").fill("sk-mock-first-account-0001")
    card.get_by_label("Models", exact=True).fill("mock-small")
    card.get_by_role("button", name="Add custom provider").click()
    section = admin.get_by_role("region", name="mock", exact=True)
    expect(section).to_be_visible()
    return section


def test_custom_provider_test_disable_and_accounts(
    served: Served, admin: Page, watch: Watch
) -> None:
    open_page(admin, served)
    section = add_custom(admin, served)
    record = provider(served, "mock")
    assert record is not None and record.format == "openai"
    assert record.base_url == served.mock_url + "/v1" and list(record.models) == ["mock-small"]
    expect(section.get_by_text("…0001")).to_be_visible()  # the key, masked

    before = chat_calls(served)
    section.get_by_role("button", name="Test", exact=True).click()
    expect(section.get_by_text("Test passed")).to_be_visible()
    expect(section.get_by_text("HTTP 200")).to_be_visible()
    assert chat_calls(served) == before + 1

    section.get_by_role("button", name="Disable", exact=True).click()
    expect(section.get_by_role("button", name="Enable", exact=True)).to_be_visible()
    answer = admin.request.get(served.url + "/api/providers/mock")
    assert answer.ok and answer.json()["enabled"] is False

    section.get_by_text("Add an account", exact=True).click()
    section.get_by_label("API key").fill("sk-mock-second-account-0002")
    section.get_by_role("button", name="Add this account").click()
    expect(section.get_by_text("…0002")).to_be_visible()
    first, second = (a.id for a in accounts(served, "mock"))
    keys = {a.id: a.api_key for a in accounts(served, "mock")}
    assert keys == {first: "sk-mock-first-account-0001", second: "sk-mock-second-account-0002"}

    item = section.locator(f"li[data-account='{second}']")
    item.get_by_text(f"Priority, proxy and rate limits of account #{second}").click()
    item.get_by_label("Priority", exact=True).fill("-5")
    item.get_by_label("Seconds between requests").fill("0.5")
    item.get_by_role("button", name=f"Save account #{second}").click()
    expect(item.get_by_text("priority -5")).to_be_visible()
    changed = next(a for a in accounts(served, "mock") if a.id == second)
    assert changed.priority == -5 and changed.extra["limits"]["min_gap"] == 0.5

    section.get_by_role("button", name=f"Disable account #{second}").click()
    expect(section.get_by_role("button", name=f"Enable account #{second}")).to_be_visible()
    assert {a.id: a.enabled for a in accounts(served, "mock")} == {first: True, second: False}

    section.get_by_role("button", name=f"Remove account #{second}").click()
    admin.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(section.get_by_text("…0002")).to_have_count(0)
    assert [a.id for a in accounts(served, "mock")] == [first]
    watch.assert_clean()


def test_catalog_pick_limits_discover_and_remove(served: Served, admin: Page, watch: Watch) -> None:
    open_page(admin, served)
    card = open_add_card(admin)
    card.get_by_label("Search the catalog").fill("deepseek")
    card.get_by_role("button", name="DeepSeek").first.click()
    card.get_by_label("API key").fill("sk-deepseek-test-key-9999")
    card.get_by_role("button", name="Add this provider").click()
    section = admin.get_by_role("region", name="deepseek", exact=True)
    expect(section).to_be_visible()
    assert [a.api_key for a in accounts(served, "deepseek")] == ["sk-deepseek-test-key-9999"]

    # Health: an account resting after a refusal, and the provider's breaker open.
    account = accounts(served, "deepseek")[0].id

    async def trouble() -> None:
        resilience = served.harness.gateway.resilience
        resilience.cooldowns.trip(account_key(account), 600, reason="auth")
        for _ in range(20):
            resilience.breakers.record_failure(provider_key("deepseek"))

    served.run(trouble())
    admin.get_by_role("button", name="Refresh").click()
    expect(section.locator(f"li[data-account='{account}']")).to_contain_text("cooling down")
    expect(section.get_by_text("breaker open")).to_be_visible()

    settings = section.locator("details.provider-settings")
    settings.get_by_text("Base URL, models, proxy and rate limits").click()
    settings.get_by_label("Requests per minute").fill("60")
    settings.get_by_label("Requests at once").fill("4")
    settings.get_by_label("Proxy", exact=True).fill("socks5://user:secret@127.0.0.1:1080")
    settings.get_by_role("button", name="Save", exact=True).click()
    expect(section.get_by_text("rpm=60, max_concurrent=4")).to_be_visible()
    extra = provider(served, "deepseek").extra
    assert extra["limits"]["rpm"] == 60 and extra["limits"]["max_concurrent"] == 4
    assert extra["proxy"] == "socks5://user:secret@127.0.0.1:1080"
    expect(section.get_by_text("secret")).to_have_count(0)  # shown masked

    # Discovery against the mock: a custom provider whose upstream lists two models.
    custom = add_custom(admin, served)
    custom.get_by_label("Replace the list").check()
    custom.get_by_role("button", name="Discover models").click()
    expect(custom.get_by_text("Models (2)")).to_be_visible()
    assert list(provider(served, "mock").models) == ["mock-small", "mock-large"]

    screenshot(admin, "providers")
    section.get_by_role("button", name="Remove", exact=True).click()
    admin.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(section).to_have_count(0)
    assert provider(served, "deepseek") is None

    # A refused form says why, beside the form, and adds nothing.
    watch.allowed_statuses.add(400)
    card = open_add_card(admin)
    card.get_by_role("tab", name="Custom provider").click()
    card.get_by_label("Provider name").fill("nowhere")
    card.get_by_label("API key").fill("sk-nowhere-0000000000")
    card.get_by_role("button", name="Add custom provider").click()
    expect(card.get_by_role("alert")).to_contain_text("base_url")
    assert provider(served, "nowhere") is None
    watch.assert_clean()


def test_narrow_right_to_left_layout(served: Served, browser: Browser, watch: Watch) -> None:
    """At 360 px in Arabic, with every panel open, nothing in the page sticks out
    sideways."""
    with narrow_page(browser, served, watch) as page:
        body = {
            "name": "a-provider-with-a-rather-long-name",
            "format": "openai",
            "base_url": served.mock_url + "/v1/some/long/path/segment/to/wrap",
            "api_key": "sk-narrow-layout-account-0001",
            "models": [f"model-with-a-long-identifier-{n}" for n in range(6)],
            "limits": {"rpm": 60, "max_concurrent": 4},
            "proxy": "socks5://someone:secret@proxy.example.internal:1080",
        }
        api_post(page, served, "/api/providers", body)
        page.goto(served.url + "/#/providers")
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect(page.locator("section.provider")).to_have_count(1)
        page.locator("details").evaluate_all("all => all.forEach(d => { d.open = true; })")
        page.locator("details.add-provider [role=tab]").first.click()
        screenshot(page, "providers-360-ar")
        assert_fits(page)
    watch.assert_clean()
