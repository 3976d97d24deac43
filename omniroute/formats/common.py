"""Small helpers shared by the format modules (pure functions, no I/O).

Existing signatures never change: every format module relies on them.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import math
import re
import secrets
import string
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any, Literal

from omniroute.formats import ir

_ID_ALPHABET = string.ascii_letters + string.digits
_ID_LEN = 24


# ------------------------------------------------------------------------ ids


def new_id(prefix: str) -> str:
    """A fresh random id, ``prefix`` used verbatim (``new_id("call_")``)."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LEN))


def stable_id(prefix: str, *seed: str) -> str:
    """An id derived only from ``seed``: the same conversation re-sent gives the
    same id, so a generated tool-call id in turn 1 matches the one in turn 2."""
    digest = hashlib.sha256("\x1f".join(seed).encode("utf-8")).digest()
    num = int.from_bytes(digest, "big")
    chars = []
    for _ in range(_ID_LEN):
        num, rem = divmod(num, len(_ID_ALPHABET))
        chars.append(_ID_ALPHABET[rem])
    return prefix + "".join(chars)


# ----------------------------------------------------------------------- json


def dump_json(obj: Any) -> str:
    """Compact JSON as the providers send it (no spaces, UTF-8 kept)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _close_truncated_json(text: str) -> str:
    """Append the quotes/brackets a truncated JSON text is missing."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
    tail = ('\\"' if escaped else "") + ('"' if in_string else "")
    return text.rstrip().rstrip(",") + tail + "".join(reversed(stack))


def parse_json_object(text: str | None) -> dict[str, Any]:
    """Tool-call arguments (JSON text) as an object, tolerating bad input.

    Models sometimes emit truncated or non-object arguments; formats that need
    an object (Anthropic ``input``, Gemini ``args``) get: ``{}`` for empty
    text, the object for valid JSON, ``{"value": x}`` for a valid non-object,
    the repaired object when closing open strings/brackets fixes a truncated
    text, and ``{}`` when nothing works.
    """
    if text is None or not text.strip():
        return {}
    for candidate in (text, _close_truncated_json(text)):
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        return value if isinstance(value, dict) else {"value": value}
    return {}


# --------------------------------------------------------------------- tokens


def estimate_tokens(text: str) -> int:
    """Rough token count when an upstream reports none: ~4 characters per
    token (the rule of thumb OpenAI and Anthropic both give for English),
    rounded up, so any non-empty text counts at least 1."""
    return tokens_for_chars(len(text))


def tokens_for_chars(chars: int) -> int:
    """``estimate_tokens`` for a text known only by its length."""
    return math.ceil(chars / 4) if chars > 0 else 0


# Anthropic's documented image cost is about width*height/750 tokens, capped
# near 1600 for the largest image it keeps unscaled; without decoding the
# image we charge that cap.
IMAGE_TOKENS = 1600
# Per-message and per-tool framing (role markers, separators) in chat templates.
_MESSAGE_OVERHEAD = 4
_TOOL_OVERHEAD = 8


def _part_tokens(part: ir.Part) -> int:
    if isinstance(part, ir.TextPart):
        return estimate_tokens(part.text)
    if isinstance(part, ir.ImagePart):
        return IMAGE_TOKENS
    if isinstance(part, ir.ThinkingPart):
        return estimate_tokens(part.text)
    if isinstance(part, ir.ToolCallPart):
        return estimate_tokens(part.name) + estimate_tokens(part.arguments)
    return sum(_part_tokens(p) for p in part.content) + _MESSAGE_OVERHEAD


def estimate_request_tokens(req: ir.Request) -> int:
    """Estimated prompt tokens of a request: every text (system, messages,
    tool results, thinking, tool-call arguments) at ~4 chars/token, images at
    ``IMAGE_TOKENS`` each, tool definitions as their JSON text, plus a small
    framing overhead per message and per tool."""
    total = sum(estimate_tokens(p.text) for p in req.system)
    for msg in req.messages:
        total += _MESSAGE_OVERHEAD + sum(_part_tokens(p) for p in msg.parts)
    for tool in req.tools:
        text = tool.name + (tool.description or "") + dump_json(tool.parameters)
        total += _TOOL_OVERHEAD + estimate_tokens(text)
    return total


def merge_usage(old: ir.Usage | None, new: ir.Usage | None) -> ir.Usage | None:
    """Cumulative usage from two reports: each field from ``new`` unless it is
    zero there (e.g. a final report without the input tokens given earlier)."""
    if old is None or new is None:
        return new if old is None else old
    return ir.Usage(
        input_tokens=new.input_tokens or old.input_tokens,
        output_tokens=new.output_tokens or old.output_tokens,
        cached_input_tokens=new.cached_input_tokens or old.cached_input_tokens,
        cache_creation_tokens=new.cache_creation_tokens or old.cache_creation_tokens,
        reasoning_tokens=new.reasoning_tokens or old.reasoning_tokens,
        estimated=new.estimated and old.estimated,
    )


