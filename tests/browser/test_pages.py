"""Every page at phone and desktop width, light and dark: it renders with
no console error, no failed request, no horizontal overflow, every control
labelled, and every /api call carries the CSRF header. Screenshots of each
go to test-artifacts/screens."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Watch, log_in, new_page, screenshot
from tests.browser.harness import Served, serve
from tests.browser.layout import phone_overflow
from tests.browser.test_locales import LOCALES, RIGHT_TO_LEFT

PAGES = (
    "home",
    "providers",
    "combos",
    "keys",
    "usage",
    "logs",
    "health",
    "translator",
    "evals",
    "tools",
    "settings",
)

# Form controls with no accessible name (label, aria-label or aria-labelledby).
UNLABELLED = """() => [...document.querySelectorAll('main input, main select, main textarea')]
  .filter((el) => el.type !== 'hidden' && el.offsetParent !== null)
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                  && !el.getAttribute('aria-labelledby') && !el.title)
  .map((el) => el.outerHTML.slice(0, 120))"""
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A gateway with a provider, a combo, a key and some logged requests,
    so that every page has something to show."""
    with serve(tmp_path_factory.mktemp("pages")) as served:
        served.set_password()
        served.run(
            served.harness.add_provider(
                "mock", "openai", served.mock_url + "/v1", "sk-up", ["mock-small", "mock-large"]
            )
        )
        for model in ("mock/mock-small", "mock/mock-large", "nowhere/none"):
            served.chat(model)
        yield served


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("width", [360, 1280])
def test_every_page_renders_cleanly(
    populated: Served, browser: Browser, width: int, theme: str
) -> None:
    watch = Watch()
    context, page = new_page(browser, watch, width=width, height=800, color_scheme=theme)
    log_in(page, populated)
    logged_in_from = len(watch.api_calls)
    for page_id in PAGES:
        page.goto(f"{populated.url}/#/{page_id}")
        expect(page.locator(f'.page[data-page="{page_id}"] h1')).to_be_visible()
        page.wait_for_load_state("networkidle")
        assert page.evaluate(OVERFLOW) <= 0, f"{page_id} scrolls sideways at {width}px"
        assert page.evaluate(UNLABELLED) == [], f"{page_id} has unlabelled controls"
        screenshot(page, f"{page_id}-{width}-{theme}")
    calls = watch.api_calls[logged_in_from:]
    assert len(calls) >= len(PAGES)
    assert [c for c in calls if not c[2]] == [], "an /api call went without the CSRF header"
    watch.assert_clean()
    context.close()


def wordiest_locales(count: int) -> list[str]:
    """The left-to-right locales whose strings are longest in all: the ones
    most likely to push a button or a heading past a phone's edge."""
    sizes = {}
    for path in LOCALES.glob("*.json"):
        if path.stem not in RIGHT_TO_LEFT:
            sizes[path.stem] = sum(map(len, json.loads(path.read_text("utf-8")).values()))
    return sorted(sizes, key=lambda code: -sizes[code])[:count]


@pytest.mark.parametrize("lang", [*sorted(RIGHT_TO_LEFT), *wordiest_locales(2)])
def test_every_page_fits_a_phone_in_long_and_right_to_left_languages(
    populated: Served, browser: Browser, lang: str
) -> None:
    """Right to left (Arabic, Hebrew) and in the two wordiest languages, at
    360 px nothing in any page's area sticks out sideways."""
    watch = Watch()
    found = phone_overflow(browser, populated, watch, list(PAGES), lang)
    assert {page: items for page, items in found.items() if items} == {}
    watch.assert_clean()


