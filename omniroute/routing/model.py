"""The routing's own view of the configuration: plain frozen values.

``resolve`` and ``strategies`` both read these; they hold no behaviour beyond
small lookups, so every routing module can import them without a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Fallback preference order (subscription -> API key -> cheap -> free), local
# last: bare model ids are tried on providers in this order.
TIERS = ("subscription", "api", "cheap", "free", "local")


@dataclass(frozen=True, slots=True)
class ProviderView:
    name: str
    alias: str | None
    models: tuple[str, ...]
    enabled: bool
    has_account: bool
    wildcard: bool = False  # accepts any model id (e.g. openrouter/*)
    tier: str = "api"  # catalog tier; orders bare-id candidates

    @property
    def usable(self) -> bool:
        return self.enabled and self.has_account


@dataclass(frozen=True, slots=True)
class ComboTarget:
    ref: str  # a model string or a combo name
    weight: int = 1
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Combo:
    name: str
    targets: tuple[ComboTarget, ...]
    strategy: str = "fill-first"
    enabled: bool = True
    system_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class RoutingView:
    providers: tuple[ProviderView, ...]
    combos: Mapping[str, Combo] = field(default_factory=dict, hash=False)
    # (pattern with * wildcards, model string or combo name); first match wins
    aliases: tuple[tuple[str, str], ...] = ()

    def provider(self, prefix: str) -> ProviderView | None:
        """The provider a model-string prefix names: by name first, then alias."""
        wanted = prefix.casefold()
        for p in self.providers:
            if p.name.casefold() == wanted:
                return p
        for p in self.providers:
            if p.alias is not None and p.alias.casefold() == wanted:
                return p
        return None


@dataclass(frozen=True, slots=True)
class Target:
    provider: str  # ProviderView.name
    model: str  # the id to send upstream
    combo: str | None = None  # the combo that lists this target
    step: int | None = None  # its index in that combo's targets

    @property
    def ref(self) -> str:
        return f"{self.provider}/{self.model}"
