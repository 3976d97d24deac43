"""``omniroute provider discover NAME`` (SPEC C-02): ask the upstream which
models it serves and store them; without a model list, check the account
with the smallest possible chat call instead.

A cold path, so it uses httpx (imported here only).  httpx reaches SOCKS
proxies only with an extra package we do not ship, so SOCKS routes go
through the gateway's own upstream client, which speaks them natively.
Listing shapes:

    openai     GET {base}/models  -> {"data": [{"id": …}]}
    anthropic  GET {base}/models  -> {"data": [{"id": …}], "has_more", "last_id"}
               (https://docs.anthropic.com/en/api/models-list; ``after_id`` pages)
    gemini     GET {base}/models  -> {"models": [{"name": "models/…"}], "nextPageToken"}
               (https://ai.google.dev/api/models#method:-models.list)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit

from omniroute import errors
from omniroute.providers.catalog import Catalog
from omniroute.providers.upstream_request import endpoint_url, models_url, request_headers
from omniroute.settings import Settings
from omniroute.store import DIRECT, AccountRecord, ConfigSnapshot, ProviderRecord, Store

TIMEOUT = 20.0
MAX_PAGES = 20
_NO_LISTING = frozenset({404, 405, 501})
_PROBE_TEXT = "ping"


async def discover(store: Store, settings: Settings, name: str) -> int:
    snap = await store.snapshot()
    provider = snap.provider(name)
    if provider is None:
        raise errors.BadRequest(f"unknown provider {name!r}")
    account = _first_account(snap, provider)
    catalog = Catalog.load()
    entry_id = provider.extra.get("catalog")
    entry = catalog.get(entry_id) if isinstance(entry_id, str) else None
    extra_headers = dict(entry.headers) if entry else {}
    own = provider.extra.get("headers")
    if isinstance(own, Mapping):
        extra_headers.update({str(k): str(v) for k, v in own.items()})
    headers = _last_wins(
        request_headers(
            provider.format,
            account.api_key,
            stream=False,
            auth_header=entry.auth_header if entry else None,
            extra=extra_headers,
        )
    )
    proxy = _proxy(snap, provider, account)
    async with _Http(settings, proxy) as http:
        listing = await _list_models(http, provider, headers, account.api_key)
        if listing is not None:
            return await _store_listing(store, provider, listing)
        known = provider.models or (entry.model_ids if entry else ())
        return await _probe(http, provider, headers, known, account.api_key)


def _last_wins(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """One value per header name: a configured header replaces a default one
    (``anthropic-version`` comes from both the format and the catalog)."""
    return list({name.lower(): (name, value) for name, value in headers}.values())


def _first_account(snap: ConfigSnapshot, provider: ProviderRecord) -> AccountRecord:
    accounts = snap.accounts_for(provider.id)
    usable = [a for a in accounts if a.enabled] or list(accounts)
    if not usable:
        raise errors.BadRequest(
            f"provider {provider.name!r} has no account: add one with `omniroute provider add`"
        )
    return usable[0]


def _proxy(snap: ConfigSnapshot, provider: ProviderRecord, account: AccountRecord) -> str | None:
    """The most specific proxy setting wins (C-07); ``direct`` means none."""
    for value in (
        account.extra.get("proxy"),
        provider.extra.get("proxy"),
        snap.settings.get("proxy"),
    ):
        if isinstance(value, str) and value:
            return None if value == DIRECT else value
    return None


async def _list_models(
    http: _Http, provider: ProviderRecord, headers: list[tuple[str, str]], secret: str
) -> list[str] | None:
    """The upstream's model ids, or None when it has no listing endpoint."""
    url = models_url(provider.format, provider.base_url)
    found: list[str] = []
    query: dict[str, str] = _first_page(provider.format)
    for _ in range(MAX_PAGES):
        status, body = await http.request("GET", _with_query(url, query), headers)
        if status in _NO_LISTING and not found:
            return None
        if not 200 <= status < 300:
            raise errors.BadRequest(
                f"GET {_origin_path(url)} answered HTTP {status}{_detail(body, secret)}"
            )
        ids, query = _parse_page(provider.format, body)
        found.extend(i for i in ids if i not in found)
        if not query:
            break
    return found


def _first_page(fmt: str) -> dict[str, str]:
    if fmt == "gemini":
        return {"pageSize": "1000"}
    if fmt == "anthropic":
        return {"limit": "1000"}
    return {}


def _parse_page(fmt: str, body: bytes) -> tuple[list[str], dict[str, str]]:
    """(model ids, query for the next page or {})."""
    try:
        data = json.loads(body)
    except ValueError:
        raise errors.BadRequest("the model listing is not JSON") from None
    if not isinstance(data, dict):
        raise errors.BadRequest("the model listing is not a JSON object")
    if fmt == "gemini":
        ids = [
            str(m["name"]).removeprefix("models/")
            for m in data.get("models") or []
            if isinstance(m, dict)
            and isinstance(m.get("name"), str)
            and "generateContent" in m.get("supportedGenerationMethods", ["generateContent"])
        ]
        token = data.get("nextPageToken")
        return ids, ({"pageSize": "1000", "pageToken": token} if token else {})
    ids = [
        str(m["id"])
        for m in data.get("data") or []
        if isinstance(m, dict) and isinstance(m.get("id"), str)
    ]
    last = data.get("last_id")
    if fmt == "anthropic" and data.get("has_more") and isinstance(last, str):
        return ids, {"limit": "1000", "after_id": last}
    return ids, {}


