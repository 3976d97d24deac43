"""One gateway per data directory: a second ``serve`` on the same data dir
exits at once with one line naming the running one, which goes on serving
with its admin file intact."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.harness import REPO, run_cli

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


async def _serve(data: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIROUTE_")}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "omniroute", "serve", "--port", "0", "--data-dir", str(data),
        stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=REPO, env=env,
    )  # fmt: skip


async def _listening_url(proc: asyncio.subprocess.Process) -> str:
    assert proc.stderr is not None
    for _ in range(50):
        line = (await asyncio.wait_for(proc.stderr.readline(), 20)).decode()
        if "listening on " in line:
            return line.split("listening on ", 1)[1].split()[0]
    raise AssertionError("the gateway never said where it listens")


async def test_a_second_server_on_one_data_dir_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "d"
    first = await _serve(data)
    try:
        url = await _listening_url(first)
        second = await asyncio.to_thread(
            run_cli, "serve", "--port", "0", data_dir=data, check=False
        )
        assert second.returncode == 2
        lines = [line for line in second.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in second.stderr
        assert f"PID {first.pid}" in lines[0] and url in lines[0]
        # The first one is untouched: its admin file is there and it serves.
        assert (data / "admin.json").exists()
        async with httpx.AsyncClient() as http:
            assert (await http.get(url + "/health")).status_code == 200
        status = await asyncio.to_thread(run_cli, "status", data_dir=data, check=False)
        assert status.returncode == 0
    finally:
        first.send_signal(signal.SIGTERM)
        await asyncio.wait_for(first.wait(), 15)
    # Once it stopped, the data dir is free again.
    again = await _serve(data)
    try:
        await _listening_url(again)
    finally:
        again.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(again.wait(), 15) == 0
