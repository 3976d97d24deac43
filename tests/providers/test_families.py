"""What each provider family owns: URLs, headers, failure meanings, bodies
and model listings."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from omniroute.errors import BadRequest
from omniroute.formats.wire import WIRE_FORMATS, wire_format
from omniroute.providers import ProviderFamily, family_for
from omniroute.providers.family import Action, Failure, Operation

BASE = "https://api.example.test/v1"
KEY = "sk-upstream-000001"

OPENAI = family_for("openai")
RESPONSES = family_for("openai-responses")
ANTHROPIC = family_for("anthropic")
GEMINI = family_for("gemini")
FAMILIES = [OPENAI, RESPONSES, ANTHROPIC, GEMINI]


def wire_id(value: object) -> str | None:
    """Test ids: a family by its wire format, anything else as pytest would."""
    return getattr(value, "wire", None)


BY_WIRE = pytest.mark.parametrize("family", FAMILIES, ids=wire_id)


def headers(
    family: ProviderFamily,
    api_key: str = KEY,
    *,
    stream: bool = False,
    auth_header: str | None = None,
    extra: Mapping[str, str] | None = None,
    client: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The headers of one call as a dict, after checking each name comes once."""
    sent = family.headers(
        api_key,
        stream=stream,
        auth_header=auth_header,
        extra=extra or {},
        client_headers=client or {},
    )
    names = [name for name, _ in sent]
    assert len(names) == len({n.lower() for n in names}), names
    return dict(sent)


def test_family_for_each_wire_format() -> None:
    assert [family_for(w).wire for w in WIRE_FORMATS] == list(WIRE_FORMATS)
    with pytest.raises(ValueError, match="unknown wire format"):
        family_for("cohere")


# -- URLs and operations -----------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "chat", "count"),
    [
        (OPENAI, f"{BASE}/chat/completions", None),
        (RESPONSES, f"{BASE}/responses", None),
        (ANTHROPIC, f"{BASE}/messages", f"{BASE}/messages/count_tokens"),
    ],
    ids=["openai", "openai-responses", "anthropic"],
)
@pytest.mark.parametrize("base", [BASE, BASE + "/"])
@pytest.mark.parametrize("stream", [False, True])
def test_url_per_operation(
    family: ProviderFamily, chat: str, count: str | None, base: str, stream: bool
) -> None:
    assert family.url(Operation.CHAT, base, "any-model", stream=stream) == chat
    assert family.url(Operation.COUNT_TOKENS, base, "any-model", stream=stream) == count


@pytest.mark.parametrize("base", [BASE, BASE + "/"])
def test_gemini_urls_name_the_model(base: str) -> None:
    model = f"{BASE}/models/gemini-2.5-flash"
    assert GEMINI.url(Operation.CHAT, base, "gemini-2.5-flash", stream=False) == (
        model + ":generateContent"
    )
    assert GEMINI.url(Operation.CHAT, base, "gemini-2.5-flash", stream=True) == (
        model + ":streamGenerateContent?alt=sse"
    )
    assert GEMINI.url(Operation.COUNT_TOKENS, base, "gemini-2.5-flash", stream=False) == (
        model + ":countTokens"
    )


@pytest.mark.parametrize(
    ("operation", "path"),
    [
        (Operation.COMPLETIONS, "/completions"),
        (Operation.EMBEDDINGS, "/embeddings"),
        (Operation.MODERATION, "/moderations"),
        (Operation.RERANK, "/rerank"),
        (Operation.SPEECH, "/audio/speech"),
        (Operation.TRANSCRIPTION, "/audio/transcriptions"),
        (Operation.TRANSLATION, "/audio/translations"),
        (Operation.IMAGES, "/images/generations"),
        (Operation.IMAGE_EDITS, "/images/edits"),
    ],
)
def test_openai_urls_of_the_other_endpoints(operation: Operation, path: str) -> None:
    assert OPENAI.url(operation, BASE + "/", "m", stream=False) == BASE + path


def test_gemini_embeds_in_one_batch_call() -> None:
    url = GEMINI.url(Operation.EMBEDDINGS, BASE, "gemini-embedding-001", stream=False)
    assert url == f"{BASE}/models/gemini-embedding-001:batchEmbedContents"


@pytest.mark.parametrize(
    ("model", "in_url"),
    [
        ("gemini-2.5-pro", "gemini-2.5-pro"),
        ("tunedModels/my_model~1", "tunedModels/my_model~1"),
        ("odd model?x=1#y", "odd%20model%3Fx%3D1%23y"),
        ("a:b", "a%3Ab"),
        ("modèle", "mod%C3%A8le"),
    ],
)
def test_gemini_url_quotes_the_model(model: str, in_url: str) -> None:
    url = GEMINI.url(Operation.CHAT, BASE, model, stream=False)
    assert url == f"{BASE}/models/{in_url}:generateContent"


