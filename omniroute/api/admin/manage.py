"""What the management handlers share: the parts of the running gateway
they reach (``LiveGateway``), who is acting (for the audit log), the
``ConfigEditor`` in that actor's name, and reading JSON fields that may be
absent (keep), null (clear) or a value.

A change is acknowledged only after it committed and the gateway reloaded
its configuration, so the next client request already sees it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from omniroute.api.admin.access import request_actor
from omniroute.api.bodies import field, read_json
from omniroute.config.audit import Actor, Auditor
from omniroute.config.editor import ConfigEditor
from omniroute.config.naming import Naming
from omniroute.config.options import Options
from omniroute.config.providers import KEEP
from omniroute.errors import BadRequest, NotFound
from omniroute.gateway.console import ConsoleLog
from omniroute.gateway.evals.runner import EvalRunner
from omniroute.gateway.observe import Observers
from omniroute.gateway.quotas import Quotas
from omniroute.gateway.registry import Registry
from omniroute.gateway.resilience import Resilience
from omniroute.http.message import Request
from omniroute.providers.catalog import Catalog
from omniroute.providers.oauth.service import SignIns
from omniroute.providers.oauth.tokens import TokenManager
from omniroute.settings import Settings
from omniroute.store import Store
from omniroute.upstream import UpstreamClient

# Errors about a JSON field name it as it is spelt in the body.
API_NAMING = Naming(field=repr, catalog="GET /api/catalog", option="field")


@dataclass(frozen=True, slots=True)
class LiveGateway:
    """The parts of the running gateway the management API works on."""

    store: Store
    settings: Settings
    catalog: Catalog
    registry: Callable[[], Registry]
    resilience: Resilience
    upstream: UpstreamClient
    reload: Callable[[], Awaitable[object]]  # read the configuration now
    # Telemetry and the live monitor; the application log's ring.
    observers: Observers = dataclasses.field(default_factory=Observers)
    console: ConsoleLog = dataclasses.field(default_factory=ConsoleLog)
    # The process for /api/health: uptime, version, memory, queues, connections.
    details: Callable[[], dict[str, Any]] = dict
    # Sign-ins in progress and the signed-in accounts' tokens (None: no
    # sign-in routes, as in tests of other parts).
    sign_ins: SignIns | None = None
    tokens: TokenManager | None = None
    # Eval runs in the background (None: evals cannot be run here).
    evals: EvalRunner | None = None
    # Usage windows per account (``/api/quota``); None: not tracked.
    quotas: Quotas | None = None


class Manage:
    __slots__ = ("live", "_options")

    def __init__(self, live: LiveGateway, options: Callable[[], Options]) -> None:
        self.live = live
        self._options = options

    def actor(self, request: Request) -> Actor:
        return request_actor(request, self._options())

    def editor(self, request: Request) -> ConfigEditor:
        return ConfigEditor(self.live.store, self.live.catalog, actor=self.actor(request))

    def auditor(self, request: Request) -> Auditor:
        return Auditor(self.live.store, self.actor(request))

    async def applied(self) -> None:
        """After a committed change: the gateway routes by it from now on."""
        await self.live.reload()


def body_of(request: Request, known: Collection[str]) -> dict[str, Any]:
    """The JSON object of a request (an empty body is ``{}``), refusing
    fields it does not know (a misspelt one would be silently ignored)."""
    body = read_json(request) if request.body.strip() else {}
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise BadRequest(
            f"unknown field {unknown[0]!r}; known: {', '.join(sorted(known)) or 'none'}"
        )
    return body


def nullable(body: dict[str, Any], name: str, kind: type) -> Any:
    """KEEP when ``name`` is absent, None when it is null, else its value
    checked to be of ``kind``."""
    if name not in body:
        return KEEP
    return field(body, name, kind, required=False)


def string_list(body: dict[str, Any], name: str) -> list[str] | None:
    value = field(body, name, list, required=False)
    if value is None:
        return None
    if not all(isinstance(item, str) for item in value):
        raise BadRequest(f"'{name}' must be a list of strings")
    return [str(item) for item in value]


def path_id(request: Request, name: str = "id") -> int:
    """A whole-number path parameter; 404 for anything else (no such thing)."""
    text = request.path_params.get(name, "")
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise NotFound(f"no {name} {text!r}")
    return int(text)
