"""The failover loop: resolve -> pick -> attempt -> record, for any operation.

This is the only place that decides where a request goes. A call resolves
its model string to targets (provider + model; a combo's targets in its
strategy's order) and, inside each target, walks the provider's accounts in
the account strategy's order, skipping accounts on cooldown, targets whose
circuit is open and providers that cannot do the operation. What a failure
before the first byte means is the provider family's call (``classify``):
rest the account, move to the next account or target, or answer at once.

Attempts are bounded in number and time. After the first byte nothing is
retried: the client gets an error event in its own dialect and the stream
ends without its normal terminator (see ``chat``).

Every request gets exactly one request-log row: written when its answer
ends, when it is refused, when it fails everywhere, or when its client
leaves before any answer (499).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable

from omniroute import errors
from omniroute.config.options import RequestLogOptions
from omniroute.formats import ir
from omniroute.gateway.cached import PROVIDER as CACHE_PROVIDER
from omniroute.gateway.cached import hit_answer, keep_answer
from omniroute.gateway.call import Attempt, AttemptEnd, Call, Outcome
from omniroute.gateway.chat import ChatOperation
from omniroute.gateway.completions import CompletionsOperation
from omniroute.gateway.costs import Costs
from omniroute.gateway.count_tokens import CountTokensOperation
from omniroute.gateway.credentials import (
    Credential,
    Credentials,
    client_credential,
    rest_owner,
)
from omniroute.gateway.exchange import Exchange
from omniroute.gateway.forward import SpeechOperation, json_operations
from omniroute.gateway.images import ImageFetcher
from omniroute.gateway.injection import OFF, InjectionGuard
from omniroute.gateway.observe import Observers
from omniroute.gateway.operation import OperationHandler
from omniroute.gateway.quotas import Quotas
from omniroute.gateway.registry import ProviderInfo, Registry
from omniroute.gateway.replay import Shared
from omniroute.gateway.resilience import (
    Resilience,
    account_key,
    account_model_key,
    combo_key,
    model_key,
    provider_key,
)
from omniroute.gateway.response_cache import Entry, Lookup, ResponseCache, cache_key
from omniroute.gateway.scope import permitted
from omniroute.http.message import Response, StreamResponse
from omniroute.providers.family import Action, Failure, Operation
from omniroute.routing.breaker import BreakerState
from omniroute.routing.model import Target
from omniroute.routing.retry import RetryBudget
from omniroute.settings import Settings
from omniroute.store import Store
from omniroute.store.records import AccountRecord, RequestLogRow
from omniroute.upstream import Timeouts, UpstreamClient

log = logging.getLogger("omniroute.pipeline")

LIMITER_MAX_WAIT = 30.0  # seconds a request may queue for a rate-limited account


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        registry: Callable[[], Registry],
        upstream: UpstreamClient,
        store: Store,
        resilience: Resilience,
        observers: Observers | None = None,
        costs: Costs | None = None,
        credentials: Credentials | None = None,
        cache: ResponseCache | None = None,
        quotas: Quotas | None = None,
    ) -> None:
        self._registry = registry
        self.observers = observers or Observers()
        self.costs = costs or Costs(registry)
        self._store = store
        self._res = resilience
        self._exchange = Exchange(upstream, Timeouts.from_settings(settings))
        # Image URLs fetched for upstreams that need them inline, through the
        # SSRF guard (its resolver can be given for tests).
        self.images = ImageFetcher()
        chat = ChatOperation(self.images)
        handlers: tuple[OperationHandler, ...] = (
            chat,
            CountTokensOperation(),
            CompletionsOperation(chat),
            SpeechOperation(),
            *json_operations(),
        )
        self._handlers = {h.operation: h for h in handlers}
        self._injection = InjectionGuard(store)
        self.credentials = credentials or Credentials()
        self.cache = cache or ResponseCache(store, lambda: registry().options.cache)
        # Usage windows per account; asked before an account is picked.
        self.quotas = quotas or Quotas(registry, settings, lambda: self.credentials)

    async def run(self, call: Call) -> Response | StreamResponse:
        options = self._registry().options.request_log
        if not options.capture_bodies:
            return await self._run(call)
        try:
            response = await self._run(call)
        except errors.OmniError as err:
            self._capture(call, err.status, err.message.encode(), options)
            raise
        body = response.body if isinstance(response, Response) else None
        self._capture(call, response.status, body, options)
        return response

    def _capture(
        self, call: Call, status: int, body: bytes | None, options: RequestLogOptions
    ) -> None:
        """Debug capture (the ``request-log.capture-bodies`` setting)."""
        self.observers.capture.keep(
            call.request_id,
            headers=call.client_headers,
            body=call.body,
            status=status,
            response=body,
            max_bytes=options.capture_max_bytes,
            retention=options.capture_retention_hours * 3600,
        )

    async def _run(self, call: Call) -> Response | StreamResponse:
        handler = self._handlers[call.operation]
        self.observers.started(call.request_id, call.model, call.stream, call.dialect)
        try:
            refused = self.costs.refuse_key(call.client_key_id)
            if refused is not None:
                raise refused
            guard = self._registry().options.injection_guard
            if guard != OFF and call.operation is Operation.CHAT:
                await self._injection.check(call, guard)
            lookup = self._cache_lookup(call)
            if lookup is None:
                return await self._answer(call, handler)
            entry = self.cache.get(lookup.key) if lookup.may_hit else None
            if entry is not None:
                return self._hit(call, entry)
            self.cache.counted_miss()
            return keep_answer(self.cache, call, lookup.key, await self._answer(call, handler))
        except errors.OmniError as err:
            # Refused before any upstream was tried (unknown model, a request
            # the translator cannot read...): still one row, and a line.
            raise self._refused(call, err)
        except Exception:
            if not call.recorded:
                self._record(call, None, 500, error_kind="internal")
            raise

    async def _answer(self, call: Call, handler: OperationHandler) -> Response | StreamResponse:
        if call.idempotency_key is None:
            return await self._route(call, handler)
        # The same key and body within a few seconds share one upstream call;
        # never across two clients' own credentials (one's answer, paid by
        # its subscription, is not another's).
        digest = hashlib.sha256(call.body_digest().encode()).hexdigest()
        passed = client_credential(call.client_headers)
        owner = str(call.client_key_id)
        shared: Shared = await self._res.idempotency.run(
            owner if passed is None else f"{owner}~{passed.rest_key}",
            f"{call.idempotency_key}:{call.dialect}:{call.model}:{digest}",
            lambda: self._shared(call, handler),
        )
        return shared.response()

    def _cache_lookup(self, call: Call) -> Lookup | None:
        """The request's place in the response cache (None: not cacheable)."""
        registry = self._registry()
        options = registry.options.cache
        if not (options.enabled or options.combos) or call.operation is not Operation.CHAT:
            return None
        if client_credential(call.client_headers) is not None:
            return None  # paid by the client's own credential: never shared
        try:
            resolution = registry.resolve(call.model)
            combo = resolution.combo.name if resolution.combo is not None else None
            return cache_key(call, options, combo)
        except errors.OmniError:
            return None  # the routing below refuses it with the right error

    def _hit(self, call: Call, entry: Entry) -> Response | StreamResponse:
        """Answered from the cache: a row that names the cache as provider
        and costs nothing, so usage and budgets count the upstream once."""
        self.cache.counted_hit(entry)
        response = hit_answer(call, entry)
        call.recorded = True
        self._log(
            RequestLogRow(
                ts=time.time(),
                request_id=call.request_id,
                model=call.model,
                status=200,
                latency_ms=(time.monotonic() - call.started) * 1000,
                client_key_id=call.client_key_id,
                provider=CACHE_PROVIDER,
                client_format=call.dialect,
                stream=call.stream,
                operation=call.operation.value,
                cost=0.0,
            )
        )
        return response

    def record_refused(
        self, request_id: str, dialect: str, err: errors.OmniError, *, client_key_id: int | None
    ) -> None:
        """The row of a request refused before it became a call (no key,
        unreadable JSON, no model)."""
        self._log(
            RequestLogRow(
                ts=time.time(),
                request_id=request_id,
                model="",
                status=err.status,
                latency_ms=0.0,
                client_key_id=client_key_id,
                client_format=dialect,
                error_kind=err.kind,
            )
        )

    def _refused(self, call: Call, err: errors.OmniError) -> errors.OmniError:
        if not call.recorded:
            self._record(call, None, err.status, error_kind=err.kind)
        log.info("request %s: %d %s: %s", call.request_id, err.status, err.kind, err.message)
        return err

    async def _shared(self, call: Call, handler: OperationHandler) -> Shared:
        return Shared(await self._route(call, handler))

    # -------------------------------------------------------------- routing

    async def _route(self, call: Call, handler: OperationHandler) -> Response | StreamResponse:
        registry = self._registry()
        resolution = registry.resolve(call.model)
        allowed = None if call.scope is None else permitted(call.scope, call.model, resolution)
        fallback = registry.options.fallback
        budget = RetryBudget(fallback.max_attempts, fallback.max_seconds)
        failures: list[tuple[Attempt, errors.OmniError]] = []
        passed = client_credential(call.client_headers)  # for pass-through accounts
        skipped: list[tuple[str, float | None]] = []  # why, and when it may work again
        for target in resolution.plan(self._res.strategies.combo_order):
            if allowed is not None and not allowed(target):
                continue  # outside the client key's scope: never tried, never reported
            provider = registry.provider(target.provider)
            if not handler.serves(call, provider, target.model):
                skipped.append((f"{target.ref}: cannot {call.operation.value}", None))
                continue
            spent = self.costs.over_budget(target)
            if spent is not None:
                skipped.append((f"{target.ref}: {spent[0]}", spent[1]))
                continue
            gates = _gates(target)
            if not self._admit(gates):
                skipped.append((f"{target.ref}: circuit open", self._reopens_in(gates)))
                continue
            tried_here = False
            for account in self._accounts(call, registry, provider):
                why = self.credentials.unavailable(account, passed)
                if why is not None:
                    skipped.append((f"{target.ref} account {account.id}: {why}", None))
                    continue
                owner = rest_owner(account, passed)
                cooling = self._cooling(account.id, target.model, owner)
                if cooling > 0:
                    skipped.append((f"{target.ref} account {account.id}: cooling down", cooling))
                    continue
                spent_quota = self.quotas.blocking(provider, account, target.model, owner)
                if spent_quota is not None:  # skipped before it fails, until the reset
                    why, wait = spent_quota
                    skipped.append((f"{target.ref} account {account.id}: {why}", wait))
                    continue
                if not budget.try_attempt():
                    break
                attempt = Attempt(
                    target,
                    provider,
                    account,
                    budget.attempts,
                    proxy=registry.proxy_for(provider, account),
                    system_prompt=registry.system_prompt(target),
                    listener=lambda a, end: self._ended(call, a, end),
                )
                tried_here = True
                try:
                    response = await self._try(call, handler, attempt, gates, budget, passed)
                except (errors.UpstreamError, errors.RateLimited) as err:
                    failures.append((attempt, err))
                    action = self._after_failure(attempt, gates, err)
                    log.info(
                        "request %s: %s account %d failed (%s): %s",
                        call.request_id,
                        provider.name,
                        account.id,
                        action.value,
                        err.message,
                    )
                    if action is Action.STOP:
                        return self._give_up(call, handler, attempt, err, tried=True)
                    if action is Action.NEXT_TARGET:
                        break
                    continue
                self._res.remember_session(call.session_id, account.id)
                return response
            if not tried_here:  # every account cooling (or no budget): the probe went unused
                self._release_probes(gates)
            if budget.exhausted():
                break
        if call.pinned_account is not None and not failures and not skipped:
            # Nothing was tried because no provider on the way has that account.
            raise self._recorded(
                call,
                None,
                errors.BadRequest(
                    f"account {call.pinned_account} (X-OmniRoute-Pin-Account) does not "
                    f"serve {call.model!r}"
                ),
            )
        final = _final_error(call, failures, skipped)
        last = failures[-1][0] if failures else None
        return self._give_up(call, handler, last, final, tried=bool(failures))

    def _give_up(
        self,
        call: Call,
        handler: OperationHandler,
        attempt: Attempt | None,
        err: errors.OmniError,
        *,
        tried: bool,
    ) -> Response:
        """No upstream answered: the operation's stand-in answer if it has
        one (a token estimate), else the error."""
        answer = handler.unserved(call, err, tried)
        if answer is None:
            raise self._recorded(call, attempt, err)
        self._record(call, None, answer.status)
        return answer

    def _cooling(self, account_id: int, model: str, who: str | None) -> float:
        """Seconds until this account (for this client credential, when it is
        a pass-through) may serve this model again."""
        cooldowns = self._res.cooldowns
        return max(
            cooldowns.remaining(account_key(account_id, who)),
            cooldowns.remaining(account_model_key(account_id, model, who)),
        )

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
        request's time budget."""
        left = max(0.001, budget.remaining_seconds())
        t = self._exchange.timeouts
        return Timeouts(
            connect=min(t.connect, left),
            first_byte=min(t.first_byte, left),
            idle=t.idle,
            total=t.total,
        )

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
        ordered = self._res.strategies.order(
            registry.options.account_strategy,
            provider_key(provider.name),
            accounts,
            key=lambda a: account_key(a.id),
        )
        sticky = self._res.sticky_account(call.session_id)
        if sticky is not None:
            ordered.sort(key=lambda a: a.id != sticky)  # stable: the rest keep their order
        return ordered

    # -------------------------------------------------------------- one try

    async def _try(
        self,
        call: Call,
        handler: OperationHandler,
        attempt: Attempt,
        gates: list[str],
        budget: RetryBudget,
        passed: Credential | None,
    ) -> Response | StreamResponse:
        res = self._res
        akey = account_key(attempt.account.id)
        try:
            await self._hold_slots(attempt, (provider_key(attempt.provider.name), akey))
        except BaseException:
            for key in attempt.slots:
                res.limiter.release(key)
            attempt.slots.clear()
            self._release_probes(gates)
            raise
        for key in _health_keys(attempt):
            res.health.record_start(key)
        try:
            same_format = attempt.upstream_format == call.dialect
            attempt.use(
                await self.credentials.resolve(attempt.account, passed, same_format=same_format)
            )
            response = await handler.run(
                self._exchange, call, attempt, self._timeouts_within(budget)
            )
        except errors.UpstreamError as err:
            attempt.end(AttemptEnd(Outcome.FAILED, err.status, error_kind=err.kind))
            raise
        except errors.ClientError as err:
            # The request cannot go as it is (an image URL refused, input this
            # upstream's format cannot carry): nothing was learnt of the upstream.
            attempt.end(AttemptEnd(Outcome.REFUSED, err.status, error_kind=err.kind))
            self._release_probes(gates)
            raise
        except asyncio.CancelledError:
            # The client left before the answer began: it gets its row, the
            # upstream's health is left as it was (nothing was learnt).
            attempt.end(AttemptEnd(Outcome.ABANDONED, 499, error_kind="client_closed"))
            self._release_probes(gates)
            raise
        except BaseException:
            attempt.end(AttemptEnd(Outcome.FAILED, 500, error_kind="internal"))
            self._release_probes(gates)
            raise
        if not call.recorded:  # a stream whose first token has just arrived
            self.observers.first_token(
                call.request_id,
                call.model,
                attempt.provider.name,
                attempt.account.id,
                (time.monotonic() - call.started) * 1000,
            )
        for key in gates:
            res.breakers.record_success(key)
        res.cooldowns.success(account_key(attempt.account.id, attempt.who))
        res.cooldowns.success(
            account_model_key(attempt.account.id, attempt.target.model, attempt.who)
        )
        res.model_recovered(attempt.provider.name, attempt.target.model)
        # What the upstream says of the credential's own limits: a client's
        # credential on a pass-through account has its own.
        res.limiter.update_from_headers(
            account_key(attempt.account.id, attempt.who), attempt.upstream_headers
        )
        self.quotas.answered(attempt)
        return response

    async def _hold_slots(self, attempt: Attempt, keys: tuple[str, ...]) -> None:
        """A rate-limit slot for each key that has limits (released when the
        attempt ends)."""
        res = self._res
        for key in keys:
            if key in res.limited:
                await res.limiter.acquire(key, LIMITER_MAX_WAIT)
                attempt.slots.append(key)

    def _ended(self, call: Call, attempt: Attempt, end: AttemptEnd) -> None:
        """An attempt is over: health, rate-limit slots, and the request's
        row unless the loop goes on."""
        res = self._res
        for key in attempt.slots:
            res.limiter.release(key)
        attempt.slots.clear()
        if end.outcome is Outcome.ABANDONED or end.outcome is Outcome.REFUSED:
            for key in _health_keys(attempt):
                res.health.record_abandoned(key)
        else:
            # Latency for balancing is the time to the first byte of the answer.
            ok = end.outcome is Outcome.ANSWERED and (end.status < 400 or end.status == 499)
            latency = end.ttfb or time.monotonic() - attempt.started
            for key in _health_keys(attempt):
                res.health.record_end(key, ok=ok, latency=latency)
        if end.outcome is Outcome.ANSWERED and end.status < 400:
            self.quotas.counted(attempt, end.usage)
        if end.outcome is not Outcome.FAILED:
            self._record(
                call, attempt, end.status, usage=end.usage, error_kind=end.error_kind, ttft=end.ttfb
            )

    def _release_probes(self, gates: list[str]) -> None:
        for key in gates:
            self._res.breakers.release_probe(key)

    def _after_failure(self, attempt: Attempt, gates: list[str], err: errors.OmniError) -> Action:
        """Apply what a failure means to the accounts and breakers; return
        where the request goes next."""
        if isinstance(err, errors.RateLimited):  # our own limiter: just go elsewhere
            return Action.NEXT_ACCOUNT
        self.quotas.failed(attempt, err)
        status = getattr(err, "upstream_status", None)
        failure: Failure = attempt.provider.family.classify(status, err.kind)
        if status == 401 and self.credentials.rejected(attempt.account):
            failure = dataclasses.replace(failure, cool_account=None)
        res = self._res
        if failure.upstream_alive:
            for key in gates:
                res.breakers.record_success(key)
        if failure.cool_account is not None:
            account_id, model = attempt.account.id, attempt.target.model
            key = (
                account_model_key(account_id, model, attempt.who)
                if failure.cool_scope == "model"
                else account_key(account_id, attempt.who)
            )
            res.cooldowns.trip(key, err.retry_after, reason=failure.cool_account)
        if failure.breaker_failure:
            provider, model = attempt.provider.name, attempt.target.model
            # This model's breaker (and its combo step's) always; the
            # provider's only when the provider itself is in trouble: it
            # cannot be reached, or several of its models fail.
            wide = _unreachable(err) or (
                res.models_failing(provider, model, res.breakers.window, time.monotonic()) > 1
            )
            for key in gates:
                if key != provider_key(provider) or wide:
                    res.breakers.record_failure(key)
        return failure.action

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
        if call.recorded:
            return
        call.recorded = True
        usage = usage or ir.Usage()
        row = RequestLogRow(
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
            operation=call.operation.value,
            combo=attempt.target.combo if attempt else None,
            combo_step=attempt.target.step if attempt else None,
        )
        self.costs.price(row)
        if attempt is not None:
            attempt.cost = row.cost
        call.logged = row
        self._log(row)

    def _log(self, row: RequestLogRow) -> None:
        self._store.log_request(row)
        self.observers.ended(row)


def _gates(target: Target) -> list[str]:
    """The breakers a target's requests pass: its model's, its provider's, and
    its combo step's."""
    gates = [model_key(target.provider, target.model), provider_key(target.provider)]
    if target.combo is not None:
        gates.append(combo_key(target.combo, target.step))
    return gates


def _unreachable(err: errors.OmniError) -> bool:
    """The provider could not be reached at all (not one model's trouble)."""
    return isinstance(err, errors.UpstreamConnectError) or (
        isinstance(err, errors.UpstreamTimeout) and err.phase == "connect"
    )


def _health_keys(attempt: Attempt) -> tuple[str, str]:
    """Health per account (account strategies) and per target (combo strategies)."""
    return account_key(attempt.account.id), attempt.target.ref


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
