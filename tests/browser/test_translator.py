"""The translator page: convert a request between formats, show errors, and
send the original and the translated request through the gateway."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from omniroute.formats.wire import wire_format
from tests.browser.conftest import Watch
from tests.browser.harness import MOCK_ANSWER, Served


def open_translator(admin: Page, served: Served) -> None:
    admin.goto(served.url + "/#/translator")
    expect(admin.get_by_role("heading", name="Translator", exact=True)).to_be_visible()


# Elements of the page area that reach past a 360 px wide screen.
WIDER = """() => [...document.querySelectorAll('main *')]
  .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .map((e) => e.tagName + '.' + e.className)"""


def wider_than_the_page(page: Page) -> list[str]:
    found = page.evaluate(WIDER)
    assert isinstance(found, list)
    return found


def result_json(admin: Page) -> dict[str, object]:
    output = admin.locator(".copy-box pre")
    expect(output).to_be_visible()
    data = json.loads(output.inner_text())
    assert isinstance(data, dict)
    return data


def test_convert_openai_chat_to_anthropic(admin: Page, served: Served, watch: Watch) -> None:
    open_translator(admin, served)
    expect(admin.get_by_label("From format")).to_have_value("openai")
    admin.get_by_label("To format").select_option("anthropic")
    sent = json.loads(admin.get_by_label("Request body (JSON)").input_value())
    system_prompt = sent["messages"][0]["content"]
    assert sent["messages"][0]["role"] == "system" and sent["tools"][0]["type"] == "function"

    admin.get_by_role("button", name="Convert").click()
    expect(admin.get_by_role("heading", name="Translated request (anthropic)")).to_be_visible()
    out = result_json(admin)
    # The system prompt moved to the top level; Anthropic requires max_tokens.
    assert out["system"] == system_prompt
    assert isinstance(out["max_tokens"], int) and out["max_tokens"] > 0
    messages = out["messages"]
    assert isinstance(messages, list) and [m["role"] for m in messages] == ["user"]
    tool = out["tools"][0]  # type: ignore[index]
    assert tool["name"] == "get_weather"
    assert tool["input_schema"]["properties"]["city"]["type"] == "string"
    assert "function" not in tool and "parameters" not in tool
    # Exactly what the gateway's own codecs make of the same body.
    expected = wire_format("anthropic").render_request(wire_format("openai").parse_request(sent))
    assert out == expected

    # Another "from" format swaps in its own example, which converts too.
    admin.get_by_label("From format").select_option("gemini")
    admin.get_by_label("To format").select_option("openai-responses")
    gemini_body = json.loads(admin.get_by_label("Request body (JSON)").input_value())
    assert "contents" in gemini_body and "systemInstruction" in gemini_body
    admin.get_by_label("Request body (JSON)").press("Control+Enter")
    heading = admin.get_by_role("heading", name="Translated request (openai-responses)")
    expect(heading).to_be_visible()
    out = result_json(admin)
    assert out["instructions"] == gemini_body["systemInstruction"]["parts"][0]["text"]
    assert out["tools"][0]["name"] == "get_weather"  # type: ignore[index]
    watch.assert_clean()


def test_bad_input_shows_an_error(admin: Page, served: Served, watch: Watch) -> None:
    open_translator(admin, served)
    body = admin.get_by_label("Request body (JSON)")
    body.fill('{"model": "x", "messages": [')
    admin.get_by_role("button", name="Convert").click()
    alert = admin.get_by_role("alert").filter(has_text="not valid JSON")
    expect(alert).to_be_visible()
    expect(admin.locator(".copy-box")).to_have_count(0)

    # Valid JSON the server refuses: its message is shown, nothing else.
    watch.allowed_statuses.add(400)
    body.fill('{"model": "x", "messages": 5}')
    with admin.expect_response("**/api/translate") as answer:
        admin.get_by_role("button", name="Convert").click()
    assert answer.value.status == 400
    expect(admin.get_by_role("alert").filter(has_text="not a valid openai request")).to_be_visible()
    expect(admin.locator(".copy-box")).to_have_count(0)
    watch.assert_clean()


def test_send_and_compare_shows_both_answers(admin: Page, served: Served, watch: Watch) -> None:
    served.run(
        served.harness.add_provider(
            "mock", "openai", served.mock_url + "/v1", "sk-upstream", ["mock-small"]
        )
    )
    open_translator(admin, served)
    admin.get_by_label("To format").select_option("anthropic")
    model = admin.get_by_label("Model", exact=True)
    expect(model).to_have_value("mock/mock-small")  # the first model the gateway serves
    admin.get_by_label("Client API key").fill(served.client_key)
    admin.get_by_role("button", name="Send and compare").click()

    original = admin.get_by_role("region", name="Original request (openai)")
    translated = admin.get_by_role("region", name="Translated request (anthropic)")
    for side, path in ((original, "/v1/chat/completions"), (translated, "/v1/messages")):
        expect(side).to_contain_text(MOCK_ANSWER)
        expect(side).to_contain_text("HTTP 200")
        expect(side).to_contain_text(f"POST {path}")

    # Both went through the gateway to the upstream, each with the tool.
    calls = [r for r in served.mock.requests if r.path == "/v1/chat/completions"]
    assert len(calls) == 2
    for call in calls:
        sent = call.json()
        assert sent["model"] == "mock-small"
        assert sent["tools"][0]["function"]["name"] == "get_weather"
        assert sent["messages"][0]["role"] == "system"
    # The key stays in this tab's session storage, nowhere else.
    kept = admin.evaluate("() => sessionStorage.getItem('omniroute.client-key')")
    assert kept == served.client_key
    assert served.client_key not in admin.evaluate("() => JSON.stringify({...localStorage})")
    watch.assert_clean()


def test_send_and_compare_gemini_and_responses(admin: Page, served: Served, watch: Watch) -> None:
    served.run(
        served.harness.add_provider(
            "mock", "openai", served.mock_url + "/v1", "sk-upstream", ["mock-small"]
        )
    )
    open_translator(admin, served)
    admin.get_by_label("From format").select_option("gemini")
    admin.get_by_label("To format").select_option("openai-responses")
    expect(admin.get_by_label("Model", exact=True)).to_have_value("mock/mock-small")
    admin.get_by_label("Client API key").fill(served.client_key)
    admin.get_by_role("button", name="Send and compare").click()
    original = admin.get_by_role("region", name="Original request (gemini)")
    translated = admin.get_by_role("region", name="Translated request (openai-responses)")
    expect(original).to_contain_text("POST /v1beta/models/mock/mock-small:generateContent")
    expect(translated).to_contain_text("POST /v1/responses")
    for side in (original, translated):
        expect(side).to_contain_text(MOCK_ANSWER)
        expect(side).to_contain_text("HTTP 200")
    assert len([r for r in served.mock.requests if r.path == "/v1/chat/completions"]) == 2
    watch.assert_clean()


def test_send_and_compare_shows_refusals(admin: Page, served: Served, watch: Watch) -> None:
    open_translator(admin, served)
    admin.get_by_label("Model", exact=True).fill("no-such-model")
    admin.get_by_label("Client API key").fill("sk-omni-not-a-key")
    watch.allowed_statuses.add(401)
    admin.get_by_role("button", name="Send and compare").click()
    for name in ("Original request (openai)", "Translated request (anthropic)"):
        side = admin.get_by_role("region", name=name)
        expect(side).to_contain_text("HTTP 401")
        expect(side.locator("pre.error-text")).to_contain_text("Invalid API key.")
    # The client API's refusal is not the dashboard's: the session goes on.
    expect(admin.get_by_role("button", name="Log out")).to_be_visible()
    watch.assert_clean()


def test_translator_fits_a_phone(admin: Page, served: Served, watch: Watch) -> None:
    admin.set_viewport_size({"width": 360, "height": 800})
    open_translator(admin, served)
    admin.get_by_role("button", name="Convert").click()
    expect(admin.locator(".copy-box pre")).to_be_visible()
    assert wider_than_the_page(admin) == []
    watch.assert_clean()
