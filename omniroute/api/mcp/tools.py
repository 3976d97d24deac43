"""The tools. Each calls the code the management API calls (the editor, the
probes, the usage sums, the health view), so a change made here is checked,
committed and audited exactly as one made with ``/api`` or the CLI, with
``mcp`` as the actor.

    list_providers   providers, their accounts (keys masked), and the health
                     (breakers, cooldowns, limiters) of each
    usage_summary    requests, errors, tokens and cost summed like GET /api/usage
    create_combo     a new combo: name, targets, strategy
    toggle_account   put an account in or out of service
    test_model       a one-token call to a model as the gateway routes it
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from omniroute.api.admin.health import HEALTH_SECTIONS
from omniroute.api.admin.usage import usage_summary
from omniroute.api.mcp.context import Context, editor
from omniroute.config.combos import targets_from_json
from omniroute.config.describe import account_json, combo_json, provider_json
from omniroute.config.naming import Naming
from omniroute.config.providers import AccountChange, change_account
from omniroute.config.routing import routing_view
from omniroute.errors import NotFound
from omniroute.gateway.probe import probe_provider
from omniroute.routing.strategies import STRATEGIES
from omniroute.store.usage_hourly import USAGE_DIMENSIONS

# Errors about an argument name it as the tool's schema spells it.
MCP_NAMING = Naming(field=repr, catalog="`omniroute provider catalog`", option="argument")

Run = Callable[[Context, dict[str, Any]], Awaitable[dict[str, Any]]]

_WHEN = "unix seconds, or a span before now such as 24h, 7d, 30d"  # the forms GET /api/usage takes


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    title: str
    description: str
    input_schema: Mapping[str, Any]
    run: Run
    # Hints for the client (MCP tool annotations): whether it changes anything.
    annotations: Mapping[str, Any] = field(default_factory=dict)

    def listing(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "inputSchema": self.input_schema,
            "annotations": {"title": self.title, **self.annotations},
        }


def _object(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    return schema


_READ = {"readOnlyHint": True, "openWorldHint": False}


# -- list_providers


async def list_providers(context: Context, args: dict[str, Any]) -> dict[str, Any]:
    name = args.get("name")
    snapshot = await context.store.snapshot()
    health = await context.health()
    shown = []
    for record in snapshot.providers:
        if name is not None and record.name != name:
            continue
        provider = provider_json(record, snapshot, context.catalog)
        provider["health"] = (
            None
            if health is None
            else {
                section: [i for i in health.get(section, []) if i.get("provider") == record.name]
                for section in HEALTH_SECTIONS
            }
        )
        shown.append(provider)
    if name is not None and not shown:
        raise NotFound(f"unknown provider {name!r}")
    return {"providers": shown, "gateway": _gateway(health)}


def _gateway(health: Mapping[str, Any] | None) -> dict[str, Any]:
    if health is None:
        return {
            "running": False,
            "note": "no gateway is running for this data directory: no health to show",
        }
    return {"running": True, "version": health.get("version"), "uptime_s": health.get("uptime_s")}


# -- usage_summary


async def usage(context: Context, args: dict[str, Any]) -> dict[str, Any]:
    return await usage_summary(
        context.store,
        group=args.get("group"),
        series=args.get("series"),
        since=_text(args.get("since")),
        until=_text(args.get("until")),
    )


def _text(value: Any) -> str | None:
    """A moment given as a number or as text, as the query string has it."""
    if value is None or isinstance(value, str):
        return value
    return f"{value:.6f}".rstrip("0").rstrip(".")


# -- create_combo


async def create_combo(context: Context, args: dict[str, Any]) -> dict[str, Any]:
    name = args["name"]
    targets = targets_from_json(args["targets"], args.get("weights"), MCP_NAMING)
    await editor(context).upsert_combo(
        name,
        targets,
        strategy=args.get("strategy") or "fill-first",
        system_prompt=args.get("system_prompt"),
        enabled=args.get("enabled", True),
        exists=False,
    )
    await context.applied()
    snapshot = await context.store.snapshot()
    combo = snapshot.combo(name)
    if combo is None:  # removed again in between
        raise NotFound(f"unknown combo {name!r}")
    return combo_json(combo, routing_view(snapshot, context.catalog))


# -- toggle_account


async def toggle_account(context: Context, args: dict[str, Any]) -> dict[str, Any]:
    change = AccountChange(enabled=args["enabled"])
    updated = await change_account(editor(context), args["id"], change, naming=MCP_NAMING)
    await context.applied()
    return account_json(updated)


# -- test_model


async def test_model(context: Context, args: dict[str, Any]) -> dict[str, Any]:
    """A combo (or an alias of one): each target it routes to, in order;
    anything else: the first target the gateway would try."""
    model = args["model"]
    registry = await context.registry()
    resolution = registry.resolve(model)  # NotFound: nothing serves it
    targets = resolution.targets if resolution.combo is not None else resolution.targets[:1]
    if not targets:
        raise NotFound(f"no provider can serve {model!r} now")
    results = []
    for target in targets:
        found = await probe_provider(
            context.upstream(),
            registry.provider(target.provider),
            model=target.model,
            account_id=args.get("account"),
        )
        results.append({"target": target.ref, "step": target.step, **found.to_json()})
    ok = any(r["ok"] for r in results)
    detail = {"ok": ok, "targets": [{k: r[k] for k in ("target", "ok", "status")} for r in results]}
    await editor(context).audit.record("model.test", model, detail)
    return {"model": model, "ok": ok, "targets": results}


TOOLS: Mapping[str, Tool] = MappingProxyType(
    {
        tool.name: tool
        for tool in (
            Tool(
                "list_providers",
                "List providers and their health",
                "Every provider with its accounts (keys masked), models and settings, and "
                "the gateway's health for it: breakers, cooldowns and rate limiters.",
                _object({"name": {"type": "string", "description": "only this provider"}}),
                list_providers,
                _READ,
            ),
            Tool(
                "usage_summary",
                "Usage summary",
                "Requests, errors, tokens and cost from the request log, summed by one "
                "dimension (and optionally a second one, 'series').",
                _object(
                    {
                        "group": {"type": "string", "enum": list(USAGE_DIMENSIONS)},
                        "series": {"type": "string", "enum": list(USAGE_DIMENSIONS)},
                        "since": {
                            "anyOf": [{"type": "string"}, {"type": "number"}],
                            "description": f"{_WHEN}; default 7d",
                        },
                        "until": {
                            "anyOf": [{"type": "string"}, {"type": "number"}],
                            "description": "unix seconds; default now",
                        },
                    }
                ),
                usage,
                _READ,
            ),
            Tool(
                "create_combo",
                "Create a combo",
                "A new combo: a model name clients can call that the gateway routes to its "
                "targets (provider/model strings, or other combos) by a strategy.",
                _object(
                    {
                        "name": {"type": "string", "minLength": 1, "maxLength": 200},
                        "targets": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "anyOf": [
                                    {"type": "string", "minLength": 1},
                                    _object(
                                        {
                                            "ref": {"type": "string", "minLength": 1},
                                            "weight": {"type": "integer", "minimum": 0},
                                            "enabled": {"type": "boolean"},
                                        },
                                        "ref",
                                    ),
                                ]
                            },
                        },
                        "weights": {
                            "type": "array",
                            "items": {"type": "integer", "minimum": 0},
                            "description": "one per target given as a string",
                        },
                        "strategy": {"type": "string", "enum": list(STRATEGIES)},
                        "system_prompt": {"type": "string"},
                        "enabled": {"type": "boolean"},
                    },
                    "name",
                    "targets",
                ),
                create_combo,
                {"readOnlyHint": False, "destructiveHint": False, "openWorldHint": False},
            ),
            Tool(
                "toggle_account",
                "Enable or disable an account",
                "Put one provider account in service (enabled: true) or out of it "
                "(enabled: false). Account ids are listed by list_providers.",
                _object(
                    {"id": {"type": "integer", "minimum": 1}, "enabled": {"type": "boolean"}},
                    "id",
                    "enabled",
                ),
                toggle_account,
                {"readOnlyHint": False, "idempotentHint": True, "openWorldHint": False},
            ),
            Tool(
                "test_model",
                "Test a model",
                "Send a one-token request to a model as the gateway routes it "
                "(provider/model, an alias or a combo) and report each answer's status "
                "and latency. Breakers and health numbers are left alone.",
                _object(
                    {
                        "model": {"type": "string", "minLength": 1},
                        "account": {
                            "type": "integer",
                            "minimum": 1,
                            "description": "this account of the provider (default: its first)",
                        },
                    },
                    "model",
                ),
                test_model,
                {"readOnlyHint": True, "openWorldHint": True},
            ),
        )
    }
)
