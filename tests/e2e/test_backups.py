"""Backups and restore through the real server's management API, on a
running gateway, and under load.

The guarantee tested: a backup holds every write acknowledged before it was
asked for; a restore loses no acknowledged write: each one is either in the
live database afterwards or in the pre-restore backup the restore wrote
first (it was superseded), and each write made after the restore answered
is in the live database. Configuration writes under load go through the
server's own store (the one writer every management handler uses) and
through the CLI in other processes; client requests run meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from omniroute.store.admin import AdminRows
from tests.cli.helpers import cli_async
from tests.e2e.admin_helpers import Admin
from tests.store.helpers import raw_query
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import Json, MockUpstream, openai_chat_json

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

KEY = "sk-backup-e2e-upstream-key-01"


@pytest.fixture
async def mock() -> AsyncIterator[MockUpstream]:
    async with MockUpstream() as up:
        up.route("POST", "/p/v1/chat/completions", Json(openai_chat_json("from p", "m")))
        up.route("POST", "/q/v1/chat/completions", Json(openai_chat_json("from q", "m")))
        yield up


@pytest.fixture
async def gw(tmp_path: Path, mock: MockUpstream) -> AsyncIterator[Harness]:
    async with running_gateway(tmp_path) as harness:
        await harness.add_provider("p", "openai", mock.url + "/p/v1", KEY, ["m"])
        yield harness


async def ask(http: httpx.AsyncClient, gw: Harness, model: str) -> httpx.Response:
    return await http.post(
        "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {gw.client_key}"},
    )


def aliases_in(db: Path) -> set[str]:
    return {row[0] for row in raw_query(db, "SELECT pattern FROM aliases")}


async def test_backup_change_restore_brings_the_old_config_back_on_a_running_server(
    gw: Harness, mock: MockUpstream
) -> None:
    admin = await Admin.login(gw)
    http = gw.track(httpx.AsyncClient(base_url=gw.base_url, timeout=15))
    made = await admin.post("/api/backups")
    assert made.status_code == 201, made.text
    backup = made.json()["backup"]
    assert backup["kind"] == "manual" and backup["size"] > 0

    # Change the configuration: p goes, q comes.
    await gw.config.remove_provider("p")
    await gw.add_provider("q", "openai", mock.url + "/q/v1", "sk-q-key-000000001", ["m"])
    assert (await ask(http, gw, "q/m")).status_code == 200
    assert (await ask(http, gw, "p/m")).status_code == 404

    restored = await admin.post(f"/api/backups/{backup['name']}/restore")
    assert restored.status_code == 200, restored.text
    result = restored.json()
    assert result["restored"] == backup["name"] and result["previous"].endswith("pre-restore.db")
    # The answer means the running server already routes by the restored
    # configuration.
    assert gw.gateway.registry().snapshot.revision == result["revision"]
    answer = await ask(http, gw, "p/m")
    assert answer.status_code == 200 and "from p" in answer.text
    assert (await ask(http, gw, "q/m")).status_code == 404

    listed = (await admin.get("/api/backups")).json()["backups"]
    assert [b["kind"] for b in listed] == ["pre-restore", "manual"]
    # The configuration changes between leave rows of their own.
    rows = [r for r in await AdminRows(gw.gateway.store).audit_log() if "backup" in r.action]
    assert [(r.actor, r.action, r.target) for r in rows[:2]] == [
        ("session", "backup.restore", backup["name"]),
        ("session", "backup.create", backup["name"]),
    ]
    # The session that restored is still logged in: access is not rolled back.
    assert (await admin.get("/api/auth/state")).json()["authenticated"] is True


@pytest.mark.parametrize(
    "name",
    ["secret.key", "omniroute.db", "..%2Fomniroute.db", "omniroute-20250101T000000Z-manual.db"],
)
async def test_restoring_what_is_not_a_backup_is_refused(gw: Harness, name: str) -> None:
    admin = await Admin.login(gw)
    before = await gw.gateway.store.revision()
    answer = await admin.post(f"/api/backups/{name}/restore")
    assert answer.status_code in (400, 404), answer.text
    assert await gw.gateway.store.revision() == before
    assert [b.kind for b in await gw.gateway.store.list_backups()] == []


async def test_the_backup_list_answers_the_local_cli_token(gw: Harness) -> None:
    await Admin.login(gw)
    token = {"authorization": f"Bearer {gw.gateway.admin.token}"}
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=15) as http:
        assert (await http.get("/api/backups", headers=token)).json() == {"backups": []}
        # Making one still needs a session.
        assert (await http.post("/api/backups", headers=token)).status_code in (401, 403)


async def test_a_backup_downloads_as_the_very_file(gw: Harness, tmp_path: Path) -> None:
    admin = await Admin.login(gw)
    await gw.gateway.store.add_alias("kept-*", "p/*")
    name = (await admin.post("/api/backups")).json()["backup"]["name"]
    answer = await admin.get(f"/api/backups/{name}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert answer.headers["cache-control"] == "no-store"
    assert answer.content == (gw.gateway.store.backup_dir / name).read_bytes()
    assert answer.content.startswith(b"SQLite format 3\x00")
    copy = tmp_path / "downloaded.db"
    copy.write_bytes(answer.content)
    assert "kept-*" in aliases_in(copy)
    # Taking a copy away is in the audit log, like an export.
    (row,) = [r for r in await AdminRows(gw.gateway.store).audit_log() if "download" in r.action]
    assert (row.actor, row.action, row.target) == ("session", "backup.download", name)


@pytest.mark.parametrize(
    "name",
    [
        "secret.key",
        "omniroute.db",
        "..%2Fomniroute.db",
        "..%2F..%2Fdata%2Fsecret.key",
        "omniroute-20250101T000000Z-manual.db",  # looks like one, does not exist
        "omniroute-20250101T000000Z-auto.db",  # a link to the live database
    ],
)
async def test_downloading_what_is_not_a_backup_is_404(gw: Harness, name: str) -> None:
    admin = await Admin.login(gw)
    await admin.post("/api/backups")
    folder = gw.gateway.store.backup_dir
    (folder / "omniroute-20250101T000000Z-auto.db").symlink_to(gw.gateway.store.db_path)
    answer = await admin.get(f"/api/backups/{name}")
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["kind"] == "not_found"
    assert b"SQLite" not in answer.content


async def test_downloading_a_backup_needs_a_session(gw: Harness) -> None:
    admin = await Admin.login(gw)
    name = (await admin.post("/api/backups")).json()["backup"]["name"]
    token = {"authorization": f"Bearer {gw.gateway.admin.token}"}
    async with httpx.AsyncClient(base_url=gw.base_url, timeout=15) as http:
        for headers in (token, {}):
            answer = await http.get(f"/api/backups/{name}", headers=headers)
            assert answer.status_code == 401, answer.text


async def test_automatic_backups_are_written_while_the_server_runs(tmp_path: Path) -> None:
    async with running_gateway(tmp_path, backup_check_interval=0.05) as gw:
        for _ in range(200):
            if await gw.gateway.store.list_backups():
                break
            await asyncio.sleep(0.05)
        (auto,) = await gw.gateway.store.list_backups()
        assert auto.kind == "auto"


async def test_backup_and_restore_under_load_lose_no_acknowledged_write(
    gw: Harness, tmp_path: Path
) -> None:
    admin = await Admin.login(gw)
    store = gw.gateway.store
    http = gw.track(httpx.AsyncClient(base_url=gw.base_url, timeout=30))
    acked: list[str] = []  # alias patterns, in the order their writes were acknowledged
    after_restore: list[str] = []  # writes sent after the restore had answered
    restored = asyncio.Event()
    statuses: list[int] = []

    async def writer(prefix: str, count: int) -> None:
        for i in range(count):
            pattern = f"{prefix}-{i}-*"
            sent_after_restore = restored.is_set()
            await store.add_alias(pattern, "p/*")
            acked.append(pattern)
            if sent_after_restore:
                after_restore.append(pattern)

    async def cli_writer(count: int) -> None:
        for i in range(count):
            pattern = f"cli-{i}-*"
            sent_after_restore = restored.is_set()
            code, _out, err = await cli_async(gw.settings.data_dir, "alias", "add", pattern, "p/*")
            assert code == 0, err
            acked.append(pattern)
            if sent_after_restore:
                after_restore.append(pattern)

    async def clients(count: int) -> None:
        for _ in range(count):
            statuses.append((await ask(http, gw, "p/m")).status_code)

    async def backups_and_restore() -> str:
        first: str | None = None
        for _ in range(3):
            await asyncio.sleep(0.02)
            before = list(acked)
            answer = await admin.post("/api/backups")
            assert answer.status_code == 201, answer.text
            name = answer.json()["backup"]["name"]
            first = first or name
            # Every write acknowledged before the backup was asked for is in it.
            assert set(before) <= aliases_in(store.backup_dir / name)
        assert first is not None
        before = list(acked)
        answer = await admin.post(f"/api/backups/{first}/restore")
        assert answer.status_code == 200, answer.text
        restored.set()
        previous = answer.json()["previous"]
        assert set(before) <= aliases_in(store.backup_dir / previous)
        return str(previous)

    jobs = asyncio.gather(
        writer("a", 150),
        writer("b", 150),
        cli_writer(4),
        clients(40),
        backups_and_restore(),
    )
    *_, previous = await asyncio.wait_for(jobs, 120)
    # Writes after the restore, once every task above is done.
    await writer("c", 20)

    live = aliases_in(store.db_path)
    superseded = aliases_in(store.backup_dir / previous)
    lost = [p for p in acked if p not in live and p not in superseded]
    assert lost == []
    assert set(after_restore) <= live
    assert {f"c-{i}-*" for i in range(20)} <= live
    assert len(acked) == 150 + 150 + 4 + 20
    assert statuses and set(statuses) == {200}
