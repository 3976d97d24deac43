"""``/mcp``: the MCP streamable HTTP transport (revisions 2025-03-26 to
2025-11-25) on our own server, behind an admin session (cookie, and CSRF on
POST and DELETE, like ``/api``) or the MCP admin key (``keys``).

    POST    one JSON-RPC message (or a batch). ``initialize`` opens a session
            and answers its id in ``Mcp-Session-Id``; every later message
            carries it (none: 400; unknown, ended or another caller's: 404).
            A request is answered as JSON when the client accepts
            application/json, else as a one-event SSE stream; notifications
            and responses get 202 with no body.
    GET     405: this server sends nothing unasked, so it has no stream to offer
    DELETE  ends the session named by ``Mcp-Session-Id``

An ``MCP-Protocol-Version`` header naming a revision we do not serve is a
400. A browser page from another origin is refused (403) whatever it
carries: the ``Origin`` header must name this server or a loopback address.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from omniroute.api.admin.access import ADMIN_KEY, Guards, client_address, origin_matches
from omniroute.api.admin.manage import LiveGateway
from omniroute.api.admin.sessions import Session
from omniroute.api.mcp.context import MCP, LiveContext
from omniroute.api.mcp.keys import presented_key
from omniroute.api.mcp.protocol import (
    INVALID_REQUEST,
    PROTOCOL_VERSIONS,
    Conversation,
    RpcError,
    answer,
    answer_any,
    dump,
    error,
    is_request,
    parse,
    request_id,
)
from omniroute.config.audit import Actor
from omniroute.config.options import Options
from omniroute.http.message import Request, Response, StreamResponse
from omniroute.http.routing import Router
from omniroute.store.admin import AdminRows

PATH = "/mcp"
SESSION_HEADER = "mcp-session-id"
VERSION_HEADER = "mcp-protocol-version"
MAX_SESSIONS = 256
IDLE_SECONDS = 3600.0


@dataclass(slots=True)
class _Held:
    owner: str
    conversation: Conversation
    seen: float


class McpSessions:
    """Open MCP sessions, each bound to the credential that opened it. At
    most ``MAX_SESSIONS``: the one idle longest makes room; idle ones end
    after ``IDLE_SECONDS``."""

    __slots__ = ("_held", "_clock")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._held: OrderedDict[str, _Held] = OrderedDict()
        self._clock = clock

    def open(self, owner: str, conversation: Conversation) -> str:
        self._expire()
        while len(self._held) >= MAX_SESSIONS:
            self._held.popitem(last=False)
        session_id = secrets.token_urlsafe(24)
        self._held[session_id] = _Held(owner, conversation, self._clock())
        return session_id

    def find(self, session_id: str, owner: str) -> Conversation | None:
        self._expire()
        held = self._held.get(session_id)
        if held is None or not secrets.compare_digest(held.owner, owner):
            return None
        held.seen = self._clock()
        self._held.move_to_end(session_id)
        return held.conversation

    def end(self, session_id: str, owner: str) -> bool:
        if self.find(session_id, owner) is None:
            return False
        del self._held[session_id]
        return True

    def __len__(self) -> int:
        return len(self._held)

    def _expire(self) -> None:
        now = self._clock()
        while self._held:
            oldest = next(iter(self._held.values()))
            if now - oldest.seen < IDLE_SECONDS:
                return
            self._held.popitem(last=False)


class McpRoutes:
    __slots__ = ("_live", "_rows", "_options", "sessions")

    def __init__(
        self,
        live: LiveGateway,
        rows: AdminRows,
        options: Callable[[], Options],
        sessions: McpSessions | None = None,
    ) -> None:
        self._live = live
        self._rows = rows
        self._options = options
        self.sessions = sessions or McpSessions()

    def install(self, router: Router, guards: Guards) -> None:
        handler = guards.session_or_key(self.handle, self._key)
        for method in ("POST", "GET", "DELETE"):
            router.add(method, PATH, handler, label=ADMIN_KEY)

    async def _key(self, request: Request) -> bool:
        prefix = await presented_key(request, self._rows)
        if prefix is None:
            return False
        request.state["mcp_key"] = prefix
        return True

    def _owner(self, request: Request) -> str:
        session = request.state.get("session")
        if isinstance(session, Session):
            return "session:" + session.token_hash
        return "key:" + str(request.state.get("mcp_key"))

    async def handle(self, request: Request) -> Response | StreamResponse:
        refused = _origin_refused(request)
        if refused is not None:
            return refused
        if request.method == "GET":
            return _rpc_error(
                405,
                None,
                "this server opens no stream of its own; POST to /mcp",
                [("allow", "POST, DELETE")],
            )
        given = request.headers.get(SESSION_HEADER)
        owner = self._owner(request)
        if request.method == "DELETE":
            if not given or not self.sessions.end(given, owner):
                return _rpc_error(404, None, "no such MCP session")
            return Response(204)
        return await self._post(request, given, owner)

    async def _post(
        self, request: Request, given: str | None, owner: str
    ) -> Response | StreamResponse:
        accept = _accepted(request)
        if accept is None:
            return _rpc_error(406, None, "Accept must list application/json or text/event-stream")
        kind = (request.headers.get("content-type") or "application/json").split(";")[0]
        if kind.strip().lower() != "application/json":
            return _rpc_error(415, None, "send the message as application/json")
        version = request.headers.get(VERSION_HEADER)
        if version is not None and version not in PROTOCOL_VERSIONS:
            return _rpc_error(
                400,
                None,
                f"unsupported MCP-Protocol-Version; served: {', '.join(PROTOCOL_VERSIONS)}",
            )
        try:
            message = parse(bytes(request.body))
        except RpcError as exc:
            return _rpc_error(400, None, exc.message, code=exc.code)
        context = LiveContext(self._live, Actor(MCP, client_address(request, self._options())))
        if is_request(message, "initialize"):
            conversation = Conversation()
            reply = await answer(message, conversation, context)
            headers = []
            if reply is not None and "result" in reply:
                headers.append((SESSION_HEADER, self.sessions.open(owner, conversation)))
            return _reply(reply, accept, headers)
        if not given:
            return _rpc_error(
                400, request_id(message), "Mcp-Session-Id is required: send initialize first"
            )
        conversation_found = self.sessions.find(given, owner)
        if conversation_found is None:
            return _rpc_error(
                404,
                request_id(message),
                "no such MCP session (ended, or never opened): initialize again",
            )
        return _reply(await answer_any(message, conversation_found, context), accept, [])


def _accepted(request: Request) -> str | None:
    """What the answer may be: JSON when the client takes it, else SSE."""
    accept = ",".join(request.headers.get_all("accept")).lower()
    kinds = {part.split(";")[0].strip() for part in accept.split(",")}
    if not accept or "application/json" in kinds or "*/*" in kinds or "application/*" in kinds:
        return "json"
    if "text/event-stream" in kinds:
        return "sse"
    return None


def _reply(
    reply: dict[str, Any] | list[dict[str, Any]] | None,
    accept: str,
    headers: list[tuple[str, str]],
) -> Response | StreamResponse:
    if reply is None:
        return Response(202, headers=headers)
    if accept == "json":
        return Response(200, dump(reply), headers, "application/json")
    return StreamResponse(
        _one_event(dump(reply)), headers=headers, content_type="text/event-stream"
    )


async def _one_event(data: bytes) -> AsyncIterator[bytes]:
    yield b"event: message\ndata: " + data + b"\n\n"


def _rpc_error(
    status: int,
    rid: Any,
    message: str,
    headers: list[tuple[str, str]] | None = None,
    *,
    code: int = INVALID_REQUEST,
) -> Response:
    return Response(status, dump(error(rid, code, message)), headers, "application/json")


def _origin_refused(request: Request) -> Response | None:
    if origin_matches(request, loopback=True):
        return None
    return _rpc_error(403, None, "requests from another origin are refused")
