"""The Combos page: create a combo of two mock targets, reorder them by drag
and by keyboard (each order checked in the store), change its strategy and
weights, test it, disable and delete it."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import Watch, screenshot
from tests.browser.harness import Served
from tests.browser.layout import api_post, assert_fits, narrow_page

SMALL, LARGE = "mock/mock-small", "mock/mock-large"


def combo(served: Served, name: str) -> Any:
    return served.run(served.harness.gateway.store.snapshot()).combo(name)


def order(served: Served, name: str) -> list[str]:
    return [t.ref for t in combo(served, name).targets]


def add_mock_provider(page: Page, served: Served) -> None:
    """Through the management API, with the page's own session."""
    body = {
        "name": "mock",
        "format": "openai",
        "base_url": served.mock_url + "/v1",
        "api_key": "sk-mock-combo-account-0001",
        "models": ["mock-small", "mock-large"],
    }
    api_post(page, served, "/api/providers", body)


def saving(admin: Page, name: str) -> Any:
    """Wait for the PATCH that saves combo ``name``."""
    return admin.expect_response(
        lambda r: r.request.method == "PATCH" and r.url.endswith(f"/api/combos/{name}")
    )


def items(section: Locator) -> Locator:
    return section.locator("ul.sortable > li")


def create_duo(admin: Page, served: Served) -> Locator:
    admin.goto(served.url + "/#/combos")
    expect(admin.get_by_role("heading", name="Combos", exact=True)).to_be_visible()
    new = admin.locator("details.new-combo")
    new.get_by_text("New combo", exact=True).click()
    new.get_by_label("Combo name").fill("duo")
    picker = new.get_by_label("A provider's model or another combo")
    picker.select_option(SMALL)
    new.get_by_role("button", name="Add the chosen target").click()
    new.get_by_label("Or type a target").fill(LARGE)
    new.get_by_role("button", name="Add the typed target").click()
    expect(items(new)).to_have_count(2)
    new.get_by_role("button", name="Create combo").click()
    section = admin.get_by_role("region", name="duo", exact=True)
    expect(section).to_be_visible()
    assert order(served, "duo") == [SMALL, LARGE]
    return section


def test_create_reorder_by_drag_and_keyboard_then_test(
    served: Served, admin: Page, watch: Watch
) -> None:
    add_mock_provider(admin, served)
    section = create_duo(admin, served)
    expect(items(section)).to_have_count(2)

    with saving(admin, "duo"):
        items(section).nth(1).locator(".grip").drag_to(items(section).nth(0))
    expect(items(section).nth(0)).to_contain_text(LARGE)
    assert order(served, "duo") == [LARGE, SMALL]

    # Keyboard: Alt+ArrowDown on the focused first item moves it down.
    items(section).nth(0).focus()
    with saving(admin, "duo"):
        admin.keyboard.press("Alt+ArrowDown")
    expect(items(section).nth(0)).to_contain_text(SMALL)
    expect(items(section).nth(1)).to_be_focused()
    assert order(served, "duo") == [SMALL, LARGE]

    # And the Move up button of the second item.
    with saving(admin, "duo"):
        section.get_by_role("button", name=f"Move {LARGE} up").click()
    expect(items(section).nth(0)).to_contain_text(LARGE)
    assert order(served, "duo") == [LARGE, SMALL]

    before = len([r for r in served.mock.requests if r.path == "/v1/chat/completions"])
    section.get_by_role("button", name="Test", exact=True).click()
    expect(section.get_by_text("At least one target answered")).to_be_visible()
    rows = section.locator(".test-result tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(LARGE)
    expect(rows.nth(0)).to_contain_text("ok")
    models = [
        r.json()["model"] for r in served.mock.requests[before:] if r.path == "/v1/chat/completions"
    ]
    assert models == ["mock-large", "mock-small"]
    screenshot(admin, "combos")
    watch.assert_clean()


def test_strategy_weights_remove_disable_and_delete(
    served: Served, admin: Page, watch: Watch
) -> None:
    add_mock_provider(admin, served)
    section = create_duo(admin, served)

    section.get_by_label("Strategy").select_option("weighted")
    section.get_by_label(f"Weight of {SMALL}").fill("3")
    with saving(admin, "duo"):
        section.get_by_role("button", name="Save", exact=True).click()
    expect(section.locator(".badge").filter(has_text="weighted")).to_be_visible()
    saved = combo(served, "duo")
    assert saved.strategy == "weighted"
    assert [(t.ref, t.weight) for t in saved.targets] == [(SMALL, 3), (LARGE, 1)]

    with saving(admin, "duo"):
        section.get_by_role("button", name=f"Remove target {LARGE}").click()
    expect(items(section)).to_have_count(1)
    assert order(served, "duo") == [SMALL]

    section.get_by_role("button", name="Disable", exact=True).click()
    expect(section.get_by_role("button", name="Enable", exact=True)).to_be_visible()
    assert combo(served, "duo").enabled is False

    section.get_by_role("button", name="Delete", exact=True).click()
    admin.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(section).to_have_count(0)
    assert combo(served, "duo") is None
    watch.assert_clean()


def test_narrow_right_to_left_layout(served: Served, browser: Browser, watch: Watch) -> None:
    """At 360 px in Arabic, a weighted combo with long targets and its test
    results fit; the keyboard still moves targets (Alt+ArrowUp)."""
    with narrow_page(browser, served, watch) as page:
        add_mock_provider(page, served)
        long = f"mock/{'a-very-long-model-identifier-' * 3}end"
        body = {"name": "narrow", "strategy": "weighted", "targets": [SMALL, LARGE, long]}
        api_post(page, served, "/api/combos", body)
        page.goto(served.url + "/#/combos")
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        section = page.locator("section.combo")
        expect(items(section)).to_have_count(3)
        page.locator("details").evaluate_all("all => all.forEach(d => { d.open = true; })")
        items(section).nth(1).focus()
        with saving(page, "narrow"):
            page.keyboard.press("Alt+ArrowUp")
        assert order(served, "narrow") == [LARGE, SMALL, long]
        section.locator(".row > button").first.click()  # Test
        expect(section.locator(".test-result tbody tr")).to_have_count(3)
        screenshot(page, "combos-360-ar")
        assert_fits(page)
    watch.assert_clean()
