"""The real `omniroute` command in child processes, as a user runs it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from omniroute import __version__
from tests.support.harness import REPO, run_cli
from tests.support.mock_upstream import Json, MockUpstream, Sse, openai_chat_json, openai_chat_sse

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

UPSTREAM_KEY = "sk-upstream-cli-test-9876543210"


def test_version_and_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "omniroute", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert out.stdout.strip() == f"omniroute {__version__}"
    helped = subprocess.run(
        [sys.executable, "-m", "omniroute", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    for word in ("serve", "provider", "key", "--data-dir"):
        assert word in helped.stdout


def test_provider_and_key_commands(tmp_path: Path) -> None:
    data = tmp_path / "d"
    run_cli(
        "provider",
        "add",
        "acme",
        "--format",
        "openai",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--api-key",
        UPSTREAM_KEY,
        "--models",
        "a,b",
        data_dir=data,
    )
    # --data-dir before the command works as well as after it.
    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "omniroute",
            "--data-dir",
            str(data),
            "provider",
            "add",
            "acme",
            "--format",
            "openai",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--api-key",
            "sk-other-account-00000",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=REPO,
    )
    assert "2 account(s)" in second.stdout
    listing = run_cli("provider", "list", data_dir=data).stdout
    assert "acme" in listing and "models: a, b" in listing
    assert listing.count("account ") == 2
    assert UPSTREAM_KEY not in listing and "sk-other-account-00000" not in listing
    created = run_cli("key", "create", "--name", "laptop", data_dir=data)
    key = created.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"sk-omni-[A-Za-z0-9_\-]{40,}", key)
    # Stored as a hash only: the plaintext is nowhere in the database.
    assert key.encode() not in (data / "omniroute.db").read_bytes()
    bad = run_cli(
        "provider",
        "add",
        "x",
        "--format",
        "openai",
        "--base-url",
        "ftp://nope",
        "--api-key",
        "k",
        data_dir=data,
        check=False,
    )
    assert bad.returncode == 2 and "base-url" in bad.stderr and "Traceback" not in bad.stderr


async def _read_port(proc: asyncio.subprocess.Process, seen: list[str]) -> int:
    assert proc.stderr is not None
    while True:
        line = (await asyncio.wait_for(proc.stderr.readline(), 20)).decode()
        assert line, "the server exited before listening:\n" + "".join(seen)
        seen.append(line)
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if found:
            return int(found.group(1))


async def test_serve_proxies_and_shuts_down_gracefully(tmp_path: Path) -> None:
    data = tmp_path / "d"
    async with MockUpstream() as mock:
        mock.route("POST", "/v1/chat/completions", Json(openai_chat_json("hi from cli test", "m")))
        run_cli(
            "provider",
            "add",
            "up",
            "--format",
            "openai",
            "--base-url",
            mock.url + "/v1",
            "--api-key",
            UPSTREAM_KEY,
            "--models",
            "m",
            data_dir=data,
        )
        key = run_cli("key", "create", data_dir=data).stdout.strip().splitlines()[-1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIROUTE_")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "omniroute",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--data-dir",
            str(data),
            stderr=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO,
            env=env,
        )
        seen: list[str] = []
        try:
            port = await _read_port(proc, seen)
            base = f"http://127.0.0.1:{port}"
            auth = {"authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(base_url=base, headers=auth, timeout=10) as http:
                ok = await http.post(
                    "/v1/chat/completions",
                    json={"model": "up/m", "messages": [{"role": "user", "content": "x"}]},
                )
                assert ok.json()["choices"][0]["message"]["content"] == "hi from cli test"
                # A slow stream is in flight when SIGTERM arrives: it must finish.
                mock.route(
                    "POST", "/v1/chat/completions", Sse(openai_chat_sse(["s"] * 6, "m"), delay=0.15)
                )
                async with http.stream(
                    "POST",
                    "/v1/chat/completions",
                    json={"model": "up/m", "messages": [], "stream": True},
                ) as streaming:
                    body = b""
                    async for piece in streaming.aiter_bytes():
                        if not body:
                            proc.send_signal(signal.SIGTERM)
                        body += piece
                assert body.rstrip().endswith(b"data: [DONE]")
            assert await asyncio.wait_for(proc.wait(), 15) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.stderr is not None
        seen.append((await proc.stderr.read()).decode())
    log_text = "".join(seen)
    assert "shutting down" in log_text
    assert UPSTREAM_KEY not in log_text and key not in log_text
    # Both requests were logged and flushed at shutdown.
    with sqlite3.connect(data / "omniroute.db") as db:
        rows = db.execute("SELECT model, status, stream FROM request_log ORDER BY id").fetchall()
    assert rows == [("up/m", 200, 0), ("up/m", 200, 1)]


async def test_status_command_reads_the_running_server(tmp_path: Path) -> None:
    data = tmp_path / "d"
    stopped = run_cli("status", data_dir=data, check=False)
    assert stopped.returncode == 2 and "no gateway is running" in stopped.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIROUTE_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "omniroute",
        "serve",
        "--port",
        "0",
        "--data-dir",
        str(data),
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
        env=env,
    )
    seen: list[str] = []
    try:
        port = await _read_port(proc, seen)
        # The admin file is private to the data dir's owner.
        assert (data / "admin.json").stat().st_mode & 0o777 == 0o600
        status = await asyncio.to_thread(run_cli, "status", "--json", data_dir=data)
        report = json.loads(status.stdout)
        assert report["status"] == "ok" and report["memory_rss_mb"] > 0
        assert {"breakers", "cooldowns", "limiters", "health", "upstream_pool"} <= set(report)
        async with httpx.AsyncClient() as http:
            anonymous = await http.get(f"http://127.0.0.1:{port}/api/status")
        assert anonymous.status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 15)
    assert not (data / "admin.json").exists()


def test_a_taken_port_is_a_clear_error_and_leaves_the_store_closed(tmp_path: Path) -> None:
    import socket

    data = tmp_path / "d"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = run_cli("serve", "--port", str(port), data_dir=data, check=False)
    assert out.returncode == 2
    assert "address already in use" in out.stderr and "Traceback" not in out.stderr
    # Closed cleanly: SQLite folded its write-ahead log back into the database.
    assert not (data / "omniroute.db-wal").exists()
