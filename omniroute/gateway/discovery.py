"""Model discovery: ask a provider's upstream which models it serves and
add them to the provider's model list (``replace``: make the list exactly
the upstream's); without a listing endpoint, check the account with the
smallest possible generation instead. ``omniroute provider discover`` and
``POST /api/providers/{name}/discover`` both run this.

Where the listing lives and how its pages read is the provider family's
business (``omniroute.providers``); how the list is merged is
``config.providers.merge_models``; this module drives the pages.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from omniroute import errors
from omniroute.config.editor import ConfigEditor
from omniroute.config.options import Options, ProviderOptions, egress_proxy
from omniroute.config.providers import merge_models
from omniroute.config.routing import catalog_entry
from omniroute.gateway.credentials import KIND_OAUTH, account_kind
from omniroute.gateway.secrets import Scrubber, proxy_secrets
from omniroute.providers import ProviderFamily, family_for
from omniroute.providers.accounts import is_pass_through
from omniroute.providers.family import Operation
from omniroute.settings import Settings
from omniroute.store import AccountRecord, ConfigSnapshot, ProviderRecord, sign_ins
from omniroute.upstream.cold import ColdClient, origin_path

MAX_PAGES = 20
_NO_LISTING = frozenset({404, 405, 501})


@dataclass(frozen=True, slots=True)
class Discovery:
    """What one discovery found and did."""

    provider: str
    listed: tuple[str, ...] | None  # None: the upstream has no listing endpoint
    models: tuple[str, ...]  # the provider's model list afterwards
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    kept: int = 0  # models the upstream does not list, kept (not replacing)
    probe_model: str | None = None  # no listing: the model a test call went to
    probe_status: int | None = None


async def discover(
    editor: ConfigEditor, settings: Settings, name: str, *, replace: bool = False
) -> Discovery:
    snap = await editor.store.snapshot()
    provider = snap.provider(name)
    if provider is None:
        raise errors.NotFound(f"unknown provider {name!r}")
    account = _first_account(snap, provider)
    entry = catalog_entry(provider, editor.catalog)
    family = family_for(provider.format, entry.dialect if entry else None)
    options = ProviderOptions.read(provider.extra)
    extra = dict(entry.headers) if entry else {}
    extra.update(options.headers)
    credential = await _credential(editor, account)
    headers = family.headers(
        credential,
        stream=False,
        auth_header=entry.auth_header if entry else None,
        extra=extra,
        client_headers={},
    )
    proxy = egress_proxy(
        Options.read(snap.settings), options, ProviderOptions.read(account.extra, "account")
    )
    # An upstream's or a proxy's error body may quote what it was sent.
    scrub = Scrubber((credential, *proxy_secrets(proxy), *options.headers.values()))
    async with ColdClient(settings, proxy) as http:
        listing = await _list_models(http, family, provider, headers, scrub)
        if listing is not None:
            return await _store_listing(editor, provider, listing, replace=replace)
        known = provider.models or (entry.model_ids if entry else ())
        return await _probe(http, family, provider, headers, known, scrub)


def _first_account(snap: ConfigSnapshot, provider: ProviderRecord) -> AccountRecord:
    # A pass-through account has no credential to ask with.
    accounts = [a for a in snap.accounts_for(provider.id) if not is_pass_through(a)]
    usable = [a for a in accounts if a.enabled] or list(accounts)
    if not usable:
        raise errors.BadRequest(
            f"provider {provider.name!r} has no account with a key of its own: add one "
            "first (a pass-through account only forwards its clients' credentials)"
        )
    return usable[0]


async def _list_models(
    http: ColdClient,
    family: ProviderFamily,
    provider: ProviderRecord,
    headers: list[tuple[str, str]],
    scrub: Scrubber,
) -> list[str] | None:
    """The upstream's model ids, or None when it has no listing endpoint."""
    url = family.models_url(provider.base_url)
    found: list[str] = []
    query: Mapping[str, str] = family.first_models_query()
    for _ in range(MAX_PAGES):
        status, body = await http.request("GET", _with_query(url, query), headers)
        if status in _NO_LISTING and not found:
            return None
        if not 200 <= status < 300:
            raise errors.BadRequest(
                f"GET {origin_path(url)} answered HTTP {status}{_detail(body, scrub)}"
            )
        page = family.parse_models(body)
        found.extend(i for i in page.ids if i not in found)
        query = page.next_query
        if not query:
            break
    return found


async def _store_listing(
    editor: ConfigEditor, provider: ProviderRecord, ids: list[str], *, replace: bool
) -> Discovery:
    if not ids:
        raise errors.BadRequest(
            f"provider {provider.name!r}: the upstream listed no models; nothing was changed"
        )
    old = list(provider.models)
    new, added, removed = merge_models(old, ids, replace=replace)
    if new != old:
        await editor.update_provider(provider.name, models=new)
    listed = set(ids)
    return Discovery(
        provider=provider.name,
        listed=tuple(ids),
        models=tuple(new),
        added=tuple(added),
        removed=tuple(removed),
        unchanged=len(old) - len(removed),
        kept=0 if replace else sum(m not in listed for m in old),
    )


async def _probe(
    http: ColdClient,
    family: ProviderFamily,
    provider: ProviderRecord,
    headers: list[tuple[str, str]],
    known: tuple[str, ...],
    scrub: Scrubber,
) -> Discovery:
    """No listing endpoint: one minimal generation proves the URL and key work."""
    if not known:
        raise errors.BadRequest(
            f"provider {provider.name!r} has no /models endpoint and no known model to test; "
            "give it a model list first"
        )
    model = known[0]
    url = family.url(Operation.CHAT, provider.base_url, model, stream=False)
    assert url is not None  # every family generates
    body = json.dumps(family.probe_body(model)).encode()
    status, answer = await http.request("POST", url, headers, body)
    if not 200 <= status < 300:
        raise errors.BadRequest(
            f"provider {provider.name!r} has no /models endpoint, and a test call to "
            f"{model!r} answered HTTP {status}{_detail(answer, scrub)}"
        )
    return Discovery(
        provider=provider.name,
        listed=None,
        models=provider.models,
        probe_model=model,
        probe_status=status,
    )


def _with_query(url: str, query: Mapping[str, str]) -> str:
    return f"{url}?{urlencode(query)}" if query else url


def _detail(body: bytes, scrub: Scrubber) -> str:
    """A short, key-free excerpt of an upstream error body."""
    text = body[:300].decode("utf-8", "replace").strip()
    text = scrub.text(text)
    text = " ".join(text.split())[:200]
    return f": {text}" if text else ""


async def _credential(editor: ConfigEditor, account: AccountRecord) -> str:
    """The account's key, or a signed-in account's current access token. The
    token is not refreshed here: the running gateway owns refreshing it, and
    two refreshers of one sign-in would end it."""
    if account_kind(account) != KIND_OAUTH:
        return account.api_key
    grant = await editor.store.read_sealed(
        lambda conn, sealer: sign_ins.read_grant(conn, sealer, account.id)
    )
    if grant is None or not grant.tokens.access_token:
        raise errors.BadRequest(f"account {account.id} is not signed in (omniroute login)")
    if grant.tokens.expires_at <= time.time():
        raise errors.BadRequest(
            f"account {account.id}'s token has expired; the running gateway refreshes it, "
            "try again in a minute"
        )
    return grant.tokens.access_token
