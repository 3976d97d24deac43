"""``omniroute export``, ``import``, ``backup`` and ``doctor``, run as the
real command in child processes."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.helpers import cli_async
from tests.support.harness import REPO, running_gateway

CANARY = "sk-cli-transfer-canary-93ab71"
PASSPHRASE = "a passphrase for the cli"


def run(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIROUTE_")}
    return subprocess.run(
        [sys.executable, "-m", "omniroute", *args, "--data-dir", str(data)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=REPO,
    )


def ok(data: Path, *args: str, stdin: str = "") -> str:
    done = run(data, *args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    assert CANARY not in done.stdout + done.stderr
    return done.stdout


def fails(data: Path, *args: str, stdin: str = "") -> str:
    done = run(data, *args, stdin=stdin)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    return done.stderr


def configure(data: Path) -> str:
    ok(data, "provider", "add", "acme", "--format", "openai", "--base-url", "https://acme.test/v1",
       "--api-key", CANARY, "--models", "m1,m2")  # fmt: skip
    ok(data, "combo", "add", "duo", "acme/m1", "acme/m2")
    ok(data, "alias", "add", "gpt-*", "duo")
    ok(data, "config", "set", "system-prompt", "be brief")
    return ok(data, "key", "create", "--name", "laptop").strip()


def listing(data: Path) -> list[str]:
    return [
        ok(data, "provider", "list"),
        ok(data, "combo", "list"),
        ok(data, "alias", "list"),
        ok(data, "config", "show"),
        "\n".join(line.split("created=")[0] for line in ok(data, "key", "list").splitlines()),
    ]


def test_export_with_secrets_then_import_on_a_fresh_data_dir(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    configure(old)
    target = tmp_path / "config.json"
    ok(old, "export", "--secrets", "-o", str(target), "--passphrase-stdin", stdin=PASSPHRASE + "\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert CANARY not in target.read_text()
    assert json.loads(target.read_text())["secrets"] == "encrypted"

    wrong = fails(new, "import", str(target), "--passphrase-stdin", stdin="not the passphrase\n")
    assert "passphrase" in wrong
    out = ok(new, "import", str(target), "--passphrase-stdin", stdin=PASSPHRASE + "\n")
    assert "1 providers, 1 accounts, 1 combos, 1 aliases, 1 client keys, 1 settings" in out
    assert listing(new) == listing(old)


def test_export_without_secrets_goes_to_stdout_and_holds_none(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = configure(data)
    done = run(data, "export")
    assert done.returncode == 0 and "secrets withheld" in done.stderr
    assert CANARY not in done.stdout and key not in done.stdout
    document = json.loads(done.stdout)
    assert document["providers"][0]["accounts"][0]["api_key"] == {"withheld": True}
    # Imported back: the account cannot come, and the command says so.
    source = tmp_path / "plain.json"
    source.write_text(done.stdout)
    out = ok(tmp_path / "fresh", "import", str(source))
    assert "left out: providers[0].accounts[0].api_key" in out


def test_a_bad_file_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    configure(data)
    before = listing(data)
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "omniroute-config", "version": 1, "providers": []')
    assert "not valid JSON" in fails(data, "import", str(broken))
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"format": "omniroute-config", "version": 1, "providers": []}))
    assert "'combos' is missing" in fails(data, "import", str(partial))
    assert "No such file" in fails(data, "import", str(tmp_path / "missing.json"))
    assert "too short" in fails(data, "export", "--secrets", "--passphrase-stdin", stdin="short\n")
    assert listing(data) == before


def test_backup_create_list_restore(tmp_path: Path) -> None:
    data = tmp_path / "data"
    configure(data)
    made = ok(data, "backup", "create")
    name = made.split()[1]
    assert name.startswith("omniroute-") and name.endswith("-manual.db")
    ok(data, "config", "set", "system-prompt", "be verbose")
    ok(data, "provider", "remove", "acme")
    restored = ok(data, "backup", "restore", name)
    assert f"restored {name}" in restored and "pre-restore" in restored
    assert 'system-prompt = "be brief"' in ok(data, "config", "show")
    assert "acme" in ok(data, "provider", "list")
    kinds = [b["kind"] for b in json.loads(ok(data, "backup", "list", "--json"))["backups"]]
    assert kinds == ["pre-restore", "manual"]
    assert "backup name looks like" in fails(data, "backup", "restore", "../omniroute.db")
    assert "no backup named" in fails(
        data, "backup", "restore", "omniroute-20250101T000000Z-auto.db"
    )


@pytest.mark.anyio
async def test_a_cli_restore_next_to_a_running_gateway_takes_effect(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gw:
        await gw.config.set_setting("system_prompt", "before")
        data = gw.settings.data_dir
        code, out, err = await cli_async(data, "backup", "create")
        assert code == 0, err
        name = out.split()[1]
        await gw.config.set_setting("system_prompt", "after")
        await gw.reload()
        code, out, err = await cli_async(data, "backup", "restore", name)
        assert code == 0, err
        for _ in range(100):  # the gateway polls the config revision
            if gw.gateway.registry().options.system_prompt == "before":
                break
            await asyncio.sleep(0.05)
        assert gw.gateway.registry().options.system_prompt == "before"


# -- doctor --------------------------------------------------------------------------


def doctor(data: Path, *args: str) -> tuple[int, dict[str, tuple[str, str]]]:
    done = run(data, "doctor", "--json", *args)
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    checks = {c["check"]: (c["status"], c["message"]) for c in report["checks"]}
    assert report["ok"] == (done.returncode == 0)
    return done.returncode, checks


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_doctor_on_a_good_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    configure(data)
    ok(data, "admin", "password", "--stdin", stdin="correct horse battery staple\n")
    ok(data, "backup", "create")
    code, checks = doctor(data, "--port", str(free_port()))
    assert code == 0
    statuses = {name: status for name, (status, _) in checks.items()}
    assert statuses == {
        "data dir": "ok",
        "database": "ok",
        "schema": "ok",
        "secret key": "ok",
        "providers": "ok",
        "client keys": "warn",  # no scope yet
        "admin": "ok",
        "port": "ok",
        "backups": "ok",
    }
    text = run(data, "doctor", "--port", str(free_port()))
    assert text.returncode == 0
    lines = text.stdout.splitlines()
    assert len(lines) == 9 and lines[0].startswith("ok    data dir")


def test_doctor_on_a_broken_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    configure(data)
    ok(data, "provider", "add", "empty", "--format", "openai", "--base-url", "https://e.test/v1",
       "--api-key", "sk-empty-000000000001")  # fmt: skip
    ok(data, "account", "set", "2", "--disable")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        os.chmod(data, 0o755)
        (data / "secret.key").chmod(0o644)
        code, checks = doctor(data, "--port", str(port))
    assert code == 1
    assert checks["data dir"][0] == "fail" and "every user" in checks["data dir"][1]
    assert checks["secret key"][0] == "fail" and "chmod 600" in checks["secret key"][1]
    assert checks["port"][0] == "fail" and "taken" in checks["port"][1]
    assert checks["providers"] == ("warn", "without an enabled account (serve nothing): empty")
    assert checks["admin"][0] == "warn"
    assert checks["backups"][0] == "warn"


def test_doctor_finds_a_foreign_key_and_a_damaged_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    configure(data)
    (data / "secret.key").write_text("A" * 43 + "=\n")  # a valid key, not this database's
    code, checks = doctor(data, "--port", "0")
    assert code == 1 and checks["secret key"][0] == "fail"
    assert "does not match" in checks["secret key"][1]

    db = data / "omniroute.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    raw = bytearray(db.read_bytes())
    for page in range(1, len(raw) // 4096):
        raw[page * 4096] = 0x0F  # no valid b-tree page has this type
    db.write_bytes(bytes(raw))
    code, checks = doctor(data, "--port", "0")
    assert code == 1 and checks["database"][0] == "fail"


def test_doctor_without_a_data_dir(tmp_path: Path) -> None:
    code, checks = doctor(tmp_path / "nothing-here", "--port", "0")
    assert code == 1 and checks["data dir"][0] == "fail" and checks["database"][0] == "fail"
    assert not (tmp_path / "nothing-here").exists()  # looking creates nothing


@pytest.mark.anyio
async def test_doctor_knows_its_own_running_gateway(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gw:
        assert gw.gateway.address is not None
        port = gw.gateway.address[1]
        code, out, err = await cli_async(gw.settings.data_dir, "doctor", "--port", str(port))
    line = next(line for line in out.splitlines() if " port " in line)
    assert line.startswith("ok") and "our gateway serves on it" in line, (out, err)
