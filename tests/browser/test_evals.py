"""The evals page: save a suite (refused ones say why), run the built-in
golden suite against two models and read the side-by-side comparison, all
checked against what the gateway stored."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from omniroute.store import evals as rows
from tests.browser.conftest import Watch
from tests.browser.harness import Served


def open_evals(admin: Page, served: Served) -> None:
    admin.goto(served.url + "/#/evals")
    expect(admin.get_by_role("heading", name="Evals", exact=True)).to_be_visible()


def test_save_and_delete_a_suite(admin: Page, served: Served, watch: Watch) -> None:
    open_evals(admin, served)
    expect(admin.get_by_role("cell", name="golden built-in")).to_be_visible()
    admin.get_by_text("New or changed suite").click()
    admin.get_by_label("Name").fill("smoke")
    admin.get_by_label("Description").fill("two quick ones")
    cases = admin.get_by_label("Cases (JSON)")

    cases.fill("[not json")
    admin.get_by_role("button", name="Save suite").click()
    expect(admin.get_by_text("The cases are not valid JSON.")).to_be_visible()

    watch.allowed_statuses.add(400)
    hostile = [{"id": "a", "prompt": "p", "check": {"kind": "rule", "value": "output.__class__"}}]
    cases.fill(json.dumps(hostile))
    admin.get_by_role("button", name="Save suite").click()
    expect(admin.get_by_role("alert").filter(has_text="attribute access")).to_be_visible()

    good = [{"id": "hello", "prompt": "Say hello", "check": {"kind": "contains", "value": "Hello"}}]
    cases.fill(json.dumps(good))
    admin.get_by_role("button", name="Save suite").click()
    expect(admin.get_by_role("cell", name="two quick ones")).to_be_visible()
    [stored] = served.run(served.harness.gateway.store.read(rows.list_suites))
    assert (stored.name, stored.description) == ("smoke", "two quick ones")
    assert stored.cases == [{**good[0]}]

    admin.get_by_role("button", name="Delete smoke").click()
    admin.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(admin.get_by_role("cell", name="two quick ones")).to_have_count(0)
    assert served.run(served.harness.gateway.store.read(rows.list_suites)) == []
    watch.assert_clean()


def test_run_the_golden_suite_on_two_models(admin: Page, served: Served, watch: Watch) -> None:
    served.run(
        served.harness.add_provider(
            "mock", "openai", served.mock_url + "/v1", "sk-up", ["mock-small", "mock-large"]
        )
    )
    open_evals(admin, served)
    expect(admin.get_by_label("Suite")).to_have_value("golden")
    admin.get_by_label("Models").fill("mock/mock-small, mock/mock-large")
    admin.get_by_role("button", name="Run", exact=True).click()

    expect(admin.get_by_role("heading", name="Eval run")).to_be_visible()
    expect(admin.get_by_text("20 of 20 done")).to_be_visible()
    expect(admin.locator(".badge", has_text="done")).to_be_visible()
    compare = admin.locator("table.evals-compare")
    head = compare.locator("thead th")
    expect(head).to_have_text(["Case", "mock/mock-small", "mock/mock-large"])
    # The mock says "Hello from the mock upstream." to everything: only the
    # greeting passes, for both models.
    expect(compare.get_by_role("row", name="greeting")).to_contain_text(["pass"])
    expect(compare.get_by_role("row", name="math").locator(".badge.bad")).to_have_count(2)
    expect(compare.get_by_role("row", name="Pass rate")).to_contain_text("1/10 (10%)")

    [run] = served.run(served.harness.gateway.store.read(lambda c: rows.recent_runs(c, 5)))
    assert (run["suite"], run["status"], run["done"], run["passed"]) == ("golden", "done", 20, 2)
    assert len(served.mock.requests) == 20

    admin.get_by_role("button", name="All evals").click()
    runs = admin.get_by_role("row").filter(has_text="#1")
    expect(runs).to_contain_text("golden")
    runs.click()
    expect(admin.get_by_text("Run #1 of the suite golden")).to_be_visible()
    watch.assert_clean()
