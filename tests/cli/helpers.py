"""Running the real command from async tests."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.support.harness import REPO


async def cli_async(data: Path, *args: str) -> tuple[int, str, str]:
    """Run ``omniroute ARGS --data-dir DATA`` in a child process without
    blocking the event loop (a mock upstream or gateway may be serving on it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIROUTE_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "omniroute",
        *args,
        "--data-dir",
        str(data),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
