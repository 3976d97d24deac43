"""Client keys through the one place the CLI and the management API call:
the fields a caller gives, durations, and the audit row of every change."""

from __future__ import annotations

from typing import Any

import pytest

from omniroute.config.keys import KeyEditor, key_changes, key_view, parse_duration
from omniroute.errors import BadRequest, NotFound
from omniroute.settings import Settings
from omniroute.store import Store
from omniroute.store.admin import AdminRows

pytestmark = pytest.mark.anyio

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45s", 45), ("90m", 5400), ("12h", 43_200), ("30d", 2_592_000), ("2w", 1_209_600),
     (" 1.5H ", 5400)],
)  # fmt: skip
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "d", "0d", "-1d", "30 days", "1y", "99999999w"])
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(BadRequest, match="'expires'.*such as 90m, 12h, 30d"):
        parse_duration(text)


def test_expires_becomes_a_moment_and_never_removes_it() -> None:
    assert key_changes({"expires": "1d", "rpm": 5}, NOW) == {"expires_at": NOW + 86_400, "rpm": 5}
    for never in ("never", "NONE", None):
        assert key_changes({"expires": never}, NOW) == {"expires_at": None}
    assert key_changes({"expires_at": 5.0, "name": None}, NOW) == {"expires_at": 5.0, "name": None}


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"expires": "1d", "expires_at": 5}, "not both"),
        ({"expires": 30}, "'expires' must be a duration"),
        ({"key": "sk-omni-mine"}, "unknown field(s) 'key'"),
    ],
)
def test_bad_fields_are_named(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(BadRequest) as caught:
        key_changes(fields, NOW)
    assert named in caught.value.message


async def test_each_change_is_audited_without_the_key(settings: Settings) -> None:
    async with Store(settings) as store:
        editor = KeyEditor(store)
        record, plaintext = await editor.create(
            {"name": "ci", "models": ["m/*"], "expires": "30d"}, actor="cli", address=None
        )
        assert record.scope.expires_at is not None and record.scope.models == ("m/*",)
        await editor.update(record.id, {"rpm": 9, "models": None}, actor="session", address="::1")
        revoked = await editor.revoke(record.id, actor="session", address="::1")
        assert revoked.revoked
        with pytest.raises(NotFound, match="no active client key with id"):
            await editor.revoke(record.id, actor="cli", address=None)
        with pytest.raises(BadRequest):
            await editor.create({"rpm": -1}, actor="cli", address=None)
        rows = list(reversed(await AdminRows(store).audit_log()))
    assert [(r.actor, r.action, r.target) for r in rows] == [
        ("cli", "key.create", f"key {record.id}"),
        ("session", "key.update", f"key {record.id}"),
        ("session", "key.revoke", f"key {record.id}"),
    ]
    assert rows[0].detail["prefix"] == record.prefix and rows[0].detail["models"] == ["m/*"]
    assert rows[1].detail["before"]["models"] == ["m/*"]
    assert rows[1].detail["after"] == {"name": "ci", "prefix": record.prefix, "rpm": 9,
                                       "expires_at": record.scope.expires_at}  # fmt: skip
    assert rows[1].address == "::1"
    assert all(plaintext not in str(r) and plaintext[12:] not in str(r) for r in rows)


async def test_the_view_shows_state_scope_and_usage_never_the_key(settings: Settings) -> None:
    async with Store(settings) as store:
        record, plaintext = await KeyEditor(store).create(
            {"expires_at": NOW, "providers": []}, actor="cli", address=None
        )
    view = key_view(record, NOW - 1)
    assert view["state"] == "active" and key_view(record, NOW)["state"] == "expired"
    assert view["usage"] == {
        "requests": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "last_used_at": None,
    }
    assert view["providers"] == [] and view["rpm"] is None and view["prefix"] == plaintext[:12]
    assert plaintext not in str(view)
