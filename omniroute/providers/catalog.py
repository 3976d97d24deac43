"""The built-in provider catalog: data in ``catalog.json``, read and checked here.

A provider entry says how to reach one kind of upstream:

    id           stable identifier, also usable as a model prefix (``openai/gpt-5``)
    alias        short model prefix (``cc/claude-opus-4-6``); unique, and never
                 another provider's id
    name         human name for the dashboard
    format       wire format the upstream speaks: openai | anthropic | gemini |
                 openai-responses
    dialect      optional provider-private variant of that format, handled by a
                 provider module (``chatgpt-plan``: the Responses API within the
                 limits of requests paid by a ChatGPT plan)
    base_url     public API base including its version segment; ``https`` unless
                 the provider is local (tier ``local``, loopback ``http`` allowed)
    auth         api_key | oauth | none | pass-through; OAuth entries name their
                 ``flow`` (pkce: authorization code with PKCE on a loopback redirect);
                 a pass-through entry gets one account that stores no key and
                 forwards each client's own credential
    auth_header  how the credential is sent: bearer | x-api-key | x-goog-api-key
    headers      extra default headers (e.g. ``anthropic-version``)
    tier         subscription | api | cheap | free | local — the fallback story
                 (subscription → API key → cheap → free), local last
    wildcard     true when the upstream accepts any model id (aggregators)
    strip        answer fields the upstream adds that strict SDKs refuse
                 (dotted paths, e.g. ``x_groq``, ``usage.usage_breakdown``):
                 removed even from answers passed through unchanged
    capabilities what the provider's API serves besides chat (chat, embeddings,
                 images, transcription, speech, moderation, rerank, completions);
                 ``["chat"]`` when not given
    notice       optional text shown when the provider is added (terms of use,
                 how to point a client at it)
    quota        optional: the quota reader for its usage windows (``anthropic``,
                 ``openai``, ``github``, ``codex``, ``zai``, ``kimi``, ``minimax``;
                 see ``providers/quota/readers.py``)
    quota_limits optional: limits the plan publishes but does not report usage
                 of, counted by the gateway (``[{"window": "5h", "requests": 200}]``)
    models       known models: id, context, max_output, price (USD per 1M tokens:
                 input, output, cached_input, reasoning), and capabilities when
                 the model does less than its provider (an embedding model)

Prices are approximate public list prices. Subscription providers carry the list
price of the same model on the pay-per-token API (what the call would have cost
there); free and local providers are priced at 0.

    catalog = Catalog.load()                # packaged JSON, validated
    catalog.get("cc")                       # by id or alias -> CatalogProvider | None
    catalog.get("openai").model("gpt-5")    # -> CatalogModel | None

Invalid data raises ``errors.ConfigError`` naming the provider and the field.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from omniroute.errors import BadRequest, ConfigError
from omniroute.formats.wire import WIRE_FORMATS
from omniroute.providers import DIALECTS, family_for
from omniroute.providers.family import capabilities_of, check_capabilities
from omniroute.providers.quota.estimate import QuotaLimit, parse_limits
from omniroute.providers.quota.readers import READERS
from omniroute.routing.model import TIERS

AUTH_KINDS = frozenset({"api_key", "oauth", "none", "pass-through"})
AUTH_HEADERS = frozenset({"bearer", "x-api-key", "x-goog-api-key"})
FLOWS = frozenset({"pkce"})
QUOTA_READERS = frozenset(READERS)  # the quota readers a catalog entry may name
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per 1M tokens."""

    input: float
    output: float
    cached_input: float | None = None
    reasoning: float | None = None

    def blended(self) -> float:
        """One number for ranking by cost: 3 input tokens per output token.

        Coding-agent traffic is input-heavy; a 3:1 blend is the common convention
        for comparing list prices.
        """
        return (3 * self.input + self.output) / 4

    def cost(self, input_tokens: int, output_tokens: int, cached: int, reasoning: int) -> float:
        """USD for one answer. ``input_tokens`` counts cached ones too and
        ``output_tokens`` reasoning ones too (how the request log keeps them),
        so each token is charged once: cached at the cached price, reasoning at
        the reasoning price, each falling back to the plain one."""
        cached = min(max(cached, 0), max(input_tokens, 0))
        reasoning = min(max(reasoning, 0), max(output_tokens, 0))
        cached_price = self.input if self.cached_input is None else self.cached_input
        reasoning_price = self.output if self.reasoning is None else self.reasoning
        total = (
            (input_tokens - cached) * self.input
            + cached * cached_price
            + (output_tokens - reasoning) * self.output
            + reasoning * reasoning_price
        )
        return max(total, 0.0) / 1_000_000

    def to_json(self) -> dict[str, float | None]:
        return {
            "input": self.input,
            "output": self.output,
            "cached_input": self.cached_input,
            "reasoning": self.reasoning,
        }