def test_phone_navigation_collapses_and_keyboard_focus_shows(
    populated: Served, browser: Browser
) -> None:
    watch = Watch()
    context, page = new_page(browser, watch, width=360, height=800)
    log_in(page, populated)
    nav = page.locator("#nav")
    toggle = page.get_by_role("button", name="Menu")
    expect(nav).to_be_hidden()
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    page.get_by_role("link", name="Providers", exact=True).click()
    expect(nav).to_be_hidden()
    expect(page.locator('.page[data-page="providers"] h1')).to_be_visible()
    # Tabbing moves through the controls and the focused one is outlined.
    seen = set()
    for _ in range(8):
        page.keyboard.press("Tab")
        outline = page.evaluate(
            "() => { const el = document.activeElement;"
            " return [el.tagName + (el.textContent || '').slice(0, 20),"
            " getComputedStyle(el).outlineStyle]; }"
        )
        assert outline[1] != "none", outline
        seen.add(outline[0])
    assert len(seen) >= 4
    watch.assert_clean()
    context.close()


def test_theme_follows_the_system_and_the_toggle(admin: Page, watch: Watch) -> None:
    background = "() => getComputedStyle(document.body).backgroundColor"
    light = admin.evaluate(background)
    admin.get_by_role("button", name="Theme: as the system").click()
    expect(admin.locator("html")).to_have_attribute("data-theme", "dark")
    dark = admin.evaluate(background)
    assert dark != light
    admin.reload()
    expect(admin.locator("html")).to_have_attribute("data-theme", "dark")
    admin.get_by_role("button", name="Theme: dark").click()
    expect(admin.locator("html")).to_have_attribute("data-theme", "light")
    assert admin.evaluate(background) == light
    watch.assert_clean()


def test_arabic_is_right_to_left_and_languages_switch(admin: Page, watch: Watch) -> None:
    admin.get_by_role("link", name="Providers", exact=True).click()
    admin.get_by_label("Language").select_option("ar")
    expect(admin.locator("html")).to_have_attribute("dir", "rtl")
    expect(admin.locator("html")).to_have_attribute("lang", "ar")
    expect(admin.get_by_role("link", name="المزوّدون")).to_be_visible()
    # Mirrored: the navigation sits on the right of the page.
    nav_box = admin.locator("#nav").bounding_box()
    main_box = admin.locator("main").bounding_box()
    assert nav_box and main_box and nav_box["x"] > main_box["x"]
    admin.reload()
    expect(admin.locator("html")).to_have_attribute("dir", "rtl")
    admin.get_by_label("اللغة").select_option("es")
    expect(admin.locator("html")).to_have_attribute("dir", "ltr")
    expect(admin.get_by_role("link", name="Proveedores")).to_be_visible()
    expect(admin.get_by_role("button", name="Cerrar sesión")).to_be_visible()
    nav_box = admin.locator("#nav").bounding_box()
    main_box = admin.locator("main").bounding_box()
    assert nav_box and main_box and nav_box["x"] < main_box["x"]
    watch.assert_clean()


def test_content_security_policy_blocks_inline_script(admin: Page, served: Served) -> None:
    headers = httpx.get(served.url + "/", timeout=10).headers
    policy = headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    ran = admin.evaluate(
        """() => new Promise((resolve) => {
            let violated = false;
            document.addEventListener('securitypolicyviolation', () => { violated = true; });
            const script = document.createElement('script');
            script.textContent = 'window.inlineRan = true';
            document.body.append(script);
            const button = document.createElement('button');
            button.setAttribute('onclick', 'window.handlerRan = true');
            document.body.append(button);
            button.click();
            setTimeout(() => resolve([!!window.inlineRan, !!window.handlerRan, violated]), 100);
        })"""
    )
    assert ran == [False, False, True]


def test_first_screen_fits_the_size_budget(served: Served, browser: Browser) -> None:
    """What the browser downloads to show the first screen after login."""
    served.set_password()
    watch = Watch()
    context, page = new_page(browser, watch)
    sizes: dict[str, int] = {}
    page.on(
        "response",
        lambda response: (
            sizes.__setitem__(response.url, len(response.body()))
            if response.status == 200
            else None
        ),
    )
    log_in(page, served)
    expect(page.locator('.page[data-page="home"] h1')).to_be_visible()
    page.wait_for_load_state("networkidle")
    total = sum(sizes.values())
    assert any(url.endswith("/js/app.js") for url in sizes)
    assert total <= 150 * 1024, sorted(sizes.items(), key=lambda item: -item[1])
    context.close()
