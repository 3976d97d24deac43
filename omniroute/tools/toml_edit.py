"""Setting a few keys in a TOML file without rewriting it.

Python reads TOML (tomllib) but does not write it, and a user's config.toml
carries comments and a layout worth keeping. So the edit works on lines:
a key we own is replaced on its own line or added at the end of its table,
a table we own is appended when it is missing, and every other byte stays
where it was. The result is read back with tomllib and must hold exactly
the values we set; anything else (a dotted key, an inline table, a value
spanning lines) is refused with an error rather than guessed at.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from typing import Any

from omniroute.errors import BadRequest

_HEADER = re.compile(r"^\s*\[")


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML escapes)."""
    return json.dumps(value)


def _key_line(key: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*{re.escape(key)}\s*=")


def _table_line(name: str) -> re.Pattern[str]:
    dotted = r"\s*\.\s*".join(re.escape(part) for part in name.split("."))
    return re.compile(rf"^\s*\[\s*{dotted}\s*\]\s*(#.*)?$")


def _set_keys(lines: list[str], start: int, end: int, values: Mapping[str, str]) -> int:
    """Set ``values`` among ``lines[start:end]``; the new end of the region."""
    for key, value in values.items():
        text = f"{key} = {toml_string(value)}"
        found = next(
            (i for i in range(start, end) if _key_line(key).match(lines[i])),
            None,
        )
        if found is not None:
            lines[found] = text
            continue
        # After the region's last non-blank line, so a blank line that
        # separates it from the next table stays where it is.
        at = end
        while at > start and not lines[at - 1].strip():
            at -= 1
        lines.insert(at, text)
        end += 1
    return end


def set_values(text: str, top: Mapping[str, str], table: str, values: Mapping[str, str]) -> str:
    """``text`` with the top-level keys ``top`` and the keys ``values`` of
    ``[table]`` set; everything else unchanged."""
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines()
    first_table = next((i for i, line in enumerate(lines) if _HEADER.match(line)), len(lines))
    _set_keys(lines, 0, first_table, top)
    header = _table_line(table)
    at = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if at is None:
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            lines.append("")
        lines.append(f"[{table}]")
        _set_keys(lines, len(lines), len(lines), values)
    else:
        end = next((i for i in range(at + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
        _set_keys(lines, at + 1, end, values)
    result = newline.join(lines) + newline
    _check(result, top, table, values)
    return result


def _check(text: str, top: Mapping[str, str], table: str, values: Mapping[str, str]) -> None:
    try:
        parsed: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadRequest(
            f"the file is not TOML this setup can merge into ({exc}); "
            "fix it or move it away and run the setup again"
        ) from None
    node: Any = parsed
    for part in table.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    ours = {k: parsed.get(k) for k in top} | {
        k: (node.get(k) if isinstance(node, dict) else None) for k in values
    }
    if ours != {**top, **values}:
        raise BadRequest(
            f"the file sets {table} or its keys in a form this setup does not edit "
            "(a dotted key, an inline table or a value over several lines); "
            "edit it by hand or move it away and run the setup again"
        )
