"""Every CLI change is one transaction: a command that fails half-way, or is
killed at any moment, leaves all of its change or none of it."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.support.harness import REPO, run_cli

PROXY = "socks5://127.0.0.1:1080"


def test_a_refused_account_leaves_the_provider_as_it_was(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = "sk-atomic-account-key-0123456789"
    base = "https://acme.example/v1"
    run_cli("provider", "add", "acme", "--format", "openai", "--base-url", base,
            "--api-key", key, "--models", "m1", data_dir=data)  # fmt: skip
    again = run_cli("provider", "add", "acme", "--base-url", "https://other.example/v1",
                    "--models", "m2", "--api-key", key, data_dir=data, check=False)  # fmt: skip
    assert again.returncode == 2 and "already has an account with this key" in again.stderr
    listing = run_cli("provider", "list", data_dir=data).stdout
    assert base in listing and "other.example" not in listing and "m2" not in listing


def test_provider_add_killed_at_any_moment_leaves_no_half_provider(tmp_path: Path) -> None:
    """kill -9 while `provider add NAME --proxy URL` runs: afterwards every
    provider has its account, and every account has its proxy."""
    data = tmp_path / "data"
    run_cli("key", "list", data_dir=data)  # creates the database and the key file
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIROUTE_")}
    rng = random.Random(7)
    for n in range(15):
        proc = subprocess.Popen(
            [sys.executable, "-m", "omniroute", "provider", "add", f"p{n}", "--format", "openai",
             "--base-url", "https://p.example/v1", "--api-key", f"sk-atomic-key-{n:04d}-abcdef",
             "--proxy", PROXY, "--data-dir", str(data)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if n % 3:  # every third run is left to finish, so some commits happen
            time.sleep(rng.uniform(0.05, 1.5))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
        proc.wait(60)
    with sqlite3.connect(data / "omniroute.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        providers = db.execute("SELECT id, name FROM providers").fetchall()
        accounts = db.execute("SELECT provider_id, extra FROM accounts").fetchall()
    with_account = {pid for pid, _ in accounts}
    assert providers, "no run got far enough to commit: the timings are off"
    assert all(pid in with_account for pid, _ in providers), providers
    # Every account has its proxy (stored sealed, so never as the URL itself).
    assert all("sealed" in json.loads(extra).get("proxy", {}) for _, extra in accounts)
    assert not any(PROXY in extra for _, extra in accounts)
