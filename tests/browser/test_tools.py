"""The CLI tools page: snippets filled with the gateway's URL, a client key
and a model the gateway serves; the Copilot file generator."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from omniroute.store.records import ComboTargetRecord
from tests.browser.conftest import Watch
from tests.browser.harness import MOCK_ANSWER, Served
from tests.browser.test_translator import wider_than_the_page


def serve_models(served: Served) -> None:
    """The mock upstream as provider "mock" and a combo "coding" on it."""
    harness = served.harness
    served.run(
        harness.add_provider(
            "mock", "openai", served.mock_url + "/v1", "sk-upstream", ["mock-small", "mock-large"]
        )
    )
    served.run(harness.config.upsert_combo("coding", [ComboTargetRecord("mock/mock-small")]))
    served.run(harness.reload())


def open_tools(admin: Page, served: Served) -> None:
    admin.goto(served.url + "/#/tools")
    expect(admin.get_by_role("heading", name="CLI tools", exact=True)).to_be_visible()


def snippet(admin: Page, tool: str, path: str) -> str:
    """The text of the snippet for ``path`` in ``tool``'s card."""
    box = tool_card(admin, tool).locator(".field", has_text=f"In {path}:")
    return box.locator("pre").inner_text()


def tool_card(admin: Page, tool: str) -> Locator:
    """Open ``tool``'s tab; its card is the one region shown."""
    admin.get_by_role("tab", name=tool, exact=True).click()
    card = admin.get_by_role("region", name=tool, exact=True)
    expect(card).to_be_visible()
    return card