@pytest.mark.parametrize(
    ("family", "operations"),
    [
        # An OpenAI-compatible server may serve every operation but token counting.
        (OPENAI, set(Operation) - {Operation.COUNT_TOKENS}),
        (RESPONSES, {Operation.CHAT}),
        (ANTHROPIC, {Operation.CHAT, Operation.COUNT_TOKENS}),
        (
            GEMINI,
            {Operation.CHAT, Operation.COUNT_TOKENS, Operation.EMBEDDINGS, Operation.IMAGES},
        ),
    ],
    ids=wire_id,
)
def test_operations(family: ProviderFamily, operations: set[Operation]) -> None:
    assert family.operations == operations
    for op in Operation:  # a URL exactly for what the family can do
        has_url = family.url(op, BASE, "m", stream=False) is not None
        assert has_url is (op in operations)


# -- headers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "credential"),
    [
        (OPENAI, ("authorization", f"Bearer {KEY}")),
        (RESPONSES, ("authorization", f"Bearer {KEY}")),
        (ANTHROPIC, ("x-api-key", KEY)),
        (GEMINI, ("x-goog-api-key", KEY)),
    ],
    ids=wire_id,
)
def test_default_auth_header_per_family(
    family: ProviderFamily, credential: tuple[str, str]
) -> None:
    sent = headers(family)
    name, value = credential
    assert sent[name] == value
    others = {"authorization", "x-api-key", "x-goog-api-key"} - {name}
    assert not others & set(sent)


@pytest.mark.parametrize(
    ("auth_header", "name", "value"),
    [
        ("bearer", "authorization", f"Bearer {KEY}"),
        ("x-api-key", "x-api-key", KEY),
        ("x-goog-api-key", "x-goog-api-key", KEY),
    ],
)
@BY_WIRE
def test_auth_header_style_from_the_catalog(
    family: ProviderFamily, auth_header: str, name: str, value: str
) -> None:
    sent = headers(family, auth_header=auth_header)
    assert sent[name] == value
    assert not ({"authorization", "x-api-key", "x-goog-api-key"} - {name}) & set(sent)


@BY_WIRE
@pytest.mark.parametrize("stream", [False, True])
def test_content_type_and_accept(family: ProviderFamily, stream: bool) -> None:
    sent = headers(family, stream=stream)
    assert sent["content-type"] == "application/json"
    assert sent["accept"] == ("text/event-stream" if stream else "application/json")


@BY_WIRE
def test_no_credential_without_a_key(family: ProviderFamily) -> None:
    sent = headers(family, "", client={"authorization": "Bearer client", "x-api-key": "client"})
    assert not {"authorization", "x-api-key", "x-goog-api-key"} & set(sent)


CLIENT_HEADERS = {
    "authorization": "Bearer omr-client-key",
    "x-api-key": "omr-client-key",
    "x-goog-api-key": "omr-client-key",
    "anthropic-version": "2025-05-05",
    "anthropic-beta": "tools-2025",
    "user-agent": "client-sdk/1.0",
    "x-custom": "from-client",
}


@BY_WIRE
def test_client_credentials_are_never_forwarded(family: ProviderFamily) -> None:
    sent = headers(family, client=CLIENT_HEADERS)
    assert "omr-client-key" not in " ".join(sent.values())
    assert "user-agent" not in sent and "x-custom" not in sent


def test_precedence_defaults_provider_client_credential() -> None:
    extra = {
        "Accept": "application/x-ndjson",  # the provider's own beats our default
        "anthropic-version": "2024-01-01",  # ...and the family's default
        "X-Team": "blue",
        "X-API-Key": "sk-provider-header",  # the credential beats the provider
    }
    sent = headers(ANTHROPIC, extra=extra, client=CLIENT_HEADERS)
    assert sent == {
        "content-type": "application/json",
        "accept": "application/x-ndjson",
        "anthropic-version": "2025-05-05",  # the client's own version beats the provider's
        "anthropic-beta": "tools-2025",
        "x-team": "blue",
        "x-api-key": KEY,
    }


def test_anthropic_version_default_and_override() -> None:
    assert headers(ANTHROPIC)["anthropic-version"] == "2023-06-01"
    assert headers(ANTHROPIC, client={"anthropic-version": ""})["anthropic-version"] == (
        "2023-06-01"
    )
    extra = {"anthropic-version": "2024-01-01"}
    assert headers(ANTHROPIC, extra=extra)["anthropic-version"] == "2024-01-01"
    assert "anthropic-beta" not in headers(ANTHROPIC)


