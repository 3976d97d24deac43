"""The token rules with a real store and an issuer stand-in that counts:
one refresh per grant at a time, committed before use, soft-failing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from omniroute.errors import UpstreamStatusError
from omniroute.providers.oauth.errors import TokenError
from omniroute.providers.oauth.tokens import LEAD, MAX_FAILURES, TokenManager
from omniroute.settings import Settings
from omniroute.store import Store
from omniroute.store import sign_ins as grants
from omniroute.store.sign_ins import Grant, ProviderShape, Tokens

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Issuer:
    """Answers refreshes: rotates, or fails as told."""

    def __init__(self, clock: Clock, store: Store) -> None:
        self.clock = clock
        self.store = store
        self.calls = 0
        self.fail: list[TokenError] = []
        self.seen_in_store: list[str | None] = []
        self.gate: asyncio.Event | None = None

    async def refresh(self, grant: Grant, proxy: str | None = None) -> Tokens:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise self.fail.pop(0)
        n = self.calls
        return Tokens(f"access-{n}", self.clock.now + 3600, refresh_token=f"refresh-{n}")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(Settings.load({"data_dir": tmp_path / "d"}, env={}))
    await s.open()
    yield s
    await s.close()


async def _signed_in(store: Store, expires_at: float) -> int:
    tokens = Tokens("access-0", expires_at, refresh_token="refresh-0", scopes="openid")
    signed = await store.write_sealed(
        lambda conn, sealer: grants.save_sign_in(
            conn,
            sealer,
            provider=ProviderShape("chatgpt", "openai-responses", "https://x.test/v1"),
            kind="chatgpt",
            subject="u1",
            client_id="app",
            email="a@b.c",
            tokens=tokens,
            label=None,
        )
    )
    return signed.account_id


async def _manager(store: Store, clock: Clock) -> tuple[TokenManager, Issuer]:
    issuer = Issuer(clock, store)
    manager = TokenManager(store, {"chatgpt": issuer}, clock=clock)
    await manager.load()
    return manager, issuer


async def _stored(store: Store, account_id: int) -> Grant:
    found = await store.read_sealed(lambda c, s: grants.read_grant(c, s, account_id))
    assert found is not None
    return found


async def test_a_valid_token_is_used_as_it_is(store: Store) -> None:
    clock = Clock()
    account = await _signed_in(store, clock.now + 3600)
    manager, issuer = await _manager(store, clock)
    assert await manager.access_token(account) == "access-0"
    assert issuer.calls == 0


async def test_fifty_callers_share_one_refresh_committed_before_use(store: Store) -> None:
    clock = Clock()
    account = await _signed_in(store, clock.now + 10)  # under the one-minute margin
    manager, issuer = await _manager(store, clock)
    issuer.gate = asyncio.Event()
    waiting = [asyncio.create_task(manager.access_token(account)) for _ in range(50)]
    await asyncio.sleep(0.05)
    issuer.gate.set()
    tokens = await asyncio.gather(*waiting)
    assert tokens == ["access-1"] * 50 and issuer.calls == 1
    stored = await _stored(store, account)
    assert stored.tokens.refresh_token == "refresh-1" and stored.tokens.access_token == "access-1"


async def test_a_reused_refresh_token_is_never_sent_again(store: Store) -> None:
    clock = Clock()
    account = await _signed_in(store, clock.now - 1)
    manager, issuer = await _manager(store, clock)
    issuer.fail = [TokenError("reused", code="refresh_token_reused", terminal=True)]
    with pytest.raises(UpstreamStatusError):
        await manager.access_token(account)
    assert "new sign-in" in (manager.unavailable(account) or "")
    clock.now += 10_000
    with pytest.raises(UpstreamStatusError):
        await manager.access_token(account)
    assert issuer.calls == 1  # not tried again, however long we wait
    assert (await _stored(store, account)).status == grants.NEEDS_LOGIN
    assert await manager.sweep_once() == 0 and issuer.calls == 1


async def test_refusals_back_off_then_need_a_sign_in(store: Store) -> None:
    clock = Clock()
    account = await _signed_in(store, clock.now - 1)
    manager, issuer = await _manager(store, clock)
    issuer.fail = [TokenError("x", code="invalid_grant", terminal=True)] * MAX_FAILURES
    for attempt in range(MAX_FAILURES):
        with pytest.raises(UpstreamStatusError):
            await manager.access_token(account)
        assert issuer.calls == attempt + 1
        if attempt < MAX_FAILURES - 1:
            assert (await _stored(store, account)).status == grants.EXPIRED
            # Backing off: asking again at once does not call the issuer.
            with pytest.raises(UpstreamStatusError):
                await manager.access_token(account)
            assert issuer.calls == attempt + 1
            clock.now += 1000
    assert (await _stored(store, account)).status == grants.NEEDS_LOGIN
    assert (await _stored(store, account)).tokens.refresh_token == "refresh-0"  # kept


async def test_network_trouble_keeps_the_grant_and_honours_retry_after(store: Store) -> None:
    clock = Clock()
    account = await _signed_in(store, clock.now + 30)  # still usable for half a minute
    manager, issuer = await _manager(store, clock)
    issuer.fail = [TokenError("busy", code="rate_limited", retry_after=120)]
    # The refresh fails, but the current token still works for now.
    assert await manager.access_token(account) == "access-0"
    assert (await _stored(store, account)).status == grants.OK
    clock.now += 60  # past expiry, inside Retry-After: no call, the account waits
    assert manager.unavailable(account) is not None
    with pytest.raises(UpstreamStatusError):
        await manager.access_token(account)
    assert issuer.calls == 1
    clock.now += 61
    assert await manager.access_token(account) == "access-2" and issuer.calls == 2


async def test_the_sweep_refreshes_only_what_expires_soon(store: Store) -> None:
    clock = Clock()
    soon = await _signed_in(store, clock.now + LEAD - 10)
    manager, issuer = await _manager(store, clock)
    assert await manager.sweep_once() == 1 and issuer.calls == 1
    assert (await _stored(store, soon)).tokens.refresh_token == "refresh-1"
    assert await manager.sweep_once() == 0 and issuer.calls == 1  # an hour left now


async def test_signing_in_again_updates_the_same_account(store: Store) -> None:
    first = await _signed_in(store, 5.0)
    second = await _signed_in(store, 6.0)
    assert first == second
    snap = await store.snapshot()
    assert len(snap.accounts) == 1
