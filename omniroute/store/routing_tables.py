"""Combos and model aliases: plain functions over a connection.

Like ``repositories``, each function runs inside the caller's write
transaction and bumps the config revision. Only the shape of a combo is
checked here (names, targets, prompt size); whether it routes anywhere,
makes a cycle or names a known strategy is judged by the ``check`` the
caller passes, which sees the whole configuration as read in the same
transaction together with the combo about to be written.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence

from ..errors import BadRequest, Conflict, NotFound
from .records import AliasRecord, ComboRecord, ComboTargetRecord, ConfigSnapshot
from .repositories import bump_revision, read_aliases, read_combos

# Judges a combo before it is written: the configuration as it is now and the
# combo as it would be stored; raises BadRequest to refuse.
ComboCheck = Callable[[ConfigSnapshot, ComboRecord], None]

_MAX_NAME = 128
_MAX_PATTERN = 256
_MAX_PROMPT = 100_000


# -- combos --------------------------------------------------------------------


def upsert_combo(
    conn: sqlite3.Connection,
    name: str,
    targets: Sequence[ComboTargetRecord],
    *,
    strategy: str,
    system_prompt: str | None,
    enabled: bool,
    snapshot: Callable[[sqlite3.Connection], ConfigSnapshot],
    check: ComboCheck,
) -> ComboRecord:
    """Create combo ``name`` or replace its definition (id and creation time stay)."""
    _check_name(name, "combo name")
    checked = _check_targets(name, targets)
    if not isinstance(strategy, str) or not strategy:
        raise BadRequest(f"combo {name!r}: a strategy is required")
    if system_prompt is not None:
        if not isinstance(system_prompt, str) or len(system_prompt) > _MAX_PROMPT:
            raise BadRequest(f"a system prompt must be text of at most {_MAX_PROMPT} characters")
        system_prompt = system_prompt.strip() or None
    current = read_combos(conn, name)
    candidate = ComboRecord(
        id=current[0].id if current else 0,
        name=name,
        strategy=strategy,
        enabled=bool(enabled),
        system_prompt=system_prompt,
        targets=tuple(ComboTargetRecord(*t) for t in checked),
        created_at=current[0].created_at if current else time.time(),
    )
    check(snapshot(conn), candidate)
    now = time.time()
    conn.execute(
        """INSERT INTO combos (name, strategy, enabled, system_prompt, targets,
                               created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET
               strategy = excluded.strategy,
               enabled = excluded.enabled,
               system_prompt = excluded.system_prompt,
               targets = excluded.targets,
               updated_at = excluded.updated_at""",
        (name, strategy, int(bool(enabled)), system_prompt, _targets_json(checked), now, now),
    )
    bump_revision(conn)
    (record,) = read_combos(conn, name)
    return record


def delete_combo(conn: sqlite3.Connection, name: str) -> bool:
    """Delete a combo; refused while another combo or an alias routes to it."""
    users = [c.name for c in read_combos(conn) if any(t.ref == name for t in c.targets)]
    users = [u for u in users if u != name]
    if users:
        raise Conflict(
            f"combo {name!r} is a target of combo {', '.join(map(repr, users))}; "
            "remove it there first"
        )
    aliases = [a.pattern for a in read_aliases(conn) if a.target == name]
    if aliases:
        raise Conflict(
            f"combo {name!r} is the target of alias {', '.join(map(repr, aliases))}; "
            "remove the alias first"
        )
    cursor = conn.execute("DELETE FROM combos WHERE name = ?", (name,))
    if cursor.rowcount == 0:
        return False
    bump_revision(conn)
    return True


def set_combo_enabled(conn: sqlite3.Connection, name: str, enabled: bool) -> None:
    cursor = conn.execute(
        "UPDATE combos SET enabled = ?, updated_at = ? WHERE name = ?",
        (int(bool(enabled)), time.time(), name),
    )
    if cursor.rowcount == 0:
        raise NotFound(f"unknown combo {name!r}")
    bump_revision(conn)


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise BadRequest(f"{what} must be non-empty without leading or trailing spaces")
    if len(name) > _MAX_NAME or any(ch.isspace() or not ch.isprintable() for ch in name):
        raise BadRequest(f"{what} must be at most {_MAX_NAME} printable characters, no spaces")


def _check_targets(name: str, targets: Sequence[ComboTargetRecord]) -> list[tuple[str, int, bool]]:
    if isinstance(targets, str) or not targets:
        raise BadRequest(f"combo {name!r} needs at least one target")
    checked: list[tuple[str, int, bool]] = []
    for target in targets:
        ref, weight = target.ref, target.weight
        if not isinstance(ref, str) or not ref.strip():
            raise BadRequest(f"combo {name!r}: a target must be a model string or combo name")
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise BadRequest(f"combo {name!r}: target {ref!r} needs a whole weight >= 0")
        checked.append((ref.strip(), weight, bool(target.enabled)))
    return checked


def _targets_json(targets: Sequence[tuple[str, int, bool]]) -> str:
    return json.dumps([{"ref": r, "weight": w, "enabled": e} for r, w, e in targets])


# -- aliases -------------------------------------------------------------------


def add_alias(
    conn: sqlite3.Connection, pattern: str, target: str, *, replace: bool = True
) -> AliasRecord:
    """Append an alias (last, so earlier ones still win); an existing pattern
    keeps its place and gets the new target (Conflict unless ``replace``)."""
    _check_name(pattern, "an alias pattern")
    _check_name(target, "an alias target")
    if len(pattern) > _MAX_PATTERN:
        raise BadRequest(f"an alias pattern must be at most {_MAX_PATTERN} characters")
    if target.count("*") > pattern.count("*"):
        raise BadRequest(
            f"alias target {target!r} has more '*' than pattern {pattern!r} can capture"
        )
    if (
        not replace
        and conn.execute("SELECT 1 FROM aliases WHERE pattern = ?", (pattern,)).fetchone()
    ):
        raise Conflict(f"alias {pattern!r} exists already")
    conn.execute(
        """INSERT INTO aliases (pattern, target, position)
           VALUES (?, ?, (SELECT coalesce(max(position) + 1, 0) FROM aliases))
           ON CONFLICT (pattern) DO UPDATE SET target = excluded.target""",
        (pattern, target),
    )
    bump_revision(conn)
    row = conn.execute(
        "SELECT pattern, target, position FROM aliases WHERE pattern = ?", (pattern,)
    ).fetchone()
    return AliasRecord(str(row[0]), str(row[1]), int(row[2]))


def remove_alias(conn: sqlite3.Connection, pattern: str) -> bool:
    cursor = conn.execute("DELETE FROM aliases WHERE pattern = ?", (pattern,))
    if cursor.rowcount == 0:
        return False
    bump_revision(conn)
    return True
