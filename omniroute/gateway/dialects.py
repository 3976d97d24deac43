"""Client dialects: which wire format a client endpoint speaks, and how an
error is told to that client (A-09: always in the caller's own shape)."""

from __future__ import annotations

import importlib
import logging
import math
from types import ModuleType

from omniroute.errors import MethodNotAllowed, OmniError
from omniroute.formats import ir
from omniroute.formats.common import new_id
from omniroute.http.message import Response

log = logging.getLogger("omniroute")

_MODULES = {
    "openai": "omniroute.formats.openai_chat",
    "openai-responses": "omniroute.formats.openai_responses",
    "anthropic": "omniroute.formats.anthropic",
    "gemini": "omniroute.formats.gemini",
}


def format_module(name: str) -> ModuleType:
    """The codec module of a wire format (imported on first use)."""
    try:
        return importlib.import_module(_MODULES[name])
    except KeyError:
        raise ValueError(f"unknown wire format {name!r}") from None


# How each dialect's answer ids begin; a translated answer gets a fresh one, so
# ids a client may refer back to (Responses' previous_response_id) are unique.
_ANSWER_ID_PREFIX = {
    "openai": "chatcmpl-",
    "openai-responses": "resp_",
    "anthropic": "msg_",
    "gemini": "",
}


def new_answer_id(dialect: str) -> str:
    return new_id(_ANSWER_ID_PREFIX.get(dialect, ""))


def dialect_for_path(path: str) -> str:
    """The dialect a caller expects for errors, from the endpoint it called."""
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith("/v1beta/") or (path.startswith("/v1/models/") and ":" in path):
        return "gemini"
    return "openai"


def error_info(err: OmniError) -> ir.ErrorInfo:
    return ir.ErrorInfo(err.status, err.kind, err.message, err.retry_after)


def error_response(dialect: str, err: OmniError) -> Response:
    body = format_module(dialect).render_error(error_info(err))
    headers: list[tuple[str, str]] = []
    if err.retry_after is not None:
        # Rounded up: a client that waits exactly this long must not be early.
        headers.append(("retry-after", str(max(0, math.ceil(err.retry_after)))))
    if isinstance(err, MethodNotAllowed) and err.allow:
        headers.append(("allow", ", ".join(err.allow)))
    return Response.json(body, status=err.status, headers=headers)
