"""``multipart/form-data`` (RFC 7578 on RFC 2046 section 5.1): a push
reader that takes the body in pieces split anywhere, and the form it
gives, which can be written out again with a field changed.

The reader never copies a part's content: what it gives out are views of
the pieces it was fed, except the few bytes it holds back at a piece's end
in case they begin a boundary. So a form read from a body in memory
refers to that body, and writing it out again yields the same bytes as
views plus small heads (an upload forwarded costs no second copy).

Limits (``FormLimits``) bound the number of parts, a part's head and name,
each text field and each file; a body that breaks the syntax or a limit is
refused (``MultipartError``, a 400; a part over its size, 413).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from omniroute.errors import BadRequest, PayloadTooLarge

Piece = bytes | memoryview

_BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{1,70}$")  # RFC 2046 section 5.1.1
_HEAD_END = b"\r\n\r\n"
_PARAM = re.compile(r'\s*;?\s*([^=;\s]+)\s*=\s*("(?:[^"\\\r\n]|\\.)*"|[^;]*)')
_ESCAPED = re.compile(r"\\(.)")


class MultipartError(BadRequest):
    """The body is not the multipart form it claims to be."""


@dataclass(frozen=True, slots=True)
class FormLimits:
    max_parts: int = 32
    max_head_bytes: int = 4096  # one part's header lines
    max_name_chars: int = 256  # a field name or a file name
    max_field_bytes: int = 64 * 1024  # a text field
    max_file_bytes: int = 25 * 1024 * 1024  # a file


@dataclass(slots=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None
    pieces: list[Piece] = field(default_factory=list)
    size: int = 0

    @property
    def is_file(self) -> bool:
        return self.filename is not None

    def text(self) -> str:
        """A text field's value (the bytes decoded as UTF-8, errors replaced)."""
        return b"".join(bytes(p) for p in self.pieces).decode("utf-8", "replace")


def boundary_of(content_type: str | None) -> str:
    """The boundary a ``multipart/form-data`` Content-Type names."""
    kind, _, params = (content_type or "").partition(";")
    if kind.strip().lower() != "multipart/form-data":
        raise MultipartError("The request must be multipart/form-data with the file in it.")
    found = _params(params).get("boundary")
    if found is None or not _BOUNDARY.match(found) or found.endswith(" "):
        raise MultipartError("The multipart Content-Type has no valid boundary.")
    return found


def _params(text: str) -> dict[str, str]:
    """``; name=value; name="quoted \\" value"`` parameters, names lower-cased."""
    found: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        match = _PARAM.match(text, pos)
        if match is None or match.end() == pos:
            break
        name, value = match.group(1).lower(), match.group(2).strip()
        if value.startswith('"'):
            value = _ESCAPED.sub(r"\1", value[1:-1])
        found.setdefault(name, value)
        pos = match.end()
    return found