# ------------------------------------------------------------------- thinking

ThinkKind = Literal["text", "thinking"]
_OPEN_TAG = "<think>"
_CLOSE_TAG = "</think>"


class ThinkSplitter:
    """Splits ``<think>...</think>`` reasoning (DeepSeek-R1 style) off text.

    Only a tag at the very start of the content (after whitespace) counts, so
    an answer that merely mentions ``<think>`` later is left alone. Feed text
    deltas as they arrive; tags split across deltas are handled by holding
    back the few characters that could still become a tag.
    """

    __slots__ = ("_buf", "_state", "found")

    def __init__(self) -> None:
        self._state: Literal["start", "think", "after", "text"] = "start"
        self._buf = ""
        self.found = False  # a <think> tag opened the content

    def feed(self, text: str) -> list[tuple[ThinkKind, str]]:
        out: list[tuple[ThinkKind, str]] = []
        if self._state == "text":
            return [("text", text)] if text else []
        self._buf += text
        if self._state == "start":
            head = self._buf.lstrip()
            if not head or (len(head) < len(_OPEN_TAG) and _OPEN_TAG.startswith(head)):
                return out  # still undecided
            if not head.startswith(_OPEN_TAG):
                self._state = "text"
                buf, self._buf = self._buf, ""
                return [("text", buf)]
            self._state = "think"
            self.found = True
            self._buf = head[len(_OPEN_TAG) :]
        if self._state == "think":
            end = self._buf.find(_CLOSE_TAG)
            if end < 0:
                keep = _partial_suffix(self._buf, _CLOSE_TAG)
                emit, self._buf = (
                    self._buf[: len(self._buf) - keep],
                    self._buf[len(self._buf) - keep :],
                )
                return [("thinking", emit)] if emit else []
            if end:
                out.append(("thinking", self._buf[:end]))
            self._buf = self._buf[end + len(_CLOSE_TAG) :]
            self._state = "after"
        # "after": drop the whitespace that separates the reasoning from the answer
        rest = self._buf.lstrip()
        self._buf = ""
        if rest:
            self._state = "text"
            out.append(("text", rest))
        return out

    def flush(self) -> list[tuple[ThinkKind, str]]:
        """End of content: whatever is held back is emitted as what it was."""
        buf, self._buf = self._buf, ""
        if not buf:
            return []
        if self._state == "think":
            return [("thinking", buf)]
        if self._state == "start":
            return [("text", buf)]
        return []  # "after": only whitespace was held


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-n:]):
            return n
    return 0


def split_think(text: str) -> tuple[str, str]:
    """(thinking, text) of a complete content string with a leading think tag."""
    splitter = ThinkSplitter()
    pieces = splitter.feed(text) + splitter.flush()
    thinking = "".join(t for kind, t in pieces if kind == "thinking")
    rest = "".join(t for kind, t in pieces if kind == "text")
    return thinking, rest


# -------------------------------------------------------------------- images

_DATA_URL = re.compile(
    r"data:(?P<mt>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[^;,]*)*?);base64,(?P<data>.*)", re.DOTALL
)


def parse_data_url(url: str) -> tuple[str, str] | None:
    """``data:<media type>;base64,<data>`` (RFC 2397) -> (media_type, data).

    None when ``url`` is not a base64 data URL. A missing media type defaults
    to ``application/octet-stream``; whitespace inside the data is removed.
    """
    m = _DATA_URL.fullmatch(url.strip())
    if m is None:
        return None
    data = re.sub(r"\s+", "", m.group("data"))
    return (m.group("mt") or "application/octet-stream"), data


def make_data_url(media_type: str, data: str) -> str:
    return f"data:{media_type};base64,{data}"


# RFC 4648 §5 ("base64url") swaps '+' and '/' for '-' and '_' and is often
# sent unpadded; §4 ("base64") is what data URLs and most APIs expect.
_TO_STANDARD = str.maketrans("-_", "+/")


def standard_base64(data: str) -> str:
    """Base64 in either RFC 4648 alphabet (padding optional, whitespace
    ignored) -> the standard alphabet with padding. Only the spelling
    changes: the bytes it stands for stay the same. A length no base64 can
    have (4n+1 characters) is left unpadded for the receiver to reject."""
    text = re.sub(r"\s+", "", data).translate(_TO_STANDARD).rstrip("=")
    if len(text) % 4 == 1:
        return text
    return text + "=" * (-len(text) % 4)


def decode_base64(data: str) -> bytes | None:
    """The bytes of base64 in either alphabet (padding optional); None when
    ``data`` is not base64 at all."""
    text = standard_base64(data)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


