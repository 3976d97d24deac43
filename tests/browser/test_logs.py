"""The Logs page: requests made through the gateway are listed, filtered,
paged and opened one by one (also straight from the address); the audit
tab pages through management changes; the console log filters and follows
the server's log; the live monitor shows requests as they happen."""

from __future__ import annotations

import re
import time

import httpx
from playwright.sync_api import Page, expect

from omniroute.store.admin import AdminRows
from omniroute.store.records import RequestLogRow
from omniroute.store.request_log import RequestFilter
from tests.browser.conftest import Watch
from tests.browser.harness import Served
from tests.browser.layout import assert_fits
from tests.browser.traffic import MODEL, PROVIDER, UNKNOWN, make_traffic


def refuse_one_more(served: Served) -> str:
    """A refused request (unknown model), logged; its request id."""
    auth = {"authorization": f"Bearer {served.client_key}"}
    body = {"model": UNKNOWN, "messages": [{"role": "user", "content": "hi"}]}
    answer = httpx.post(
        served.harness.base_url + "/v1/chat/completions", json=body, headers=auth, timeout=15
    )
    assert answer.status_code == 404
    served.run(served.harness.gateway.store.flush_logs())
    return answer.headers["x-request-id"]


def data_rows(page: Page) -> object:
    return page.locator("[role=tabpanel] tbody tr.clickable")


def test_requests_are_listed_filtered_and_opened(served: Served, admin: Page, watch: Watch) -> None:
    make_traffic(served)
    store = served.harness.gateway.store
    logged = served.run(store.find_requests(RequestFilter()))
    assert [r.row.status for r in logged] == [404, 200, 200]

    admin.goto(served.url + "/#/logs")
    expect(admin.get_by_role("heading", name="Logs")).to_be_visible()
    rows = data_rows(admin)
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text(UNKNOWN)
    expect(rows.nth(1)).to_contain_text(f"{PROVIDER}/{MODEL}")
    expect(rows.nth(1)).to_contain_text("tests")  # the client key's name
    expect(rows.nth(1)).to_contain_text("12 / 7")
    # The filters offer the configured providers and keys.
    expect(admin.get_by_label("Provider").locator("option", has_text=PROVIDER)).to_have_count(1)
    expect(admin.get_by_label("Client key").locator("option", has_text="tests")).to_have_count(1)

    # Only the refused request is a 4xx.
    admin.get_by_label("Status").select_option("4xx")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("404")
    # Refresh keeps the filter and shows what arrived since.
    refuse_one_more(served)
    admin.get_by_role("button", name="Refresh").click()
    expect(rows).to_have_count(2)
    expect(admin.get_by_label("Status")).to_have_value("4xx")
    admin.get_by_label("Status").select_option("")
    expect(rows).to_have_count(4)
    admin.get_by_label("Model", exact=True).fill(MODEL)
    admin.get_by_label("Model", exact=True).press("Enter")
    expect(rows).to_have_count(2)

    # A row opens its detail, and the address names it.
    answered = logged[1]
    rows.first.focus()  # rows are reachable by keyboard; Enter opens one
    admin.keyboard.press("Enter")
    dialog = admin.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name=f"Request #{answered.id}")).to_be_visible()
    expect(admin).to_have_url(re.compile(rf"#/logs/requests/{answered.id}$"))
    detail = dialog.locator("dl")
    expect(detail).to_contain_text(re.compile(r"Input tokens\s*12"))
    expect(detail).to_contain_text(re.compile(r"Output tokens\s*7"))
    expect(detail).to_contain_text(answered.row.request_id)
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)
    expect(admin).to_have_url(re.compile(r"#/logs/requests$"))
    rows.nth(1).click()
    expect(dialog.get_by_role("heading", name=f"Request #{logged[2].id}")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()

    # The address alone opens a row.
    refused = logged[0]
    admin.goto(served.url + f"/#/logs/requests/{refused.id}")
    dialog = admin.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name=f"Request #{refused.id}")).to_be_visible()
    expect(dialog.locator("dl")).to_contain_text("not_found")
    admin.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    watch.assert_clean()


def test_load_more_pages_back(served: Served, admin: Page, watch: Watch) -> None:
    store = served.harness.gateway.store
    now = time.time()
    for n in range(55):
        store.log_request(
            RequestLogRow(ts=now - 60 + n, request_id=f"req-{n}", model=f"m{n}", status=200,
                          latency_ms=10.0)
        )  # fmt: skip
    served.run(store.flush_logs())
    admin.goto(served.url + "/#/logs/requests")
    rows = data_rows(admin)
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("m54")
    more = admin.get_by_role("button", name="Load more")
    more.click()
    expect(rows).to_have_count(55)
    expect(rows.last).to_contain_text("m0")
    expect(more).to_be_hidden()
    admin.set_viewport_size({"width": 360, "height": 800})
    assert_fits(admin)
    watch.assert_clean()


