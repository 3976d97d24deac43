"""The Usage & cost page: totals, the charts and the table follow what
went through the gateway, by provider, model or client key."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import Watch
from tests.browser.harness import Served
from tests.browser.layout import assert_fits
from tests.browser.traffic import MODEL, PROVIDER, UNKNOWN, make_traffic


def server_usage(served: Served, **params: str) -> dict[str, object]:
    """What the API says, read with the local admin token."""
    token = {"authorization": f"Bearer {served.harness.gateway.admin.token}"}
    answer = httpx.get(served.url + "/api/usage", params=params, headers=token, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def stat(page: Page, label: str) -> object:
    return page.locator(".usage-totals .card").filter(has_text=label).locator(".stat")


def test_totals_charts_and_table(served: Served, admin: Page, watch: Watch) -> None:
    make_traffic(served, answered=3)
    totals = server_usage(served, group="provider")["totals"]
    assert totals["requests"] == 4 and totals["errors"] == 1  # type: ignore[index]

    admin.goto(served.url + "/#/usage")
    expect(admin.get_by_role("heading", name="Usage & cost")).to_be_visible()
    expect(stat(admin, "Requests")).to_have_text("4")
    expect(stat(admin, "Errors")).to_have_text("1")
    expect(stat(admin, "Input tokens")).to_have_text("36")
    expect(stat(admin, "Output tokens")).to_have_text("21")
    expect(stat(admin, "Cost")).to_have_text("—")

    # Both charts are named images; a segment and a bar are titled with the provider.
    per_day = admin.get_by_role("img", name="Chart: requests per day (UTC), stacked by provider")
    expect(per_day.locator("rect title", has_text=PROVIDER)).to_have_count(1)
    expect(per_day.locator("rect title", has_text=PROVIDER)).to_contain_text("3 requests")
    per_group = admin.get_by_role("img", name="Chart: requests in the period by provider")
    expect(per_group.locator("rect title", has_text=PROVIDER)).to_have_text(f"{PROVIDER}: 3")
    expect(per_group.locator("rect")).to_have_count(2)  # and the refused request's "no provider"
    legend = admin.locator(".chart-legend li")
    expect(legend.filter(has_text=PROVIDER)).to_have_count(1)
    row = admin.get_by_role("row").filter(has_text=PROVIDER)
    expect(row).to_contain_text("36")

    # By model, the refused request shows under the model it asked for.
    admin.get_by_label("Group by").select_option("model")
    by_model = admin.get_by_role("img", name="Chart: requests in the period by model")
    expect(by_model.locator("rect title", has_text=f"{PROVIDER}/{MODEL}")).to_have_count(1)
    expect(by_model.locator("rect title", has_text=UNKNOWN)).to_have_count(1)
    # By key: the harness's key is named "tests".
    admin.get_by_label("Group by").select_option("key")
    by_key = admin.get_by_role("img", name="Chart: requests in the period by client key")
    expect(by_key.locator("rect title")).to_have_text(["tests: 4"])
    headings = admin.locator("main h2")
    expect(headings).to_contain_text(
        ["Requests per day by client key", "Requests by client key", "Numbers by client key"]
    )

    admin.get_by_label("Period", exact=True).select_option("24h")
    expect(stat(admin, "Requests")).to_have_text("4")
    assert server_usage(served, group="key", since="24h")["totals"]["requests"] == 4  # type: ignore[index]
    admin.set_viewport_size({"width": 360, "height": 800})
    assert_fits(admin)
    watch.assert_clean()


def test_an_empty_period_says_so(served: Served, admin: Page, watch: Watch) -> None:
    admin.goto(served.url + "/#/usage")
    expect(stat(admin, "Requests")).to_have_text("0")
    expect(admin.get_by_text("No requests in this period.")).to_be_visible()
    expect(admin.get_by_role("img")).to_have_count(0)
    watch.assert_clean()


def test_cost_shows_as_money_once_prices_are_known(
    served: Served, admin: Page, watch: Watch
) -> None:
    # 12 input + 7 output tokens a request at 1000 USD per 1M: 0.019 each.
    price = {"input": 1000.0, "output": 1000.0}
    served.run(served.harness.config.set_price(f"{PROVIDER}/{MODEL}", price))
    make_traffic(served, answered=3)
    totals = server_usage(served, group="provider")["totals"]
    assert abs(totals["cost"] - 0.057) < 1e-9  # type: ignore[index]

    admin.goto(served.url + "/#/usage")
    expect(stat(admin, "Cost")).to_have_text("$0.057")
    row = admin.get_by_role("row").filter(has_text=PROVIDER)
    expect(row).to_contain_text("$0.057")
    admin.goto(served.url + "/#/home")
    spend = admin.locator("[data-stat=spend] .stat")
    expect(spend).to_have_text("$0.057")
    watch.assert_clean()