@pytest.mark.parametrize("family", [OPENAI, RESPONSES, GEMINI], ids=wire_id)
def test_only_anthropic_forwards_anthropic_headers(family: ProviderFamily) -> None:
    sent = headers(family, client=CLIENT_HEADERS)
    assert "anthropic-version" not in sent and "anthropic-beta" not in sent


def test_provider_header_names_are_sent_lower_case_once() -> None:
    sent = headers(OPENAI, extra={"X-Title": "OmniRoute", "x-title": "Mine"})
    assert sent["x-title"] == "Mine"


# -- classify ----------------------------------------------------------------------

NEXT_ACCOUNT, NEXT_TARGET, STOP = Action.NEXT_ACCOUNT, Action.NEXT_TARGET, Action.STOP

RATE, MODEL = "rate_limit", "model"  # a model's rate limit rests that model only

CLASSIFY = [
    (
        429,
        "rate_limit",
        Failure(NEXT_ACCOUNT, cool_account=RATE, cool_scope=MODEL, upstream_alive=True),
    ),
    (
        429,
        "api_error",
        Failure(NEXT_ACCOUNT, cool_account=RATE, cool_scope=MODEL, upstream_alive=True),
    ),
    (None, "rate_limit", Failure(NEXT_ACCOUNT, cool_account=RATE, cool_scope=MODEL)),
    (503, "rate_limit", Failure(NEXT_ACCOUNT, cool_account=RATE, cool_scope=MODEL)),
    (401, "authentication", Failure(NEXT_ACCOUNT, cool_account="auth (401)", upstream_alive=True)),
    (402, "billing", Failure(NEXT_ACCOUNT, cool_account="auth (402)", upstream_alive=True)),
    (403, "permission", Failure(NEXT_ACCOUNT, cool_account="auth (403)", upstream_alive=True)),
    (404, "not_found", Failure(NEXT_TARGET, upstream_alive=True)),
    (400, "invalid_request", Failure(STOP, upstream_alive=True)),
    (422, "invalid_request", Failure(STOP, upstream_alive=True)),
    (408, "timeout", Failure(NEXT_ACCOUNT, breaker_failure=True, upstream_alive=True)),
    (409, "conflict", Failure(NEXT_ACCOUNT, breaker_failure=True, upstream_alive=True)),
    (500, "api_error", Failure(NEXT_ACCOUNT, breaker_failure=True)),
    (503, "overloaded", Failure(NEXT_ACCOUNT, breaker_failure=True)),
    (None, "timeout", Failure(NEXT_ACCOUNT, breaker_failure=True)),
    (None, "connect", Failure(NEXT_ACCOUNT, breaker_failure=True)),
]


@BY_WIRE
@pytest.mark.parametrize(("status", "kind", "expected"), CLASSIFY)
def test_classify(family: ProviderFamily, status: int | None, kind: str, expected: Failure) -> None:
    assert family.classify(status, kind) == expected


# -- bodies ------------------------------------------------------------------------

CLIENT_BODY: dict[str, Any] = {
    "model": "client-model",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "Hi"}],
}


@pytest.mark.parametrize("family", [OPENAI, RESPONSES, ANTHROPIC], ids=wire_id)
def test_passthrough_body_sets_the_model(family: ProviderFamily) -> None:
    body = dict(CLIENT_BODY)
    out = family.passthrough_body(body, "upstream-model")
    assert out == {**CLIENT_BODY, "model": "upstream-model"}
    assert body == CLIENT_BODY  # the client's body is not changed


def test_gemini_passthrough_body_is_left_alone() -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
    assert GEMINI.passthrough_body(body, "gemini-2.5-flash") == {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}]
    }


RENDERED_ANTHROPIC: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 1024,
    "stream": True,
    "temperature": 0.2,
    "system": [{"type": "text", "text": "Be brief."}],
    "messages": [{"role": "user", "content": "Hi"}],
    "tools": [{"name": "t", "input_schema": {"type": "object"}}],
    "thinking": {"type": "enabled", "budget_tokens": 1024},
}


def test_anthropic_count_body_keeps_what_count_tokens_accepts() -> None:
    assert ANTHROPIC.count_body(RENDERED_ANTHROPIC) == {
        "model": "claude-sonnet-4-5",
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [{"name": "t", "input_schema": {"type": "object"}}],
    }
    assert ANTHROPIC.count_body({"model": "m", "messages": []}) == {"model": "m", "messages": []}


def test_gemini_count_body_is_the_contents() -> None:
    rendered = {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "generationConfig": {"maxOutputTokens": 10},
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
    }
    assert GEMINI.count_body(rendered) == {"contents": rendered["contents"]}
    assert GEMINI.count_body({}) == {"contents": []}


