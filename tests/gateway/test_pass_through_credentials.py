"""Which credential a pass-through account's attempt carries, and what of
the client's request goes with it."""

from __future__ import annotations

import pytest

from omniroute.gateway.credentials import Credentials, client_credential, rest_owner
from omniroute.gateway.secrets import Scrubber
from omniroute.providers.accounts import PASS_THROUGH_STAND_IN
from omniroute.store.records import AccountRecord

pytestmark = pytest.mark.anyio

TOKEN = "sk-ant-oat01-client-own-token-0123456789"
GATEWAY_KEY = "sk-omni-gateway-key-abcdef"


def _account(kind: str | None, key: str = "sk-stored-key-000111") -> AccountRecord:
    extra = {} if kind is None else {"kind": kind}
    return AccountRecord(1, 1, None, key, 0, True, extra, 0.0)


PASS = _account("pass-through", PASS_THROUGH_STAND_IN)
KEYED = _account(None)


def _claude_code(token: str = TOKEN) -> dict[str, str]:
    return {
        "host": "127.0.0.1:20128",
        "authorization": f"Bearer {token}",
        "x-omniroute-key": GATEWAY_KEY,
        "anthropic-beta": "oauth-2025-04-20",
        "x-app": "cli",
        "user-agent": "claude-cli/2.1.0 (external, cli)",
        "content-type": "application/json",
        "cookie": "a=b",
        "x-forwarded-for": "10.0.0.7",
        "x-omniroute-pin-account": "1",
        "idempotency-key": "k1",
    }


def test_a_client_credential_needs_the_gateway_key_in_its_own_header() -> None:
    without = {k: v for k, v in _claude_code().items() if k != "x-omniroute-key"}
    assert client_credential(without) is None
    passed = client_credential(_claude_code())
    assert passed is not None
    assert (passed.secret, passed.scheme) == (TOKEN, "bearer")
    # Claude Code's own headers go along; credentials, the gateway's own
    # headers and the client's network do not.
    assert dict(passed.headers) == {
        "anthropic-beta": "oauth-2025-04-20",
        "x-app": "cli",
        "user-agent": "claude-cli/2.1.0 (external, cli)",
    }
    assert TOKEN not in repr(passed)


@pytest.mark.parametrize("header", ["x-api-key", "x-goog-api-key"])
def test_keys_in_their_own_headers_pass_too(header: str) -> None:
    passed = client_credential({"x-omniroute-key": GATEWAY_KEY, header: " key-0123456789 "})
    assert passed is not None and (passed.secret, passed.scheme) == ("key-0123456789", header)


def test_each_credential_rests_apart_under_a_digest() -> None:
    one, two = client_credential(_claude_code()), client_credential(_claude_code(TOKEN + "x"))
    assert one is not None and two is not None
    assert one.rest_key and two.rest_key and one.rest_key != two.rest_key
    assert TOKEN not in one.rest_key and one.rest_key not in TOKEN
    assert rest_owner(PASS, one) == one.rest_key
    assert rest_owner(KEYED, one) is None  # a key account's rests are its own


async def test_a_pass_through_account_serves_only_requests_that_bring_a_credential() -> None:
    credentials = Credentials()
    passed = client_credential(_claude_code())
    assert "no credential of its own" in (credentials.unavailable(PASS, None) or "")
    assert credentials.unavailable(PASS, passed) is None
    assert await credentials.resolve(PASS, passed) is passed
    # A key account keeps its key even when the client brought one.
    keyed = await credentials.resolve(KEYED, passed)
    assert keyed.secret == KEYED.api_key and keyed.headers == {}


async def test_a_translated_call_sends_the_credential_the_providers_way() -> None:
    passed = client_credential({"x-omniroute-key": GATEWAY_KEY, "x-api-key": "gemini-key-0123"})
    assert passed is not None
    sent = await Credentials().resolve(PASS, passed, same_format=False)
    assert (sent.secret, sent.scheme, sent.rest_key) == ("gemini-key-0123", None, passed.rest_key)


def test_the_stand_in_key_masks_nothing() -> None:
    """The stand-in is too short to be cut out of text as a secret."""
    assert Scrubber((PASS_THROUGH_STAND_IN,)).text("client error") == "client error"
    grown = Scrubber((PASS_THROUGH_STAND_IN,)).adding(TOKEN)
    assert grown.text(f"bad token {TOKEN}") == "bad token ***"


def test_the_gateway_key_sent_twice_is_no_credential_of_its_own() -> None:
    """Set as both ANTHROPIC_AUTH_TOKEN and X-OmniRoute-Key, the gateway's
    key would otherwise be forwarded upstream."""
    twice = {"x-omniroute-key": GATEWAY_KEY, "authorization": f"Bearer {GATEWAY_KEY}"}
    assert client_credential(twice) is None
    assert client_credential({"x-omniroute-key": GATEWAY_KEY, "x-api-key": GATEWAY_KEY}) is None