@dataclass(frozen=True, slots=True)
class CatalogModel:
    id: str
    context: int | None = None
    max_output: int | None = None
    price: ModelPrice | None = None
    capabilities: tuple[str, ...] | None = None  # None: the provider's


@dataclass(frozen=True, slots=True)
class CatalogProvider:
    id: str
    alias: str
    name: str
    format: str
    base_url: str
    auth: str
    auth_header: str
    headers: Mapping[str, str] = field(hash=False)
    tier: str
    models: tuple[CatalogModel, ...]
    flow: str | None = None
    dialect: str | None = None
    wildcard: bool = False
    strip: tuple[str, ...] = ()
    docs: str = ""
    capabilities: tuple[str, ...] = ("chat",)
    notice: str | None = None
    quota: str | None = None  # the quota reader's name
    quota_limits: tuple[QuotaLimit, ...] = ()

    def model(self, model_id: str) -> CatalogModel | None:
        for model in self.models:
            if model.id == model_id:
                return model
        return None

    @property
    def model_ids(self) -> tuple[str, ...]:
        return tuple(m.id for m in self.models)

    @property
    def tier_rank(self) -> int:
        return TIERS.index(self.tier)

    def to_json(self) -> dict[str, Any]:
        """Every field, as ``provider catalog --json`` and ``GET /api/catalog`` give it."""
        return {
            "id": self.id,
            "alias": self.alias,
            "name": self.name,
            "tier": self.tier,
            "format": self.format,
            "dialect": self.dialect,
            "auth": self.auth,
            "flow": self.flow,
            "auth_header": self.auth_header,
            "base_url": self.base_url,
            "headers": dict(self.headers),
            "wildcard": self.wildcard,
            "capabilities": list(self.capabilities),
            "docs": self.docs,
            "quota": self.quota,
            "notice": self.notice,
            "quota_limits": [
                {"window": q.window, "requests": q.requests, "tokens": q.tokens}
                for q in self.quota_limits
            ],
            "models": [dataclasses.asdict(m) for m in self.models],
        }


class Catalog:
    """Read-only set of providers with lookup by id or alias."""

    __slots__ = ("_providers", "_by_key")

    def __init__(self, providers: Iterable[CatalogProvider]) -> None:
        self._providers = tuple(providers)
        self._by_key: dict[str, CatalogProvider] = {}
        for p in self._providers:
            _check_provider(p)
            if p.id in self._by_key:
                raise ConfigError(f"catalog: duplicate provider id or alias {p.id!r}")
            self._by_key[p.id] = p
        for p in self._providers:
            if p.alias in self._by_key:
                raise ConfigError(
                    f"catalog: alias {p.alias!r} of {p.id!r} is already an id or alias"
                )
            self._by_key[p.alias] = p

    @classmethod
    def load(cls) -> Catalog:
        """The catalog shipped in the package (``omniroute/providers/catalog.json``)."""
        # Read beside this module (the package ships it as package data).
        text = (Path(__file__).resolve().parent / "catalog.json").read_text("utf-8")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"catalog: catalog.json is not valid JSON ({exc})") from None
        return cls.from_data(data)

    @classmethod
    def from_data(cls, data: Any) -> Catalog:
        if not isinstance(data, dict) or not isinstance(data.get("providers"), list):
            raise ConfigError("catalog: expected an object with a 'providers' list")
        return cls(_parse_provider(raw) for raw in data["providers"])

    def get(self, id_or_alias: str) -> CatalogProvider | None:
        return self._by_key.get(id_or_alias) or self._by_key.get(id_or_alias.lower())

    def all(self) -> tuple[CatalogProvider, ...]:
        return self._providers

    def __len__(self) -> int:
        return len(self._providers)


# --- parsing -------------------------------------------------------------------


def _parse_provider(raw: Any) -> CatalogProvider:
    if not isinstance(raw, dict):
        raise ConfigError("catalog: each provider must be an object")
    pid = raw.get("id")
    where = f"catalog provider {pid!r}"
    headers = raw.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ConfigError(f"{where}: 'headers' must map strings to strings")
    models = raw.get("models", [])
    if not isinstance(models, list):
        raise ConfigError(f"{where}: 'models' must be a list")
    strip = raw.get("strip", [])
    if not isinstance(strip, list) or not all(isinstance(s, str) and s for s in strip):
        raise ConfigError(f"{where}: 'strip' must be a list of field paths")
    return CatalogProvider(
        id=_req_str(raw, "id", where),
        alias=_req_str(raw, "alias", where),
        name=_req_str(raw, "name", where),
        format=_req_str(raw, "format", where),
        base_url=_req_str(raw, "base_url", where),
        auth=_req_str(raw, "auth", where),
        auth_header=_req_str(raw, "auth_header", where),
        headers=MappingProxyType(dict(headers)),
        tier=_req_str(raw, "tier", where),
        models=tuple(_parse_model(m, where) for m in models),
        flow=_opt_str(raw, "flow", where),
        dialect=_opt_str(raw, "dialect", where),
        wildcard=_opt_bool(raw, "wildcard", where),
        docs=_opt_str(raw, "docs", where) or "",
        strip=tuple(strip),
        capabilities=_capabilities(raw, where) or ("chat",),
        quota=_opt_str(raw, "quota", where),
        notice=_opt_str(raw, "notice", where) or None,
        quota_limits=parse_limits(raw.get("quota_limits"), where),
    )


