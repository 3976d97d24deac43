"""Signing in with a ChatGPT plan from the Providers page, against a loopback
stand-in of the issuer (``tests/support/fake_chatgpt.py``): the address the
browser comes back to is pasted (as from another machine) or fetched (as the
browser on this machine would), then the account is signed out. Each step is
checked through the gateway's own API, not only on screen."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from omniroute.providers.oauth.chatgpt import ISSUER_ENV
from tests.browser.conftest import Watch, log_in, new_page, screenshot
from tests.browser.harness import LoopThread, Served, serve
from tests.browser.layout import api_post, assert_fits, narrow_page
from tests.support.fake_chatgpt import FakeChatGPT


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeChatGPT]:
    """The stand-in issuer and plan API, on a loop of its own; the gateway
    reads where the issuer is when it starts, so this comes first."""
    loop = LoopThread()
    stand_in = FakeChatGPT()
    loop.run(stand_in.__aenter__())
    monkeypatch.setenv(ISSUER_ENV, stand_in.issuer)
    try:
        yield stand_in
    finally:
        loop.run(stand_in.__aexit__())
        loop.close()


@pytest.fixture
def gateway(tmp_path: Path, fake: FakeChatGPT) -> Iterator[Served]:
    with serve(tmp_path) as served:
        # The provider row exists before the sign-in, pointed at the stand-in
        # API (as `omniroute provider set chatgpt --base-url` would).
        store = served.harness.gateway.store
        served.run(store.upsert_provider("chatgpt", "openai-responses", fake.api))
        served.set_password()
        yield served


@pytest.fixture
def signed_in_page(browser: Browser, gateway: Served, watch: Watch) -> Iterator[Page]:
    context, page = new_page(browser, watch)
    try:
        log_in(page, gateway)
        page.goto(gateway.url + "/#/providers")
        expect(page.get_by_role("heading", name="Providers & accounts")).to_be_visible()
        yield page
    finally:
        context.close()


def grants(page: Page, served: Served) -> list[dict[str, Any]]:
    answer = page.request.get(served.url + "/api/oauth/accounts")
    assert answer.ok, answer.text()
    return list(answer.json()["accounts"])


def shown_address(page: Page, fake: FakeChatGPT) -> str:
    link = page.get_by_role("link", name=fake.issuer + "/api/accounts/authorize?")
    expect(link).to_be_visible()
    assert link.get_attribute("target") == "_blank"
    assert link.get_attribute("rel") == "noopener noreferrer"
    return str(link.get_attribute("href"))


def account_item(page: Page, account_id: int) -> Locator:
    return page.locator(f'li[data-account="{account_id}"]')


def test_sign_in_by_paste_again_by_redirect_then_sign_out(
    signed_in_page: Page, gateway: Served, fake: FakeChatGPT, watch: Watch
) -> None:
    page = signed_in_page
    card = page.get_by_role("region", name="Subscriptions")
    expect(card.get_by_role("link", name="ChatGPT usage settings")).to_have_attribute(
        "href", "https://chatgpt.com/settings/usage"
    )
    card.get_by_label("Account name (optional)").fill("work")
    card.get_by_role("button", name="Continue with ChatGPT").click()

    # From another machine: the browser ends on an unreachable loopback
    # address, which the user pastes.
    back = fake.approve(shown_address(page, fake))
    assert back.startswith("http://127.0.0.1:")
    card.get_by_label("Address the browser ended on").fill(back)
    card.get_by_role("button", name="Finish sign-in").click()
    expect(card.get_by_text("Signed in as dev@example.com")).to_be_visible()

    [grant] = grants(page, gateway)
    assert grant["email"] == fake.email and grant["status"] == "ok"
    account_id = int(grant["account_id"])
    item = account_item(page, account_id)
    expect(item.get_by_text("ChatGPT sign-in", exact=True)).to_be_visible()
    expect(item.get_by_text("signed in", exact=True)).to_be_visible()
    expect(item.get_by_text("dev@example.com")).to_be_visible()
    expect(item.get_by_text(re.compile("access token valid until"))).to_be_visible()
    snapshot = gateway.run(gateway.harness.gateway.store.snapshot())
    [account] = [a for a in snapshot.accounts if a.id == account_id]
    assert account.enabled and account.extra.get("kind") == "oauth"
    listed = page.request.get(gateway.url + "/api/providers").json()["providers"]
    [chatgpt] = [p for p in listed if p["name"] == "chatgpt"]
    assert [a["kind"] for a in chatgpt["accounts"]] == ["oauth"]

    # Signing in again on this machine: the browser is sent back to the
    # loopback listener, which completes it; the page sees that by polling.
    page.get_by_role("button", name=f"Sign in again to account #{account_id}").click()
    expect(card.get_by_text("Signed in as dev@example.com")).to_have_count(0)
    back = fake.approve(shown_address(page, fake))
    landed = httpx.get(back, timeout=15)
    assert landed.status_code == 200 and "Signed in" in landed.text
    expect(card.get_by_text("Signed in as dev@example.com")).to_be_visible()
    assert fake.exchanges == 2
    assert [g["account_id"] for g in grants(page, gateway)] == [account_id]  # the same account
    screenshot(page, "providers-signed-in")

    # Sign out: confirmed, revoked at the issuer, the account turned off.
    page.get_by_role("button", name=f"Sign out of account #{account_id}").click()
    page.locator("dialog").get_by_role("button", name="Sign out").click()
    expect(item.get_by_text("needs a new sign-in", exact=True)).to_be_visible()
    [grant] = grants(page, gateway)
    assert grant["status"] == "needs_login"
    assert fake.revoked
    snapshot = gateway.run(gateway.harness.gateway.store.snapshot())
    [account] = [a for a in snapshot.accounts if a.id == account_id]
    assert not account.enabled
    watch.assert_clean()


def test_a_wrong_address_says_why(signed_in_page: Page, fake: FakeChatGPT, watch: Watch) -> None:
    page = signed_in_page
    card = page.get_by_role("region", name="Subscriptions")
    card.get_by_role("button", name="Continue with ChatGPT").click()
    address = shown_address(page, fake)
    assert address.startswith(fake.issuer)
    watch.allowed_statuses.add(400)
    field = card.get_by_label("Address the browser ended on")
    field.fill("http://127.0.0.1:1455/auth/callback?code=abc&state=not-this-one")
    card.get_by_role("button", name="Finish sign-in").click()
    expect(card.get_by_role("alert").filter(has_text="another sign-in")).to_be_visible()
    # A declined consent ends the sign-in, and the page says so.
    state = re.search(r"[?&]state=([^&]+)", address)
    assert state
    field.fill(f"http://127.0.0.1:1455/auth/callback?error=access_denied&state={state.group(1)}")
    card.get_by_role("button", name="Finish sign-in").click()
    expect(card.get_by_text(re.compile("The sign-in did not complete: .*declined"))).to_be_visible()
    assert fake.exchanges == 0
    watch.assert_clean()


def test_sign_in_fits_a_phone_in_arabic(
    browser: Browser, gateway: Served, fake: FakeChatGPT, watch: Watch
) -> None:
    with narrow_page(browser, gateway, watch) as page:
        # One account signed in already (through the API), so its row is
        # measured too.
        flow = api_post(page, gateway, "/api/oauth/chatgpt/start", {"listen": False})
        back = fake.approve(flow["url"])
        done = api_post(
            page, gateway, f"/api/oauth/flows/{flow['flow_id']}/complete", {"url": back}
        )
        assert done["status"] == "done"
        page.goto(gateway.url + "/#/providers")
        expect(page.locator(f'li[data-account="{done["account_id"]}"]')).to_be_visible()
        page.locator("button.chatgpt-continue").click()
        shown_address(page, fake)
        page.locator(".sign-in details summary").click()
        assert_fits(page)
        screenshot(page, "providers-sign-in-ar-360")
    watch.assert_clean()