# ------------------------------------------------------------------ reasoning

# openai-style effort <-> anthropic/gemini-style budget. The budgets fit inside
# every current Claude model's output limit (>= 32k) with room for the answer,
# and the lowest is Anthropic's minimum budget (1024).
EFFORT_BUDGETS: MappingProxyType[str, int] = MappingProxyType(
    {"minimal": 1024, "low": 4096, "medium": 8192, "high": 24576}
)


def effort_to_budget(effort: str) -> int:
    """Thinking budget for an effort level (unknown levels count as medium;
    ``xhigh``/``max`` as high)."""
    if effort in ("xhigh", "max"):
        return EFFORT_BUDGETS["high"]
    return EFFORT_BUDGETS.get(effort, EFFORT_BUDGETS["medium"])


def budget_to_effort(budget: int) -> str:
    """Effort level for a budget: <=1024 minimal, <=4096 low, <=8192 medium,
    above that high (each effort's own budget maps back to it)."""
    for effort in ("minimal", "low", "medium"):
        if budget <= EFFORT_BUDGETS[effort]:
            return effort
    return "high"


# --------------------------------------------------------------------- errors

_KIND_STATUS: MappingProxyType[str, int] = MappingProxyType(
    {
        "invalid_request": 400,
        "authentication": 401,
        "permission": 403,
        "not_found": 404,
        "request_too_large": 413,
        "rate_limit": 429,
        "api_error": 502,
        "overloaded": 503,
        "timeout": 504,
    }
)


def status_for_kind(kind: str) -> int:
    """The HTTP status an error of this kind stands for (502 when unknown);
    used when an error arrives without a status, e.g. inside a stream."""
    return _KIND_STATUS.get(kind, 502)


# Things that look like credentials: provider key prefixes, bearer tokens and
# long opaque runs. Error text from upstreams can echo the key that was sent.
_SECRETISH = re.compile(
    r"(?i)(bearer\s+)\S+"
    r"|\b(?:sk|pk|rk|ak|key|gsk|xai|nvapi|hf|ghp|gho|ghu|sess)[-_][\w-]{8,}"
    r"|\bAIza[\w-]{20,}"
    r"|\bya29\.[\w.-]+"
    r"|\b[A-Za-z0-9_\-]{40,}"
)
_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.DOTALL | re.IGNORECASE)


def safe_error_text(raw: str, limit: int = 300) -> str:
    """Upstream error text made fit to show: HTML tags dropped, whitespace
    collapsed, credential-looking tokens redacted, at most ``limit`` chars."""
    text = _TAGS.sub(" ", raw)
    text = " ".join(text.split())
    text = _SECRETISH.sub(lambda m: (m.group(1) or "") + "[redacted]", text)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


# ------------------------------------------------------------ error bodies


def error_fields(obj: Any) -> tuple[str | None, str | None, Any]:
    """(message, type, code) from the error bodies providers send:
    ``{"error": {"message", "type", "code"}}`` (OpenAI), ``{"type": "error",
    "error": {"type", "message"}}`` (Anthropic), ``{"error": {"code",
    "message", "status"}}`` (Gemini, also wrapped in a list), ``{"error":
    "text"}`` and ``{"message": "text"}``. Nones for anything else."""
    if isinstance(obj, list) and obj:
        return error_fields(obj[0])
    if not isinstance(obj, dict):
        return None, None, None
    inner = obj.get("error", obj)
    if isinstance(inner, str):
        return inner, None, None
    if not isinstance(inner, dict):
        return None, None, None
    message = inner.get("message")
    code = inner.get("code")
    kind = inner.get("type") or (code if isinstance(code, str) else None) or inner.get("status")
    return (message if isinstance(message, str) else None), kind, code


def usage_or_estimate(usage: ir.Usage | None, output_chars: int) -> ir.Usage:
    """Usage to report at the end of a stream: the upstream's, with the output
    estimated from the characters sent (marked ``estimated``) when it gave
    no output count."""
    if usage is not None and (usage.output_tokens or not output_chars):
        return usage
    base = usage or ir.Usage()
    return dataclasses.replace(base, output_tokens=tokens_for_chars(output_chars), estimated=True)


def drop_fields(obj: Any, paths: Sequence[str]) -> bool:
    """Remove dotted ``paths`` (``usage.usage_breakdown``) from a JSON object;
    True if anything was removed."""
    removed = False
    if not isinstance(obj, dict):
        return False
    for path in paths:
        *parents, last = path.split(".")
        node: Any = obj
        for name in parents:
            node = node.get(name) if isinstance(node, dict) else None
        if isinstance(node, dict) and last in node:
            del node[last]
            removed = True
    return removed