def test_snippets_use_the_gateway_url_key_and_model(
    admin: Page, served: Served, watch: Watch
) -> None:
    serve_models(served)
    open_tools(admin, served)
    model = admin.get_by_label("Model", exact=True)
    expect(model.locator("option")).to_have_text(["coding", "mock/mock-small", "mock/mock-large"])
    expect(admin.get_by_label("Gateway URL")).to_have_value(served.url)
    # Before a key is pasted, a placeholder stands in for it.
    assert "sk-omni-..." in snippet(admin, "Claude Code", "~/.claude/settings.json")

    model.select_option("mock/mock-large")
    admin.get_by_label("Client API key").fill(served.client_key)
    url, key, chosen = served.url, served.client_key, "mock/mock-large"

    claude = json.loads(snippet(admin, "Claude Code", "~/.claude/settings.json"))["env"]
    assert claude["ANTHROPIC_BASE_URL"] == url and claude["ANTHROPIC_AUTH_TOKEN"] == key
    assert claude["ANTHROPIC_MODEL"] == chosen
    shell = snippet(admin, "Claude Code", "~/.bashrc, ~/.zshrc")
    assert f"export ANTHROPIC_BASE_URL={url}" in shell

    codex = tomllib.loads(snippet(admin, "Codex CLI", "~/.codex/config.toml"))
    provider = codex["model_providers"][codex["model_provider"]]
    assert codex["model"] == chosen and provider["base_url"] == url + "/v1"
    assert provider["wire_api"] == "responses" and provider["env_key"] == "OMNIROUTE_API_KEY"
    tool_card(admin, "Codex CLI").get_by_label("Wire API").select_option("chat")
    assert 'wire_api = "chat"' in snippet(admin, "Codex CLI", "~/.codex/config.toml")

    gemini_env = snippet(admin, "Gemini CLI", "~/.gemini/.env").splitlines()
    assert gemini_env == [
        f"GOOGLE_GEMINI_BASE_URL={url}",
        f"GEMINI_API_KEY={key}",
        f"GEMINI_MODEL={chosen}",
    ]
    opencode = json.loads(snippet(admin, "OpenCode", "~/.config/opencode/opencode.json"))
    options = opencode["provider"]["omniroute"]["options"]
    assert options == {"baseURL": url + "/v1", "apiKey": key}
    assert opencode["model"] == "omniroute/" + chosen
    assert set(opencode["provider"]["omniroute"]["models"]) == {
        "coding",
        "mock/mock-small",
        "mock/mock-large",
    }
    openclaw = json.loads(snippet(admin, "OpenClaw", "~/.openclaw/openclaw.json"))
    assert openclaw["models"]["providers"]["omniroute"]["baseUrl"] == url + "/v1"
    assert openclaw["agents"]["defaults"]["model"]["primary"] == "omniroute/" + chosen
    for tool in ("Cline", "Kilo Code"):
        values = tool_card(admin, tool).locator(".copy-box pre")
        expect(values).to_have_text(["OpenAI Compatible", url + "/v1", key, chosen])

    # What the snippets say works: the OpenAI-compatible base URL, key and
    # model reach the upstream through the gateway.
    answer = httpx.post(
        options["baseURL"] + "/chat/completions",
        headers={"authorization": f"Bearer {options['apiKey']}"},
        json={"model": chosen, "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == MOCK_ANSWER
    assert served.mock.requests[-1].json()["model"] == "mock-large"
    watch.assert_clean()


def test_copilot_file_lists_the_checked_models(
    admin: Page, served: Served, watch: Watch, tmp_path: Path
) -> None:
    serve_models(served)
    admin.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served.url)
    open_tools(admin, served)
    admin.get_by_label("Client API key").fill(served.client_key)
    copilot = tool_card(admin, "GitHub Copilot")
    # The first model is ticked; add another one.
    expect(copilot.get_by_label("coding", exact=True)).to_be_checked()
    copilot.get_by_label("mock/mock-large", exact=True).check()
    expect(copilot.get_by_label("mock/mock-small", exact=True)).not_to_be_checked()

    shown = json.loads(copilot.locator("pre").inner_text())
    group = shown[0]
    assert group["vendor"] == "customendpoint" and group["apiKey"] == served.client_key
    assert group["apiType"] == "chat-completions"
    assert [m["id"] for m in group["models"]] == ["coding", "mock/mock-large"]
    assert {m["url"] for m in group["models"]} == {served.url + "/v1/chat/completions"}

    copilot.get_by_label("API type").select_option("responses")
    copilot.get_by_role("button", name="Copy JSON").click()
    expect(admin.locator(".toast", has_text="Copied to the clipboard.")).to_be_visible()
    copied = json.loads(admin.evaluate("() => navigator.clipboard.readText()"))
    assert copied[0]["apiType"] == "responses"
    assert [m["url"] for m in copied[0]["models"]] == [served.url + "/v1/responses"] * 2

    with admin.expect_download() as download_info:
        copilot.get_by_role("button", name="Download file").click()
    download = download_info.value
    assert download.suggested_filename == "chatLanguageModels.json"
    saved = tmp_path / "chatLanguageModels.json"
    download.save_as(saved)
    assert json.loads(saved.read_text(encoding="utf-8")) == copied

    # An ordinary copy button copies its own snippet.
    claude = tool_card(admin, "Claude Code")
    claude.get_by_role("button", name="Copy ~/.claude/settings.json").click()
    settings = json.loads(admin.evaluate("() => navigator.clipboard.readText()"))
    assert settings["env"]["ANTHROPIC_AUTH_TOKEN"] == served.client_key
    watch.assert_clean()


def test_tools_without_models_fit_a_phone(admin: Page, served: Served, watch: Watch) -> None:
    admin.set_viewport_size({"width": 360, "height": 800})
    open_tools(admin, served)
    expect(admin.get_by_text("No models yet").first).to_be_visible()
    expect(admin.get_by_label("Model", exact=True)).to_have_value("your-model")
    for tool in ("Claude Code", "GitHub Copilot"):
        tool_card(admin, tool)
        expect(admin.locator("[data-tool]:visible")).to_have_count(1)
        assert wider_than_the_page(admin) == []
    watch.assert_clean()


def test_setup_preview_write_and_undo_on_the_server(
    admin: Page, served: Served, watch: Watch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server runs in this process: its home is this temporary folder.
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    settings = home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    original = b'{"theme": "dark", "env": {"DISABLE_TELEMETRY": "1"}}\n'
    settings.write_bytes(original)
    serve_models(served)
    keys_before = len(served.run(served.harness.gateway.store.list_client_keys()))
    open_tools(admin, served)
    claude = tool_card(admin, "Claude Code")
    expect(claude.get_by_text(f"Writes {settings}:")).to_be_visible()

    claude.get_by_role("button", name="Preview changes").click()
    expect(claude.locator("pre[aria-labelledby]")).to_contain_text('"ANTHROPIC_MODEL": "coding"')
    assert "<new-client-key>" in claude.locator("pre[aria-labelledby]").inner_text()
    assert settings.read_bytes() == original
    assert len(served.run(served.harness.gateway.store.list_client_keys())) == keys_before

    admin.get_by_label("Model", exact=True).select_option("mock/mock-large")
    claude = tool_card(admin, "Claude Code")
    claude.get_by_role("button", name="Set up", exact=True).click()
    expect(claude.get_by_role("status")).to_contain_text(f"Written: {settings}.")
    expect(claude.get_by_role("status")).to_contain_text("A new client key was created")
    written = json.loads(settings.read_text())
    env = written["env"]
    assert written["theme"] == "dark" and env["DISABLE_TELEMETRY"] == "1"
    assert env["ANTHROPIC_MODEL"] == "mock/mock-large" and env["ANTHROPIC_BASE_URL"] == served.url
    assert env["ANTHROPIC_AUTH_TOKEN"] not in claude.inner_text()
    # The written key and URL work, as Claude Code would use them.
    answer = httpx.post(
        env["ANTHROPIC_BASE_URL"] + "/v1/messages",
        headers={"authorization": f"Bearer {env['ANTHROPIC_AUTH_TOKEN']}"},
        json={
            "model": env["ANTHROPIC_MODEL"],
            "max_tokens": 8,
            "messages": [{"role": "user", "content": "hi"}],
        },
        timeout=15,
    )
    assert answer.status_code == 200 and answer.json()["content"][0]["text"] == MOCK_ANSWER

    claude.get_by_role("button", name="Undo last setup").click()
    expect(claude.get_by_role("status")).to_have_text(f"Restored: {settings}.")
    assert settings.read_bytes() == original
    watch.assert_clean()
