"""Responses tool definitions -> ``ir.ToolDef``, and back to the client.

The Responses API knows more tool shapes than the IR
(platform.openai.com/docs/api-reference/responses/create#tools):

- ``function`` tools map to a ToolDef as they are;
- ``namespace`` groups (``{"type": "namespace", "name", "tools": [...]}``)
  hold function and custom tools; the model calls a member by its name and
  the call item names the namespace (``function_call.namespace``);
- ``custom`` tools take free-form text, optionally constrained by a grammar
  (``format: {"type": "grammar", "syntax": "lark" | "regex", "definition"}``);
  a call is a ``custom_tool_call`` item whose ``input`` is that text;
- hosted tools (web_search, local_shell...) run at OpenAI and have no IR form.

Codex CLI with its Responses Lite models sends no top-level ``tools``: they
ride in an ``additional_tools`` input item (``{"type": "additional_tools",
"role": "developer", "tools": [...]}``).

For other formats every function and custom tool, from ``tools`` and from
``additional_tools`` items, becomes one flat ToolDef. A custom tool becomes a
function taking one string, ``input``. A member keeps its own name unless
another tool has it already; it is then called ``<namespace>_<name>``.

``vendor["openai-responses"]["tool_map"]`` records, for each ToolDef that did
not come from a plain top-level function tool, how the client knows it:
``{ir name: {"name": ..., "namespace": ... (if any), "custom": True (if
so)}}``. With it the codec renders a call back as the client expects it
(``custom_tool_call`` and its namespace) and leaves these ToolDefs out of a
request to a Responses upstream, which gets the client's own tool shapes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from omniroute.formats import ir
from omniroute.formats.common import dump_json, parse_json_object

_V = "openai-responses"
# The single parameter of a custom tool seen as a function.
INPUT = "input"
# The key under which the answer side gets the tool map (see ``answer_echo``).
ECHO_KEY = "omniroute_tools"

ToolMap = dict[str, dict[str, Any]]


def _input_schema(fmt: Any) -> dict[str, Any]:
    """Parameters of a custom tool as a function: one string holding the
    input, described by its grammar when it has one."""
    text = "free-form text"
    if isinstance(fmt, dict) and fmt.get("type") == "grammar":
        inner = fmt.get("grammar")  # an older spelling nests the grammar
        spec: dict[str, Any] = inner if isinstance(inner, dict) else fmt
        syntax, definition = spec.get("syntax"), spec.get("definition")
        if isinstance(definition, str) and definition:
            text = f"raw text (not JSON) matching this {syntax or 'grammar'} grammar:\n{definition}"
    return {
        "type": "object",
        "properties": {INPUT: {"type": "string", "description": text}},
        "required": [INPUT],
    }


class ToolCollector:
    """Builds the flat ToolDefs of one request and the map back to the
    client's tools. Plain top-level function tools are named first, so they
    keep their names; the others take theirs in the order they come."""

    __slots__ = ("req", "tool_map", "_seen")

    def __init__(self, req: ir.Request, tool_map: ToolMap | None = None) -> None:
        self.req = req
        self.tool_map: ToolMap = dict(tool_map or {})
        self._seen: set[tuple[str | None, str]] = {
            (entry.get("namespace"), entry["name"]) for entry in self.tool_map.values()
        }
        self._seen |= {(None, t.name) for t in req.tools if t.name not in self.tool_map}

    def lookup(self, namespace: str | None, name: str) -> str:
        """The IR name of the client's tool ``name`` in ``namespace``."""
        for ir_name, entry in self.tool_map.items():
            if entry["name"] == name and entry.get("namespace") == namespace:
                return ir_name
        return name

    def add_plain(self, tool: ir.ToolDef) -> None:
        """A top-level function tool: the IR knows it by its own name."""
        self._seen.add((None, tool.name))
        self.req.tools.append(tool)

    def add_group(self, tools: Any, namespace: str | None = None) -> None:
        """Tools of an ``additional_tools`` item or a namespace: function and
        custom tools join the IR; namespaces are opened; the rest (hosted
        tools) is left to the raw item."""
        for tool in tools if isinstance(tools, list) else []:
            if not isinstance(tool, dict):
                continue
            kind = tool.get("type")
            if kind == "namespace" and namespace is None:
                inner = tool.get("name")
                if isinstance(inner, str) and inner:
                    self.add_group(tool.get("tools"), inner)
            elif kind in ("function", "custom"):
                self.add_member(tool, namespace)

    def add_member(self, tool: dict[str, Any], namespace: str | None) -> None:
        name = tool.get("name")
        if not isinstance(name, str) or not name or (namespace, name) in self._seen:
            return  # nameless, or sent twice (e.g. a later additional_tools item)
        self._seen.add((namespace, name))
        custom = tool.get("type") == "custom"
        ir_name = self._free_name(name, namespace)
        entry: dict[str, Any] = {"name": name}
        if namespace is not None:
            entry["namespace"] = namespace
        if custom:
            entry["custom"] = True
        self.tool_map[ir_name] = entry
        description = tool.get("description")
        params = _input_schema(tool.get("format")) if custom else tool.get("parameters")
        strict = tool.get("strict")
        self.req.tools.append(
            ir.ToolDef(
                ir_name,
                description if isinstance(description, str) else None,
                params if isinstance(params, dict) else {"type": "object", "properties": {}},
                strict if isinstance(strict, bool) and not custom else None,
            )
        )

    def note_call(self, namespace: str | None, name: str, custom: bool) -> str:
        """A call item in the input: its IR name. A call to a tool the
        request does not declare (any more) still renders back as it came."""
        ir_name = self.lookup(namespace, name)
        if ir_name in self.tool_map or not (custom or namespace):
            return ir_name
        if any(t.name == ir_name for t in self.req.tools):
            return ir_name
        entry: dict[str, Any] = {"name": name}
        if namespace is not None:
            entry["namespace"] = namespace
        if custom:
            entry["custom"] = True
        self.tool_map[ir_name] = entry
        return ir_name

    def _free_name(self, name: str, namespace: str | None) -> str:
        taken = {t.name for t in self.req.tools} | set(self.tool_map)
        if name not in taken:
            return name
        base = f"{namespace}_{name}" if namespace else name
        candidate, n = base, 2
        while candidate in taken:
            candidate, n = f"{base}_{n}", n + 1
        return candidate

    def store(self, vendor: dict[str, Any]) -> None:
        if self.tool_map:
            vendor["tool_map"] = self.tool_map


