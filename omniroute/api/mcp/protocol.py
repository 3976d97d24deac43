"""JSON-RPC 2.0 and the MCP methods we serve, whatever carries them.

Protocol revisions: 2025-11-25, 2025-06-18 and 2025-03-26, negotiated by
``initialize`` (a client asking for one of them gets it; any other gets the
newest, and may hang up). Methods: ``initialize``, ``ping``, ``tools/list``,
``tools/call``; notifications are taken (``notifications/initialized``) or
ignored. A batch (an array, as 2025-03-26 allows) gets an array back.

Errors: unreadable JSON -32700, not a request -32600, unknown method -32601,
bad parameters (an unknown tool) -32602. A tool that fails, or is called
with arguments its schema refuses, answers a result with ``isError`` so the
model can read why and try again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from omniroute import __version__
from omniroute.api.mcp.context import Context
from omniroute.api.mcp.schema import ArgumentError, check
from omniroute.api.mcp.tools import TOOLS
from omniroute.errors import OmniError

log = logging.getLogger("omniroute.mcp")

PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")  # newest first
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
MAX_BATCH = 64

INSTRUCTIONS = (
    "Manage the OmniRoute AI gateway: list providers and their health, sum up usage, "
    "create combos, take accounts in and out of service, test a model."
)


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class Conversation:
    """One client's state: the revision agreed on, once initialized."""

    version: str | None = None
    ready: bool = False  # the client said notifications/initialized


def parse(raw: bytes | str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RpcError(PARSE_ERROR, f"Parse error: not JSON ({exc.__class__.__name__})") from None


def error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def dump(message: Any) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def request_id(message: Any) -> Any:
    """The id of a message, when it has a usable one (else None)."""
    if isinstance(message, dict):
        given = message.get("id")
        if isinstance(given, str | int) and not isinstance(given, bool):
            return given
    return None


def is_request(message: Any, method: str | None = None) -> bool:
    return (
        isinstance(message, dict)
        and "id" in message
        and isinstance(message.get("method"), str)
        and (method is None or message["method"] == method)
    )


def tool_listing() -> list[dict[str, Any]]:
    return [tool.listing() for tool in TOOLS.values()]


async def answer_any(
    message: Any, conversation: Conversation, context: Context
) -> dict[str, Any] | list[dict[str, Any]] | None:
    """The reply to one message or a batch; None when nothing is owed
    (notifications, responses, a batch of only those)."""
    if isinstance(message, list):
        if not message or len(message) > MAX_BATCH:
            return error(None, INVALID_REQUEST, f"a batch holds 1 to {MAX_BATCH} messages")
        replies = [await answer(m, conversation, context) for m in message]
        found = [r for r in replies if r is not None]
        return found or None
    return await answer(message, conversation, context)


async def answer(
    message: Any, conversation: Conversation, context: Context
) -> dict[str, Any] | None:
    if not isinstance(message, dict):
        return error(None, INVALID_REQUEST, "Invalid request: a message is a JSON object")
    rid = request_id(message)
    if message.get("jsonrpc") != "2.0":
        return error(rid, INVALID_REQUEST, "Invalid request: 'jsonrpc' must be \"2.0\"")
    method = message.get("method")
    if method is None and ("result" in message or "error" in message):
        return None  # a response: we send no requests, so there is nothing to match
    if not isinstance(method, str):
        return error(rid, INVALID_REQUEST, "Invalid request: 'method' must be a string")
    if "id" not in message:
        if method == "notifications/initialized":
            conversation.ready = True
        return None  # notifications owe no answer; the others are not ours to act on
    if rid is None:
        return error(None, INVALID_REQUEST, "Invalid request: 'id' must be a string or a number")
    params = message.get("params", {})
    if not isinstance(params, dict):
        return error(rid, INVALID_PARAMS, "Invalid params: 'params' must be an object")
    try:
        result = await _call(method, params, conversation, context)
    except RpcError as exc:
        return error(rid, exc.code, exc.message)
    except Exception:
        log.exception("MCP method %s failed", method)
        return error(rid, INTERNAL_ERROR, "Internal error: see the gateway's log")
    return {"jsonrpc": "2.0", "id": rid, "result": result}


async def _call(
    method: str, params: dict[str, Any], conversation: Conversation, context: Context
) -> dict[str, Any]:
    if method == "initialize":
        return initialize(params, conversation)
    if method == "ping":
        return {}
    if method in ("tools/list", "tools/call") and conversation.version is None:
        raise RpcError(INVALID_REQUEST, "Invalid request: send initialize first")
    if method == "tools/list":
        return {"tools": tool_listing()}
    if method == "tools/call":
        return await call_tool(params, context)
    raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")


def initialize(params: dict[str, Any], conversation: Conversation) -> dict[str, Any]:
    asked = params.get("protocolVersion")
    if not isinstance(asked, str):
        raise RpcError(INVALID_PARAMS, "Invalid params: 'protocolVersion' must be a string")
    conversation.version = asked if asked in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0]
    return {
        "protocolVersion": conversation.version,
        "capabilities": {"tools": {"listChanged": False}},
        "serverInfo": {"name": "omniroute", "title": "OmniRoute", "version": __version__},
        "instructions": INSTRUCTIONS,
    }


async def call_tool(params: dict[str, Any], context: Context) -> dict[str, Any]:
    name = params.get("name")
    if not isinstance(name, str):
        raise RpcError(INVALID_PARAMS, "Invalid params: 'name' must be a string")
    tool = TOOLS.get(name)
    if tool is None:
        raise RpcError(INVALID_PARAMS, f"Unknown tool: {name!r}; known: {', '.join(TOOLS)}")
    args = params.get("arguments")
    args = {} if args is None else args
    try:
        check(tool.input_schema, args)
        value = await tool.run(context, args)
    except ArgumentError as exc:
        return tool_error(str(exc))
    except OmniError as exc:
        return tool_error(exc.message)
    except Exception:
        log.exception("MCP tool %s failed", name)
        return tool_error("internal error: see the gateway's log")
    return {
        "content": [{"type": "text", "text": json.dumps(value, ensure_ascii=False)}],
        "structuredContent": value,
        "isError": False,
    }


def tool_error(message: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": message}], "isError": True}