class MultipartReader:
    """Feed the body in pieces (``feed``), then ``close``; ``parts`` holds
    the form. Errors are raised from ``feed`` or ``close``."""

    __slots__ = ("_delim", "_head", "_held", "_limits", "_part", "_state", "parts")

    def __init__(self, boundary: str, limits: FormLimits | None = None) -> None:
        self._delim = b"\r\n--" + boundary.encode("ascii")
        # The body's first boundary has no CRLF before it: read as if one had come.
        self._held = b"\r\n"
        self._limits = limits or FormLimits()
        self._state = "preamble"
        self._part: Part | None = None
        self._head = b""
        self.parts: list[Part] = []

    def feed(self, data: bytes | bytearray, start: int = 0, end: int | None = None) -> None:
        """Read ``data[start:end]`` (given as a range so no slice is copied)."""
        stop = len(data) if end is None else end
        view = memoryview(data)
        pos = start
        while pos < stop and self._state != "done":
            if self._state in ("preamble", "body"):
                pos = self._scan(data, view, pos, stop)
            elif self._state == "after":
                pos = self._after_delimiter(data, pos, stop)
            else:
                pos = self._read_head(data, pos, stop)

    def close(self) -> None:
        if self._state != "done":
            raise MultipartError("The multipart body ends before its closing boundary.")

    # -- states

    def _scan(self, data: bytes | bytearray, view: memoryview, pos: int, end: int) -> int:
        """Content up to the next delimiter; the bytes that may begin one
        are held back until the next piece shows whether they do."""
        delim, held = self._delim, self._held
        size = len(delim)
        if held:
            joined = held + data[pos : min(end, pos + size)]
            at = joined.find(delim)
            if 0 <= at < len(held):
                self._content(held[:at])
                self._held = b""
                return self._delimited(pos + at + size - len(held))
        at = data.find(delim, pos, end)
        if at >= 0:
            self._content(held)
            self._held = b""
            self._content(view[pos:at])
            return self._delimited(at + size)
        if end - pos >= size - 1:
            self._content(held)
            self._content(view[pos : end - (size - 1)])
            self._held = bytes(data[end - (size - 1) : end])
        else:
            combined = held + data[pos:end]
            cut = max(0, len(combined) - (size - 1))
            self._content(combined[:cut])
            self._held = combined[cut:]
        return end

    def _delimited(self, pos: int) -> int:
        if self._state == "body" and self._part is not None:
            self.parts.append(self._part)
            self._part = None
        self._state = "after"
        self._head = b""
        return pos

    def _after_delimiter(self, data: bytes | bytearray, pos: int, end: int) -> int:
        """``--`` closes the body (the epilogue is ignored); CRLF starts a part."""
        need = 2 - len(self._head)
        self._head += data[pos : min(end, pos + need)]
        pos = min(end, pos + need)
        if len(self._head) < 2:
            return pos
        if self._head == b"--":
            self._state = "done"
            return end
        if self._head == b"\r\n":
            self._state = "head"
            self._head = b""
            return pos
        raise MultipartError("A multipart boundary is followed by neither CRLF nor '--'.")

    def _read_head(self, data: bytes | bytearray, pos: int, end: int) -> int:
        limit = self._limits.max_head_bytes
        take = data[pos : min(end, pos + limit + 4 - len(self._head))]
        buf = self._head + take
        if buf.startswith(b"\r\n"):
            raise MultipartError("A multipart part has no 'form-data' name.")
        at = buf.find(_HEAD_END)
        if at < 0:
            if len(buf) > limit:
                raise MultipartError("A multipart part's header is too long.")
            self._head = buf
            return pos + len(take)
        consumed = at + len(_HEAD_END) - len(self._head)
        self._head = b""
        self._start_part(buf[:at])
        self._state = "body"
        return pos + consumed

    # -- parts

    def _start_part(self, head: bytes) -> None:
        limits = self._limits
        if len(self.parts) >= limits.max_parts:
            raise MultipartError(f"The form has more than {limits.max_parts} parts.")
        if len(head) > limits.max_head_bytes:
            raise MultipartError("A multipart part's header is too long.")
        disposition = content_type = None
        for line in head.decode("latin-1").split("\r\n"):
            name, colon, value = line.partition(":")
            if not colon:
                raise MultipartError("A multipart part has a malformed header line.")
            key = name.strip().lower()
            if key == "content-disposition":
                disposition = value.strip()
            elif key == "content-type":
                content_type = value.strip()
        kind, _, params = (disposition or "").partition(";")
        found = _params(params)
        field_name = found.get("name")
        if kind.strip().lower() != "form-data" or not field_name:
            raise MultipartError("A multipart part has no 'form-data' name.")
        filename = found.get("filename")
        for text in (field_name, filename or ""):
            if len(text) > limits.max_name_chars or any(ch in text for ch in "\r\n\0"):
                raise MultipartError("A multipart field or file name is too long or invalid.")
        self._part = Part(field_name, filename, content_type)

    def _content(self, piece: Piece) -> None:
        if not len(piece):
            return
        part = self._part
        if part is None:  # preamble: ignored
            return
        part.size += len(piece)
        cap = self._limits.max_file_bytes if part.is_file else self._limits.max_field_bytes
        if part.size > cap:
            raise PayloadTooLarge(f"The form's part {part.name!r} is larger than {cap} bytes.")
        part.pieces.append(piece)


@dataclass(frozen=True, slots=True)
class Form:
    """A form read from a body, and the boundary it came with (which, having
    delimited it, cannot occur in it: written out again it still can't)."""

    parts: tuple[Part, ...]
    boundary: str

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def field(self, name: str) -> str | None:
        for part in self.parts:
            if part.name == name and not part.is_file:
                return part.text()
        return None

    def file(self, name: str) -> Part | None:
        for part in self.parts:
            if part.name == name and part.is_file:
                return part
        return None

    def replaced(self, name: str, value: str) -> list[Piece]:
        """The form as body pieces, with text field ``name`` set to ``value``."""
        parts = [text_part(name, value) if p.name == name else p for p in self.parts]
        return write_form(parts, self.boundary)


def read_form(
    body: bytes | bytearray, content_type: str | None, limits: FormLimits | None = None
) -> Form:
    """The form in a whole body in memory (its parts are views of ``body``)."""
    boundary = boundary_of(content_type)
    reader = MultipartReader(boundary, limits)
    step = 256 * 1024
    for start in range(0, len(body), step):
        reader.feed(body, start, min(len(body), start + step))
    reader.close()
    return Form(tuple(reader.parts), boundary)


def write_form(parts: Iterable[Part], boundary: str) -> list[Piece]:
    """The form as body pieces: small heads and the parts' own pieces."""
    out: list[Piece] = []
    for part in parts:
        out.append(_part_head(part, boundary))
        out.extend(part.pieces)
        out.append(b"\r\n")
    out.append(f"--{boundary}--\r\n".encode("ascii"))
    return out


def _part_head(part: Part, boundary: str) -> bytes:
    disposition = f'form-data; name="{_quoted(part.name)}"'
    if part.filename is not None:
        disposition += f'; filename="{_quoted(part.filename)}"'
    lines = [f"--{boundary}", f"Content-Disposition: {disposition}"]
    if part.content_type:
        lines.append(f"Content-Type: {part.content_type}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def text_part(name: str, value: str) -> Part:
    data = value.encode("utf-8")
    return Part(name, None, None, [data], len(data))
