"""The Client keys page: a new key is shown once, works against the gateway,
its scope can be changed, and once revoked it no longer works."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Watch
from tests.browser.harness import MOCK_ANSWER, Served


def keys_list(page: Page) -> Locator:
    """The table of keys (the usage table below it names keys too)."""
    return page.get_by_role("region", name="Keys")


def add_mock_provider(served: Served) -> None:
    served.run(
        served.harness.add_provider(
            "mock", "openai", served.mock_url + "/v1", "sk-mock-upstream-0001", ["mock-small"]
        )
    )


def stored_key(served: Served, name: str):  # type: ignore[no-untyped-def]
    keys = served.run(served.harness.gateway.store.list_client_keys())
    return next(k for k in keys if k.name == name)


def test_a_new_key_is_shown_once_works_and_fails_once_revoked(
    served: Served, admin: Page, watch: Watch
) -> None:
    add_mock_provider(served)
    admin.goto(served.url + "/#/keys")
    admin.get_by_label("Name", exact=True).fill("ci-bot")
    admin.get_by_label("Requests per minute").fill("60")
    admin.get_by_label("Expires in").fill("30d")
    admin.get_by_role("button", name="Create key").click()

    box = admin.locator(".key-once")
    expect(box).to_be_visible()
    expect(box).to_contain_text("it will not be shown again")
    key = box.locator("code").inner_text().strip()
    record = stored_key(served, "ci-bot")
    assert key.startswith(record.prefix) and len(key) > len(record.prefix)
    assert record.scope.rpm == 60 and record.scope.expires_at is not None
    box.get_by_role("button", name="Copy").click()
    expect(admin.get_by_text("Copied to the clipboard.")).to_be_visible()
    # The list shows the prefix, never the key.
    row = keys_list(admin).get_by_role("row").filter(has_text="ci-bot")
    expect(row).to_contain_text(record.prefix)
    expect(row).to_contain_text("60 per minute")

    answer = served.chat("mock/mock-small", key)
    assert answer.status_code == 200 and MOCK_ANSWER in answer.text

    # Shown once: after a reload the key is nowhere on the page.
    admin.reload()
    expect(keys_list(admin).get_by_role("row").filter(has_text="ci-bot")).to_be_visible()
    expect(admin.locator(".key-once")).to_have_count(0)
    assert key not in admin.content()

    row = keys_list(admin).get_by_role("row").filter(has_text="ci-bot")
    row.get_by_role("button", name="Revoke").click()
    admin.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(row).to_contain_text("revoked")
    assert stored_key(served, "ci-bot").revoked
    assert served.chat("mock/mock-small", key).status_code == 401
    changes = [c for c in watch.api_calls if c[0] in ("POST", "PATCH", "DELETE")]
    assert all(csrf for _, url, csrf in changes if not url.endswith("/api/auth/login"))
    watch.assert_clean()


def test_editing_a_key_changes_its_scope(served: Served, admin: Page, watch: Watch) -> None:
    add_mock_provider(served)
    admin.goto(served.url + "/#/keys")
    admin.get_by_label("Name", exact=True).fill("narrow")
    admin.get_by_label("Requests per minute").fill("30")
    admin.get_by_role("button", name="Create key").click()
    key = admin.locator(".key-once code").inner_text().strip()
    assert served.chat("mock/mock-small", key).status_code == 200

    keys_list(admin).get_by_role("row").filter(has_text="narrow").get_by_role(
        "button", name="Edit"
    ).click()
    dialog = admin.get_by_role("dialog")
    dialog.get_by_label("Models").fill("mock/mock-large")
    dialog.get_by_label("Requests per minute").fill("")
    with admin.expect_request(lambda r: r.method == "PATCH") as sent:
        dialog.get_by_role("button", name="Save").click()
    # Only what changed is sent; a cleared limit is null.
    assert sent.value.post_data_json == {"models": ["mock/mock-large"], "rpm": None}
    expect(admin.get_by_role("dialog")).to_have_count(0)
    row = keys_list(admin).get_by_role("row").filter(has_text="narrow")
    expect(row).to_contain_text("models: mock/mock-large")
    expect(row).to_contain_text("no limits")

    record = stored_key(served, "narrow")
    assert record.scope.models == ("mock/mock-large",) and record.scope.rpm is None
    assert served.chat("mock/mock-small", key).status_code == 403  # outside its models now
    # A bad value is the server's 400, shown in the dialog; nothing changes.
    watch.allowed_statuses.update({400})
    row.get_by_role("button", name="Edit").click()
    admin.get_by_role("dialog").get_by_label("Expires in").fill("soon")
    admin.get_by_role("dialog").get_by_role("button", name="Save").click()
    expect(admin.get_by_role("dialog").get_by_role("alert")).to_contain_text("'expires'")
    admin.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    assert stored_key(served, "narrow").scope.expires_at is None
    watch.assert_clean()


def test_usage_per_key_counts_the_keys_requests(served: Served, admin: Page, watch: Watch) -> None:
    served.run(
        served.harness.add_provider(
            "mock", "openai", served.mock_url + "/v1", "sk-up", ["mock-small"]
        )
    )
    for _ in range(3):
        assert served.chat("mock/mock-small").status_code == 200
    admin.goto(served.url + "/#/keys")
    usage = admin.get_by_role("region", name="Usage per key")
    # The request log is written in batches: reload until the rows are in.
    row = usage.get_by_role("row").filter(has_text="tests")
    for _ in range(20):
        if row.count() and "3" in row.first.inner_text():
            break
        admin.wait_for_timeout(250)
        admin.reload()
    expect(row.first).to_contain_text("3")
    expect(row.first).to_contain_text("36")  # 3 requests x 12 input tokens
    watch.assert_clean()
