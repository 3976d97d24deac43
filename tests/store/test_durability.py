"""Crash safety and concurrent use of one database by several stores/processes."""

from __future__ import annotations

import asyncio
import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omniroute.settings import Settings
from omniroute.store import MIGRATIONS, Store

from .helpers import raw_query

pytestmark = pytest.mark.anyio

REPO_ROOT = Path(__file__).resolve().parents[2]

# A real Store in a child process: adds providers, accounts and settings in a
# loop and prints each id only after the write was acknowledged.
CHILD = r"""
import asyncio, sys
from pathlib import Path
from omniroute.settings import Settings
from omniroute.store import MIGRATIONS, Store

async def main(data_dir, prefix, count):
    store = Store(Settings(data_dir=Path(data_dir)))
    await store.open()
    print("open", flush=True)
    try:
        for i in range(count):
            p = await store.upsert_provider(f"{prefix}{i}", "openai", "https://x.test")
            print("P", p.id, flush=True)
            a = await store.add_account(p.id, f"key-{prefix}-{i}")
            print("A", a.id, i, flush=True)
            await store.set_setting(f"{prefix}.last", i)
            print("S", i, flush=True)
    finally:
        await store.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def _spawn(data_dir: Path, prefix: str, count: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIROUTE_")}
    env.pop("DATA_DIR", None)
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir), prefix, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO_ROOT,
        env=env,
    )


def _read_until(proc: subprocess.Popen[bytes], marker: bytes, timeout: float) -> bytes:
    """Read the child's stdout until ``marker`` shows up (bounded by ``timeout``)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"child did not print {marker!r} in {timeout} s")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                stderr = proc.stderr.read() if proc.stderr else b""
                raise AssertionError(f"child exited early: {stderr.decode(errors='replace')}")
            data += chunk
    return data


def _acknowledged(output: bytes) -> tuple[list[int], dict[int, int], int]:
    """Provider ids, account id -> loop index, last setting index: complete lines only."""
    providers: list[int] = []
    accounts: dict[int, int] = {}
    last_setting = -1
    for line in output.decode().split("\n")[:-1]:  # a cut-off last line is ignored
        parts = line.split()
        if parts[:1] == ["P"]:
            providers.append(int(parts[1]))
        elif parts[:1] == ["A"]:
            accounts[int(parts[1])] = int(parts[2])
        elif parts[:1] == ["S"]:
            last_setting = int(parts[1])
    return providers, accounts, last_setting


def _kill(proc: subprocess.Popen[bytes], early_output: bytes) -> bytes:
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return early_output + rest


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
async def test_kill_9_loses_no_acknowledged_config(settings: Settings) -> None:
    data_dir = Path(settings.data_dir)
    rng = random.Random()
    expected_providers: set[int] = set()
    expected_accounts: dict[int, str] = {}
    expected_last: dict[str, int] = {}

    # Round 0: killed early, possibly while creating the key, the database or
    # the schema.  Whatever it got to must still open cleanly.
    early = _spawn(data_dir, "early", 1_000_000)
    time.sleep(rng.uniform(0.0, 0.4))
    providers, accounts, last = _acknowledged(_kill(early, b""))
    expected_providers.update(providers)
    expected_accounts.update({a: f"key-early-{i}" for a, i in accounts.items()})
    expected_last["early"] = last

    for round_no in range(1, 4):
        prefix = f"r{round_no}_"
        proc = _spawn(data_dir, prefix, 1_000_000)
        first = _read_until(proc, b"open\n", timeout=60)
        time.sleep(rng.uniform(0.3, 1.0))
        providers, accounts, last = _acknowledged(_kill(proc, first))
        assert providers, "the child acknowledged nothing before it was killed"
        expected_providers.update(providers)
        expected_accounts.update({a: f"key-{prefix}-{i}" for a, i in accounts.items()})
        expected_last[prefix] = last

        db_path = data_dir / "omniroute.db"
        assert raw_query(db_path, "PRAGMA integrity_check") == [("ok",)]
        async with Store(settings) as store:
            snap = await store.snapshot()
        assert expected_providers <= {p.id for p in snap.providers}
        keys = {a.id: a.api_key for a in snap.accounts}
        for account_id, api_key in expected_accounts.items():
            assert keys.get(account_id) == api_key
        for name, last_index in expected_last.items():
            if last_index >= 0:
                assert snap.settings[f"{name}.last"] >= last_index


async def test_two_processes_write_at_once(settings: Settings) -> None:
    data_dir = Path(settings.data_dir)
    count = 25
    procs = [_spawn(data_dir, prefix, count) for prefix in ("left", "right")]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err.decode(errors="replace")
        outputs.append(out)
    async with Store(settings) as store:
        snap = await store.snapshot()
        revision = await store.revision()
    for prefix, out in zip(("left", "right"), outputs, strict=True):
        providers, accounts, last = _acknowledged(out)
        assert len(providers) == count and last == count - 1
        assert set(providers) <= {p.id for p in snap.providers}
        keys = {a.id: a.api_key for a in snap.accounts}
        assert all(keys[a] == f"key-{prefix}-{i}" for a, i in accounts.items())
        assert snap.settings[f"{prefix}.last"] == count - 1
    assert len(snap.providers) == 2 * count
    assert revision == 2 * count * 3  # every acknowledged change bumped it once


async def test_two_stores_in_one_process_write_at_once(settings: Settings) -> None:
    async with Store(settings) as one, Store(settings) as two:

        async def add(store: Store, name: str) -> int:
            provider = await store.upsert_provider(name, "openai", "https://x.test")
            await store.add_account(provider.id, f"key-{name}")
            return provider.id

        jobs = [add(one if i % 2 else two, f"p{i}") for i in range(40)]
        ids = await asyncio.gather(*jobs)
        assert len(set(ids)) == 40
        snap_one, snap_two = await one.snapshot(), await two.snapshot()
    assert snap_one == snap_two
    assert snap_one.revision == 80
    assert sorted(a.api_key for a in snap_one.accounts) == sorted(f"key-p{i}" for i in range(40))


async def test_many_stores_open_a_new_database_at_once(tmp_path: Path) -> None:
    # Races key-file creation, the switch to WAL, the migrations and the
    # key check between eight writer threads, a few times over.
    for round_no in range(3):
        settings = Settings(data_dir=tmp_path / f"data{round_no}", log_flush_interval=30.0)
        stores = [Store(settings) for _ in range(8)]
        await asyncio.gather(*(s.open() for s in stores))
        try:
            await asyncio.gather(
                *(
                    s.upsert_provider(f"p{i}", "openai", "https://x.test")
                    for i, s in enumerate(stores)
                )
            )
            revisions = {await s.revision() for s in stores}
            assert revisions == {8}
        finally:
            await asyncio.gather(*(s.close() for s in stores))
        recorded = raw_query(
            settings.data_dir / "omniroute.db", "SELECT count(*) FROM schema_migrations"
        )
        assert recorded == [(len(MIGRATIONS),)]
