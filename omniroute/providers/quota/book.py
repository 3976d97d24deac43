"""What is known of every account's quota windows, in memory.

Keyed by whose quota it is: an account, or on a pass-through account one
client credential (the caller builds the key). A newer report of a window
replaces the older one; a window past its reset is forgotten (its usage
started over). A window that gave no reset time is trusted for
``UNKNOWN_RESET`` seconds after it was seen, so a refusal without a date
cannot block an account for good.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from omniroute.providers.quota.exhausted import UNKNOWN_RESET
from omniroute.providers.quota.window import Window

MAX_KEYS = 10_000  # pass-through credentials are many: the oldest are dropped past this


@dataclass(frozen=True, slots=True)
class Block:
    """A window that keeps an account (or one of its models) out of routing."""

    window: Window
    until: float  # epoch seconds


class QuotaBook:
    __slots__ = ("_clock", "_keys")

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        # key -> window key -> (window, when it was seen)
        self._keys: dict[str, dict[tuple[str, str | None], tuple[Window, float]]] = {}

    def update(self, key: str, windows: Iterable[Window]) -> None:
        now = self._clock()
        known = self._keys.get(key)
        for window in windows:
            if known is None:
                known = self._keys.setdefault(key, {})
                if len(self._keys) > MAX_KEYS:
                    del self._keys[next(iter(self._keys))]
            known[window.key] = (window, now)

    def windows(self, key: str) -> list[Window]:
        """The windows still in force, by name."""
        now = self._clock()
        known = self._keys.get(key)
        if not known:
            return []
        live = {k: (w, seen) for k, (w, seen) in known.items() if _until(w, seen) > now}
        if len(live) != len(known):
            self._keys[key] = live
        return sorted((w for w, _ in live.values()), key=lambda w: (w.name, w.model or ""))

    def blocking(self, key: str, model: str, threshold: float) -> Block | None:
        """The window keeping ``model`` on this key out, if any (the one
        that lasts longest)."""
        now = self._clock()
        found: Block | None = None
        for window, seen in (self._keys.get(key) or {}).values():
            until = _until(window, seen)
            if until <= now or window.used_fraction < threshold or not window.limits(model):
                continue
            if found is None or until > found.until:
                found = Block(window, until)
        return found

    def until(self, key: str, window: Window) -> float:
        """When ``window`` (as stored under ``key``) stops counting."""
        entry = (self._keys.get(key) or {}).get(window.key)
        return _until(window, entry[1] if entry else self._clock())

    def keys(self) -> list[str]:
        return list(self._keys)


def _until(window: Window, seen: float) -> float:
    return window.resets_at if window.resets_at is not None else seen + UNKNOWN_RESET
