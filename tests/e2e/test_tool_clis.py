"""The real coding tools read the files the setup writes: Claude Code,
Codex CLI and Gemini CLI (from npm) each get one prompt through the gateway
to a mock upstream and print its answer. Each test is skipped when its
command is not on PATH (they are not Python packages; install them with
``npm install -g @anthropic-ai/claude-code @openai/codex @google/gemini-cli``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from omniroute.store.records import ComboTargetRecord
from omniroute.tools import setup
from omniroute.tools.writers import Target
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import (
    Json,
    MockUpstream,
    RecordedRequest,
    Reply,
    Sse,
    openai_chat_json,
    openai_chat_sse,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

ANSWER = "Hello from the mock upstream."
CHAT = "/v1/chat/completions"


def reply(request: RecordedRequest) -> Reply:
    if request.json().get("stream"):
        return Sse(openai_chat_sse(["Hello from ", "the mock upstream."], "m1"))
    return Json(openai_chat_json(ANSWER, "m1"))


@dataclass
class Env:
    gw: Harness
    mock: MockUpstream
    home: Path


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with MockUpstream() as mock, running_gateway(tmp_path) as gw:
        mock.route("POST", CHAT, reply)
        await gw.add_provider(
            "acme", "openai", f"{mock.url}/v1", "sk-acme-0123456789abcdef", ["m1"]
        )
        await gw.config.upsert_combo("coder", [ComboTargetRecord("acme/m1")])
        await gw.reload()
        home = tmp_path / "home"
        home.mkdir()
        yield Env(gw, mock, home)


def existing(home: Path, files: Mapping[str, str]) -> None:
    for relative, text in files.items():
        (home / relative).parent.mkdir(parents=True, exist_ok=True)
        (home / relative).write_text(text)


async def run(env: Env, tool: str, argv: list[str], extra: Mapping[str, str]) -> str:
    """Set the tool up, run it in the temporary home; its stdout."""
    setup.apply(tool, env.home, Target(env.gw.base_url, env.gw.client_key, "coder", ("coder",)))
    # Only what the tool needs: no key or URL from the test runner's own
    # environment may stand in for the written files.
    child = {"PATH": os.environ["PATH"], "HOME": str(env.home), "TERM": "dumb", **extra}
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=child,
        cwd=env.home,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()[-2000:]
    # The prompt went through the gateway (and so with the written key).
    assert any(r.path == CHAT for r in env.mock.requests)
    return out.decode()


def needs(command: str) -> str:
    found = shutil.which(command)
    if found is None:
        pytest.skip(f"{command} is not installed")
    return found


async def test_claude_code(env: Env) -> None:
    claude = needs("claude")
    existing(
        env.home, {".claude/settings.json": json.dumps({"permissions": {"allow": ["Bash(ls)"]}})}
    )
    quiet = {"DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
    assert ANSWER in await run(env, "claude", [claude, "-p", "say hi"], quiet)


async def test_codex(env: Env) -> None:
    codex = needs("codex")
    existing(
        env.home,
        {".codex/config.toml": '# mine\napproval_policy = "never"\n\n[tui]\nnotify = false\n'},
    )
    out = await run(env, "codex", [codex, "exec", "--skip-git-repo-check", "say hi"], {})
    assert ANSWER in out


async def test_gemini_cli(env: Env) -> None:
    gemini = needs("gemini")
    existing(
        env.home,
        {
            ".gemini/settings.json": json.dumps({"ui": {"theme": "GitHub"}}),
            ".gemini/.env": "DEBUG=false\n",
        },
    )
    # Gemini CLI reads ~/.gemini/.env only in a trusted folder; a first
    # interactive start asks, a headless test says so up front.
    trusted = {"GEMINI_CLI_TRUST_WORKSPACE": "true"}
    assert ANSWER in await run(env, "gemini", [gemini, "-p", "say hi"], trusted)
