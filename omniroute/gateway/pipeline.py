"""The way of one request: resolve -> pick -> translate -> send -> relay -> record.

This is the only place that decides where a request goes. A call resolves
its model string to targets (provider + model; a combo's targets in its
strategy's order) and, inside each target, walks the provider's accounts in
the account strategy's order, skipping accounts on cooldown and targets whose
circuit is open. A failure before the first byte reached the client moves it
on (D-03, D-04):

    429 / rate-limit event     cool the account down (Retry-After or backoff), next account
    401 / 402 / 403            cool the account down, next account
    404                        next target (this provider does not have the model)
    5xx, timeouts, connection  count against the breakers, next account
    other 4xx                  the request itself is wrong: answer at once, cool nothing

Attempts are bounded in number and time (D-08). After the first byte nothing
is retried: the client gets an error event in its own dialect and the stream
ends without its normal terminator (see ``exchange``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable

from omniroute import errors
from omniroute.formats import ir
from omniroute.gateway.dialects import format_module
from omniroute.gateway.exchange import Attempt, Call, Exchange, dumps
from omniroute.gateway.registry import ProviderInfo, Registry
from omniroute.gateway.replay import Shared
from omniroute.gateway.resilience import Resilience, account_key, combo_key, provider_key
from omniroute.http.message import Response, StreamResponse
from omniroute.providers.upstream_request import count_tokens_url, request_headers
from omniroute.routing.breaker import BreakerState
from omniroute.routing.resolve import Target
from omniroute.routing.retry import RetryBudget
from omniroute.settings import Settings
from omniroute.store import Store
from omniroute.store.records import AccountRecord, RequestLogRow
from omniroute.upstream import Timeouts, UpstreamClient

__all__ = ["Call", "Pipeline", "dumps"]

log = logging.getLogger("omniroute.pipeline")

_AUTH_FAILURES = frozenset({401, 402, 403})
DEFAULT_MAX_ATTEMPTS = 10
DEFAULT_MAX_SECONDS = 300.0
LIMITER_MAX_WAIT = 30.0  # seconds a request may queue for a rate-limited account


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        registry: Callable[[], Registry],
        upstream: UpstreamClient,
        store: Store,
        resilience: Resilience,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._upstream = upstream
        self._store = store
        self._res = resilience
        self._timeouts = Timeouts.from_settings(settings)
        self._exchange = Exchange(upstream, self._timeouts)

    async def run(self, call: Call) -> Response | StreamResponse:
        try:
            if call.idempotency_key is None:
                return await self._route(call)
            # D-09: the same key and body within the TTL share one upstream call.
            digest = hashlib.sha256(call.body_digest().encode()).hexdigest()
            shared: Shared = await self._res.idempotency.run(
                str(call.client_key_id),
                f"{call.idempotency_key}:{call.dialect}:{call.model}:{digest}",
                lambda: self._shared(call),
            )
            return shared.response()
        except errors.OmniError as err:
            # Refused before any upstream was tried (unknown model, a request
            # the translator cannot read...): still one log row, and a line.
            if not call.recorded:
                self._record(call, None, err.status, error_kind=err.kind)
            log.info("request %s: %d %s: %s", call.request_id, err.status, err.kind, err.message)
            raise

    async def _shared(self, call: Call) -> Shared:
        return Shared(await self._route(call))

    # -------------------------------------------------------------- routing

    async def _route(self, call: Call) -> Response | StreamResponse:
        registry = self._registry()
        resolution = registry.resolve(call.model)
        fallback = registry.setting("fallback") or {}
        budget = RetryBudget(
            int(fallback.get("max_attempts", DEFAULT_MAX_ATTEMPTS)),
            float(fallback.get("max_seconds", DEFAULT_MAX_SECONDS)),
        )
        failures: list[tuple[Attempt, errors.OmniError]] = []
        skipped: list[tuple[str, float | None]] = []  # why, and when it may work again
        for target in resolution.plan(self._res.strategies.combo_order):
            provider = registry.provider(target.provider)
            gates = self._gates(target)
            if not self._admit(gates):
                skipped.append((f"{target.ref}: circuit open", self._reopens_in(gates)))
                continue
            tried_here = False
            for account in self._accounts(call, registry, provider):
                cooling = self._res.cooldowns.remaining(account_key(account.id))
                if cooling > 0:
                    skipped.append((f"{target.ref} account {account.id}: cooling down", cooling))
                    continue
                if not budget.try_attempt():
                    break
                attempt = Attempt(
                    target,
                    provider,
                    account,
                    budget.attempts,
                    proxy=_proxy(registry, provider, account),
                    system_prompt=_system_prompt(registry, target),
                )
                tried_here = True
                try:
                    response = await self._try(call, attempt, gates, self._timeouts_within(budget))
                except (errors.UpstreamError, errors.RateLimited) as err:
                    failures.append((attempt, err))
                    verdict = self._after_failure(attempt, gates, err)
                    log.info(
                        "request %s: %s account %d failed (%s): %s",
                        call.request_id,
                        provider.name,
                        account.id,
                        verdict,
                        err.message,
                    )
                    if verdict == "stop":
                        raise self._recorded(call, attempt, err)
                    if verdict == "target":
                        break
                    continue
                self._res.remember_session(call.session_id, account.id)
                return response
            if not tried_here:  # every account cooling (or no budget): the probe went unused
                self._release_probes(gates)
            if budget.exhausted():
                break
        final = _final_error(call, failures, skipped)
        raise self._recorded(call, failures[-1][0] if failures else None, final)

    def _admit(self, gates: list[str]) -> bool:
        """Every breaker on the way lets the request through; a probe slot
        taken from one is given back when a later one refuses."""
        admitted: list[str] = []
        for key in gates:
            if not self._res.breakers.allow(key):
                for taken in admitted:
                    self._res.breakers.release_probe(taken)
                return False
            admitted.append(key)
        return True

    def _timeouts_within(self, budget: RetryBudget) -> Timeouts:
        """The configured timeouts, cut so one attempt cannot outlive the
        request's time budget (D-08)."""
        left = max(0.001, budget.remaining_seconds())
        t = self._timeouts
        return Timeouts(
            connect=min(t.connect, left),
            first_byte=min(t.first_byte, left),
            idle=t.idle,
            total=t.total,
        )

    def _gates(self, target: Target) -> list[str]:
        gates = [provider_key(target.provider)]
        if target.combo is not None:
            gates.append(combo_key(target.combo, target.step))
        return gates

    def _reopens_in(self, gates: list[str]) -> float | None:
        waits = [
            b.retry_in
            for b in self._res.breakers.listing()
            if b.key in gates and b.state is BreakerState.OPEN
        ]
        return min(waits) if waits else None

    def _accounts(
        self, call: Call, registry: Registry, provider: ProviderInfo
    ) -> list[AccountRecord]:
        accounts = list(provider.accounts)
        if call.pinned_account is not None:
            return [a for a in accounts if a.id == call.pinned_account]
        strategy = str(registry.setting("account_strategy") or "fill-first")
        ordered = self._res.strategies.order(
            strategy, provider_key(provider.name), accounts, key=lambda a: account_key(a.id)
        )
        sticky = self._res.sticky_account(call.session_id)
        if sticky is not None:
            ordered.sort(key=lambda a: a.id != sticky)  # stable: the rest keep their order
        return ordered

    async def _try(
        self, call: Call, attempt: Attempt, gates: list[str], timeouts: Timeouts
    ) -> Response | StreamResponse:
        res = self._res
        akey = account_key(attempt.account.id)
        # Health per account (account strategies) and per target (combo strategies).
        health_keys = (akey, attempt.target.ref)
        limits = contextlib.AsyncExitStack()
        try:
            for key in (gates[0], akey):
                if key in res.limited:
                    await limits.enter_async_context(res.limiter.slot(key, LIMITER_MAX_WAIT))
        except BaseException:
            await limits.aclose()
            self._release_probes(gates)
            raise
        started = time.monotonic()
        for key in health_keys:
            res.health.record_start(key)
        open_health = True

        def end_health(ok: bool, latency: float) -> None:
            nonlocal open_health
            if open_health:  # a stream ends once: at its last byte, or failing before
                open_health = False
                for key in health_keys:
                    res.health.record_end(key, ok=ok, latency=latency)

        def finish(
            status: int, usage: ir.Usage | None, kind: str | None, ttfb: float | None
        ) -> None:
            # Latency for balancing is the time to the first byte of the answer.
            end_health(status < 400 or status == 499, ttfb or time.monotonic() - started)
            self._record(call, attempt, status, usage=usage, error_kind=kind, ttft=ttfb)

        try:
            response, upstream = await self._exchange.run(
                call, attempt, finish, limits.aclose, timeouts
            )
        except errors.UpstreamError:
            end_health(False, time.monotonic() - started)
            await limits.aclose()
            raise
        except BaseException:  # the client left (or a bug): the upstream said nothing
            end_health(True, time.monotonic() - started)
            await limits.aclose()
            self._release_probes(gates)
            raise
        for key in gates:
            res.breakers.record_success(key)
        res.cooldowns.success(akey)
        res.limiter.update_from_headers(akey, upstream.headers)
        return response

    def _release_probes(self, gates: list[str]) -> None:
        for key in gates:
            self._res.breakers.release_probe(key)

    def _after_failure(self, attempt: Attempt, gates: list[str], err: errors.OmniError) -> str:
        """What a failure means for the accounts and for this request:
        "account" (try the next account), "target" (skip to the next target)
        or "stop" (answer the client with it)."""
        res = self._res
        akey = account_key(attempt.account.id)
        if isinstance(err, errors.RateLimited):  # our own limiter: just go elsewhere
            return "account"
        status = getattr(err, "upstream_status", None)
        if status is not None and status < 500:
            # The upstream answered: it is up, whatever it thought of the request.
            for key in gates:
                res.breakers.record_success(key)
        if status == 429 or err.kind == "rate_limit":
            res.cooldowns.trip(akey, err.retry_after, reason="rate_limit")
            return "account"
        if status in _AUTH_FAILURES:
            res.cooldowns.trip(akey, err.retry_after, reason=f"auth ({status})")
            return "account"
        if status == 404:
            return "target"
        if status is not None and 400 <= status < 500 and status not in (408, 409):
            return "stop"  # the request is at fault; no account is (D-04)
        for key in gates:
            res.breakers.record_failure(key)
        return "account"

    # ---------------------------------------------------------- count tokens

    async def count_tokens(self, call: Call) -> int | None:
        """Ask the first upstream that can count (Anthropic, Gemini) how many
        input tokens the request has; None when none can, or it failed."""
        registry = self._registry()
        for target in registry.resolve(call.model).plan():
            provider = registry.provider(target.provider)
            url = count_tokens_url(provider.format, provider.record.base_url, target.model)
            if url is None or not provider.accounts:
                continue
            counted = await self._count_upstream(call, registry, provider, target, url)
            if counted is not None:
                return counted
        return None

    async def _count_upstream(
        self, call: Call, registry: Registry, provider: ProviderInfo, target: Target, url: str
    ) -> int | None:
        fmt, account = provider.format, provider.accounts[0]
        req = call.ir_request()
        req.model = target.model
        body = format_module(fmt).render_request(req)
        if fmt == "anthropic":
            body = {k: body[k] for k in ("model", "messages", "system", "tools") if k in body}
        else:
            body = {"contents": body.get("contents", [])}
        headers = request_headers(
            fmt,
            account.api_key,
            stream=False,
            client_headers=call.client_headers,
            auth_header=provider.auth_header,
            extra=provider.headers,
        )
        try:
            resp = await self._upstream.send(
                "POST",
                url,
                headers,
                dumps(body),
                proxy=_proxy(registry, provider, account),
                timeouts=self._timeouts,
            )
            async with resp:
                raw = await resp.read()
            if resp.status != 200:
                return None
            answer = json.loads(raw)
        except (errors.UpstreamError, ValueError):
            return None
        counted = answer.get("input_tokens", answer.get("totalTokens"))
        return counted if isinstance(counted, int) else None

    # -------------------------------------------------------------- records

    def _recorded(
        self, call: Call, attempt: Attempt | None, err: errors.OmniError
    ) -> errors.OmniError:
        self._record(call, attempt, err.status, error_kind=err.kind)
        return err

    def _record(
        self,
        call: Call,
        attempt: Attempt | None,
        status: int,
        *,
        usage: ir.Usage | None = None,
        error_kind: str | None = None,
        ttft: float | None = None,
    ) -> None:
        usage = usage or ir.Usage()
        call.recorded = True
        self._store.log_request(
            RequestLogRow(
                ts=time.time(),
                request_id=call.request_id,
                model=call.model,
                status=status,
                latency_ms=(time.monotonic() - call.started) * 1000,
                client_key_id=call.client_key_id,
                resolved_model=attempt.target.model if attempt else None,
                provider=attempt.provider.name if attempt else None,
                account_id=attempt.account.id if attempt else None,
                client_format=call.dialect,
                upstream_format=attempt.upstream_format if attempt else None,
                stream=call.stream,
                error_kind=error_kind,
                ttft_ms=ttft * 1000 if ttft is not None else None,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cached_tokens=usage.cached_input_tokens,
                reasoning_tokens=usage.reasoning_tokens,
                usage_estimated=usage.estimated,
            )
        )


