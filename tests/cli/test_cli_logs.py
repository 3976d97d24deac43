"""``omniroute logs``: the request log from a shell, filtered, as JSON lines,
and followed while a running gateway writes it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest

from tests.cli.helpers import cli_async
from tests.support.harness import REPO, Harness, running_gateway
from tests.support.mock_upstream import Json, MockUpstream, openai_chat_json

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

UPSTREAM_KEY = "sk-logs-upstream-key-0123456789"


async def _chat(gw: Harness, model: str) -> int:
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=15) as http:
        answer = await http.post(
            "/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {gw.client_key}"},
        )
    return answer.status_code


async def test_logs_lists_filters_and_prints_json(tmp_path: Path) -> None:
    async with MockUpstream() as mock, running_gateway(tmp_path) as gw:
        mock.route("POST", "/v1/chat/completions", Json(openai_chat_json("ok", "m1")))
        await gw.add_provider("up", "openai", mock.url + "/v1", UPSTREAM_KEY, ["m1"])
        data = Path(gw.settings.data_dir)
        code, out, _ = await cli_async(data, "logs")
        assert code == 0 and "no logged requests match" in out
        assert await _chat(gw, "up/m1") == 200
        assert await _chat(gw, "up/m1") == 200
        assert await _chat(gw, "nobody/x") == 404
        await gw.gateway.store.flush_logs()
        code, out, err = await cli_async(data, "logs")
        assert code == 0, err
        lines = out.splitlines()
        assert len(lines) == 3
        assert " 200 up/m1 -> up/m1 " in lines[0] and " 404 " in lines[-1]  # oldest first
        code, out, _ = await cli_async(data, "logs", "--status", "4xx", "--json")
        (row,) = [json.loads(x) for x in out.splitlines()]
        assert row["status"] == 404 and row["model"] == "nobody/x"
        code, out, _ = await cli_async(data, "logs", "--model", "up/m1", "--limit", "1")
        assert len(out.splitlines()) == 1 and " 200 " in out
        code, _, err = await cli_async(data, "logs", "--status", "7xx")
        assert code == 2 and "'status' must be" in err and "Traceback" not in err
        assert UPSTREAM_KEY not in out + err


async def test_logs_follow_prints_new_rows_until_interrupted(tmp_path: Path) -> None:
    async with MockUpstream() as mock, running_gateway(tmp_path) as gw:
        mock.route("POST", "/v1/chat/completions", Json(openai_chat_json("ok", "m1")))
        await gw.add_provider("up", "openai", mock.url + "/v1", UPSTREAM_KEY, ["m1"])
        assert await _chat(gw, "up/m1") == 200
        await gw.gateway.store.flush_logs()
        env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIROUTE_")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "omniroute", "logs", "--follow", "--json",
            "--data-dir", str(gw.settings.data_dir),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO, env=env,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            first = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
            assert first["status"] == 200
            assert await _chat(gw, "nobody/x") == 404
            await gw.gateway.store.flush_logs()
            later = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
            assert later["status"] == 404 and later["id"] > first["id"]
            proc.send_signal(signal.SIGINT)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 130 and b"Traceback" not in err
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