def tool_map(req: ir.Request) -> ToolMap:
    value = req.vendor.get(_V, {}).get("tool_map")
    return value if isinstance(value, dict) else {}


def answer_echo(req: ir.Request, echo: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """``echo`` (the request fields a translated answer repeats) plus what the
    answer needs to show tool calls as the client declared them: custom tool
    calls, namespaces and renamed tools. None when there is nothing."""
    shown = {
        ir_name: entry
        for ir_name, entry in tool_map(req).items()
        if entry.get("custom") or entry.get("namespace") or entry["name"] != ir_name
    }
    if not shown:
        return echo
    return {**(echo or {}), ECHO_KEY: shown}


def split_echo(echo: Mapping[str, Any] | None) -> tuple[dict[str, Any] | None, ToolMap]:
    """(the response fields to repeat, the tool map) from an answer's echo."""
    if not echo:
        return None, {}
    fields = {k: v for k, v in echo.items() if k != ECHO_KEY}
    tools = echo.get(ECHO_KEY)
    return (fields or None), (tools if isinstance(tools, dict) else {})


# ------------------------------------------------------ custom tool input


def custom_input(arguments: str) -> str:
    """The text of a custom tool call from its IR arguments
    (``{"input": "..."}``); a model that answered otherwise gets its lone
    string value, or the arguments as they are."""
    args = _loose_object(arguments)
    value = args.get(INPUT)
    if isinstance(value, str):
        return value
    strings = [v for v in args.values() if isinstance(v, str)]
    if len(args) == 1 and strings:
        return strings[0]
    return arguments if args or not arguments.strip().startswith("{") else ""


def _loose_object(text: str) -> dict[str, Any]:
    """``parse_json_object`` that also takes raw control characters (a raw
    newline) inside strings, as models write them."""
    try:
        value = _DECODER.decode(text)
    except ValueError:
        return parse_json_object(text)
    return value if isinstance(value, dict) else {"value": value}


def custom_arguments(text: str) -> str:
    """IR arguments for a custom tool call's input text."""
    return dump_json({INPUT: text})


# Streamable arguments start so (JSON whitespace allowed between tokens).
_HEAD = re.compile(r'\s*\{\s*"input"\s*:\s*"')
_HEAD_TEXT = '{"input":"'
_SPACE = re.compile(r"\s+")
_DECODER = json.JSONDecoder(strict=False)  # models put raw newlines in strings


class InputStream:
    """Decodes the ``input`` string of streamed tool-call arguments as it
    arrives, so a custom tool call's input can stream too. Arguments that do
    not start with the ``input`` key stream nothing; ``finish`` then gives
    the whole input at once."""

    __slots__ = ("_raw", "_start", "_pos", "_done", "sent")

    def __init__(self) -> None:
        self._raw = ""
        self._start = 0  # where the string's text starts in _raw; -1: not streamable
        self._pos = 0  # how far the text was decoded
        self._done = False
        self.sent = ""

    def feed(self, fragment: str) -> str:
        self._raw += fragment
        if self._done or self._start < 0:
            return ""
        if not self._start:
            head = _HEAD.match(self._raw)
            if head is None:
                if not _HEAD_TEXT.startswith(_SPACE.sub("", self._raw)):
                    self._start = -1  # will never be {"input": "...
                return ""
            self._start = self._pos = head.end()
        end, closed = _decodable_end(self._raw, self._pos)
        if end == self._pos:
            self._done = closed
            return ""
        try:
            piece: str = _DECODER.decode('"' + self._raw[self._pos : end] + '"')
        except ValueError:
            self._start = -1
            return ""
        self._pos, self._done = end, closed
        self.sent += piece
        return piece

    def finish(self) -> tuple[str, str]:
        """(the whole input, the part of it not streamed yet)."""
        text = custom_input(self._raw)
        rest = text[len(self.sent) :] if text.startswith(self.sent) else ""
        self.sent += rest
        return text, rest


def _decodable_end(text: str, pos: int) -> tuple[int, bool]:
    """How far from ``pos`` the body of a JSON string can be decoded now
    (whole escapes only, a surrogate pair kept together), and whether its
    closing quote was reached."""
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch == '"':
            return pos, True
        if ch != "\\":
            pos += 1
            continue
        if pos + 1 >= n:
            break
        if text[pos + 1] != "u":
            pos += 2
            continue
        if pos + 6 > n:
            break
        if text[pos + 2 : pos + 4].lower() in ("d8", "d9", "da", "db"):  # high surrogate
            if pos + 8 > n:
                break
            if text[pos + 6 : pos + 8] == "\\u":
                if pos + 12 > n:
                    break
                pos += 12
                continue
        pos += 6
    return pos, False