def _proxy(registry: Registry, provider: ProviderInfo, account: AccountRecord) -> str | None:
    """The egress proxy: the account's, else the provider's, else the global
    one (C-07: the most specific wins); "direct" means none at that level."""
    for value in (
        account.extra.get("proxy"),
        provider.record.extra.get("proxy"),
        registry.setting("proxy"),
    ):
        if isinstance(value, str) and value:
            return None if value == "direct" else value
    return None


def _system_prompt(registry: Registry, target: Target) -> str | None:
    """D-11: the global system prompt, then the combo's own, before the client's."""
    parts = []
    glob = registry.setting("system_prompt")
    if isinstance(glob, str) and glob.strip():
        parts.append(glob.strip())
    if target.combo is not None:
        combo = registry.view.combos.get(target.combo)
        if combo is not None and combo.system_prompt:
            parts.append(combo.system_prompt.strip())
    return "\n\n".join(parts) or None


def _final_error(
    call: Call,
    failures: list[tuple[Attempt, errors.OmniError]],
    skipped: list[tuple[str, float | None]],
) -> errors.OmniError:
    """What the client hears when nothing worked: the last failure's status
    and kind, a message naming everything tried or skipped (never a secret),
    and the earliest moment anything may work again as Retry-After."""
    tried = [
        f"{a.provider.name}/{a.target.model} account {a.account.id}: {e.message}"
        for a, e in failures
    ]
    tried += [why for why, _ in skipped]
    hints = [e.retry_after for _, e in failures if e.retry_after is not None]
    hints += [wait for _, wait in skipped if wait is not None]
    retry_after = min(hints) if hints else None
    if len(failures) == 1 and not skipped:
        return failures[0][1]
    if failures:
        last = failures[-1][1]
        status, kind = last.status, last.kind
    else:
        status, kind = 503, "overloaded"
    summary = "; ".join(tried) if tried else "no enabled account"
    return errors.UpstreamError(
        f"No upstream could serve {call.model!r} ({len(failures)} attempts). {summary}",
        status=status,
        kind=kind,
        retry_after=retry_after,
    )
