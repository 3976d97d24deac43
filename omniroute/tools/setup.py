"""A tool's setup as one step: the plan (each file's new text and the
diff), applying it (backup, then write) and undoing it.

The diff is for reading: the client key in it is masked, so a dry run or
the dashboard never shows it.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from omniroute.config.keys import KeyEditor
from omniroute.config.redact import mask
from omniroute.errors import BadRequest
from omniroute.store import ConfigSnapshot, Store
from omniroute.tools.files import Restored, read_text, undo, write_with_backup
from omniroute.tools.writers import TOOLS, Target

Clock = Callable[[], datetime]
# Shown in a dry run where a key that does not exist yet would go.
NEW_KEY_PLACEHOLDER = "<new-client-key>"
# A line of a settings file that sets a credential: `"apiKey": "…"`,
# `experimental_bearer_token = "…"`, `GEMINI_API_KEY=…`. The user's own
# keys (an old ANTHROPIC_API_KEY, another provider's key) are masked in the
# diff like ours: the diff is shown in a terminal or a browser.
_SECRET = re.compile(
    r'(?P<name>[\w.-]*(?:key|token|secret|passw|auth)[\w.-]*)(?P<sep>"?\s*[:=]\s*)'
    r'(?P<q>"?)(?P<value>[^"\s,{}\[\]]+)(?P=q)',
    re.IGNORECASE,
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def tool_names() -> tuple[str, ...]:
    return tuple(TOOLS)


def check_tool(name: str) -> str:
    if name not in TOOLS:
        raise BadRequest(f"unknown tool {name!r}; known: {', '.join(TOOLS)}")
    return name


def served_models(snapshot: ConfigSnapshot) -> list[str]:
    """What the gateway answers to, in the order a default is taken from:
    enabled combos first, then each enabled provider's models."""
    names = [c.name for c in snapshot.combos if c.enabled]
    for provider in snapshot.providers:
        if provider.enabled:
            names.extend(f"{provider.name}/{m}" for m in provider.models)
    return list(dict.fromkeys(names))


def gateway_url(host: str, port: int) -> str:
    """The URL a tool on this machine reaches the gateway at."""
    if host in ("0.0.0.0", "", "::"):  # noqa: S104 - listening everywhere: reach it on loopback
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def check_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")) or len(url) < 10:
        raise BadRequest(f"the gateway URL must start with http:// or https://, got {url!r}")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    return url


@dataclass(frozen=True, slots=True)
class Change:
    path: Path
    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _masked(text: str, key: str) -> str:
    if key != NEW_KEY_PLACEHOLDER:
        text = text.replace(key, mask(key))

    def hide(m: re.Match[str]) -> str:
        value = m["value"]
        if value == NEW_KEY_PLACEHOLDER or value.startswith("…"):
            return m[0]
        return f"{m['name']}{m['sep']}{m['q']}{mask(value)}{m['q']}"

    return _SECRET.sub(hide, text)


@dataclass(frozen=True, slots=True)
class Plan:
    tool: str
    changes: tuple[Change, ...]
    key: str

    def diff(self) -> str:
        """A unified diff of every file, the client key masked."""
        out: list[str] = []
        for change in self.changes:
            before = _masked(change.before or "", self.key)
            after = _masked(change.after, self.key)
            old = str(change.path) if change.before is not None else "/dev/null"
            out.extend(
                difflib.unified_diff(
                    before.splitlines(keepends=True),
                    after.splitlines(keepends=True),
                    fromfile=old,
                    tofile=str(change.path),
                )
            )
        return "".join(line if line.endswith("\n") else line + "\n" for line in out)

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.changes)


def plan(tool: str, home: Path, target: Target, now: Clock = _utc_now) -> Plan:
    """What the setup would write; nothing is touched."""
    check_tool(tool)
    when = now()
    changes = []
    for spec, path in zip(TOOLS[tool], paths(tool, home), strict=True):
        before = read_text(path)
        changes.append(Change(path, before, spec.merge(before, target, path, when)))
    return Plan(tool, tuple(changes), target.key)


@dataclass(frozen=True, slots=True)
class Applied:
    plan: Plan
    written: tuple[tuple[Path, Path], ...]  # (file, its backup)


def apply(tool: str, home: Path, target: Target, now: Clock = _utc_now) -> Applied:
    """Write the plan: each file that changes is backed up first; a file
    already as it should be is left alone (no backup either)."""
    planned = plan(tool, home, target, now)
    written = []
    for change in planned.changes:
        # The file may have changed since it was read (the tool itself
        # writing it): merge into what is there now, not what was.
        if change.changed and read_text(change.path) == change.before:
            done = write_with_backup(change.path, change.after, now)
            written.append((done.path, done.backup))
        elif change.changed:
            raise BadRequest(f"{change.path} changed while it was being set up; run it again")
    return Applied(planned, tuple(written))


@dataclass(frozen=True, slots=True)
class SetUp:
    """What ``set_up`` did: the plan, the files written (none on a dry run)
    and the id of the client key it created for the tool, if it did."""

    plan: Plan
    written: tuple[tuple[Path, Path], ...]
    key_created: int | None
    model: str


async def set_up(
    store: Store,
    tool: str,
    home: Path,
    url: str,
    *,
    model: str | None,
    key: str | None,
    dry_run: bool,
    actor: str,
    address: str | None,
    no_model: str,
    key_created: Callable[[], Awaitable[None]] | None = None,
) -> SetUp:
    """The whole setup, for the CLI and the API alike: the default model
    (``no_model`` is the error when there is none), the plan, and unless
    ``dry_run`` a new client key when none is given (``key_created`` is
    awaited right after) and the files written. Files are read and written
    off the event loop."""
    models = served_models(await store.snapshot())
    model = model or (models[0] if models else None)
    if not model:
        raise BadRequest(no_model)
    # Planned first: a file that cannot be merged is refused before a key
    # is created for it.
    target = Target(url, key or NEW_KEY_PLACEHOLDER, model, tuple(models))
    planned = await asyncio.to_thread(plan, tool, home, target)
    if dry_run:
        return SetUp(planned, (), None, model)
    created = None
    if not key:
        record, key = await KeyEditor(store).create(
            {"name": f"tool:{tool}"}, actor=actor, address=address
        )
        created = record.id
        if key_created is not None:
            await key_created()
    done = await asyncio.to_thread(apply, tool, home, Target(url, key, model, tuple(models)))
    return SetUp(done.plan, done.written, created, model)


def undo_tool(tool: str, home: Path) -> list[Restored]:
    """Put each of the tool's files back as its newest backup holds it."""
    check_tool(tool)
    restored = [r for path in paths(tool, home) if (r := undo(path)) is not None]
    if not restored:
        raise BadRequest(f"no backup of {tool}'s settings to restore under {home}")
    return restored


def paths(tool: str, home: Path) -> Sequence[Path]:
    return [home / spec.relative for spec in TOOLS[check_tool(tool)]]
