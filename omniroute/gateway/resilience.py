"""The gateway's memory of how upstreams behave, owned in one place.

Health (latency, success ratio, in-flight counts), balancing state, account
cooldowns, circuit breakers, rate limiters, idempotency and sticky sessions
are plain in-process objects from ``omniroute.routing``; this module builds
them from the settings, re-applies the configuration when it changes, keeps
breaker state across restarts, and describes everything for the health view.

Keys: ``model:<provider>/<model>`` (breaker), ``provider:<name>`` (breaker,
limits), ``combo:<name>#<step>`` (breaker), ``account:<id>`` (cooldown,
health, limits), ``account:<id>/<model>`` (cooldown); on a pass-through
account, ``account:<id>~<client>`` and ``account:<id>~<client>/<model>``
(cooldown, upstream holds) for each client credential, by its digest.

Trouble is kept where it belongs: a model's rate limit rests that model on
that account, a refused key rests the account; failures of one model open
that model's breaker, and the provider's breaker opens only when several of
its models fail, or it cannot be reached at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from typing import Any

from omniroute.gateway.registry import Registry
from omniroute.routing.breaker import Breakers
from omniroute.routing.cooldown import Cooldowns
from omniroute.routing.health import Health
from omniroute.routing.idempotency import IdempotencyCache
from omniroute.routing.ratelimit import Limits, RateLimiter
from omniroute.routing.strategies import StrategyState
from omniroute.store import Store

log = logging.getLogger("omniroute.resilience")

_STICKY_SESSIONS = 4096  # session id -> account, most recent kept
_BREAKER_SAVE_INTERVAL = 2.0


def provider_key(name: str) -> str:
    return f"provider:{name}"


def account_key(account_id: int, who: str | None = None) -> str:
    """An account's key; ``who`` names one client credential of a
    pass-through account, whose rests are its own."""
    return f"account:{account_id}~{who}" if who else f"account:{account_id}"


def combo_key(combo: str, step: int | None) -> str:
    return f"combo:{combo}#{step}"


def model_key(provider: str, model: str) -> str:
    return f"model:{provider}/{model}"


def account_model_key(account_id: int, model: str, who: str | None = None) -> str:
    return f"{account_key(account_id, who)}/{model}"


class Resilience:
    def __init__(self, price_of: Callable[[str], float | None] | None = None) -> None:
        self.health = Health()
        self.strategies = StrategyState(health=self.health, price_of=price_of)
        self.cooldowns = Cooldowns()
        self.breakers = Breakers()
        self.limiter = RateLimiter()
        self.idempotency: IdempotencyCache[Any] = IdempotencyCache(ttl=5.0)
        self.limited: frozenset[str] = frozenset()  # keys that have limits configured
        self._sticky: OrderedDict[str, int] = OrderedDict()
        # provider -> {model: when it last failed}: tells one model's trouble
        # from the provider's.
        self._failing: dict[str, dict[str, float]] = {}
        self._saved_breakers = ""
        self._saver: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ configure

    def apply(self, registry: Registry) -> None:
        """Take the thresholds and limits of a (new) configuration."""
        breaker = _given(asdict(registry.options.breaker))
        if breaker:
            try:
                self.breakers.configure(**breaker)
            except (TypeError, ValueError) as exc:
                log.warning("ignoring breaker settings: %s", exc)
        cooldown = _given(asdict(registry.options.cooldown))
        if cooldown:
            try:
                self.cooldowns.configure(**cooldown)
            except ValueError as exc:
                log.warning("ignoring cooldown settings: %s", exc)
        limits: dict[str, Limits] = {}
        for provider in registry.providers():
            if provider.options.limits is not None:
                limits[provider_key(provider.name)] = provider.options.limits
            for account_id, options in provider.account_options.items():
                if options.limits is not None:
                    limits[account_key(account_id)] = options.limits
        for key, value in limits.items():
            self.limiter.set_limits(key, value)
        for key in self.limited - set(limits):
            self.limiter.set_limits(key, Limits())
        self.limited = frozenset(limits)

    # ---------------------------------------------------- failing models

    def models_failing(self, provider: str, model: str, window: float, now: float) -> int:
        """Note a failure of ``model``; how many of the provider's models
        failed within ``window`` seconds (this one included)."""
        seen = self._failing.setdefault(provider, {})
        seen[model] = now
        for name in [m for m, at in seen.items() if now - at > window]:
            del seen[name]
        return len(seen)

    def model_recovered(self, provider: str, model: str) -> None:
        seen = self._failing.get(provider)
        if seen is not None:
            seen.pop(model, None)

    # ------------------------------------------------------- sticky sessions

    def sticky_account(self, session: str | None) -> int | None:
        return None if session is None else self._sticky.get(session)

    def remember_session(self, session: str | None, account_id: int) -> None:
        if session is None:
            return
        self._sticky[session] = account_id
        self._sticky.move_to_end(session)
        while len(self._sticky) > _STICKY_SESSIONS:
            self._sticky.popitem(last=False)

    # ------------------------------------------------- breaker persistence

    async def restore(self, store: Store) -> None:
        saved = await store.load_breaker_state()
        try:
            self.breakers.restore(saved)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("ignoring saved breaker state: %s", exc)
        self._saved_breakers = json.dumps(self.breakers.to_dict(), sort_keys=True)

    def start_saving(self, store: Store) -> None:
        self._saver = asyncio.get_running_loop().create_task(self._save_loop(store))

    async def stop_saving(self, store: Store) -> None:
        if self._saver is not None:
            self._saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._saver
            self._saver = None
        await self.save(store)

    async def save(self, store: Store) -> None:
        state = self.breakers.to_dict()
        text = json.dumps(state, sort_keys=True)
        if text != self._saved_breakers:
            await store.save_breaker_state(state)
            self._saved_breakers = text

    async def _save_loop(self, store: Store) -> None:
        while True:
            await asyncio.sleep(_BREAKER_SAVE_INTERVAL)
            try:
                await self.save(store)
            except Exception:
                log.exception("could not save breaker state")

    # ---------------------------------------------------------------- reset

    def tracked(self) -> set[str]:
        """Every key a breaker, cooldown or limiter holds state for."""
        return (
            {b.key for b in self.breakers.listing()}
            | {c.key for c in self.cooldowns.listing()}
            | {li.key for li in self.limiter.listing()}
        )

    def reset(self, keys: Iterable[str] | None = None) -> None:
        """An operator's reset of the given keys (None: all): breakers close,
        cooldowns end, limiters forget recent starts and upstream holds.
        Latency and success numbers are kept: they describe the past."""
        if keys is None:
            self.breakers.reset()
            self.cooldowns.reset()
            self.limiter.reset()
            self._failing.clear()
            return
        for key in keys:
            self.breakers.reset(key)
            self.cooldowns.clear(key)
            self.limiter.reset(key)
            if key.startswith("model:"):
                provider, _, model = key.removeprefix("model:").partition("/")
                self.model_recovered(provider, model)
            elif key.startswith("provider:"):
                self._failing.pop(key.removeprefix("provider:"), None)

    # ----------------------------------------------------------------- view

    def status(self) -> dict[str, Any]:
        return {
            "breakers": [
                {**asdict(b), "state": str(b.state.value)} for b in self.breakers.listing()
            ],
            "cooldowns": [asdict(c) for c in self.cooldowns.listing()],
            "limiters": [
                {**asdict(li), "limits": li.limits.to_dict()} for li in self.limiter.listing()
            ],
            "health": {key: asdict(snap) for key, snap in self.health.listing().items()},
        }


def _given(values: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a setting gives (None leaves the component's default)."""
    return {name: value for name, value in values.items() if value is not None}
