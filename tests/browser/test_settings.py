"""The Settings page: a changed setting reaches the running gateway, the
server's refusal is shown by the form, the password changes, backups are
made, downloaded and restored, the export downloads, the language switches."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, Response, expect

from tests.browser.conftest import Watch
from tests.browser.harness import PASSWORD, Served
from tests.browser.layout import phone_overflow


def live_options(served: Served):  # type: ignore[no-untyped-def]
    return served.harness.gateway.registry().options


def patched(response: Response) -> bool:
    return response.request.method == "PATCH" and response.url.endswith("/api/settings")


def test_a_changed_setting_is_applied_and_only_it_is_sent(
    served: Served, admin: Page, watch: Watch
) -> None:
    admin.goto(served.url + "/#/settings")
    threshold = admin.get_by_label("Breaker: failures to open")
    expect(threshold).to_have_value("")
    expect(threshold).to_have_attribute("placeholder", "5")  # the default, shown
    expect(admin.get_by_text("Default: 5.")).to_be_visible()
    threshold.fill("3")
    with admin.expect_response(patched) as sent:
        admin.get_by_role("button", name="Save").click()
    assert sent.value.request.post_data_json == {"breaker.failure-threshold": 3}
    expect(admin.get_by_text("Saved.")).to_be_visible()
    assert live_options(served).breaker.failure_threshold == 3
    settings = served.run(served.harness.gateway.store.snapshot()).settings
    assert settings["breaker"]["failure_threshold"] == 3

    # A value the server refuses: its message beside the form, the field
    # marked, nothing written.
    watch.allowed_statuses.update({400})
    threshold = admin.get_by_label("Breaker: failures to open")
    threshold.fill("0")
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("alert")).to_contain_text("'breaker.failure-threshold'")
    expect(threshold).to_have_attribute("aria-invalid", "true")
    assert live_options(served).breaker.failure_threshold == 3

    # Emptied: back to the default.
    threshold.fill("")
    with admin.expect_response(patched) as answer:
        admin.get_by_role("button", name="Save").click()
    assert answer.value.status == 200
    assert live_options(served).breaker.failure_threshold is None  # the breaker's own default

    # Security: a list setting and a choice.
    admin.get_by_role("tab", name="Security").click()
    admin.get_by_label("Public host names").fill("gw.example.com, other.example.com")
    admin.get_by_label("Prompt-injection guard").select_option("log")
    with admin.expect_response(patched) as sent:
        admin.get_by_role("button", name="Save").last.click()
    assert sent.value.request.post_data_json == {
        "public-hosts": ["gw.example.com", "other.example.com"],
        "injection-guard": "log",
    }
    options = live_options(served)
    assert options.injection_guard == "log"
    assert options.public_hosts == ("gw.example.com", "other.example.com")
    watch.assert_clean()


def test_changing_the_password(served: Served, admin: Page, watch: Watch) -> None:
    admin.goto(served.url + "/#/settings/security")
    new = "a brand new passphrase for tests"
    watch.allowed_statuses.update({401})
    admin.get_by_label("Current password").fill("not the password at all")
    admin.get_by_label("New password", exact=True).fill(new)
    admin.get_by_label("New password again").fill(new)
    admin.get_by_role("button", name="Change password").click()
    expect(admin.get_by_role("alert").first).to_contain_text("current password is wrong")
    # Still logged in: a wrong current password does not end the session.
    expect(admin.get_by_role("button", name="Log out")).to_be_visible()

    admin.get_by_label("Current password").fill(PASSWORD)
    admin.get_by_role("button", name="Change password").click()
    expect(admin.get_by_text("Password changed.")).to_be_visible()
    with httpx.Client(base_url=served.url, timeout=15) as http:
        assert http.post("/api/auth/login", json={"password": new}).status_code == 200
        assert http.post("/api/auth/login", json={"password": PASSWORD}).status_code == 401
    # The page took the new CSRF token: a change still goes through.
    admin.get_by_role("tab", name="Backups").click()
    admin.get_by_role("button", name="Back up now").click()
    expect(admin.get_by_text("written.")).to_be_visible()
    assert len(served.run(served.harness.gateway.store.list_backups())) == 1
    watch.assert_clean()


def test_backup_download_and_restore(
    served: Served, admin: Page, watch: Watch, tmp_path: Path
) -> None:
    store = served.harness.gateway.store
    admin.goto(served.url + "/#/settings/backups")
    expect(admin.get_by_text("No backups yet.")).to_be_visible()
    admin.get_by_label("Automatic backups kept").fill("4")
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_text("Saved.")).to_be_visible()
    admin.get_by_role("button", name="Back up now").click()
    expect(admin.get_by_role("status").filter(has_text="written.")).to_be_visible()
    (backup,) = served.run(store.list_backups())
    row = admin.get_by_role("row").filter(has_text=backup.name)
    expect(row).to_contain_text("manual")

    with admin.expect_download() as download:
        row.get_by_role("link", name="Download").click()
    assert download.value.suggested_filename == backup.name
    saved = tmp_path / "saved.db"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"SQLite format 3\x00")
    with sqlite3.connect(saved) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"settings", "providers", "client_keys"} <= tables

    # Change a setting after the backup; the restore brings the old value back.
    admin.get_by_label("Automatic backups kept").fill("9")
    with admin.expect_response(patched):
        admin.get_by_role("button", name="Save").click()
    assert live_options(served).backup_retention == 9
    row.get_by_role("button", name="Restore").click()
    admin.get_by_role("dialog").get_by_role("button", name="Restore").click()
    expect(admin.get_by_text(f"Restored {backup.name}.")).to_be_visible()
    expect(admin.get_by_role("row").filter(has_text="before a restore")).to_be_visible()
    expect(admin.get_by_label("Automatic backups kept")).to_have_value("4")
    assert live_options(served).backup_retention == 4
    assert [b.kind for b in served.run(store.list_backups())] == ["pre-restore", "manual"]
    watch.assert_clean()


def test_export_downloads_without_secrets(served: Served, admin: Page, watch: Watch) -> None:
    served.run(
        served.harness.add_provider(
            "mock", "openai", served.mock_url + "/v1", "sk-secret-upstream-key-77", ["m"]
        )
    )
    admin.goto(served.url + "/#/settings/export")
    with admin.expect_download() as download:
        admin.get_by_role("link", name="Download export").click()
    assert download.value.suggested_filename.startswith("omniroute-config-")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert "sk-secret-upstream-key-77" not in text
    assert "mock" in json.dumps(json.loads(text))
    watch.assert_clean()


def test_budgets_are_set_shown_and_removed(served: Served, admin: Page, watch: Watch) -> None:
    admin.goto(served.url + "/#/settings/budgets")
    admin.get_by_label("Scope").fill("combo:fast/1")
    admin.get_by_label("Daily (USD)").fill("5")
    admin.get_by_label("Monthly (USD)").fill("100")
    admin.get_by_role("button", name="Set budget").click()
    row = admin.get_by_role("row").filter(has_text="combo:fast/1")
    expect(row).to_contain_text("$5.00")
    expect(row).to_contain_text("$100.00")
    expect(row).to_contain_text("$0.00 / $0.00")
    budgets = served.harness.gateway.registry().options.budgets
    assert budgets["combo:fast/1"].daily == 5.0 and budgets["combo:fast/1"].monthly == 100.0

    watch.allowed_statuses.update({400})  # the refused scope below
    admin.get_by_label("Scope").fill("team:x")
    admin.get_by_label("Daily (USD)").fill("1")
    admin.get_by_role("button", name="Set budget").click()
    expect(admin.get_by_role("alert")).to_contain_text("provider:NAME")

    admin.get_by_role("button", name="Remove the budget of combo:fast/1").click()
    expect(admin.get_by_text("No budgets yet.")).to_be_visible()
    assert "combo:fast/1" not in served.harness.gateway.registry().options.budgets
    watch.assert_clean()


def test_the_language_choice_switches_the_whole_dashboard(
    served: Served, admin: Page, watch: Watch
) -> None:
    admin.goto(served.url + "/#/settings/language")
    admin.get_by_label("Dashboard language").select_option("es")
    expect(admin.locator("html")).to_have_attribute("lang", "es")
    expect(admin.locator("#lang")).to_have_value("es")
    spanish = json.loads((Path(__file__).parents[2] / "web/locales/es.json").read_text("utf-8"))
    expect(admin.get_by_role("heading", level=1)).to_have_text(spanish["settings.title"])
    expect(admin.locator('#nav a[data-page="keys"]')).to_have_text(spanish["nav.keys"])
    assert admin.evaluate("localStorage.getItem('omniroute.lang')") == "es"
    watch.assert_clean()


def test_every_tab_fits_a_phone_in_both_directions(
    served: Served, browser: Browser, watch: Watch
) -> None:
    served.set_password()
    tabs = ["resilience", "limits", "proxies", "security", "requests", "budgets", "backups"]
    tabs += ["export"]
    for lang in ("en", "ar"):
        found = phone_overflow(browser, served, watch, [f"settings/{t}" for t in tabs], lang)
        assert all(not v for v in found.values()), (lang, found)
    watch.assert_clean()
