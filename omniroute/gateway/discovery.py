"""``omniroute provider discover NAME``: ask the upstream which models it
serves and add them to the provider's model list (``--replace``: make the
list exactly the upstream's); without a model list, check the account with
the smallest possible generation instead.

Merging is the default because a hand-given list often names models an
upstream does not list (aliases, private deployments) and losing them
silently would break routing that worked.

Where the listing lives and how its pages read is the provider family's
business (``omniroute.providers``); this module only drives the pages and
prints what it found.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import urlencode

from omniroute import errors
from omniroute.config.editor import ConfigEditor
from omniroute.config.options import Options, ProviderOptions, egress_proxy
from omniroute.config.routing import catalog_entry
from omniroute.gateway.secrets import Scrubber, proxy_secrets
from omniroute.providers import ProviderFamily, family_for
from omniroute.providers.catalog import Catalog
from omniroute.providers.family import Operation
from omniroute.settings import Settings
from omniroute.store import AccountRecord, ConfigSnapshot, ProviderRecord, Store
from omniroute.upstream.cold import ColdClient, origin_path

MAX_PAGES = 20
_NO_LISTING = frozenset({404, 405, 501})


async def discover(store: Store, settings: Settings, name: str, *, replace: bool = False) -> int:
    snap = await store.snapshot()
    provider = snap.provider(name)
    if provider is None:
        raise errors.BadRequest(f"unknown provider {name!r}")
    account = _first_account(snap, provider)
    entry = catalog_entry(provider, Catalog.load())
    family = family_for(provider.format)
    options = ProviderOptions.read(provider.extra)
    extra = dict(entry.headers) if entry else {}
    extra.update(options.headers)
    headers = family.headers(
        account.api_key,
        stream=False,
        auth_header=entry.auth_header if entry else None,
        extra=extra,
        client_headers={},
    )
    proxy = egress_proxy(
        Options.read(snap.settings), options, ProviderOptions.read(account.extra, "account")
    )
    # An upstream's or a proxy's error body may quote what it was sent.
    scrub = Scrubber((account.api_key, *proxy_secrets(proxy), *options.headers.values()))
    async with ColdClient(settings, proxy) as http:
        listing = await _list_models(http, family, provider, headers, scrub)
        if listing is not None:
            return await _store_listing(store, provider, listing, replace=replace)
        known = provider.models or (entry.model_ids if entry else ())
        return await _probe(http, family, provider, headers, known, scrub)


def _first_account(snap: ConfigSnapshot, provider: ProviderRecord) -> AccountRecord:
    accounts = snap.accounts_for(provider.id)
    usable = [a for a in accounts if a.enabled] or list(accounts)
    if not usable:
        raise errors.BadRequest(
            f"provider {provider.name!r} has no account: add one with `omniroute provider add`"
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
    store: Store, provider: ProviderRecord, ids: list[str], *, replace: bool
) -> int:
    if not ids:
        raise errors.BadRequest(
            f"provider {provider.name!r}: the upstream listed no models; nothing was changed"
        )
    old = list(provider.models)
    listed = set(ids)
    added = [m for m in ids if m not in old]
    if replace:
        new, removed = list(ids), [m for m in old if m not in listed]
    else:
        new, removed = old + added, []
    unchanged = len(old) - len(removed)
    if new != old:
        await ConfigEditor(store).update_provider(provider.name, models=new)
    print(
        f"provider {provider.name}: the upstream lists {len(ids)} model(s); "
        f"{len(added)} added, {len(removed)} removed, {unchanged} unchanged"
    )
    for model in added:
        print(f"  + {model}")
    for model in removed:
        print(f"  - {model}")
    unlisted = sum(m not in listed for m in old) if not replace else 0
    if unlisted:
        print(f"  ({unlisted} model(s) the upstream does not list were kept; --replace drops them)")
    return 0


async def _probe(
    http: ColdClient,
    family: ProviderFamily,
    provider: ProviderRecord,
    headers: list[tuple[str, str]],
    known: tuple[str, ...],
    scrub: Scrubber,
) -> int:
    """No listing endpoint: one minimal generation proves the URL and key work."""
    if not known:
        raise errors.BadRequest(
            f"provider {provider.name!r} has no /models endpoint and no known model to test; "
            f"name one with `omniroute provider set {provider.name} --models MODEL`"
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
    print(
        f"provider {provider.name}: no /models endpoint; a test call to {model} worked "
        f"(HTTP {status}); the model list was not changed"
    )
    return 0


def _with_query(url: str, query: Mapping[str, str]) -> str:
    return f"{url}?{urlencode(query)}" if query else url


def _detail(body: bytes, scrub: Scrubber) -> str:
    """A short, key-free excerpt of an upstream error body."""
    text = body[:300].decode("utf-8", "replace").strip()
    text = scrub.text(text)
    text = " ".join(text.split())[:200]
    return f": {text}" if text else ""
