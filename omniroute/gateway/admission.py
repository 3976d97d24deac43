"""The client API's door: who may call it, and how often.

Every client API request passes, in this order:

1. the caller's address (the real one behind trusted proxies) against
   ``client-deny`` and ``client-allow``: 403;
2. the per-address rate ``ip-rpm``: 429 with Retry-After;
3. the client key (or a key-less local caller when that is allowed): 401.

A model call (not a model listing) then holds a place under its key's own
limits, ``rpm`` and ``max_concurrent``, until its answer is over: 429 with
Retry-After. Nothing here queues: a caller over a limit is told at once
when to come back.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from omniroute.errors import RateLimited
from omniroute.gateway.auth import authenticate
from omniroute.gateway.peers import check_address, client_address
from omniroute.gateway.registry import Registry
from omniroute.http.message import Request
from omniroute.settings import Settings
from omniroute.store.records import ClientKeyRecord

WINDOW = 60.0  # seconds: "per minute"
_MAX_NAMES = 10_000  # addresses (or keys) whose recent starts are remembered
# A caller refused for concurrency has no better hint than this.
_BUSY_RETRY = 1.0

Release = Callable[[], None]


class SlidingWindow:
    """Starts per name within the last minute, for limits that refuse at
    once instead of queueing. Memory is bounded: at most ``max_names`` names,
    each with at most its limit's worth of start times."""

    __slots__ = ("_starts", "_max", "_clock")

    def __init__(
        self, max_names: int = _MAX_NAMES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._starts: dict[str, deque[float]] = {}
        self._max = max_names
        self._clock = clock

    def take(self, name: str, limit: int) -> float:
        """Count one start for ``name`` and return 0.0, or, when ``limit``
        starts already fall within the window, count nothing and return the
        seconds until one more would fit."""
        now = self._clock()
        starts = self._starts.get(name)
        if starts is None:
            if len(self._starts) >= self._max:
                self._forget(now)
            starts = self._starts[name] = deque()
        while starts and now - starts[0] >= WINDOW:
            starts.popleft()
        if len(starts) >= limit:
            # The oldest (len - limit + 1) starts must leave the window first.
            return starts[len(starts) - limit] + WINDOW - now
        starts.append(now)
        return 0.0

    def _forget(self, now: float) -> None:
        """Make room: names with no start in the window go first, else the
        name seen first."""
        idle = [n for n, s in self._starts.items() if not s or now - s[-1] >= WINDOW]
        for name in idle:
            del self._starts[name]
        if len(self._starts) >= self._max:
            del self._starts[next(iter(self._starts))]


class Admission:
    __slots__ = ("_settings", "_registry", "_per_address", "_per_key", "_active")

    def __init__(
        self,
        settings: Settings,
        registry: Callable[[], Registry],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._per_address = SlidingWindow(clock=clock)
        self._per_key = SlidingWindow(clock=clock)
        self._active: dict[int, int] = {}  # key id -> model calls in progress

    def admit(self, request: Request) -> ClientKeyRecord | None:
        """The caller's key (None: a key-less local caller), once its address
        and rate pass; raises Forbidden, RateLimited or Unauthorized."""
        registry = self._registry()
        options = registry.options
        address = client_address(request, options)
        request.state["client_address"] = address
        check_address(address, options.client_allow, options.client_deny, "this API")
        if options.ip_rpm is not None:
            wait = self._per_address.take(address, options.ip_rpm)
            if wait > 0:
                raise RateLimited(
                    f"Too many requests from your address (limit {options.ip_rpm} per minute).",
                    retry_after=wait,
                )
        return authenticate(
            request,
            registry.snapshot,
            require_on_loopback=self._settings.require_key_on_loopback,
            options=options,
        )

    def hold(self, key: ClientKeyRecord | None) -> Release | None:
        """A place for one model call under the key's own limits; the caller
        runs the release (exactly once is enough) when the answer is over.
        None when the key has no concurrency limit. Raises RateLimited."""
        if key is None:
            return None
        scope = key.scope
        if scope.max_concurrent is not None and self._active.get(key.id, 0) >= scope.max_concurrent:
            raise RateLimited(
                f"This API key already has {scope.max_concurrent} requests in progress, its limit.",
                retry_after=_BUSY_RETRY,
            )
        if scope.rpm is not None:
            wait = self._per_key.take(str(key.id), scope.rpm)
            if wait > 0:
                raise RateLimited(
                    f"This API key is over its limit of {scope.rpm} requests per minute.",
                    retry_after=wait,
                )
        if scope.max_concurrent is None:
            return None
        key_id = key.id
        self._active[key_id] = self._active.get(key_id, 0) + 1
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                left = self._active.get(key_id, 1) - 1
                if left > 0:
                    self._active[key_id] = left
                else:
                    self._active.pop(key_id, None)

        return release
