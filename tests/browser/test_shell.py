"""The shell: first run, login, navigation, language, theme, CSP."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Watch, log_in
from tests.browser.harness import PASSWORD, Served


def test_first_run_sets_the_password_then_logout_and_login(
    served: Served, page: Page, watch: Watch
) -> None:
    page.goto(served.url + "/")
    expect(page.get_by_role("heading", name="Set the admin password")).to_be_visible()
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.locator("#nav a")).to_have_count(11)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to OmniRoute")).to_be_visible()
    log_in(page, served)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    watch.assert_clean()
