"""Quotas in the running gateway: what every attempt reveals of its account's
usage windows, the background poll of usage endpoints, the estimates from
our own counts, and the question routing asks before it picks an account.

Whose quota a window is: the account's, or on a pass-through account the one
client credential's (``Attempt.who``), the same split the cooldowns make.
Everything here is in memory; the request path only reads and appends.

The poll runs every ``POLL_INTERVAL`` seconds (jittered, so accounts do not
all ask at once), at most ``POLL_MAX_ACCOUNTS`` accounts a round, each
request bounded by ``POLL_TIMEOUT``; a failed read is logged and tried again
next round. It stops with the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from omniroute import errors
from omniroute.formats import ir
from omniroute.gateway.call import Attempt
from omniroute.gateway.credentials import Credentials
from omniroute.gateway.registry import ProviderInfo, Registry
from omniroute.providers.accounts import account_kind, is_pass_through
from omniroute.providers.quota import (
    FORMAT_READERS,
    Estimates,
    QuotaBook,
    Reader,
    Window,
    exhausted,
    reader,
)
from omniroute.settings import Settings
from omniroute.store import Store
from omniroute.store.records import AccountRecord
from omniroute.store.request_log import RequestFilter
from omniroute.upstream.cold import ColdClient

log = logging.getLogger("omniroute.quota")

POLL_INTERVAL = 300.0  # seconds between two reads of one account's usage endpoint
POLL_TIMEOUT = 10.0
POLL_MAX_ACCOUNTS = 50  # per round
_REBUILD_PAGE = 1000
_MAX_REBUILD_PAGES = 100


def quota_key(account_id: int, who: str | None = None) -> str:
    return str(account_id) if who is None else f"{account_id}/{who}"


def reader_of(provider: ProviderInfo) -> Reader | None:
    """The catalog entry's reader, else the wire format's (if it has one)."""
    if provider.catalog is not None:
        return reader(provider.catalog.quota)
    return reader(FORMAT_READERS.get(provider.format))


class Quotas:
    def __init__(
        self,
        registry: Callable[[], Registry],
        settings: Settings,
        credentials: Callable[[], Credentials],
        *,
        clock: Callable[[], float] = time.time,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        self._registry = registry
        self._settings = settings
        self._credentials = credentials
        self._clock = clock
        self._interval = poll_interval
        self.book = QuotaBook(clock)
        self.estimates = Estimates()
        self._poller: asyncio.Task[None] | None = None
        self._warned: set[int] = set()  # accounts whose failed poll was logged already

    # ------------------------------------------------------ what attempts show

    def answered(self, attempt: Attempt) -> None:
        """A successful answer's headers."""
        found = reader_of(attempt.provider)
        if found is not None and attempt.upstream_headers:
            windows = found.from_headers(
                attempt.upstream_headers, self._clock(), attempt.target.model
            )
            self._update(attempt, windows)

    def failed(self, attempt: Attempt, err: errors.OmniError) -> None:
        """A refusal's headers, and its body when it says the plan is spent."""
        if not isinstance(err, errors.UpstreamStatusError):
            return
        now = self._clock()
        found = reader_of(attempt.provider)
        windows = found.from_headers(err.headers, now, attempt.target.model) if found else []
        self._update(attempt, windows + exhausted(err.upstream_status, err.body, now))

    def counted(self, attempt: Attempt, usage: ir.Usage | None) -> None:
        """An answered request, for providers whose limits we count ourselves."""
        entry = attempt.provider.catalog
        if entry is None or not entry.quota_limits:
            return
        tokens = (usage.input_tokens + usage.output_tokens) if usage else 0
        self.estimates.add(quota_key(attempt.account.id, attempt.who), self._clock(), tokens)

    def _update(self, attempt: Attempt, windows: list[Window]) -> None:
        if windows:
            self.book.update(quota_key(attempt.account.id, attempt.who), windows)

    # ----------------------------------------------------------------- routing

    def blocking(
        self, provider: ProviderInfo, account: AccountRecord, model: str, who: str | None
    ) -> tuple[str, float] | None:
        """Why this account may not take ``model`` now and for how many
        seconds, or None. ``quota.skip-at`` says how full is too full."""
        threshold = self._registry().options.quota.skip_at
        key = quota_key(account.id, who)
        now = self._clock()
        block = self.book.blocking(key, model, threshold)
        window, until = (block.window, block.until) if block else (None, 0.0)
        for estimated in self._estimated(provider, key, now):
            later = estimated.resets_at is not None and estimated.resets_at > until
            if later and estimated.over(threshold, now) and estimated.limits(model):
                window, until = estimated, estimated.resets_at or until
        if window is None:
            return None
        scope = f" for {window.model}" if window.scope == "model" else ""
        why = (
            f"quota {window.name}{scope} {window.used_fraction * 100:.0f}% used, "
            f"resets {_moment(until)}"
        )
        return why, max(0.0, until - now)

    def _estimated(self, provider: ProviderInfo, key: str, now: float) -> list[Window]:
        limits = provider.catalog.quota_limits if provider.catalog else ()
        return self.estimates.windows(key, limits, now) if limits else []

    # ----------------------------------------------------------------- listing

    def listing(self) -> dict[str, Any]:
        """Every account's windows (and each client credential's on
        pass-through accounts), as ``GET /api/quota`` answers."""
        now = self._clock()
        threshold = self._registry().options.quota.skip_at
        keys = self.book.keys()
        accounts: list[dict[str, Any]] = []
        for provider in self._registry().providers():
            for account in provider.accounts:
                owners: list[str | None] = [None]
                prefix = f"{account.id}/"
                owners += [k[len(prefix) :] for k in keys if k.startswith(prefix)]
                for who in owners:
                    accounts.append(self._entry(provider, account, who, threshold, now))
        return {"skip_at": threshold, "accounts": accounts}

    def _entry(
        self,
        provider: ProviderInfo,
        account: AccountRecord,
        who: str | None,
        threshold: float,
        now: float,
    ) -> dict[str, Any]:
        key = quota_key(account.id, who)
        windows = self.book.windows(key) + self._estimated(provider, key, now)
        blocked = [
            self.book.until(key, w) if not w.estimated else (w.resets_at or now)
            for w in windows
            if w.over(threshold, now) and w.scope == "account"
        ]
        found = reader_of(provider)
        return {
            "account_id": account.id,
            "provider": provider.name,
            "label": account.label,
            "kind": account_kind(account),
            "client": who,  # a pass-through account: which client credential (a digest)
            "reader": found.name if found else None,
            "windows": [w.to_json(now) for w in windows],
            "blocked": bool(blocked),
            "blocked_until": max(blocked) if blocked else None,
        }

    # -------------------------------------------------------------------- poll

    def start(self) -> None:
        if self._poller is None and self._interval > 0:
            self._poller = asyncio.create_task(self._poll_forever())

    async def stop(self) -> None:
        task, self._poller = self._poller, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval * random.uniform(0.1, 0.3))  # noqa: S311
            try:
                await self.poll()
            except Exception:  # a bug here must not end the polling for good
                log.warning("quota poll failed", exc_info=True)
            await asyncio.sleep(self._interval * random.uniform(0.7, 0.9))  # noqa: S311

    def _pollable(self) -> Iterator[tuple[ProviderInfo, AccountRecord, Reader, str]]:
        for provider in self._registry().providers():
            found = reader_of(provider)
            if found is None or found.endpoint is None:
                continue
            url = found.endpoint.url(provider.record.base_url)
            if url is None:
                continue
            for account in provider.accounts:
                # A pass-through account has no credential of its own to ask with.
                if not is_pass_through(account):
                    yield provider, account, found, url

    async def poll(self) -> int:
        """Read every usage endpoint once; the number of accounts read."""
        read = 0
        for count, (provider, account, found, url) in enumerate(self._pollable()):
            if count >= POLL_MAX_ACCOUNTS:
                break
            try:
                windows = await asyncio.wait_for(
                    self._read(provider, account, found, url), POLL_TIMEOUT * 2
                )
            except (errors.OmniError, TimeoutError) as exc:
                self._poll_failed(provider, account, str(getattr(exc, "message", "timed out")))
                continue
            self.book.update(quota_key(account.id), windows)
            self._warned.discard(account.id)
            read += 1
        return read

    async def _read(
        self, provider: ProviderInfo, account: AccountRecord, found: Reader, url: str
    ) -> list[Window]:
        assert found.endpoint is not None
        credential = await self._credentials().resolve(account, None)
        headers = provider.family.headers(
            credential.secret,
            stream=False,
            auth_header=credential.scheme or provider.auth_header,
            extra={**provider.headers, **credential.headers},
            client_headers={},
        )
        proxy = self._registry().proxy_for(provider, account)
        async with ColdClient(self._settings, proxy, timeout=POLL_TIMEOUT) as http:
            status, body = await http.request("GET", url, headers)
        if status != 200:
            raise errors.UpstreamError(f"usage endpoint answered HTTP {status}")
        try:
            data = json.loads(body)
        except ValueError:
            raise errors.UpstreamError("usage endpoint answered no JSON") from None
        return found.endpoint.parse(data, self._clock())

    def _poll_failed(self, provider: ProviderInfo, account: AccountRecord, why: str) -> None:
        # Once per account until it works again: a plan without the endpoint
        # would otherwise fill the log every round. Never the credential.
        level = logging.DEBUG if account.id in self._warned else logging.INFO
        self._warned.add(account.id)
        log.log(level, "quota: %s account %d: usage not read: %s", provider.name, account.id, why)

    # -------------------------------------------------------------- at start

    async def rebuild(self, store: Store) -> None:
        """Count the request log's recent answered rows into the estimates of
        providers that declare limits (a page at a time)."""
        spans = {
            p.name: max(q.seconds for q in p.catalog.quota_limits)
            for p in self._registry().providers()
            if p.catalog is not None and p.catalog.quota_limits
        }
        if not spans:
            return
        try:
            await self._count_logged(store, spans)
        except Exception:  # the estimates start empty rather than the gateway not at all
            log.warning("quota: could not read the request log back", exc_info=True)

    async def _count_logged(self, store: Store, spans: dict[str, float]) -> None:
        now = self._clock()
        wanted = RequestFilter(
            limit=_REBUILD_PAGE, status=(0, 399), since=now - max(spans.values())
        )
        counted: list[tuple[str, float, int]] = []
        async for found in store.request_pages(wanted, _MAX_REBUILD_PAGES):
            for item in found:
                row = item.row
                span = spans.get(row.provider or "")
                if span is None or row.account_id is None or row.ts < now - span:
                    continue
                tokens = (row.input_tokens or 0) + (row.output_tokens or 0)
                counted.append((quota_key(row.account_id), row.ts, tokens))
        # The log reads back newest first; the estimates take each key's
        # requests in time order (oldest first: no re-sorting per row).
        for key, at, tokens in reversed(counted):
            self.estimates.add(key, at, tokens)


def _moment(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
