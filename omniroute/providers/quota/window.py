"""One usage window of one account, the same shape whatever the provider.

Providers report usage in their own ways: Claude's headers give a fraction
used, its usage body and Codex a percentage used, Copilot the percentage
*remaining*, the coding plans counts. Every reader turns what it finds into
``Window``s, so routing and the listing compare like with like.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

Scope = Literal["account", "model"]
Source = Literal["headers", "endpoint", "estimate", "error"]


@dataclass(frozen=True, slots=True)
class Window:
    name: str  # "5h", "7d", "requests-1m", "tokens-1m", "weekly"...
    used_fraction: float  # 0..1, clamped
    resets_at: float | None = None  # epoch seconds; None: the provider did not say
    scope: Scope = "account"
    model: str | None = None  # the model a model-scoped window limits
    estimated: bool = False  # counted by us, not reported by the provider
    source: Source = "headers"

    def __post_init__(self) -> None:
        used = self.used_fraction
        if not math.isfinite(used):
            used = 0.0
        object.__setattr__(self, "used_fraction", min(1.0, max(0.0, used)))

    @property
    def key(self) -> tuple[str, str | None]:
        """What a newer report of the same window replaces it by."""
        return self.name, self.model

    def limits(self, model: str) -> bool:
        """Whether this window counts for requests to ``model``."""
        if self.scope == "account":
            return True
        return self.model is not None and self.model.lower() == model.lower()

    def over(self, threshold: float, now: float) -> bool:
        """At or above ``threshold`` and not reset yet."""
        return self.used_fraction >= threshold and not self.expired(now)

    def expired(self, now: float) -> bool:
        return self.resets_at is not None and self.resets_at <= now

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "name": self.name,
            "used_fraction": round(self.used_fraction, 4),
            "used_percent": round(self.used_fraction * 100, 1),
            "resets_at": self.resets_at,
            "resets_in": None
            if self.resets_at is None
            else max(0.0, round(self.resets_at - now, 1)),
            "scope": self.scope,
            "model": self.model,
            "estimated": self.estimated,
            "source": self.source,
        }
