"""Reading, merging and writing the tools' files; their backups and undo.

A backup sits next to the file it saves, named
``<file>.omniroute-<UTC time>.bak``: the user finds it beside the file, it
needs no data directory (the setup also works for a home the gateway does
not own), and it goes wherever the file goes. A file that did not exist
gets an empty marker ``<file>.omniroute-<UTC time>.absent`` instead, so
that undo knows to delete it. Undo takes the newest of the two kinds,
puts the bytes back exactly (and the file's mode), and removes that
backup; an older one is then the newest, so undo steps further back.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omniroute.errors import BadRequest

MARK = ".omniroute-"
_BACKUP = re.compile(r"\.omniroute-(\d{8}T\d{6}\.\d{6}Z)\.(bak|absent)$")
# New files hold a client key: readable by their owner only.
NEW_FILE_MODE = 0o600


def read_text(path: Path) -> str | None:
    """The file's text, or None when there is none."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise BadRequest(f"{path} is a directory, not a settings file") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"{path} is not UTF-8 text; it was left as it is") from None


def load_json_object(text: str | None, path: Path) -> dict[str, Any]:
    """The JSON object in ``text`` (an absent or empty file is ``{}``)."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"{path} is not plain JSON ({exc.msg} at line {exc.lineno}); comments and "
            "trailing commas cannot be merged safely: edit it by hand"
        ) from None
    if not isinstance(value, dict):
        raise BadRequest(f"{path} holds JSON that is not an object; it was left as it is")
    return value


def dump_json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def set_path(doc: dict[str, Any], path: Sequence[str], value: Any) -> None:
    """``doc[a][b]… = value``, making objects on the way (a non-object in
    the way is replaced: the tool reads an object there)."""
    node = doc
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value


def merge_dotenv(text: str | None, values: Mapping[str, str]) -> str:
    """A dotenv file with ``values`` set: a line that sets one of them is
    replaced in place, the others are appended, every other line is kept."""
    lines = [] if text is None else text.splitlines()
    newline = "\r\n" if text and "\r\n" in text else "\n"
    for key, value in values.items():
        line = f"{key}={_dotenv_value(value)}"
        pattern = re.compile(rf"^\s*(export\s+)?{re.escape(key)}\s*=")
        found = next((i for i, old in enumerate(lines) if pattern.match(old)), None)
        if found is None:
            lines.append(line)
        else:
            lines[found] = line
    return newline.join(lines) + newline


def _dotenv_value(value: str) -> str:
    if re.fullmatch(r"[\w@%+=:,./-]*", value):
        return value
    return json.dumps(value)


@dataclass(frozen=True, slots=True)
class Written:
    path: Path
    backup: Path  # the .bak copy, or the .absent marker


def stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def real_path(path: Path) -> Path:
    """The file a symlink points at: a settings file kept in a dotfiles
    repository stays a link, and its backups go beside the real file."""
    return path.resolve() if path.is_symlink() else path


def write_with_backup(path: Path, text: str, now: Callable[[], datetime]) -> Written:
    """Save what ``path`` holds (or that it is absent), then replace it."""
    path = real_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    when = now()
    while True:
        # Two setups within the same microsecond would share a name.
        existed = path.exists()
        kind = "bak" if existed else "absent"
        backup = path.with_name(f"{path.name}{MARK}{stamp(when)}.{kind}")
        if not backup.with_suffix(".bak").exists() and not backup.with_suffix(".absent").exists():
            break
        when = when.replace(microsecond=(when.microsecond + 1) % 1_000_000)
    if existed:
        mode = path.stat().st_mode & 0o7777
        _atomic_write(backup, path.read_bytes(), mode)
        # The file now holds a client key: no longer readable by others
        # (undo puts the old mode back with the old bytes).
        mode &= ~0o077
    else:
        mode = NEW_FILE_MODE
        _atomic_write(backup, b"", NEW_FILE_MODE)
    _atomic_write(path, text.encode("utf-8"), mode)
    return Written(path, backup)


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    """Write to a temporary file beside ``path`` and rename it over: a
    reader (the tool starting at that moment) sees the old file or the
    new one, never half of it."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def backups(path: Path) -> list[Path]:
    """The backups of ``path``, oldest first."""
    path = real_path(path)
    if not path.parent.is_dir():
        return []
    found = [
        (m.group(1), p)
        for p in path.parent.iterdir()
        if p.name.startswith(path.name + MARK)
        and (m := _BACKUP.search(p.name)) is not None
        and p.name == f"{path.name}{MARK}{m.group(1)}.{m.group(2)}"
    ]
    return [p for _stamp, p in sorted(found)]


@dataclass(frozen=True, slots=True)
class Restored:
    path: Path
    backup: Path
    deleted: bool  # the file did not exist before the setup: it was removed


def undo(path: Path) -> Restored | None:
    """Put back what the newest backup of ``path`` holds; None when there
    is no backup."""
    path = real_path(path)
    found = backups(path)
    if not found:
        return None
    newest = found[-1]
    if newest.name.endswith(".absent"):
        path.unlink(missing_ok=True)
        newest.unlink()
        return Restored(path, newest, deleted=True)
    mode = newest.stat().st_mode & 0o7777
    _atomic_write(path, newest.read_bytes(), mode)
    newest.unlink()
    return Restored(path, newest, deleted=False)
