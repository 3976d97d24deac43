"""The language menu and the browser's own language: every locale loads, names
the pages in its words, and picks its writing direction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Watch, new_page
from tests.browser.harness import Served
from tests.browser.test_locales import REQUIRED, RIGHT_TO_LEFT

LOCALES = Path(__file__).resolve().parents[2] / "web" / "locales"


def strings(code: str) -> dict[str, str]:
    return json.loads((LOCALES / f"{code}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_every_language_in_the_menu_loads_and_names_the_pages(admin: Page, watch: Watch) -> None:
    html = admin.locator("html")
    for code in REQUIRED:
        admin.select_option("#lang", code)
        expect(html).to_have_attribute("lang", code)
        expect(html).to_have_attribute("dir", "rtl" if code in RIGHT_TO_LEFT else "ltr")
        words = strings(code)
        nav = admin.locator("#nav")
        expect(nav.get_by_role("link", name=words["nav.providers"], exact=True)).to_be_visible()
        expect(nav.get_by_role("link", name=words["nav.settings"], exact=True)).to_be_visible()
        expect(admin.get_by_role("button", name=words["shell.logout"], exact=True)).to_be_visible()
    # The last choice is remembered across a reload.
    admin.reload()
    expect(html).to_have_attribute("lang", REQUIRED[-1])
    watch.assert_clean()


@pytest.mark.parametrize(
    ("browser_language", "expected"),
    [
        ("nb-NO", "nb"),  # Bokmål by its own tag
        ("no", "nb"),  # the umbrella tag some systems send
        ("he-IL", "he"),
        ("pt-PT", "pt-PT"),
        ("pt", "pt-BR"),  # no region: the first Portuguese listed
        ("fil-PH", "fil"),
        ("de-AT", "de"),
        ("zh-TW", "zh-CN"),
        ("xx-YY", "en"),  # nothing matches: English
    ],
)
def test_first_visit_follows_the_browser_language(
    browser: Browser, served: Served, watch: Watch, browser_language: str, expected: str
) -> None:
    served.set_password()
    context, page = new_page(browser, watch, locale=browser_language)
    try:
        page.goto(served.url + "/")
        html = page.locator("html")
        expect(html).to_have_attribute("lang", expected)
        expect(html).to_have_attribute("dir", "rtl" if expected in RIGHT_TO_LEFT else "ltr")
        login = strings(expected)["auth.login.submit"]
        expect(page.get_by_role("button", name=login, exact=True)).to_be_visible()
        expect(page.locator("#lang")).to_have_value(expected)
    finally:
        context.close()
    watch.assert_clean()
