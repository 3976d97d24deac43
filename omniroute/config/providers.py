"""Adding and changing providers and accounts: the rules ``omniroute
provider add|set|enable|disable``, ``account set``, ``provider discover``
and the management API share.

    a catalog id or alias     the catalog gives format, base URL and models
    a custom name             needs a format and a base URL
    a keyless catalog entry   (local servers: Ollama, LM Studio…) gets a
                              stand-in key, so it still has an account
    a pass-through account    (``--pass-through``, or a catalog entry whose
                              auth is pass-through) stores no key: each
                              request brings its client's own credential
    OAuth catalog entries     refused for now

Errors name the caller's own inputs (``--api-key`` for the CLI, ``'api_key'``
for the API) through a ``Naming``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from omniroute.config.editor import ConfigEditor, account_of
from omniroute.config.naming import Naming
from omniroute.config.routing import catalog_entry
from omniroute.errors import BadRequest, Conflict, NotFound
from omniroute.formats.wire import WIRE_FORMATS
from omniroute.providers.accounts import KIND_PASS_THROUGH, PASS_THROUGH_STAND_IN, is_pass_through
from omniroute.providers.catalog import CatalogProvider
from omniroute.providers.oauth.refused import refusal
from omniroute.routing.ratelimit import Limits
from omniroute.store import AccountRecord, ConfigSnapshot, ProviderRecord

# Keyless local servers (Ollama, LM Studio…) still need an account row to be
# routable; this stands in for the key they do not check.
KEYLESS_ACCOUNT_KEY = "no-key"
DEFAULT_LIMITS: Mapping[str, Any] = MappingProxyType(Limits().to_dict())
# Far inside SQLite's 64-bit integers.
MAX_PRIORITY = 1_000_000_000


class Keep(enum.Enum):
    """A value not given: leave the stored one as it is (None clears it)."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True, slots=True)
class NewAccount:
    api_key: str | None = None
    priority: int | None = None
    proxy: str | None = None  # a proxy URL, or "direct"
    limits: Mapping[str, Any] | None = None  # rate-limit fields; None in one: its default
    # No key of its own: each request's client brings its credential, which
    # is forwarded for that request only and never stored.
    pass_through: bool = False


@dataclass(frozen=True, slots=True)
class ProviderChange:
    base_url: str | None = None
    models: Sequence[str] | None = None  # empty: the catalog's
    enabled: bool | None = None
    alias: str | None | Keep = KEEP
    proxy: str | None | Keep = KEEP
    limits: Mapping[str, Any] | None = None  # merged into the stored ones
    headers: Mapping[str, str | None] | None = None  # None (or "") removes a header
    # What the provider serves (chat, embeddings…); None: back to its default.
    capabilities: Sequence[str] | None | Keep = KEEP


@dataclass(frozen=True, slots=True)
class AccountChange:
    priority: int | None = None
    enabled: bool | None = None
    proxy: str | None | Keep = KEEP
    limits: Mapping[str, Any] | None = None


# -- adding ---------------------------------------------------------------------------


async def add_provider(
    editor: ConfigEditor,
    name: str,
    account: NewAccount,
    *,
    format: str | None = None,
    base_url: str | None = None,
    models: Sequence[str] | None = None,
    capabilities: Sequence[str] | None = None,
    naming: Naming,
    new: bool = False,
) -> tuple[ProviderRecord, AccountRecord]:
    """Add provider ``name`` (a catalog id or alias, or a custom name) with
    an account, or (unless ``new``: Conflict) another account to it,
    changing its format, URL or models when they are given."""
    entry = editor.catalog.get(name)
    if entry is not None and entry.auth == "oauth":
        raise BadRequest(
            f"{entry.name} is added by signing in: `omniroute login {entry.id}` "
            "(or Providers → Sign in on the dashboard)"
        )
    why = refusal(name) if entry is None and format is None and base_url is None else None
    if why is not None:
        raise BadRequest(why)
    if format is not None and format not in WIRE_FORMATS:
        raise BadRequest(f"{naming.field('format')} must be one of: {', '.join(WIRE_FORMATS)}")
    url = None if base_url is None else check_base_url(base_url, naming)
    pass_through = account.pass_through or _pass_through_entry(entry)
    key = _given_key(account.api_key, naming, pass_through)
    name = entry.id if entry is not None else name
    snapshot = await editor.store.snapshot()
    existing = snapshot.provider(name)
    if new and existing is not None:
        raise Conflict(f"provider {name!r} exists already; add an account to it instead")
    if existing is not None and pass_through:
        _no_second_pass_through(snapshot, existing)
    key = _key_or_stand_in(key, entry, naming)
    provider_extra: dict[str, Any] | None = None
    if existing is not None:
        given = format is not None or url is not None or models is not None
        shape = (format or existing.format, url or existing.base_url, models) if given else None
    elif entry is not None:
        shape = (format or entry.format, url or entry.base_url, models)
        provider_extra = {"catalog": entry.id}
    else:
        if format is None or url is None:
            raise BadRequest(
                f"{name!r} is not in the catalog (see {naming.catalog}): a custom provider "
                f"needs {naming.field('format')} and {naming.field('base_url')}"
            )
        shape = (format, url, models)
    if capabilities is not None:
        provider_extra = {**(provider_extra or {}), "capabilities": list(capabilities)}
    return await editor.add_account(
        name,
        key,
        provider=shape,
        provider_extra=provider_extra,
        priority=check_priority(account.priority, naming.field("priority")),
        account_extra=_account_extra(account, pass_through),
        new_provider=new,
    )


