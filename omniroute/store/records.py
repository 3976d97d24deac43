"""Row values handed out by the store.

Records are immutable snapshots of rows; a ``ConfigSnapshot`` is everything
the request path needs from the configuration, read in one transaction so it
is internally consistent.  Secrets are decrypted into ``AccountRecord.api_key``
but kept out of every ``repr``.

Keys the request path reads from the free-form JSON ``extra`` columns:

provider ``extra``
    ``catalog``  catalog id the provider was added from (``deepseek``)
    ``proxy``    egress proxy URL for this provider, or ``"direct"`` to force a
                 direct connection whatever the global setting says; the URL
                 may carry a password: treat it as a secret
    ``limits``   rate limits, ``routing.ratelimit.Limits.to_dict()``
    ``headers``  extra request headers, {name: value}
    ``alias``    a custom provider's own short model prefix (optional)

account ``extra``
    ``proxy``    as above, for this account only (wins over the provider's)
    ``limits``   as above, for this account only

Global settings (``settings`` table, JSON values):
    ``proxy``             global egress proxy URL
    ``system_prompt``     global system prompt
    ``breaker``           {failure_threshold, window, cooldown}
    ``cooldown``          {base, factor, cap}
    ``fallback``          {max_attempts, max_seconds}
    ``account_strategy``  strategy ordering accounts inside a provider
                          (default ``fill-first``)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .key_scope import KeyScope
from .proxies import mask_proxy


@dataclass(frozen=True, slots=True)
class ProviderRecord:
    id: int
    name: str
    format: str
    base_url: str
    models: tuple[str, ...]
    enabled: bool
    extra: Mapping[str, Any]
    created_at: float

    def __repr__(self) -> str:
        return (
            f"ProviderRecord(id={self.id}, name={self.name!r}, format={self.format!r}, "
            f"base_url={self.base_url!r}, models={self.models!r}, enabled={self.enabled}, "
            f"extra={shown_extra(self.extra)!r})"
        )


@dataclass(frozen=True, slots=True)
class AccountRecord:
    id: int
    provider_id: int
    label: str | None
    api_key: str = field(repr=False)  # decrypted; never shown
    priority: int
    enabled: bool
    extra: Mapping[str, Any]
    created_at: float

    def __repr__(self) -> str:
        return (
            f"AccountRecord(id={self.id}, provider_id={self.provider_id}, label={self.label!r}, "
            f"priority={self.priority}, enabled={self.enabled}, "
            f"extra={shown_extra(self.extra)!r})"
        )


def shown_extra(extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` fit to show or log: a proxy URL's password masked."""
    shown = dict(extra)
    if "proxy" in shown:
        shown["proxy"] = mask_proxy(shown["proxy"])
    return shown


@dataclass(frozen=True, slots=True)
class ClientKeyRecord:
    id: int
    name: str | None
    key_hash: str
    prefix: str
    created_at: float
    revoked: bool
    last_used_at: float | None
    scope: KeyScope = KeyScope()
    # Usage: every request made with the key, answered or refused, and the
    # tokens of its answers. Not configuration: a snapshot's copy may lag.
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ComboTargetRecord:
    ref: str  # a model string or another combo's name
    weight: int = 1
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class ComboRecord:
    id: int
    name: str
    strategy: str
    enabled: bool
    system_prompt: str | None
    targets: tuple[ComboTargetRecord, ...]
    created_at: float


@dataclass(frozen=True, slots=True)
class AliasRecord:
    pattern: str  # ``*`` matches any text; first match by position wins
    target: str  # a model string or combo name; ``*`` takes the captured text
    position: int


@dataclass(frozen=True, slots=True)
class ConfigSnapshot:
    revision: int
    providers: tuple[ProviderRecord, ...]
    accounts: tuple[AccountRecord, ...]  # sorted by (provider_id, priority, id)
    client_keys: tuple[ClientKeyRecord, ...]
    settings: Mapping[str, Any]
    combos: tuple[ComboRecord, ...] = ()  # sorted by name
    aliases: tuple[AliasRecord, ...] = ()  # sorted by position
    # Lookup tables derived from the tuples above; built once in __post_init__.
    _by_name: Mapping[str, ProviderRecord] = field(init=False, repr=False, compare=False)
    _by_provider: Mapping[int, tuple[AccountRecord, ...]] = field(
        init=False, repr=False, compare=False
    )
    _by_hash: Mapping[str, ClientKeyRecord] = field(init=False, repr=False, compare=False)
    _combo_by_name: Mapping[str, ComboRecord] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        grouped: dict[int, list[AccountRecord]] = {}
        for account in self.accounts:
            grouped.setdefault(account.provider_id, []).append(account)
        # The dataclass is frozen: object.__setattr__ is the documented way to
        # fill derived fields during construction.
        object.__setattr__(self, "_by_name", MappingProxyType({p.name: p for p in self.providers}))
        object.__setattr__(
            self,
            "_by_provider",
            MappingProxyType({pid: tuple(rows) for pid, rows in grouped.items()}),
        )
        object.__setattr__(
            self, "_by_hash", MappingProxyType({k.key_hash: k for k in self.client_keys})
        )
        object.__setattr__(
            self, "_combo_by_name", MappingProxyType({c.name: c for c in self.combos})
        )

    def provider(self, name: str) -> ProviderRecord | None:
        return self._by_name.get(name)

    def __repr__(self) -> str:
        # Settings may hold a proxy URL with a password: counts only.
        return (
            f"ConfigSnapshot(revision={self.revision}, providers={len(self.providers)}, "
            f"accounts={len(self.accounts)}, client_keys={len(self.client_keys)}, "
            f"combos={len(self.combos)}, aliases={len(self.aliases)}, "
            f"settings={sorted(self.settings)})"
        )

    def combo(self, name: str) -> ComboRecord | None:
        return self._combo_by_name.get(name)

    def accounts_for(self, provider_id: int) -> tuple[AccountRecord, ...]:
        return self._by_provider.get(provider_id, ())

    def key_by_hash(self, key_hash: str) -> ClientKeyRecord | None:
        """The client key whose SHA-256 hex digest is ``key_hash`` (revoked ones too).

        A dict lookup on the digest, not on the secret: timing can at most reveal
        digest bytes, which do not help find a key that hashes to them.
        """
        return self._by_hash.get(key_hash)


@dataclass(slots=True)
class RequestLogRow:
    ts: float
    request_id: str
    model: str
    status: int
    latency_ms: float
    client_key_id: int | None = None
    resolved_model: str | None = None
    provider: str | None = None
    account_id: int | None = None
    client_format: str | None = None
    upstream_format: str | None = None
    stream: bool = False
    error_kind: str | None = None
    ttft_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    usage_estimated: bool = False
    operation: str = "chat"
    cost: float | None = None  # USD at the prices in force when logged; None: no price known
    combo: str | None = None  # the combo and step that served it, if any
    combo_step: int | None = None
