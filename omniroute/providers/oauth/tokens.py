"""Fresh access tokens for signed-in accounts.

Rules, each learnt from how rotating refresh tokens fail in practice:

* One refresh per grant at a time (``SingleFlight``): fifty requests that
  find the token expired share one refresh. A second refresh with the same
  refresh token would be refused as reused and end the sign-in.
* The new tokens are committed to the database before the new access token
  is handed to anyone, so a crash right after cannot lose the only valid
  refresh token.
* Refreshed ahead of time by a background sweep (tokens within ``LEAD`` of
  expiry, every minute or so with jitter so several gateways do not pulse
  together) and on demand when a request finds less than ``MARGIN`` left.
* Refusals soft-fail: a reused refresh token is never sent again (the grant
  needs a new sign-in at once); other refusals mark the grant expired, back
  off, and after ``MAX_FAILURES`` in a row it needs a new sign-in. Network
  trouble and 5xx back off without blaming the grant; 429 honours
  Retry-After. Nothing here raises past the request that asked.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from omniroute import errors
from omniroute.providers.oauth.errors import TokenError
from omniroute.routing.singleflight import SingleFlight
from omniroute.store import Store
from omniroute.store import sign_ins as grants
from omniroute.store.sign_ins import Grant, Tokens

log = logging.getLogger("omniroute.oauth")

LEAD = 300.0  # the sweep refreshes tokens with less than this left
MARGIN = 60.0  # a request refreshes first when less than this is left
SWEEP_EVERY = 60.0
SWEEP_JITTER = 15.0
MAX_FAILURES = 3  # refusals in a row before a grant needs a new sign-in
BACKOFF_FIRST = 30.0
BACKOFF_MAX = 900.0
REUSED = "refresh_token_reused"


class Refresher(Protocol):
    async def refresh(self, grant: Grant, proxy: str | None = None) -> Tokens: ...


@dataclass(frozen=True, slots=True)
class _Pause:
    until: float
    why: str


class TokenManager:
    def __init__(
        self,
        store: Store,
        methods: Mapping[str, Refresher],
        *,
        proxy_for: Callable[[int], str | None] = lambda account_id: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._methods = methods
        self._proxy_for = proxy_for
        self._clock = clock
        self._grants: dict[int, Grant] = {}
        self._paused: dict[int, _Pause] = {}
        self._flights: SingleFlight[int, str] = SingleFlight()
        self._refreshed_at: dict[int, float] = {}
        self.refreshes = 0  # refreshes sent, for health and tests

    async def load(self) -> None:
        """Read every grant (at start, and when the configuration changed:
        a sign-in from the CLI lands in the database, not here)."""
        loaded = await self._store.read_sealed(grants.read_grants)
        self._grants = {g.account_id: g for g in loaded}
        for account_id in list(self._paused):
            grant = self._grants.get(account_id)
            if grant is None or grant.status == grants.OK:
                self._paused.pop(account_id, None)

    def grant(self, account_id: int) -> Grant | None:
        return self._grants.get(account_id)

    def grants(self) -> list[Grant]:
        return list(self._grants.values())

    def unavailable(self, account_id: int) -> str | None:
        grant = self._grants.get(account_id)
        if grant is None:
            return "signed-in account: not signed in (omniroute login)"
        if grant.status == grants.NEEDS_LOGIN:
            return f"signed-in account: needs a new sign-in (omniroute login {grant.provider})"
        now = self._clock()
        pause = self._paused.get(account_id)
        if pause is not None and now < pause.until and grant.tokens.expires_at - now <= 0:
            return f"signed-in account: token refresh failed ({pause.why}); retrying later"
        return None

    async def access_token(self, account_id: int) -> str:
        grant = self._grants.get(account_id)
        if grant is None:
            raise _refused("the account is not signed in")
        if grant.tokens.expires_at - self._clock() > MARGIN and grant.tokens.access_token:
            return grant.tokens.access_token
        return await self._flights.do(account_id, lambda: self._refresh(account_id, force=False))

    def stale(self, account_id: int) -> bool:
        """The upstream refused the access token before its time (revoked,
        rotated elsewhere): refresh it on next use. False when it was
        refreshed a moment ago, so a refusal that a refresh does not cure
        rests the account instead of hammering the token endpoint."""
        grant = self._grants.get(account_id)
        now = self._clock()
        if grant is None or now - self._refreshed_at.get(account_id, 0.0) < MARGIN:
            return False
        self._grants[account_id] = replace(grant, tokens=replace(grant.tokens, expires_at=0.0))
        return True

    async def refresh_now(self, account_id: int) -> str:
        """A refresh whatever the expiry (the sweep, a user asking)."""
        return await self._flights.do(account_id, lambda: self._refresh(account_id, force=True))

    async def _refresh(self, account_id: int, *, force: bool) -> str:
        grant = self._grants.get(account_id)
        if grant is None:
            raise _refused("the account is not signed in")
        now = self._clock()
        if not force and grant.tokens.expires_at - now > MARGIN and grant.tokens.access_token:
            # Another caller refreshed it a moment ago.
            return grant.tokens.access_token
        pause = self._paused.get(account_id)
        if grant.status == grants.NEEDS_LOGIN or (pause is not None and now < pause.until):
            if grant.tokens.expires_at - now > 0 and grant.tokens.access_token:
                return grant.tokens.access_token  # still good for a little while
            raise _refused(self.unavailable(account_id) or "the token cannot be refreshed now")
        method = self._methods.get(grant.provider)
        if method is None:
            raise _refused(f"no sign-in method {grant.provider!r}")
        self.refreshes += 1
        try:
            tokens = await method.refresh(grant, self._proxy_for(account_id))
        except TokenError as exc:
            await self._failed(grant, exc)
            if grant.tokens.expires_at - self._clock() > 0 and grant.tokens.access_token:
                return grant.tokens.access_token
            raise _refused(f"the token could not be refreshed: {exc.message}") from None
        # Committed before use: the old refresh token is dead from now on.
        await self._store.write_sealed(
            lambda conn, sealer: grants.store_refreshed(conn, sealer, account_id, tokens)
        )
        fresh = await self._store.read_sealed(
            lambda conn, sealer: grants.read_grant(conn, sealer, account_id)
        )
        if fresh is not None:
            self._grants[account_id] = fresh
        self._paused.pop(account_id, None)
        self._refreshed_at[account_id] = self._clock()
        log.info("account %d: access token refreshed", account_id)
        return tokens.access_token

    async def _failed(self, grant: Grant, exc: TokenError) -> None:
        account_id = grant.account_id
        now = self._clock()
        transient = not exc.terminal and exc.code != "invalid_client"
        failures = grant.failures if transient else grant.failures + 1
        if exc.code == REUSED or exc.code == "no_refresh_token" or failures >= MAX_FAILURES:
            status = grants.NEEDS_LOGIN
        elif transient:
            status = grant.status
        else:
            status = grants.EXPIRED
        previous = self._paused.get(account_id)
        wait = exc.retry_after
        if wait is None:
            last = previous.until - now if previous is not None else 0.0
            wait = min(BACKOFF_MAX, max(BACKOFF_FIRST, last * 2))
        self._paused[account_id] = _Pause(now + wait, exc.code or "unreachable")
        log.warning(
            "account %d: token refresh failed (%s); %s",
            account_id,
            exc.code or exc.message,
            "needs a new sign-in" if status == grants.NEEDS_LOGIN else f"retrying in {wait:.0f} s",
        )
        self._grants[account_id] = replace(
            grant, status=status, failures=failures, last_error=exc.code or exc.message
        )
        try:
            await self._store.write(
                lambda conn: grants.mark(conn, account_id, status, failures, exc.code or "error")
            )
        except errors.OmniError:
            log.exception("account %d: the refresh failure could not be recorded", account_id)

    async def sweep_once(self) -> int:
        """Refresh what expires within ``LEAD``; the number refreshed."""
        now = self._clock()
        done = 0
        for grant in list(self._grants.values()):
            if grant.status == grants.NEEDS_LOGIN or not grant.tokens.refresh_token:
                continue
            pause = self._paused.get(grant.account_id)
            if pause is not None and now < pause.until:
                continue
            if grant.tokens.expires_at - now > LEAD:
                continue
            try:
                await self.refresh_now(grant.account_id)
                done += 1
            except errors.OmniError:
                continue  # recorded by _failed; the next sweep tries again
        return done

    async def run(self) -> None:
        """The background sweep; stops when cancelled."""
        while True:
            await asyncio.sleep(SWEEP_EVERY + random.uniform(0, SWEEP_JITTER))  # noqa: S311
            try:
                await self.sweep_once()
            except Exception:  # the sweep must outlive any one bad grant
                log.exception("token sweep failed")


def _refused(message: str) -> errors.UpstreamStatusError:
    # Shaped like an upstream's 401 so that the pipeline rests the account
    # and moves on, as it would if the upstream had refused the token.
    return errors.UpstreamStatusError(
        f"signed-in account: {message}", upstream_status=401, kind="authentication"
    )
