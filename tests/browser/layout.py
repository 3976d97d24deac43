"""Layout checks shared by the page tests: at a phone's width nothing in the
page area sticks out sideways (wide tables scroll inside their own box)."""

from __future__ import annotations

from playwright.sync_api import Browser

from tests.browser.conftest import Watch, new_page
from tests.browser.harness import PASSWORD, Served

# How far (CSS pixels) the furthest element of <main> reaches past the
# viewport's edge, on either side; the insides of .table-wrap may scroll.
OVERFLOW = """() => {
  let worst = 0;
  for (const el of document.querySelectorAll('main *')) {
    if (el.closest('.table-wrap') && !el.classList.contains('table-wrap')) continue;
    const box = el.getBoundingClientRect();
    worst = Math.max(worst, box.right - innerWidth, -box.left);
  }
  return worst;
}"""


def phone_overflow(
    browser: Browser, served: Served, watch: Watch, hashes: list[str], lang: str
) -> dict[str, float]:
    """Open each page at 360x800 in ``lang``; how far each sticks out."""
    context, page = new_page(browser, watch, width=360, height=800)
    page.add_init_script(f"localStorage.setItem('omniroute.lang', '{lang}')")
    page.goto(served.url + "/")
    page.locator("input[type=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.locator("#nav a").first.wait_for(state="attached")
    found = {}
    for where in hashes:
        page.goto(served.url + "/#/" + where)
        page.locator("main .page h1").wait_for()
        page.wait_for_load_state("networkidle")
        found[where] = page.evaluate(OVERFLOW)
    context.close()
    return found
