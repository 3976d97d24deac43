"""Browser fixtures: Debian's Chromium driven by Playwright, one fresh
context per test, and a watcher that records what a page did wrong."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.browser.harness import PASSWORD, Served, serve

REPO = Path(__file__).resolve().parents[2]
# Screenshots land here (ignored by git); CI keeps the folder as an artifact.
ARTIFACTS = Path(os.environ.get("OMNIROUTE_ARTIFACTS", REPO / "test-artifacts")) / "screens"
# Without these flags Chromium keeps trying to reach Google's services, which
# this closed network refuses, and the refusals show up as failed requests.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here drives the browser: ``-m "not browser"`` leaves them out."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.browser)


def chromium_path() -> str:
    for candidate in (os.environ.get("OMNIROUTE_CHROMIUM"), "chromium", "chromium-browser"):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    raise RuntimeError("Chromium is not installed: scripts/test installs Debian's chromium package")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@dataclass
class Watch:
    """Everything that went wrong in a page, plus every /api call it made."""

    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    api_calls: list[tuple[str, str, bool]] = field(default_factory=list)
    allowed_statuses: set[int] = field(default_factory=set)

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)
        page.on("request", self._request)

    def _console(self, message: object) -> None:
        if getattr(message, "type", "") != "error":
            return
        text = getattr(message, "text", "")
        # Chromium logs every 4xx/5xx it loads; a status the test provokes on
        # purpose is no error of the page's.
        found = re.search(r"Failed to load resource: .* status of (\d+)", text)
        if found and int(found.group(1)) in self.allowed_statuses:
            return
        self.errors.append(f"console: {text}")

    def _request_failed(self, request: object) -> None:
        # A live view (EventSource) the page closes when it is left ends as
        # "aborted": that is the page stopping its stream, not a failure.
        failure = getattr(request, "failure", None)
        if getattr(request, "resource_type", "") == "eventsource" and failure == "net::ERR_ABORTED":
            return
        method, url = getattr(request, "method", ""), getattr(request, "url", "")
        self.failed.append(f"{method} {url}: {failure}")

    def _request(self, request: object) -> None:
        url = getattr(request, "url", "")
        if "/api/" in url:
            headers = getattr(request, "headers", {})
            self.api_calls.append((getattr(request, "method", ""), url, "x-csrf-token" in headers))

    def _response(self, response: object) -> None:
        status = getattr(response, "status", 0)
        if status >= 400 and status not in self.allowed_statuses:
            self.failed.append(f"{status} {getattr(response, 'url', '')}")

    def assert_clean(self) -> None:
        assert not self.errors, self.errors
        assert not self.failed, self.failed


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A fresh gateway with no password yet."""
    with serve(tmp_path) as running:
        yield running


@pytest.fixture
def watch() -> Watch:
    return Watch()


def new_page(
    browser: Browser, watch: Watch, width: int = 1280, height: int = 800, **options: object
) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport={"width": width, "height": height}, **options)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch.attach(page)
    return context, page


@pytest.fixture
def page(browser: Browser, watch: Watch) -> Iterator[Page]:
    context, opened = new_page(browser, watch)
    yield opened
    context.close()


def log_in(page: Page, served: Served) -> None:
    """Open the dashboard and log in through the form."""
    page.goto(served.url + "/")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.locator("main .page h1").wait_for()


@pytest.fixture
def admin(served: Served, page: Page) -> Page:
    """A page logged in to a gateway whose password is set."""
    served.set_password()
    log_in(page, served)
    return page


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / (re.sub(r"[^\w.-]+", "_", name) + ".png")), full_page=True)