async def _store_listing(store: Store, provider: ProviderRecord, ids: list[str]) -> int:
    if not ids:
        raise errors.BadRequest(
            f"provider {provider.name!r}: the upstream listed no models; nothing was changed"
        )
    await store.update_provider(provider.name, models=ids)
    print(f"provider {provider.name}: {len(ids)} model(s) found and stored")
    for model in ids:
        print(f"  {model}")
    return 0


async def _probe(
    http: _Http,
    provider: ProviderRecord,
    headers: list[tuple[str, str]],
    known: tuple[str, ...],
    secret: str,
) -> int:
    """No listing endpoint: one minimal generation proves the URL and key work."""
    if not known:
        raise errors.BadRequest(
            f"provider {provider.name!r} has no /models endpoint and no known model to test; "
            f"name one with `omniroute provider set {provider.name} --models MODEL`"
        )
    model = known[0]
    url = endpoint_url(provider.format, provider.base_url, model, False)
    body = json.dumps(_probe_body(provider.format, model)).encode()
    status, answer = await http.request("POST", url, headers, body)
    if not 200 <= status < 300:
        raise errors.BadRequest(
            f"provider {provider.name!r} has no /models endpoint, and a test call to "
            f"{model!r} answered HTTP {status}{_detail(answer, secret)}"
        )
    print(
        f"provider {provider.name}: no /models endpoint; a test call to {model} worked "
        f"(HTTP {status}); the model list was not changed"
    )
    return 0


def _probe_body(fmt: str, model: str) -> dict[str, Any]:
    message = [{"role": "user", "content": _PROBE_TEXT}]
    if fmt == "gemini":
        return {
            "contents": [{"role": "user", "parts": [{"text": _PROBE_TEXT}]}],
            "generationConfig": {"maxOutputTokens": 1},
        }
    if fmt == "openai-responses":
        # The Responses API refuses max_output_tokens below 16.
        return {"model": model, "input": _PROBE_TEXT, "max_output_tokens": 16}
    return {"model": model, "messages": message, "max_tokens": 1}


def _with_query(url: str, query: Mapping[str, str]) -> str:
    return f"{url}?{urlencode(query)}" if query else url


def _origin_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def _detail(body: bytes, secret: str) -> str:
    """A short, key-free excerpt of an upstream error body."""
    text = body[:300].decode("utf-8", "replace").strip()
    if secret:
        text = text.replace(secret, "***")
    text = " ".join(text.split())[:200]
    return f": {text}" if text else ""


class _Http:
    """One request at a time, through the chosen egress route."""

    __slots__ = ("_settings", "_proxy", "_httpx", "_upstream")

    def __init__(self, settings: Settings, proxy: str | None) -> None:
        self._settings = settings
        self._proxy = proxy
        self._httpx: Any = None
        self._upstream: Any = None

    async def __aenter__(self) -> _Http:
        if self._proxy is not None and self._proxy.lower().startswith("socks"):
            from omniroute.upstream.client import UpstreamClient

            self._upstream = UpstreamClient(self._settings)
        else:
            import httpx

            # Request lines and URLs only; never headers.  Quiet all the same.
            logging.getLogger("httpx").setLevel(logging.WARNING)
            self._httpx = httpx.AsyncClient(
                proxy=self._proxy, timeout=TIMEOUT, follow_redirects=False, trust_env=False
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._httpx is not None:
            await self._httpx.aclose()
        if self._upstream is not None:
            await self._upstream.aclose()

    async def request(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes = b""
    ) -> tuple[int, bytes]:
        if self._upstream is not None:
            return await self._via_upstream(method, url, headers, body)
        import httpx

        try:
            response = await self._httpx.request(method, url, headers=headers, content=body)
        except httpx.HTTPError as exc:
            # The exception text may name the proxy URL: only its kind is shown.
            raise errors.BadRequest(
                f"could not reach {_origin_path(url)} ({type(exc).__name__})"
            ) from None
        return response.status_code, response.content

    async def _via_upstream(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, bytes]:
        from omniroute.upstream.client import Timeouts

        limit = Timeouts(connect=TIMEOUT, first_byte=TIMEOUT, idle=TIMEOUT, total=TIMEOUT * 2)
        try:
            response = await self._upstream.send(
                method, url, headers, body, proxy=self._proxy, timeouts=limit
            )
            async with response:
                return response.status, await response.read()
        except errors.UpstreamError as exc:
            raise errors.BadRequest(f"could not reach {_origin_path(url)}: {exc.message}") from None