def test_audit_tab(served: Served, admin: Page, watch: Watch) -> None:
    rows = AdminRows(served.harness.gateway.store)
    change = {"before": {"fallback.max-attempts": 3}, "after": {"fallback.max-attempts": 4}}
    served.run(rows.audit(time.time(), "cli", "settings.update", "fallback", change))
    admin.goto(served.url + "/#/logs")
    admin.get_by_role("tab", name="Audit").click()
    expect(admin).to_have_url(re.compile(r"#/logs/audit$"))
    entry = admin.get_by_role("row").filter(has_text="settings.update")
    expect(entry).to_contain_text("fallback.max-attempts: 3 → 4")
    expect(entry).to_contain_text("cli")
    stored = served.run(rows.audit_log(10))
    assert stored[0].action == "settings.update"
    # Opened from the address, the tab is chosen.
    admin.goto(served.url + "/#/logs/audit")
    expect(admin.get_by_role("tab", name="Audit")).to_have_attribute("aria-selected", "true")
    expect(admin.get_by_role("row").filter(has_text="settings.update")).to_have_count(1)
    # Older entries come a page at a time.
    for n in range(50):
        served.run(rows.audit(time.time(), "cli", "alias.add", f"alias-{n}"))
    admin.get_by_role("button", name="Refresh").click()
    entries = admin.get_by_role("tabpanel").locator("tbody tr")
    expect(entries).to_have_count(50)
    expect(entries.first).to_contain_text("alias-49")
    admin.get_by_role("button", name="Load more").click()
    expect(entries.filter(has_text="settings.update")).to_have_count(1)
    expect(admin.get_by_role("button", name="Load more")).to_have_count(0)
    watch.assert_clean()


def test_console_log_filters_searches_and_follows(
    served: Served, admin: Page, watch: Watch, info_logs: None
) -> None:
    first = refuse_one_more(served)
    admin.goto(served.url + "/#/logs/console")
    panel = admin.get_by_role("tabpanel")
    lines = panel.locator("tbody tr")
    expect(lines.filter(has_text=first)).to_have_count(1)
    expect(lines.filter(has_text=first)).to_contain_text("404")
    # Search narrows to one request's line; Enter applies it.
    search = admin.get_by_label("Search")
    search.fill(first)
    search.press("Enter")
    expect(lines).to_have_count(1)
    # Errors only: the refusal is an info line.
    admin.get_by_label("Lowest level").select_option("error")
    expect(panel).to_contain_text("No log lines match.")
    admin.get_by_label("Lowest level").select_option("info")
    search.fill("404")
    search.press("Enter")
    expect(lines.filter(has_text=first)).to_have_count(1)
    # Following: a new line appears without a refresh, newest first.
    admin.get_by_label("Follow new lines").check()
    expect(panel).to_contain_text("new lines appear as they are written")
    later = refuse_one_more(served)
    expect(lines.first).to_contain_text(later)
    expect(lines.filter(has_text=first)).to_have_count(1)  # nothing repeated
    watch.assert_clean()


def test_live_monitor_shows_requests_and_stops_when_left(
    served: Served, admin: Page, watch: Watch
) -> None:
    monitor = served.harness.gateway.observers.monitor
    admin.goto(served.url + "/#/logs/live")
    panel = admin.get_by_role("tabpanel")
    expect(panel).to_contain_text("Live: requests appear")
    make_traffic(served, answered=1)
    rows = panel.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text=f"{PROVIDER}/{MODEL}")).to_contain_text("200")
    expect(rows.filter(has_text=f"{PROVIDER}/{MODEL}")).to_contain_text(PROVIDER)
    expect(rows.filter(has_text=UNKNOWN)).to_contain_text("404")
    assert monitor.watchers == 1
    # Another tab closes the stream; so does leaving the page.
    admin.get_by_role("tab", name="Requests").click()
    expect(admin.get_by_role("tabpanel").locator("tbody tr.clickable")).to_have_count(2)
    assert wait_for(lambda: monitor.watchers == 0)
    admin.get_by_role("tab", name="Live monitor").click()
    expect(admin.get_by_role("tabpanel")).to_contain_text("Live: requests appear")
    assert monitor.watchers == 1
    admin.get_by_role("link", name="Home").click()
    expect(admin.locator('#nav a[aria-current="page"]')).to_have_text("Home")
    assert wait_for(lambda: monitor.watchers == 0)
    watch.assert_clean()


def wait_for(check: object, tries: int = 100) -> bool:
    """Poll a condition the server side settles a moment later (bounded)."""
    for _ in range(tries):
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False
