"""Helpers for the Providers and Combos page tests: a logged-in page at
phone width, management API calls with that page's session, and the check
that nothing in the page's own area sticks out sideways."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Watch, new_page
from tests.browser.harness import PASSWORD, Served

# Elements of the page area reaching past either edge of the viewport (what
# scrolls inside a .table-wrap is meant to).
_OUTSIDE = """[...document.querySelectorAll('main *')].filter(e => {
  const r = e.getBoundingClientRect();
  return r.width > 0 && (r.left < -1 || r.right > innerWidth + 1)
    && !e.parentElement.closest('.table-wrap');
}).slice(0, 12).map(e => `${e.tagName}.${e.className}`)"""


@contextlib.contextmanager
def narrow_page(
    browser: Browser, served: Served, watch: Watch, language: str = "ar"
) -> Iterator[Page]:
    """Logged in at 360×800 in ``language`` (Arabic: right to left)."""
    served.set_password()
    context, page = new_page(browser, watch, width=360, height=800)
    try:
        # At this width the navigation is folded away: conftest.log_in waits for it to show.
        page.goto(served.url + "/")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.locator("#nav a").first.wait_for(state="attached")
        page.select_option("#lang", language)
        expect(page.locator("html")).to_have_attribute("lang", language)
        yield page
    finally:
        context.close()


def api_post(page: Page, served: Served, path: str, body: dict[str, Any]) -> Any:
    """A management API call with the page's session and CSRF token."""
    csrf = page.request.get(served.url + "/api/auth/state").json()["csrf"]
    answer = page.request.post(served.url + path, headers={"x-csrf-token": csrf}, data=body)
    assert answer.ok, answer.text()
    return answer.json()


def assert_fits(page: Page) -> None:
    """Nothing in the page's own area (the shell's top bar is not a page's)
    reaches past the viewport, and the area itself does not scroll sideways."""
    outside = page.evaluate(_OUTSIDE)
    assert outside == [], outside
    main = "(m => [m.scrollWidth, m.clientWidth])(document.getElementById('main'))"
    scroll, client = page.evaluate(main)
    assert scroll <= client, (scroll, client)
