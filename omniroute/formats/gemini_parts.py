"""Gemini parts <-> IR parts, and the small field readers the Gemini modules
share. The thought-signature rules (placement, and the wrapping on the
client side) are described in ``omniroute.formats.gemini``."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from omniroute import errors
from omniroute.formats import ir
from omniroute.formats.common import (
    decode_base64,
    dump_json,
    parse_data_url,
    parse_json_object,
    stable_id,
    standard_base64,
)

IdFactory = Callable[[str, int], str]  # (tool name, part index) -> call id

# ------------------------------------------------------------------- helpers


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", name).lower()


def get_field(obj: dict[str, Any], name: str) -> Any:
    """A field by its camelCase name or its snake_case original; the Gemini
    API accepts both (protobuf JSON mapping)."""
    if name in obj:
        return obj[name]
    return obj.get(_snake(name))


def as_obj(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise errors.BadRequest(f"'{where}' must be an object.")
    return value


def as_arr(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise errors.BadRequest(f"'{where}' must be an array.")
    return value


def as_num(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise errors.BadRequest(f"'{where}' must be a number.")
    return float(value)


def as_int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.BadRequest(f"'{where}' must be an integer.")
    return value


def as_str(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise errors.BadRequest(f"'{where}' must be a string.")
    return value


def json_schema_from_gemini(schema: Any) -> dict[str, Any]:
    """Gemini's OpenAPI-style schema as JSON Schema for the IR: lower-case
    types (the SDK sends ``"STRING"``) and ``nullable`` as a ``null`` type."""
    if isinstance(schema, list):
        return {"anyOf": [json_schema_from_gemini(s) for s in schema]}
    if not isinstance(schema, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: json_schema_from_gemini(sub) for name, sub in value.items()}
        elif key in ("items",) and isinstance(value, dict):
            out[key] = json_schema_from_gemini(value)
        elif key == "anyOf" and isinstance(value, list):
            out[key] = [json_schema_from_gemini(s) for s in value]
        elif key == "type" and isinstance(value, str):
            out[key] = value.lower()
        elif key != "nullable":
            out[key] = value
    if schema.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


# -------------------------------------------------------- thought signatures

# Prefix of the bytes a client-facing signature stands for; what follows it
# is the UTF-8 of the signature as the IR holds it.
_SIG_MARKER = b"omr1:"


def wrap_signature(sig: str) -> str:
    """An IR signature as a thoughtSignature for a Gemini *client*.

    google-genai types thoughtSignature as bytes: it base64-decodes what we
    send and re-encodes it url-safe when the client sends it back, so only the
    decoded bytes survive, never our spelling. Those bytes are therefore the
    marker plus the original string, which ``unwrap_signature`` restores
    exactly whichever alphabet comes back."""
    return base64.b64encode(_SIG_MARKER + sig.encode("utf-8")).decode("ascii")


def unwrap_signature(sig: str) -> str:
    """A thoughtSignature from a Gemini client -> the IR signature: the string
    ``wrap_signature`` wrapped (either base64 alphabet, padding optional), or
    ``sig`` exactly as received when it carries no marker (or nothing after
    it: we never wrap an empty signature)."""
    raw = decode_base64(sig)
    if raw is None or not raw.startswith(_SIG_MARKER) or len(raw) == len(_SIG_MARKER):
        return sig
    try:
        return raw[len(_SIG_MARKER) :].decode("utf-8")
    except UnicodeDecodeError:
        return sig


# ------------------------------------------------------------- part parsing


class Pairing:
    """Unanswered calls of the latest model turn, to give a functionResponse
    without an id the id of its call (same name, in order)."""

    __slots__ = ("_open",)

    def __init__(self) -> None:
        self._open: list[ir.ToolCallPart] = []

    def model_turn(self, parts: list[ir.Part]) -> None:
        self._open = [p for p in parts if isinstance(p, ir.ToolCallPart)]

    def take(self, name: str, call_id: str | None) -> str | None:
        for i, call in enumerate(self._open):
            if (call.id == call_id) if call_id else (call.name == name):
                del self._open[i]
                return call.id
        return None


def id_factory(*seed: str) -> IdFactory:
    """Deterministic ids for calls that come without one: the same seed (turn
    index in a request, response id in an answer), part index and name give
    the same id every time the conversation is sent."""

    def make(name: str, index: int) -> str:
        return stable_id("call_", "gemini", *seed, str(index), name)

    return make


def parse_parts(
    parts: list[Any],
    where: str,
    make_id: IdFactory,
    pairing: Pairing | None = None,
    *,
    client: bool = False,
) -> list[ir.Part]:
    """Gemini parts -> IR parts. Raises BadRequest on malformed parts.
    ``client``: the parts come from a Gemini client, whose signatures are
    unwrapped (an upstream's are kept as they are)."""
    out: list[ir.Part] = []
    for i, raw in enumerate(parts):
        part = as_obj(raw, f"{where}.parts[{i}]")
        sig = as_str(get_field(part, "thoughtSignature"), f"{where}.parts[{i}].thoughtSignature")
        if sig and client:
            sig = unwrap_signature(sig)
        if part.get("thought") is True:
            text = as_str(part.get("text"), f"{where}.parts[{i}].text") or ""
            last = out[-1] if out else None
            if isinstance(last, ir.ThinkingPart) and last.signature is None and last.text:
                last.text += text
                last.signature = sig
            elif text or sig:
                out.append(ir.ThinkingPart(text, signature=sig))
            continue
        body = _parse_part_body(part, f"{where}.parts[{i}]", i, make_id, pairing)
        if sig:
            out.append(ir.ThinkingPart("", signature=sig))
        out.extend(body)
    return out


def _parse_part_body(
    part: dict[str, Any], where: str, index: int, make_id: IdFactory, pairing: Pairing | None
) -> list[ir.Part]:
    if "text" in part:
        text = as_str(part["text"], f"{where}.text") or ""
        return [ir.TextPart(text)] if text else []
    call = get_field(part, "functionCall")
    if call is not None:
        call = as_obj(call, f"{where}.functionCall")
        name = as_str(call.get("name"), f"{where}.functionCall.name")
        if not name:
            raise errors.BadRequest(f"'{where}.functionCall.name' is required.")
        args = as_obj(call.get("args"), f"{where}.functionCall.args")
        call_id = as_str(call.get("id"), f"{where}.functionCall.id") or make_id(name, index)
        return [ir.ToolCallPart(call_id, name, dump_json(args))]
    resp = get_field(part, "functionResponse")
    if resp is not None:
        resp = as_obj(resp, f"{where}.functionResponse")
        return [_parse_function_response(resp, where, index, make_id, pairing)]
    media = _media_part(part, where)
    if media is not None:
        return [media]
    code = get_field(part, "executableCode")
    if isinstance(code, dict):
        lang = str(code.get("language", "")).lower().replace("language_unspecified", "")
        return [ir.TextPart(f"```{lang}\n{code.get('code', '')}\n```")]
    result = get_field(part, "codeExecutionResult")
    if isinstance(result, dict):
        return [ir.TextPart(f"```\n{result.get('output', '')}\n```")]
    return []  # video metadata and other part kinds with no IR form


def _media_part(part: dict[str, Any], where: str) -> ir.ImagePart | None:
    inline = get_field(part, "inlineData")
    if inline is not None:
        inline = as_obj(inline, f"{where}.inlineData")
        data = as_str(inline.get("data"), f"{where}.inlineData.data")
        mime = as_str(get_field(inline, "mimeType"), f"{where}.inlineData.mimeType")
        if not data or not mime:
            raise errors.BadRequest(f"'{where}.inlineData' needs 'mimeType' and 'data'.")
        # google-genai sends bytes fields url-safe (often unpadded); data URLs
        # and the other APIs expect the standard alphabet (RFC 4648 §4).
        return ir.ImagePart(data=standard_base64(data), media_type=mime)
    file = get_field(part, "fileData")
    if file is not None:
        file = as_obj(file, f"{where}.fileData")
        uri = as_str(get_field(file, "fileUri"), f"{where}.fileData.fileUri")
        if not uri:
            raise errors.BadRequest(f"'{where}.fileData.fileUri' is required.")
        return ir.ImagePart(url=uri, media_type=get_field(file, "mimeType"))
    return None


def _parse_function_response(
    resp: dict[str, Any], where: str, index: int, make_id: IdFactory, pairing: Pairing | None
) -> ir.ToolResultPart:
    name = as_str(resp.get("name"), f"{where}.functionResponse.name") or ""
    given = as_str(resp.get("id"), f"{where}.functionResponse.id")
    paired = pairing.take(name, given) if pairing is not None else None
    call_id = given or paired or make_id(name, index)
    response = resp.get("response")
    content: list[ir.TextPart | ir.ImagePart] = []
    is_error = False
    if isinstance(response, dict) and set(response) == {"output"}:
        out = response["output"]
        content.append(ir.TextPart(out if isinstance(out, str) else dump_json(out)))
    elif isinstance(response, dict) and set(response) == {"error"}:
        err = response["error"]
        content.append(ir.TextPart(err if isinstance(err, str) else dump_json(err)))
        is_error = True
    elif response is not None:
        content.append(ir.TextPart(dump_json(response)))
    for j, sub in enumerate(as_arr(resp.get("parts"), f"{where}.functionResponse.parts")):
        media = _media_part(as_obj(sub, f"{where}.functionResponse.parts[{j}]"), where)
        if media is not None:
            content.append(media)
    return ir.ToolResultPart(call_id, content, is_error=is_error, name=name or None)


# ------------------------------------------------------------- part rendering


def render_parts(
    parts: list[ir.Part], names: dict[str, str] | None = None, *, client: bool = False
) -> list[dict[str, Any]]:
    """IR parts -> Gemini parts, signatures placed as the module doc says.
    ``names`` maps call ids to tool names for results that lack one.
    ``client``: the parts go to a Gemini client, so signatures are wrapped."""
    out: list[dict[str, Any]] = []
    pending: str | None = None  # a signature waiting for the part it belongs on
    seal = wrap_signature if client else _same

    def flush() -> None:
        nonlocal pending
        if pending:
            out.append({"text": "", "thoughtSignature": seal(pending)})
        pending = None

    for part in parts:
        if isinstance(part, ir.ThinkingPart):
            if part.redacted:
                continue
            if part.text:
                flush()
                thought: dict[str, Any] = {"text": part.text, "thought": True}
                if part.signature:
                    thought["thoughtSignature"] = seal(part.signature)
                out.append(thought)
            elif part.signature:
                flush()
                pending = part.signature
            continue
        rendered = _render_part(part, names or {})
        sig = part.signature if isinstance(part, ir.ToolCallPart) else None
        if sig and pending:
            flush()
        sig = sig or pending
        pending = None
        if sig:
            rendered[0]["thoughtSignature"] = seal(sig)
        out.extend(rendered)
    flush()
    return out


def _same(sig: str) -> str:
    return sig


def _render_part(part: ir.Part, names: dict[str, str]) -> list[dict[str, Any]]:
    if isinstance(part, ir.TextPart):
        return [{"text": part.text}]
    if isinstance(part, ir.ImagePart):
        return [_render_media(part)]
    if isinstance(part, ir.ToolCallPart):
        args = parse_json_object(part.arguments)
        return [{"functionCall": {"id": part.id, "name": part.name, "args": args}}]
    assert isinstance(part, ir.ToolResultPart)
    texts = "".join(c.text for c in part.content if isinstance(c, ir.TextPart))
    response: dict[str, Any]
    if part.is_error:
        response = {"error": texts}
    else:
        parsed = _json_object_or_none(texts)
        response = parsed if parsed is not None else {"output": texts}
    name = part.name or names.get(part.call_id) or "tool"
    out = [{"functionResponse": {"id": part.call_id, "name": name, "response": response}}]
    # Images a tool returned follow as their own parts (every Gemini model reads them).
    out.extend(_render_media(c) for c in part.content if isinstance(c, ir.ImagePart))
    return out


def _json_object_or_none(text: str) -> dict[str, Any] | None:
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _render_media(part: ir.ImagePart) -> dict[str, Any]:
    if part.data is not None:
        return {"inlineData": {"mimeType": part.media_type or "image/png", "data": part.data}}
    parsed = parse_data_url(part.url or "")
    if parsed is not None:
        return {"inlineData": {"mimeType": parsed[0], "data": parsed[1]}}
    file: dict[str, Any] = {"fileUri": part.url or ""}
    file["mimeType"] = part.media_type or _guess_mime(part.url or "")
    return {"fileData": file}


_MIME_BY_EXT: Mapping[str, str] = MappingProxyType(
    {
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "png": "image/png",
        "gif": "image/gif",
        "webp": "image/webp",
        "pdf": "application/pdf",
    }
)


def _guess_mime(url: str) -> str:
    """fileData needs a mimeType; other formats give image URLs without one."""
    ext = url.split("?", 1)[0].rsplit(".", 1)[-1].lower()
    return _MIME_BY_EXT.get(ext, "image/png")
