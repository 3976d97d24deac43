"""``/api/providers``, ``/api/accounts``, ``/api/catalog``: what ``omniroute
provider …`` and ``account set`` do, over HTTP, through the same rules
(``config.providers``). Keys are never answered, only their last 4
characters; proxy passwords and header values are masked.

GET    /api/providers                      every provider with its accounts
POST   /api/providers                      {"name", "api_key", "format", "base_url",
                                            "models", "capabilities", "priority", "proxy",
                                            "limits", "pass_through"}
GET    /api/providers/{name}
PATCH  /api/providers/{name}               {"base_url", "models", "enabled", "alias",
                                            "proxy", "limits", "headers", "capabilities"}
DELETE /api/providers/{name}               with its accounts
POST   /api/providers/{name}/accounts      {"api_key", "priority", "proxy", "limits",
                                            "pass_through"}
PATCH  /api/accounts/{id}                  {"priority", "enabled", "proxy", "limits"}
DELETE /api/accounts/{id}
POST   /api/providers/{name}/test          {"model", "account"}: a tiny live call
POST   /api/providers/{name}/discover      {"replace"}: the upstream's model list
GET    /api/catalog                        the built-in providers

A pass-through account (``"pass_through": true``, or any account of a
catalog entry whose auth is pass-through) stores no key; the answer adding
one carries a ``notice``: the entry's terms note and client setup, or how
clients bring their own credential.
"""

from __future__ import annotations

from typing import Any

from omniroute.api.admin.access import ADMIN_SESSION, ADMIN_TOKEN, Guards
from omniroute.api.admin.manage import (
    API_NAMING,
    Manage,
    body_of,
    nullable,
    path_id,
    string_list,
)
from omniroute.api.bodies import field
from omniroute.config.describe import account_json, provider_json
from omniroute.config.providers import (
    KEEP,
    AccountChange,
    NewAccount,
    ProviderChange,
    add_account,
    add_provider,
    change_account,
    change_provider,
    pass_through_notice,
)
from omniroute.config.routing import catalog_entry
from omniroute.errors import BadRequest, NotFound
from omniroute.gateway.probe import probe_provider
from omniroute.http.message import Request, Response
from omniroute.http.routing import Router
from omniroute.providers.accounts import is_pass_through
from omniroute.providers.family import check_capabilities
from omniroute.settings import local_url
from omniroute.store import AccountRecord, ProviderRecord

_ACCOUNT_FIELDS = ("api_key", "priority", "proxy", "limits", "pass_through")
_NEW_PROVIDER = ("name", "format", "base_url", "models", "capabilities", *_ACCOUNT_FIELDS)
_PROVIDER_CHANGE = (
    "base_url",
    "models",
    "enabled",
    "alias",
    "proxy",
    "limits",
    "headers",
    "capabilities",
)
_ACCOUNT_CHANGE = ("priority", "enabled", "proxy", "limits")