def _parse_model(raw: Any, where: str) -> CatalogModel:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: each model must be an object")
    mid = _req_str(raw, "id", where)
    where = f"{where} model {mid!r}"
    price = raw.get("price")
    return CatalogModel(
        id=mid,
        context=_opt_positive_int(raw, "context", where),
        max_output=_opt_positive_int(raw, "max_output", where),
        price=None if price is None else parse_price(price, where),
        capabilities=_capabilities(raw, where),
    )


def _capabilities(raw: dict[str, Any], where: str) -> tuple[str, ...] | None:
    value = raw.get("capabilities")
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
        raise ConfigError(f"{where}: 'capabilities' must be a non-empty list of names")
    try:
        return tuple(check_capabilities(value))
    except BadRequest as exc:
        raise ConfigError(f"{where}: {exc.message}") from None


def parse_price(raw: Any, where: str) -> ModelPrice:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: 'price' must be an object or null")
    unknown = set(raw) - {"input", "output", "cached_input", "reasoning"}
    if unknown:
        raise ConfigError(f"{where}: unknown price fields {sorted(unknown)}")
    values: dict[str, float | None] = {}
    for name in ("input", "output", "cached_input", "reasoning"):
        value = raw.get(name)
        if value is None and name in ("input", "output"):
            raise ConfigError(f"{where}: price needs {name!r}")
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or value < 0
        ):
            raise ConfigError(f"{where}: price {name!r} must be a number >= 0")
        values[name] = None if value is None else float(value)
    return ModelPrice(
        input=values["input"] or 0.0,
        output=values["output"] or 0.0,
        cached_input=values["cached_input"],
        reasoning=values["reasoning"],
    )


def _req_str(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key!r} must be a non-empty string")
    return value


def _opt_str(raw: dict[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{where}: {key!r} must be a string")
    return value


def _opt_bool(raw: dict[str, Any], key: str, where: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {key!r} must be true or false")
    return value


def _opt_positive_int(raw: dict[str, Any], key: str, where: str) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{where}: {key!r} must be a positive integer or null")
    return value


# --- validation ----------------------------------------------------------------


def _check_provider(p: CatalogProvider) -> None:
    where = f"catalog provider {p.id!r}"
    checks = (
        (p.format in WIRE_FORMATS, f"unknown format {p.format!r}"),
        (p.auth in AUTH_KINDS, f"unknown auth {p.auth!r}"),
        (p.auth_header in AUTH_HEADERS, f"unknown auth_header {p.auth_header!r}"),
        (p.tier in TIERS, f"unknown tier {p.tier!r}"),
        (p.dialect is None or p.dialect in DIALECTS, f"unknown dialect {p.dialect!r}"),
        (p.id == p.id.lower() and "/" not in p.id, "id must be lower case without '/'"),
        (p.alias == p.alias.lower() and "/" not in p.alias, "alias must be lower case without '/'"),
        (
            (p.auth == "oauth") == (p.flow is not None),
            "'flow' is required for oauth providers and only for them",
        ),
        (p.flow is None or p.flow in FLOWS, f"unknown flow {p.flow!r}"),
        (p.quota is None or p.quota in QUOTA_READERS, f"unknown quota reader {p.quota!r}"),
        (not p.base_url.endswith("/"), "base_url must not end with '/'"),
    )
    for ok, problem in checks:
        if not ok:
            raise ConfigError(f"{where}: {problem}")
    _check_base_url(p, where)
    offered = capabilities_of(family_for(p.format).operations)
    if not set(p.capabilities) <= offered:
        raise ConfigError(f"{where}: a {p.format} upstream cannot serve all of {p.capabilities}")
    seen: set[str] = set()
    for model in p.models:
        if model.id in seen:
            raise ConfigError(f"{where}: duplicate model {model.id!r}")
        seen.add(model.id)
        if p.tier == "local" and model.price is not None and model.price.blended() != 0:
            raise ConfigError(f"{where}: local model {model.id!r} must be priced at 0")
        if model.capabilities is not None and not set(model.capabilities) <= set(p.capabilities):
            raise ConfigError(f"{where}: model {model.id!r} has capabilities its provider lacks")


def _check_base_url(p: CatalogProvider, where: str) -> None:
    parts = urlsplit(p.base_url)
    if not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"{where}: base_url {p.base_url!r} is not a plain absolute URL")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and p.tier == "local" and parts.hostname in _LOOPBACK_HOSTS:
        return
    raise ConfigError(f"{where}: base_url must use https (plain http only for local providers)")
