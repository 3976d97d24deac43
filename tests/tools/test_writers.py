"""Each tool's writer against a realistic file: the merge keeps the user's
other settings, undo restores the file byte for byte (and its mode), a dry
run changes nothing, and a file that did not exist is removed again."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from omniroute.errors import BadRequest
from omniroute.tools import setup
from omniroute.tools.writers import TOOLS, Target
from tests.tools.realistic import EXISTING

KEY = "sk-omni-TestKeyForToolSetup0123456789abcd"
TARGET = Target("http://127.0.0.1:20128", KEY, "coder", ("coder", "mock/m1", "mock/m2"))
NOW = datetime(2026, 12, 4, 21, 30, 0, 123456, tzinfo=UTC)

# What each writer owns in a JSON file: everything else must survive.
OWNED: dict[str, tuple[tuple[str, ...], ...]] = {
    "claude": (("env", "ANTHROPIC_API_KEY"), ("env", "ANTHROPIC_")),
    "gemini": (("security", "auth", "selectedType"), ("model", "name")),
    "opencode": (("provider", "omniroute"), ("model",)),
    "kilo": (("provider", "omniroute"), ("model",)),
    "cline": (
        ("providers", "openai-compatible", "settings", "apiKey"),
        ("providers", "openai-compatible", "settings", "model"),
        ("providers", "openai-compatible", "settings", "baseUrl"),
        ("providers", "openai-compatible", "updatedAt"),
        ("lastUsedProvider",),
    ),
    "openclaw": (("models", "providers", "omniroute"), ("agents", "defaults", "model", "primary")),
}


def clock() -> datetime:
    return NOW


def leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from leaves(v, (*path, k))
    else:
        yield path, value


def owned(tool: str, path: tuple[str, ...]) -> bool:
    """``("env", "ANTHROPIC_")``: every env entry starting so is ours."""
    for prefix in OWNED.get(tool, ()):
        head, last = prefix[:-1], prefix[-1]
        if len(path) <= len(head) or path[: len(head)] != head:
            continue
        name = path[len(head)]
        if name == last or (last.endswith("_") and name.startswith(last)):
            return True
    return False


def write_existing(home: Path, tool: str) -> dict[Path, tuple[bytes, int]]:
    saved = {}
    for relative, text in EXISTING[tool].items():
        path = home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)
        saved[path] = (path.read_bytes(), path.stat().st_mode & 0o7777)
    return saved


def tree(home: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        str(p.relative_to(home)): (p.read_bytes(), p.stat().st_mode, p.stat().st_mtime_ns)
        for p in sorted(home.rglob("*"))
        if p.is_file()
    }


def check_ours(tool: str, home: Path) -> None:
    """The values that point the tool at the gateway, as the tool reads them."""

    def js(relative: str) -> Any:
        return json.loads((home / relative).read_text())

    if tool == "claude":
        env = js(".claude/settings.json")["env"]
        assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:20128"
        assert env["ANTHROPIC_AUTH_TOKEN"] == KEY
        assert env["ANTHROPIC_MODEL"] == env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "coder"
        assert "ANTHROPIC_API_KEY" not in env
    elif tool == "codex":
        doc = tomllib.loads((home / ".codex/config.toml").read_text())
        assert doc["model"] == "coder" and doc["model_provider"] == "omniroute"
        assert doc["model_providers"]["omniroute"] == {
            "name": "OmniRoute",
            "base_url": "http://127.0.0.1:20128/v1",
            "experimental_bearer_token": KEY,
            "wire_api": "responses",
        }
    elif tool == "gemini":
        doc = js(".gemini/settings.json")
        assert doc["security"]["auth"]["selectedType"] == "gemini-api-key"
        assert doc["model"]["name"] == "coder"
        env = (home / ".gemini/.env").read_text().splitlines()
        assert "GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:20128" in env
        assert f"GEMINI_API_KEY={KEY}" in env and "GEMINI_MODEL=coder" in env
    elif tool in ("opencode", "kilo"):
        relative = (
            ".config/opencode/opencode.json" if tool == "opencode" else ".config/kilo/kilo.json"
        )
        doc = js(relative)
        ours = doc["provider"]["omniroute"]
        assert ours["npm"] == "@ai-sdk/openai-compatible"
        assert ours["options"] == {"baseURL": "http://127.0.0.1:20128/v1", "apiKey": KEY}
        assert list(ours["models"]) == ["coder", "mock/m1", "mock/m2"]
        assert doc["model"] == "omniroute/coder"
    elif tool == "cline":
        doc = js(".cline/data/settings/providers.json")
        entry = doc["providers"]["openai-compatible"]
        assert entry["settings"]["baseUrl"] == "http://127.0.0.1:20128/v1"
        assert entry["settings"]["apiKey"] == KEY and entry["settings"]["model"] == "coder"
        assert entry["updatedAt"] == "2026-12-04T21:30:00.123Z"
        assert doc["lastUsedProvider"] == "openai-compatible"
    elif tool == "openclaw":
        doc = js(".openclaw/openclaw.json")
        ours = doc["models"]["providers"]["omniroute"]
        assert ours["baseUrl"] == "http://127.0.0.1:20128/v1" and ours["apiKey"] == KEY
        assert ours["api"] == "openai-completions"
        assert [m["id"] for m in ours["models"]] == ["coder", "mock/m1", "mock/m2"]
        assert doc["agents"]["defaults"]["model"]["primary"] == "omniroute/coder"
        assert doc["models"]["mode"] == "merge"
    else:
        raise AssertionError(tool)


def check_kept(tool: str, home: Path) -> None:
    """Every setting of the user's that the tool's entries do not own."""
    for relative, text in EXISTING[tool].items():
        after_text = (home / relative).read_text()
        if relative.endswith(".json"):
            after = json.loads(after_text)
            for path, value in leaves(json.loads(text)):
                if owned(tool, path):
                    continue
                node: Any = after
                for part in path:
                    node = node[part]
                assert node == value, (relative, path)
        elif relative.endswith(".toml"):
            before, now = tomllib.loads(text), tomllib.loads(after_text)
            for name in ("approval_policy", "sandbox_mode", "features", "mcp_servers", "profiles"):
                assert now[name] == before[name]
            assert now["model_providers"]["azure"] == before["model_providers"]["azure"]
        else:  # .env: every line but the ones setting our keys
            ours = ("GOOGLE_GEMINI_BASE_URL=", "GEMINI_API_KEY=", "GEMINI_MODEL=")
            for line in text.splitlines():
                if not line.removeprefix("export ").startswith(ours):
                    assert line in after_text.splitlines()


@pytest.mark.parametrize("tool", list(TOOLS))
def test_setup_merges_and_undo_restores_byte_for_byte(tool: str, tmp_path: Path) -> None:
    saved = write_existing(tmp_path, tool)
    done = setup.apply(tool, tmp_path, TARGET, clock)
    assert {p for p, _b in done.written} == set(saved)
    check_ours(tool, tmp_path)
    check_kept(tool, tmp_path)
    for path in saved:
        # The file now holds a key: its owner's only.
        assert path.stat().st_mode & 0o077 == 0
        backups = [p for p in path.parent.iterdir() if p.name.startswith(path.name + ".omniroute-")]
        assert [b.name.endswith(".bak") for b in backups] == [True]

    restored = setup.undo_tool(tool, tmp_path)
    assert {r.path for r in restored} == set(saved)
    for path, (data, mode) in saved.items():
        assert path.read_bytes() == data
        assert path.stat().st_mode & 0o7777 == mode
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == (
        sorted(EXISTING[tool])
    )


@pytest.mark.parametrize("tool", list(TOOLS))
def test_dry_run_changes_nothing_and_masks_the_key(tool: str, tmp_path: Path) -> None:
    write_existing(tmp_path, tool)
    before = tree(tmp_path)
    planned = setup.plan(tool, tmp_path, TARGET, clock)
    diff = planned.diff()
    assert tree(tmp_path) == before
    assert planned.changed and diff.startswith("--- ")
    assert KEY not in diff and "…abcd" in diff
    # The user's own credentials in those files are masked too.
    for secret in ("sk-ant-old-key-0123456789", "sk-ant-cline", "claw-token", "AIza-old-key"):
        assert secret not in diff


@pytest.mark.parametrize("tool", list(TOOLS))
def test_new_files_are_private_and_undo_removes_them(tool: str, tmp_path: Path) -> None:
    done = setup.apply(tool, tmp_path, TARGET, clock)
    assert len(done.written) == len(TOOLS[tool])
    for path, backup in done.written:
        assert path.stat().st_mode & 0o777 == 0o600
        assert backup.name.endswith(".absent") and backup.read_bytes() == b""
    check_ours(tool, tmp_path)
    assert "/dev/null" in done.plan.diff()
    setup.undo_tool(tool, tmp_path)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_second_identical_setup_writes_nothing(tmp_path: Path) -> None:
    write_existing(tmp_path, "claude")
    setup.apply("claude", tmp_path, TARGET, clock)
    again = setup.apply("claude", tmp_path, TARGET, clock)
    assert again.written == () and not again.plan.changed
    assert len(list((tmp_path / ".claude").glob("settings.json.omniroute-*"))) == 1


def test_undo_steps_back_through_setups(tmp_path: Path) -> None:
    saved = write_existing(tmp_path, "opencode")
    path = next(iter(saved))
    setup.apply("opencode", tmp_path, TARGET, clock)
    first = path.read_bytes()
    other = Target(TARGET.url, TARGET.key, "mock/m2", TARGET.models)
    setup.apply("opencode", tmp_path, other, lambda: NOW.replace(second=1))
    assert json.loads(path.read_text())["model"] == "omniroute/mock/m2"
    setup.undo_tool("opencode", tmp_path)
    assert path.read_bytes() == first
    setup.undo_tool("opencode", tmp_path)
    assert path.read_bytes() == saved[path][0]
    with pytest.raises(BadRequest, match="no backup"):
        setup.undo_tool("opencode", tmp_path)


def test_json_with_comments_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / ".openclaw/openclaw.json"
    path.parent.mkdir(parents=True)
    text = "{\n  // JSON5, as OpenClaw allows\n  gateway: { port: 18789, },\n}\n"
    path.write_text(text)
    with pytest.raises(BadRequest, match="not plain JSON"):
        setup.apply("openclaw", tmp_path, TARGET, clock)
    assert path.read_text() == text
    assert os.listdir(path.parent) == ["openclaw.json"]


def test_a_json_file_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / ".claude/settings.json"
    path.parent.mkdir(parents=True)
    path.write_text("[1, 2]\n")
    with pytest.raises(BadRequest, match="not an object"):
        setup.plan("claude", tmp_path, TARGET, clock)


def test_gemini_env_replaces_an_exported_key_in_place(tmp_path: Path) -> None:
    write_existing(tmp_path, "gemini")
    setup.apply("gemini", tmp_path, TARGET, clock)
    lines = (tmp_path / ".gemini/.env").read_text().splitlines()
    assert lines == [
        "# keys for gemini",
        "GOOGLE_CLOUD_PROJECT=my-project",
        f"GEMINI_API_KEY={KEY}",
        "DEBUG=false",
        "GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:20128",
        "GEMINI_MODEL=coder",
    ]


def test_unknown_tool_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match="unknown tool 'vim'"):
        setup.plan("vim", tmp_path, TARGET, clock)


def test_two_setups_at_the_same_instant_keep_both_backups_in_order(tmp_path: Path) -> None:
    saved = write_existing(tmp_path, "kilo")
    path = next(iter(saved))
    setup.apply("kilo", tmp_path, TARGET, clock)
    first = path.read_bytes()
    setup.apply("kilo", tmp_path, Target(TARGET.url, TARGET.key, "mock/m1", TARGET.models), clock)
    setup.undo_tool("kilo", tmp_path)
    assert path.read_bytes() == first
    setup.undo_tool("kilo", tmp_path)
    assert path.read_bytes() == saved[path][0]


def test_a_symlinked_settings_file_stays_a_link(tmp_path: Path) -> None:
    # Dotfiles kept in a repository and linked into the home directory.
    dotfiles = tmp_path / "dotfiles" / "claude-settings.json"
    dotfiles.parent.mkdir()
    dotfiles.write_text('{"theme": "dark"}\n')
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    link = home / ".claude" / "settings.json"
    link.symlink_to(dotfiles)
    setup.apply("claude", home, TARGET, clock)
    assert link.is_symlink() and json.loads(dotfiles.read_text())["theme"] == "dark"
    assert json.loads(link.read_text())["env"]["ANTHROPIC_AUTH_TOKEN"] == KEY
    setup.undo_tool("claude", home)
    assert link.is_symlink() and dotfiles.read_text() == '{"theme": "dark"}\n'
    assert sorted(p.name for p in dotfiles.parent.iterdir()) == ["claude-settings.json"]
