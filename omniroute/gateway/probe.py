"""Tiny live calls that tell an operator whether a provider (or each target
of a combo) works: a one-token chat, or the model listing when no model is
known, sent through the gateway's own upstream client with the account's
key, headers and egress proxy, exactly as a real request would go.

A probe leaves the breakers, cooldowns and health numbers alone: it is a
question asked by a person, not traffic.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from omniroute import errors
from omniroute.formats.wire import wire_format
from omniroute.gateway.registry import ProviderInfo, Registry
from omniroute.providers.accounts import is_pass_through
from omniroute.providers.family import Operation
from omniroute.routing.model import Target
from omniroute.store import AccountRecord
from omniroute.upstream import Timeouts, UpstreamClient

PROBE_SECONDS = 20.0
_ERROR_BODY_CAP = 64 * 1024
_TIMEOUTS = Timeouts(
    connect=PROBE_SECONDS, first_byte=PROBE_SECONDS, idle=PROBE_SECONDS, total=PROBE_SECONDS
)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    latency_ms: float
    status: int | None  # the upstream's HTTP status; None when none arrived
    error: str | None  # the upstream's own message (secrets masked), or why none came
    provider: str
    account: int
    model: str | None  # None: the model listing was asked instead

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "latency_ms": self.latency_ms,
            "status": self.status,
            "error": self.error,
            "provider": self.provider,
            "account": self.account,
            "model": self.model,
        }


async def probe_provider(
    upstream: UpstreamClient,
    provider: ProviderInfo,
    *,
    model: str | None = None,
    account_id: int | None = None,
) -> ProbeResult:
    """One tiny call to ``provider`` with one of its enabled accounts (the
    first, or ``account_id``); ``model`` defaults to its first known model."""
    account = _account(provider, account_id)
    model = model or next(iter(provider.view.models), None)
    if is_pass_through(account):
        # Nothing to send: the credential comes with each client's request.
        why = "a pass-through account has no credential of its own to test with"
        return ProbeResult(False, 0.0, None, why, provider.name, account.id, model)
    family = provider.family
    headers = family.headers(
        account.api_key,
        stream=False,
        auth_header=provider.auth_header,
        extra=provider.headers,
        client_headers={},
    )
    if model is None:
        method, url, body = "GET", family.models_url(provider.record.base_url), b""
    else:
        found = family.url(Operation.CHAT, provider.record.base_url, model, stream=False)
        assert found is not None  # every family generates
        method, url, body = "POST", found, json.dumps(family.probe_body(model)).encode()
    scrub = provider.scrubbers.get(account.id)
    started = time.monotonic()

    def result(status: int | None, error: str | None) -> ProbeResult:
        if error is not None and scrub is not None:
            error = scrub.text(error)
        latency = round((time.monotonic() - started) * 1000, 1)
        return ProbeResult(error is None, latency, status, error, provider.name, account.id, model)

    try:
        response = await upstream.send(
            method, url, headers, body, proxy=provider.proxies.get(account.id), timeouts=_TIMEOUTS
        )
        async with response:
            raw = await response.read()
    except errors.UpstreamError as exc:
        return result(None, exc.message)
    if response.status >= 400:
        info = wire_format(provider.format).parse_error(response.status, raw[:_ERROR_BODY_CAP])
        return result(response.status, info.message or f"HTTP {response.status}")
    return result(response.status, None)


async def probe_combo(
    upstream: UpstreamClient, registry: Registry, name: str
) -> list[tuple[Target, ProbeResult]]:
    """Each target the combo can route to now, in its stored order, tried
    with a tiny call. NotFound for an unknown combo; BadRequest when it
    routes nowhere now (disabled, or no target's provider can serve)."""
    if name not in registry.view.combos:
        raise errors.NotFound(f"unknown combo {name!r}")
    try:
        resolution = registry.resolve(name)
    except errors.NotFound as exc:
        raise errors.BadRequest(exc.message) from None
    return [
        (
            target,
            await probe_provider(upstream, registry.provider(target.provider), model=target.model),
        )
        for target in resolution.targets
    ]


def _account(provider: ProviderInfo, account_id: int | None) -> AccountRecord:
    if account_id is None:
        # The first with a credential of its own; a pass-through one only
        # when there is nothing else (and it then says it cannot be tested).
        ordered = sorted(provider.accounts, key=is_pass_through)
        if not ordered:
            raise errors.BadRequest(f"provider {provider.name!r} has no enabled account")
        return ordered[0]
    for account in provider.accounts:
        if account.id == account_id:
            return account
    raise errors.NotFound(f"provider {provider.name!r} has no enabled account {account_id}")
