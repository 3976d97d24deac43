"""Client-key authentication of a request, in whichever header its SDK uses."""

from __future__ import annotations

import pytest

from omniroute.config.options import Options
from omniroute.errors import Unauthorized
from omniroute.gateway.auth import authenticate
from omniroute.http.message import Request
from omniroute.store import ClientKeyRecord, ConfigSnapshot, hash_client_key

GOOD_KEY = "omr-good-key-0123456789"
REVOKED_KEY = "omr-revoked-key-0123456789"
LOOPBACK = ("127.0.0.1", 50000)
REMOTE = ("203.0.113.9", 50000)


def key_record(key_id: int, key: str, *, revoked: bool = False) -> ClientKeyRecord:
    return ClientKeyRecord(
        id=key_id,
        name=f"key {key_id}",
        key_hash=hash_client_key(key),
        prefix=key[:8],
        created_at=0.0,
        revoked=revoked,
        last_used_at=None,
    )


SNAPSHOT = ConfigSnapshot(
    revision=1,
    providers=(),
    accounts=(),
    client_keys=(key_record(1, GOOD_KEY), key_record(2, REVOKED_KEY, revoked=True)),
    settings={},
)


def request(
    headers: list[tuple[str, str]] | None = None,
    *,
    query: str = "",
    client: tuple[str, int] | None = REMOTE,
) -> Request:
    target = "/v1/chat/completions" + (f"?{query}" if query else "")
    return Request("POST", target, headers or [], client=client)


def auth(req: Request, *, require_on_loopback: bool = True) -> ClientKeyRecord | None:
    return authenticate(req, SNAPSHOT, require_on_loopback=require_on_loopback, options=Options())


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ([("Authorization", f"Bearer {GOOD_KEY}")], ""),
        ([("authorization", f"bearer   {GOOD_KEY} ")], ""),
        ([("x-api-key", GOOD_KEY)], ""),
        ([("X-Goog-Api-Key", GOOD_KEY)], ""),
        ([], f"key={GOOD_KEY}"),
        ([], f"alt=sse&key={GOOD_KEY}"),
        # another scheme is not a client key: the next place is looked at
        ([("Authorization", "Basic dXNlcjpwYXNz"), ("x-api-key", GOOD_KEY)], ""),
        ([("Authorization", "Bearer "), ("x-api-key", GOOD_KEY)], ""),
    ],
)
def test_key_is_found_where_each_sdk_sends_it(headers: list[tuple[str, str]], query: str) -> None:
    record = auth(request(headers, query=query))
    assert record is not None and record.id == 1


def test_bearer_wins_over_other_places() -> None:
    req = request(
        [("authorization", f"Bearer {GOOD_KEY}"), ("x-api-key", "omr-unknown")],
        query="key=omr-unknown-too",
    )
    record = auth(req)
    assert record is not None and record.id == 1


@pytest.mark.parametrize("client", [REMOTE, LOOPBACK, ("::1", 1), None])
def test_missing_key_is_unauthorized(client: tuple[str, int] | None) -> None:
    with pytest.raises(Unauthorized, match="Missing API key"):
        auth(request(client=client))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.5.6.7", "::1"])
def test_missing_key_allowed_on_loopback_when_not_required(host: str) -> None:
    assert auth(request(client=(host, 4000)), require_on_loopback=False) is None


@pytest.mark.parametrize("client", [REMOTE, ("::ffff:203.0.113.9", 1), ("not-an-ip", 1), None])
def test_missing_key_refused_elsewhere_even_when_not_required(
    client: tuple[str, int] | None,
) -> None:
    with pytest.raises(Unauthorized):
        auth(request(client=client), require_on_loopback=False)


@pytest.mark.parametrize("client", [REMOTE, LOOPBACK])
def test_revoked_key_refused(client: tuple[str, int]) -> None:
    req = request([("authorization", f"Bearer {REVOKED_KEY}")], client=client)
    with pytest.raises(Unauthorized, match="Invalid API key"):
        auth(req, require_on_loopback=False)


@pytest.mark.parametrize(
    "key", ["omr-unknown", GOOD_KEY.upper(), GOOD_KEY[:-1], GOOD_KEY + "x", "hash:" + GOOD_KEY]
)
def test_unknown_key_refused(key: str) -> None:
    with pytest.raises(Unauthorized, match="Invalid API key"):
        auth(request([("x-api-key", key)]))


def test_key_hash_itself_is_not_a_key() -> None:
    with pytest.raises(Unauthorized):
        auth(request([("authorization", f"Bearer {hash_client_key(GOOD_KEY)}")]))


def test_a_wrong_key_on_loopback_is_refused_even_when_keys_are_optional() -> None:
    req = request([("x-api-key", "omr-unknown")], client=LOOPBACK)
    with pytest.raises(Unauthorized, match="Invalid API key"):
        auth(req, require_on_loopback=False)