async def add_account(
    editor: ConfigEditor, name: str, account: NewAccount, *, naming: Naming
) -> AccountRecord:
    """Another account for an existing provider (NotFound when there is none)."""
    snapshot = await editor.store.snapshot()
    record = snapshot.provider(name)
    if record is None:
        raise NotFound(f"unknown provider {name!r}")
    entry = catalog_entry(record, editor.catalog)
    pass_through = account.pass_through or _pass_through_entry(entry)
    key = _given_key(account.api_key, naming, pass_through)
    if pass_through:
        _no_second_pass_through(snapshot, record)
    _, added = await editor.add_account(
        name,
        _key_or_stand_in(key, entry, naming),
        priority=check_priority(account.priority, naming.field("priority")),
        account_extra=_account_extra(account, pass_through),
    )
    return added


def pass_through_notice(record: ProviderRecord, entry: CatalogProvider | None, gateway: str) -> str:
    """What to tell whoever adds a pass-through account: the catalog
    entry's own notice (terms of use, client setup), else how clients use
    it; ``gateway`` is the client API's address."""
    if entry is not None and entry.notice:
        return entry.notice.replace("{gateway}", gateway)
    return (
        f"Clients of {record.name} bring their own credential for it, in "
        "'Authorization: Bearer', 'x-api-key' or 'x-goog-api-key', and send their "
        "OmniRoute key in 'X-OmniRoute-Key'. Their credential is forwarded to "
        f"{record.base_url} for that one request and never stored; a request "
        "without one goes to the combo's other targets."
    )


def _pass_through_entry(entry: CatalogProvider | None) -> bool:
    return entry is not None and entry.auth == KIND_PASS_THROUGH


def _no_second_pass_through(snapshot: ConfigSnapshot, record: ProviderRecord) -> None:
    """One pass-through account per provider serves every client: a second
    would be the same account twice."""
    for account in snapshot.accounts_for(record.id):
        if is_pass_through(account):
            raise Conflict(
                f"provider {record.name!r} has a pass-through account already "
                f"(account {account.id})"
            )


def _given_key(api_key: str | None, naming: Naming, pass_through: bool) -> str:
    key = (api_key or "").strip()  # pasted keys often carry a newline
    if pass_through:
        if key:
            raise BadRequest(
                "a pass-through account stores no key (each client brings its own): "
                f"leave out {naming.field('api_key')}"
            )
        return PASS_THROUGH_STAND_IN
    if not key and api_key is not None:
        raise BadRequest(f"{naming.field('api_key')} must not be empty")
    return key


def _key_or_stand_in(key: str, entry: CatalogProvider | None, naming: Naming) -> str:
    if key:
        return key
    if entry is None or entry.auth != "none":
        raise BadRequest(f"{naming.field('api_key')} is required")
    return KEYLESS_ACCOUNT_KEY


def check_priority(priority: Any, where: str) -> int | None:
    """``priority`` when it is a whole number in range (or None); ``where``
    names the input in the error."""
    if priority is not None and (
        isinstance(priority, bool)
        or not isinstance(priority, int)
        or not -MAX_PRIORITY <= priority <= MAX_PRIORITY
    ):
        raise BadRequest(f"{where} must be a whole number from {-MAX_PRIORITY} to {MAX_PRIORITY}")
    return priority


