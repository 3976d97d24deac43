"""Layout checks and a phone-sized logged-in page, shared by the page tests:
at a phone's width nothing in the page area sticks out sideways (wide tables
scroll inside their own .table-wrap)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Watch, log_in, new_page
from tests.browser.harness import Served

# Elements of the page area reaching past either edge of the viewport, and
# the page area itself when it scrolls sideways.
_OUTSIDE = """() => {
  const main = document.getElementById('main');
  const found = [...main.querySelectorAll('*')].filter((e) => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && (r.left < -1 || r.right > innerWidth + 1)
      && !e.parentElement.closest('.table-wrap');
  }).slice(0, 12).map((e) => `${e.tagName}.${e.className}`);
  if (main.scrollWidth > main.clientWidth) found.push(`main scrolls ${main.scrollWidth}`);
  return found;
}"""


def outside(page: Page) -> list[str]:
    return page.evaluate(_OUTSIDE)  # type: ignore[no-any-return]


def assert_fits(page: Page) -> None:
    found = outside(page)
    assert found == [], found


@contextlib.contextmanager
def narrow_page(
    browser: Browser, served: Served, watch: Watch, language: str = "ar"
) -> Iterator[Page]:
    """Logged in at 360×800 in ``language`` (Arabic: right to left)."""
    if not served.run(served.harness.gateway.admin_api.auth.has_password()):
        served.set_password()
    context, page = new_page(browser, watch, width=360, height=800)
    try:
        log_in(page, served)
        page.select_option("#lang", language)
        expect(page.locator("html")).to_have_attribute("lang", language)
        yield page
    finally:
        context.close()


def phone_overflow(
    browser: Browser, served: Served, watch: Watch, hashes: list[str], lang: str
) -> dict[str, list[str]]:
    """Open each page at 360×800 in ``lang``: what sticks out of each."""
    found = {}
    with narrow_page(browser, served, watch, lang) as page:
        for where in hashes:
            page.goto(served.url + "/#/" + where)
            page.locator("main .page h1").wait_for()
            page.wait_for_load_state("networkidle")
            found[where] = outside(page)
    return found


def api_post(page: Page, served: Served, path: str, body: dict[str, Any]) -> Any:
    """A management API call with the page's session and CSRF token."""
    csrf = page.request.get(served.url + "/api/auth/state").json()["csrf"]
    answer = page.request.post(served.url + path, headers={"x-csrf-token": csrf}, data=body)
    assert answer.ok, answer.text()
    return answer.json()
