"""Call (one client request) and Attempt (one try at one account)."""

from __future__ import annotations

from typing import Any

import pytest

from omniroute.formats import ir
from omniroute.gateway.call import Attempt, AttemptEnd, Call, Outcome, header_text
from omniroute.gateway.registry import Registry
from omniroute.providers.catalog import Catalog
from omniroute.routing.model import Target
from omniroute.store import AccountRecord, ConfigSnapshot, ProviderRecord

OPENAI_BODY: dict[str, Any] = {
    "model": "gpt-5",
    "messages": [{"role": "user", "content": "Hello"}],
}


def make_call(
    headers: dict[str, str] | None = None,
    *,
    dialect: str = "openai",
    body: dict[str, Any] | None = None,
    stream: bool = False,
) -> Call:
    return Call(
        request_id="req-1",
        client_key_id=None,
        dialect=dialect,
        body=dict(OPENAI_BODY) if body is None else body,
        model="gpt-5",
        stream=stream,
        client_headers=headers or {},
    )


def make_attempt(
    target: Target, listener: Any = None, *, number: int = 1
) -> tuple[Attempt, AccountRecord]:
    provider = ProviderRecord(
        id=1,
        name="acme",
        format="openai",
        base_url="https://acme.test/v1",
        models=("m1",),
        enabled=True,
        extra={},
        created_at=0.0,
    )
    account = AccountRecord(
        id=42,
        provider_id=1,
        label=None,
        api_key="sk-acme-000001",
        priority=0,
        enabled=True,
        extra={},
        created_at=0.0,
    )
    snapshot = ConfigSnapshot(
        revision=1, providers=(provider,), accounts=(account,), client_keys=(), settings={}
    )
    info = Registry.build(snapshot, Catalog.load()).provider("acme")
    return Attempt(target, info, account, number, listener=listener), account


# -- client headers ----------------------------------------------------------------


def test_call_reads_its_headers() -> None:
    call = make_call(
        {
            "idempotency-key": "idem-7",
            "x-session-id": "sess-3",
            "x-omniroute-pin-account": "12",
        }
    )
    assert call.idempotency_key == "idem-7"
    assert call.session_id == "sess-3"
    assert call.pinned_account == 12


def test_call_without_those_headers() -> None:
    call = make_call({"idempotency-key": "", "x-session-id": ""})
    assert call.idempotency_key is None
    assert call.session_id is None
    assert call.pinned_account is None


@pytest.mark.parametrize("value", ["", "abc", "-3", "1.5", " 7", "7 ", "0x1f", "+4"])
def test_pinned_account_takes_digits_only(value: str) -> None:
    assert make_call({"x-omniroute-pin-account": value}).pinned_account is None


def test_pinned_account_superscript_digit_is_not_a_pin() -> None:
    assert make_call({"x-omniroute-pin-account": "²"}).pinned_account is None


# -- the request in the IR ---------------------------------------------------------


def test_ir_request_is_parsed_once_and_carries_stream() -> None:
    body = {**OPENAI_BODY, "stream": False}
    call = make_call(body=body, stream=True)
    first = call.ir_request()
    assert first.model == "gpt-5"
    assert first.stream is True  # the call's own flag, not the body's
    body["model"] = "changed"  # the IR is not parsed again
    assert call.ir_request() is first
    assert call.ir_request().model == "gpt-5"


def test_ir_request_in_the_client_dialect() -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hi"}],
    }
    req = make_call(dialect="anthropic", body=body).ir_request()
    assert [p.text for p in req.system] == ["Be brief."]
    assert req.max_tokens == 64
    assert req.stream is False


@pytest.mark.parametrize(
    ("dialect", "prefix"),
    [("openai", "chatcmpl-"), ("openai-responses", "resp_"), ("anthropic", "msg_")],
)
def test_new_answer_id_prefix_per_dialect(dialect: str, prefix: str) -> None:
    call = make_call(dialect=dialect)
    first, second = call.new_answer_id(), call.new_answer_id()
    assert first.startswith(prefix) and len(first) > len(prefix)
    assert first != second


def test_new_answer_id_for_gemini_has_no_prefix() -> None:
    ids = {make_call(dialect="gemini").new_answer_id() for _ in range(3)}
    assert len(ids) == 3 and all(ids)


# -- attempts ----------------------------------------------------------------------


def test_attempt_end_reports_only_the_first_event() -> None:
    seen: list[tuple[Attempt, AttemptEnd]] = []
    attempt, _ = make_attempt(Target("acme", "m1"), lambda a, e: seen.append((a, e)))
    first = AttemptEnd(Outcome.ANSWERED, 200, ir.Usage(3, 4))
    attempt.end(first)
    attempt.end(AttemptEnd(Outcome.FAILED, 502, error_kind="api_error"))
    assert seen == [(attempt, first)]
    assert attempt.ended is first


def test_attempt_end_without_listener_is_kept() -> None:
    attempt, _ = make_attempt(Target("acme", "m1"))
    assert attempt.ended is None
    end = AttemptEnd(Outcome.ABANDONED, 499)
    attempt.end(end)
    attempt.end(AttemptEnd(Outcome.ANSWERED, 200))
    assert attempt.ended is end


def test_attempt_headers_without_combo() -> None:
    attempt, account = make_attempt(Target("acme", "m1"), number=3)
    assert attempt.upstream_format == "openai"
    assert attempt.headers() == [
        ("x-omniroute-provider", "acme"),
        ("x-omniroute-account", str(account.id)),
        ("x-omniroute-model", "m1"),
        ("x-omniroute-attempts", "3"),
    ]


def test_attempt_headers_with_combo() -> None:
    attempt, _ = make_attempt(Target("acme", "modèle\n", combo="fast\r\nx-evil: 1", step=2))
    headers = dict(attempt.headers())
    assert headers["x-omniroute-model"] == "mod\\xe8le?"
    assert headers["x-omniroute-combo"] == "fast??x-evil: 1"
    assert headers["x-omniroute-combo-step"] == "2"
    assert list(headers)[-2:] == ["x-omniroute-combo", "x-omniroute-combo-step"]


# -- header_text -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain-name_1.0", "plain-name_1.0"),
        ("with space", "with space"),
        ("café", "caf\\xe9"),
        ("日本", "\\u65e5\\u672c"),
        ("emoji 🙂", "emoji \\U0001f642"),
        ("a\r\nb", "a??b"),
        ("nul\x00tab\tdel\x7f", "nul?tab?del?"),
        ("\x85next-line", "\\x85next-line"),
        ("", ""),
    ],
)
def test_header_text(value: str, expected: str) -> None:
    assert header_text(value) == expected


def test_header_text_is_always_visible_ascii() -> None:
    every = "".join(chr(c) for c in range(0x250)) + "\u2028\ud800\U0010ffff"
    text = header_text(every)
    assert text.isascii()
    assert all(" " <= ch <= "~" for ch in text)
