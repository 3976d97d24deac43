"""``omniroute login`` from a shell, and a refresh token rotation that
survives the gateway being killed between receiving and using it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from omniroute.providers.oauth.chatgpt import ISSUER_ENV
from omniroute.settings import Settings
from omniroute.store import Store, sign_ins
from tests.support.fake_chatgpt import FakeChatGPT
from tests.support.harness import REPO, run_cli

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

ANSWER = "Hello from the plan"


def _env(fake: FakeChatGPT) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIROUTE_")}
    env[ISSUER_ENV] = fake.issuer
    return env


async def _omniroute(fake: FakeChatGPT, data: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "omniroute", *args, "--data-dir", str(data),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=REPO, env=_env(fake),
    )  # fmt: skip


async def _login_by_paste(fake: FakeChatGPT, data: Path) -> str:
    proc = await _omniroute(fake, data, "login", "chatgpt", "--paste")
    assert proc.stdout is not None and proc.stdin is not None
    url = ""
    for _ in range(20):
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().strip()
        if "/api/accounts/authorize?" in line:
            url = line
            break
    assert url, "login never printed the sign-in address"
    # The browser was elsewhere: it ended on an unreachable loopback address,
    # which the user copies into the waiting command.
    proc.stdin.write((fake.approve(url) + "\n").encode())
    await proc.stdin.drain()
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode()


@contextlib.asynccontextmanager
async def _serving(fake: FakeChatGPT, data: Path) -> AsyncIterator[tuple[str, int]]:
    proc = await _omniroute(fake, data, "serve", "--port", "0")
    assert proc.stderr is not None
    url = ""
    for _ in range(50):
        line = (await asyncio.wait_for(proc.stderr.readline(), 20)).decode()
        if "listening on " in line:
            url = line.split("listening on ", 1)[1].split()[0]
            break
    assert url
    drain = asyncio.create_task(proc.stderr.read())  # keep the pipe from filling
    try:
        yield url, proc.pid
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 20)
        drain.cancel()


async def _stored_refresh_token(data: Path) -> str | None:
    store = Store(Settings.load({"data_dir": data}, env={}))
    await store.open()
    try:
        grants = await store.read_sealed(sign_ins.read_grants)
    finally:
        await store.close()
    return grants[0].tokens.refresh_token


def _chat(url: str, key: str, timeout: float = 20) -> httpx.Response:
    return httpx.post(
        url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "chatgpt/gpt-plan", "messages": [{"role": "user", "content": "hi"}]},
        timeout=timeout,
    )


async def test_login_by_paste_and_a_rotation_that_survives_kill_9(tmp_path: Path) -> None:
    data = tmp_path / "d"
    async with FakeChatGPT() as fake:
        fake.lifetime = 30  # the first request will have to refresh
        out = await _login_by_paste(fake, data)
        assert f"Signed in as {fake.email}: account 1 (new account)" in out
        fake.lifetime = 3600
        run_cli("provider", "set", "chatgpt", "--base-url", fake.api, data_dir=data)
        listing = run_cli("provider", "list", data_dir=data).stdout
        assert f"account 1  priority=0  on  signed in as {fake.email}" in listing
        assert "at-" not in listing and "rt-" not in listing  # never a token
        created = run_cli("key", "create", "--name", "t", data_dir=data).stdout
        key = next(word for word in created.split() if word.startswith("sk-"))

        async with _serving(fake, data) as (url, pid):
            fake.hang_inference = True  # the refreshed token's first use never ends
            asking = asyncio.create_task(asyncio.to_thread(_chat, url, key, 15))
            for _ in range(100):
                if fake.inference:
                    break
                await asyncio.sleep(0.1)
            assert fake.refreshes == 1 and len(fake.inference) == 1
            os.kill(pid, signal.SIGKILL)  # between receiving the tokens and using them
            with contextlib.suppress(httpx.HTTPError):
                await asking
        rotated = fake.last_refresh_token
        assert await _stored_refresh_token(data) == rotated

        async with _serving(fake, data) as (url, _):
            done = await asyncio.to_thread(_chat, url, key)
            assert done.status_code == 200, done.text
            assert done.json()["choices"][0]["message"]["content"] == ANSWER
            assert fake.refreshes == 1  # the stored access token was still good
            fake.expire_access_tokens()
            refused = await asyncio.to_thread(_chat, url, key)
            assert refused.status_code == 502
            again = await asyncio.to_thread(_chat, url, key)
            assert again.status_code == 200, again.text
        assert fake.refreshes == 2 and fake.reused == 0  # the rotated token was the one kept


@pytest.mark.parametrize(
    ("name", "named"),
    [
        ("cc", "claude-passthrough"),
        ("claude", "claude-passthrough"),
        ("gc", "AI Studio"),
        ("antigravity", "AI Studio"),
        ("gh", "GitHub Models"),
        ("kiro", "Anthropic API key"),
        ("kimi", "Kimi For Coding"),
        ("cline", "Cline API key"),
        ("kilo", "Kilo API key"),
        ("qwen", "shut down"),
        ("iflow", "shut down"),
        ("codex", "omniroute login chatgpt"),
    ],
)
def test_refused_sign_ins_say_why_in_one_line(tmp_path: Path, name: str, named: str) -> None:
    done = run_cli("login", name, data_dir=tmp_path / "d", check=False)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and named in lines[0], done.stderr
    assert "Traceback" not in done.stderr