@pytest.mark.parametrize("family", [OPENAI, RESPONSES], ids=wire_id)
def test_other_families_count_the_rendered_body(family: ProviderFamily) -> None:
    assert family.count_body(RENDERED_ANTHROPIC) == RENDERED_ANTHROPIC


@BY_WIRE
def test_probe_body_is_a_valid_tiny_request(family: ProviderFamily) -> None:
    body = family.probe_body("probe-model")
    req = wire_format(family.wire).parse_request(body)
    assert [m.role for m in req.messages] == ["user"]
    if family is GEMINI:
        assert "model" not in body  # the URL names it
        assert body["generationConfig"] == {"maxOutputTokens": 1}
    else:
        assert body["model"] == "probe-model"
    if family is RESPONSES:
        assert body["max_output_tokens"] == 16  # the API's minimum
    elif family is not GEMINI:
        assert body["max_tokens"] == 1


# -- model listings ----------------------------------------------------------------


def listing(obj: Any) -> bytes:
    return json.dumps(obj).encode()


@BY_WIRE
def test_models_url(family: ProviderFamily) -> None:
    assert family.models_url(BASE + "/") == f"{BASE}/models"


def test_first_models_query() -> None:
    assert OPENAI.first_models_query() == {}
    assert ANTHROPIC.first_models_query() == {"limit": "1000"}
    assert GEMINI.first_models_query() == {"pageSize": "1000"}


@pytest.mark.parametrize("family", [OPENAI, RESPONSES], ids=wire_id)
def test_parse_models_openai_shape(family: ProviderFamily) -> None:
    body = {
        "object": "list",
        "data": [
            {"id": "gpt-5", "object": "model"},
            {"id": 7},
            "loose",
            {"name": "no-id"},
            {"id": "gpt-5-mini"},
        ],
    }
    page = family.parse_models(listing(body))
    assert page.ids == ("gpt-5", "gpt-5-mini")
    assert page.next_query == {}
    assert family.parse_models(listing({"data": None})).ids == ()


def test_parse_models_anthropic_pages_by_after_id() -> None:
    first = {
        "data": [{"id": "claude-opus-4-6", "type": "model"}, {"id": "claude-sonnet-4-5"}],
        "has_more": True,
        "first_id": "claude-opus-4-6",
        "last_id": "claude-sonnet-4-5",
    }
    page = ANTHROPIC.parse_models(listing(first))
    assert page.ids == ("claude-opus-4-6", "claude-sonnet-4-5")
    assert page.next_query == {"limit": "1000", "after_id": "claude-sonnet-4-5"}
    last = {"data": [{"id": "claude-haiku-4-5"}], "has_more": False, "last_id": "claude-haiku-4-5"}
    assert ANTHROPIC.parse_models(listing(last)).next_query == {}
    odd = {"data": [], "has_more": True, "last_id": None}  # nothing to page from
    assert ANTHROPIC.parse_models(listing(odd)).next_query == {}


def test_parse_models_gemini_filters_and_pages() -> None:
    body = {
        "models": [
            {
                "name": "models/gemini-2.5-flash",
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            },
            {"name": "models/text-embedding-004", "supportedGenerationMethods": ["embedContent"]},
            {"name": "models/unlisted-methods"},
            {"displayName": "no name"},
        ],
        "nextPageToken": "tok-2",
    }
    page = GEMINI.parse_models(listing(body))
    assert page.ids == ("gemini-2.5-flash", "unlisted-methods")
    assert page.next_query == {"pageSize": "1000", "pageToken": "tok-2"}
    assert GEMINI.parse_models(listing({"models": []})).next_query == {}


@BY_WIRE
@pytest.mark.parametrize("body", [b"<html>502</html>", b"", b"[1, 2]", b'"text"'])
def test_parse_models_refuses_what_is_not_a_json_object(
    family: ProviderFamily, body: bytes
) -> None:
    with pytest.raises(BadRequest, match="model listing"):
        family.parse_models(body)


def test_the_subscription_beta_never_goes_with_an_api_key() -> None:
    """Claude Code asks for the OAuth beta on every request; one that falls
    back to an API-key account goes without it, its other betas kept."""
    client = {"anthropic-beta": "claude-code-20250219,oauth-2025-04-20,effort-2025-11-24"}
    assert headers(ANTHROPIC, client=client)["anthropic-beta"] == (
        "claude-code-20250219,effort-2025-11-24"
    )
    assert "anthropic-beta" not in headers(ANTHROPIC, client={"anthropic-beta": "oauth-2025-04-20"})
    # A bearer (a subscription's own token) keeps it.
    bearer = headers(ANTHROPIC, auth_header="bearer", client=client)
    assert bearer["anthropic-beta"] == client["anthropic-beta"]