def _account_extra(account: NewAccount, pass_through: bool) -> dict[str, Any] | None:
    extra: dict[str, Any] = {}
    if pass_through:
        extra["kind"] = KIND_PASS_THROUGH
    if account.proxy is not None:
        extra["proxy"] = account.proxy
    if account.limits is not None:
        extra["limits"] = merge_limits(None, account.limits)
    return extra or None


def check_base_url(url: str, naming: Naming) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"{naming.field('base_url')} must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


# -- changing -------------------------------------------------------------------------


async def change_provider(
    editor: ConfigEditor, name: str, change: ProviderChange, *, naming: Naming
) -> ProviderRecord:
    url = None if change.base_url is None else check_base_url(change.base_url, naming)
    current = (await editor.store.snapshot()).provider(name)
    if current is None:
        raise NotFound(f"unknown provider {name!r}")
    extra = _proxy_and_limits(change.proxy, change.limits, current.extra)
    if change.headers is not None:
        extra["headers"] = merge_headers(current.extra.get("headers"), change.headers) or None
    if change.alias is not KEEP:
        extra["alias"] = change.alias
    if change.capabilities is not KEEP:
        given = change.capabilities
        extra["capabilities"] = None if given is None else list(given)
    if url is None and change.models is None and change.enabled is None and not extra:
        raise BadRequest(f"nothing to change: give at least one {naming.option}")
    return await editor.update_provider(
        name, base_url=url, models=change.models, extra=extra or None, enabled=change.enabled
    )


async def change_account(
    editor: ConfigEditor, account_id: int, change: AccountChange, *, naming: Naming
) -> AccountRecord:
    current = account_of(await editor.store.snapshot(), account_id)
    extra = _proxy_and_limits(change.proxy, change.limits, current.extra)
    if change.priority is None and change.enabled is None and not extra:
        raise BadRequest(f"nothing to change: give at least one {naming.option}")
    return await editor.update_account(
        account_id,
        priority=check_priority(change.priority, naming.field("priority")),
        enabled=change.enabled,
        extra=extra or None,
    )


def _proxy_and_limits(
    proxy: str | None | Keep, limits: Mapping[str, Any] | None, current: Mapping[str, Any]
) -> dict[str, Any]:
    """The proxy and rate-limit part of a change to a provider or an account."""
    extra: dict[str, Any] = {}
    if proxy is not KEEP:
        extra["proxy"] = proxy
    if limits is not None:
        extra["limits"] = merge_limits(current.get("limits"), limits)
    return extra


def merge_limits(current: Any, given: Mapping[str, Any]) -> dict[str, Any] | None:
    """``given`` rate-limit fields merged into ``current`` (a None value sets
    its field back to the default); None when only defaults are left, which
    removes the limits altogether."""
    if not isinstance(given, Mapping):
        raise BadRequest("limits must be an object: {rpm, min_gap, max_concurrent, max_queue}")
    unknown = sorted(set(given) - set(DEFAULT_LIMITS))
    if unknown:
        raise BadRequest(f"unknown rate-limit fields: {', '.join(map(str, unknown))}")
    merged = dict(DEFAULT_LIMITS)
    if isinstance(current, Mapping):
        merged.update(current)
    for name, value in given.items():
        merged[name] = DEFAULT_LIMITS[name] if value is None else value
    return None if merged == dict(DEFAULT_LIMITS) else merged


def merge_headers(current: Any, given: Mapping[str, str | None]) -> dict[str, str]:
    """``given`` headers merged into ``current``; an empty or None value removes one."""
    headers = dict(current) if isinstance(current, Mapping) else {}
    for name, value in given.items():
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("a header needs a name")
        if value:
            headers[name.strip()] = value
        else:
            headers.pop(name.strip(), None)
    return headers


def merge_models(
    old: Sequence[str], listed: Sequence[str], *, replace: bool
) -> tuple[list[str], list[str], list[str]]:
    """A provider's model list after discovery: (new list, added, removed).
    Merging keeps hand-given models an upstream does not list (aliases,
    private deployments); ``replace`` makes the list exactly the upstream's."""
    seen = set(listed)
    added = [m for m in listed if m not in old]
    if replace:
        return list(listed), added, [m for m in old if m not in seen]
    return [*old, *added], added, []