class ProviderRoutes:
    __slots__ = ("_m",)

    def __init__(self, manage: Manage) -> None:
        self._m = manage

    def install(self, router: Router, guards: Guards) -> None:
        read, change = guards.token_or_session, guards.session
        router.add("GET", "/api/providers", read(self.list), label=ADMIN_TOKEN)
        router.add("POST", "/api/providers", change(self.create), label=ADMIN_SESSION)
        router.add("GET", "/api/providers/{name}", read(self.one), label=ADMIN_TOKEN)
        router.add("PATCH", "/api/providers/{name}", change(self.update), label=ADMIN_SESSION)
        router.add("DELETE", "/api/providers/{name}", change(self.delete), label=ADMIN_SESSION)
        accounts = "/api/providers/{name}/accounts"
        router.add("POST", accounts, change(self.add_account), label=ADMIN_SESSION)
        router.add("PATCH", "/api/accounts/{id}", change(self.update_account), label=ADMIN_SESSION)
        router.add("DELETE", "/api/accounts/{id}", change(self.delete_account), label=ADMIN_SESSION)
        router.add("POST", "/api/providers/{name}/test", change(self.test), label=ADMIN_SESSION)
        discover = "/api/providers/{name}/discover"
        router.add("POST", discover, change(self.discover), label=ADMIN_SESSION)
        router.add("GET", "/api/catalog", read(self.catalog), label=ADMIN_TOKEN)

    async def list(self, request: Request) -> Response:
        snapshot = await self._m.live.store.snapshot()
        catalog = self._m.live.catalog
        shown = [provider_json(p, snapshot, catalog) for p in snapshot.providers]
        return Response.json({"providers": shown})

    async def one(self, request: Request) -> Response:
        return Response.json(await self._provider(request.path_params["name"]))

    async def create(self, request: Request) -> Response:
        body = body_of(request, _NEW_PROVIDER)
        provider, added = await add_provider(
            self._m.editor(request),
            field(body, "name", str),
            _new_account(body),
            format=field(body, "format", str, required=False),
            base_url=field(body, "base_url", str, required=False),
            models=string_list(body, "models"),
            capabilities=_capabilities(body.get("capabilities")),
            naming=API_NAMING,
            new=True,
        )
        await self._m.applied()
        shown = await self._provider(provider.name)
        return Response.json({**shown, **self._notice(provider, added)}, status=201)

    async def update(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = body_of(request, _PROVIDER_CHANGE)
        headers = field(body, "headers", dict, required=False)
        if headers is not None and not all(
            isinstance(v, str) or v is None for v in headers.values()
        ):
            raise BadRequest("'headers' must map names to text (null removes one)")
        change = ProviderChange(
            base_url=field(body, "base_url", str, required=False),
            models=string_list(body, "models"),
            enabled=field(body, "enabled", bool, required=False),
            alias=nullable(body, "alias", str),
            proxy=nullable(body, "proxy", str),
            limits=field(body, "limits", dict, required=False),
            headers=headers,
            capabilities=_capabilities(body["capabilities"]) if "capabilities" in body else KEEP,
        )
        await change_provider(self._m.editor(request), name, change, naming=API_NAMING)
        await self._m.applied()
        return Response.json(await self._provider(name))

    async def delete(self, request: Request) -> Response:
        name = request.path_params["name"]
        naming = await self._m.editor(request).remove_provider(name)
        await self._m.applied()
        # Combos whose targets still name it: they now route elsewhere or nowhere.
        return Response.json({"deleted": name, "combos_naming_it": naming})

    async def add_account(self, request: Request) -> Response:
        body = body_of(request, _ACCOUNT_FIELDS)
        editor = self._m.editor(request)
        name = request.path_params["name"]
        added = await add_account(editor, name, _new_account(body), naming=API_NAMING)
        await self._m.applied()
        provider = (await self._m.live.store.snapshot()).provider(name)
        notice = {} if provider is None else self._notice(provider, added)
        return Response.json({**account_json(added), **notice}, status=201)

    async def update_account(self, request: Request) -> Response:
        account_id = path_id(request)
        body = body_of(request, _ACCOUNT_CHANGE)
        change = AccountChange(
            priority=field(body, "priority", int, required=False),
            enabled=field(body, "enabled", bool, required=False),
            proxy=nullable(body, "proxy", str),
            limits=field(body, "limits", dict, required=False),
        )
        editor = self._m.editor(request)
        updated = await change_account(editor, account_id, change, naming=API_NAMING)
        await self._m.applied()
        return Response.json(account_json(updated))

    async def delete_account(self, request: Request) -> Response:
        account_id = path_id(request)
        await self._m.editor(request).delete_account(account_id)
        await self._m.applied()
        return Response.json({"deleted": account_id})

    async def test(self, request: Request) -> Response:
        """``{"ok", "latency_ms", "status", "error", …}``: a 200 either way,
        since the question was answered; an upstream's refusal is in it."""
        body = body_of(request, ("model", "account"))
        name = request.path_params["name"]
        try:
            provider = self._m.live.registry().provider(name)
        except KeyError:
            raise NotFound(f"unknown provider {name!r}") from None
        result = await probe_provider(
            self._m.live.upstream,
            provider,
            model=field(body, "model", str, required=False),
            account_id=field(body, "account", int, required=False),
        )
        await self._m.auditor(request).record("provider.test", name, _outcome(result.to_json()))
        return Response.json(result.to_json())

    async def discover(self, request: Request) -> Response:
        from omniroute.gateway.discovery import discover  # httpx is only needed here

        body = body_of(request, ("replace",))
        replace = bool(field(body, "replace", bool, required=False))
        live = self._m.live
        found = await discover(
            self._m.editor(request), live.settings, request.path_params["name"], replace=replace
        )
        await self._m.applied()
        return Response.json(
            {
                "provider": found.provider,
                "listed": None if found.listed is None else list(found.listed),
                "models": list(found.models),
                "added": list(found.added),
                "removed": list(found.removed),
                "unchanged": found.unchanged,
                "kept": found.kept,
                "probe": None
                if found.probe_model is None
                else {"model": found.probe_model, "status": found.probe_status},
            }
        )

    async def catalog(self, request: Request) -> Response:
        return Response.json({"providers": [p.to_json() for p in self._m.live.catalog.all()]})

    def _notice(self, provider: ProviderRecord, added: AccountRecord) -> dict[str, str]:
        """``{"notice": …}`` when the account added is a pass-through one."""
        if not is_pass_through(added):
            return {}
        settings = self._m.live.settings
        entry = catalog_entry(provider, self._m.live.catalog)
        gateway = local_url(settings.host, settings.port)
        return {"notice": pass_through_notice(provider, entry, gateway)}

    async def _provider(self, name: str) -> dict[str, Any]:
        snapshot = await self._m.live.store.snapshot()
        record = snapshot.provider(name)
        if record is None:
            raise NotFound(f"unknown provider {name!r}")
        return provider_json(record, snapshot, self._m.live.catalog)


def _new_account(body: dict[str, Any]) -> NewAccount:
    return NewAccount(
        api_key=field(body, "api_key", str, required=False),
        priority=field(body, "priority", int, required=False),
        proxy=field(body, "proxy", str, required=False),
        limits=field(body, "limits", dict, required=False),
        pass_through=bool(field(body, "pass_through", bool, required=False)),
    )


def _outcome(result: dict[str, Any]) -> dict[str, Any]:
    """What a test's audit row keeps: whether it worked and what answered."""
    return {k: result[k] for k in ("ok", "status", "model", "account")}


def _capabilities(value: object) -> list[str] | None:
    """'capabilities': a list of names (null: the provider's default)."""
    return None if value is None else check_capabilities(value)
