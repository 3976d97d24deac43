"""Migration 4 (combos, aliases) and configuration changes through the editor:
what is checked before it reaches the store."""

from __future__ import annotations

import re

import pytest

from omniroute.config.editor import ConfigEditor
from omniroute.errors import BadRequest
from omniroute.settings import Settings
from omniroute.store import (
    MIGRATIONS,
    ComboTargetRecord,
    Store,
    check_proxy,
    mask_proxy,
)
from tests.store.helpers import raw_query

pytestmark = pytest.mark.anyio

T = ComboTargetRecord
PROXY_PASSWORD = "pr0xy-pa55word"


async def _providers(store: Store) -> None:
    """Two providers with accounts: 'acme' lists m1 and m2, 'beta' lists b1."""
    acme = await store.upsert_provider("acme", "openai", "https://acme.test/v1", ["m1", "m2"])
    await store.add_account(acme.id, "acme-secret-key-000001")
    beta = await store.upsert_provider("beta", "anthropic", "https://beta.test/v1", ["b1"])
    await store.add_account(beta.id, "beta-secret-key-000002")


# -- migration 4 -------------------------------------------------------------------


async def test_fresh_database_has_routing_tables(settings: Settings) -> None:
    async with Store(settings) as store:
        result = store.migration_result
        assert result is not None and 4 in result.applied
        db_path = store.db_path
        snap = await store.snapshot()
    assert snap.combos == () and snap.aliases == ()
    tables = {r[0] for r in raw_query(db_path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"combos", "aliases"} <= tables


async def test_upgrade_from_version_3_keeps_data_and_backs_up(settings: Settings) -> None:
    async with Store(settings, migrations=MIGRATIONS[:3]) as old:
        acme = await old.upsert_provider("acme", "openai", "https://acme.test/v1", ["m1"])
        account = await old.add_account(acme.id, "acme-secret-key-000001")
        await old.set_setting("theme", "dark")
        await old.write(
            lambda c: c.execute(
                "INSERT INTO response_memory (id, expires_at, items) VALUES ('r1', 9e9, '[]')"
            )
        )
        db_path = old.db_path
    assert raw_query(db_path, "SELECT max(version) FROM schema_migrations") == [(3,)]

    async with Store(settings) as store:
        result = store.migration_result
        later = tuple(m.version for m in MIGRATIONS[3:])
        assert result is not None and result.applied == later
        assert result.backup is not None
        assert re.fullmatch(r"omniroute-\d{8}T\d{6}Z-v3\.db", result.backup.name)
        snap = await store.snapshot()
        assert snap.accounts[0].id == account.id
        assert snap.accounts[0].api_key == "acme-secret-key-000001"
        assert snap.settings["theme"] == "dark"
        # The new tables work at once.
        combo = await ConfigEditor(store).upsert_combo("c", [T("acme/m1")])
        assert (await store.snapshot()).combo("c") == combo
    assert raw_query(db_path, "SELECT id FROM response_memory") == [("r1",)]
    assert raw_query(result.backup, "SELECT name FROM providers") == [("acme",)]
    backup_tables = raw_query(result.backup, "SELECT name FROM sqlite_master WHERE type='table'")
    assert ("combos",) not in backup_tables


# -- combos ------------------------------------------------------------------------


async def test_upsert_combo_creates_then_replaces(settings: Settings) -> None:
    async with Store(settings) as store:
        await _providers(store)
        before = await store.revision()
        made = await ConfigEditor(store).upsert_combo(
            "fast",
            [T("acme/m1", 3), T("b1", 1, enabled=False)],
            strategy="weighted",
            system_prompt="  Be brief.  ",
        )
        assert await store.revision() == before + 1
        assert made.name == "fast" and made.strategy == "weighted" and made.enabled
        assert made.system_prompt == "Be brief."
        assert made.targets == (T("acme/m1", 3, True), T("b1", 1, False))

        replaced = await ConfigEditor(store).upsert_combo("fast", [T("m2")], enabled=False)
        assert replaced.id == made.id and replaced.created_at == made.created_at
        assert replaced.strategy == "fill-first" and not replaced.enabled
        assert replaced.system_prompt is None and replaced.targets == (T("m2"),)
        await ConfigEditor(store).upsert_combo("alpha", [T("fast")])
        snap = await store.snapshot()
    assert [c.name for c in snap.combos] == ["alpha", "fast"]
    assert snap.combo("fast") == replaced and snap.combo("nope") is None


@pytest.mark.parametrize(
    ("targets", "strategy", "message"),
    [
        ([T("acme/m1")], "sideways", "unknown strategy 'sideways'"),
        ([], "fill-first", "needs at least one target"),
        ([T("acme/m1", -1)], "fill-first", "weight >= 0"),
        ([T("acme/m1", True)], "fill-first", "weight >= 0"),  # type: ignore[arg-type]
        ([T("  ")], "fill-first", "model string or combo name"),
        ([T("nobody/x")], "fill-first", "unknown target 'nobody/x'"),
        ([T("zz-unknown-model")], "fill-first", "unknown target 'zz-unknown-model'"),
        ([T("bad")], "fill-first", "cycle bad → bad"),
    ],
)
async def test_invalid_combos_are_refused(
    settings: Settings, targets: list[ComboTargetRecord], strategy: str, message: str
) -> None:
    async with Store(settings) as store:
        await _providers(store)
        before = await store.revision()
        with pytest.raises(BadRequest, match=re.escape(message)):
            await ConfigEditor(store).upsert_combo("bad", targets, strategy=strategy)
        assert await store.revision() == before
        assert (await store.snapshot()).combos == ()


async def test_cycle_through_nested_combos_is_refused(settings: Settings) -> None:
    async with Store(settings) as store:
        await _providers(store)
        await ConfigEditor(store).upsert_combo("a", [T("acme/m1")])
        await ConfigEditor(store).upsert_combo("b", [T("a"), T("b1")])
        with pytest.raises(BadRequest, match="cycle a → b → a"):
            await ConfigEditor(store).upsert_combo("a", [T("b")])
        snap = await store.snapshot()
    combo_a = snap.combo("a")
    assert combo_a is not None and combo_a.targets == (T("acme/m1"),)  # unchanged


async def test_removed_provider_does_not_block_other_combos(settings: Settings) -> None:
    async with Store(settings) as store:
        await _providers(store)
        await ConfigEditor(store).upsert_combo("old", [T("beta/b1")])
        assert await store.delete_provider("beta")
        # 'old' now names a provider that is gone; other edits still work,
        # while 'old' itself is checked when it is next saved.
        await ConfigEditor(store).upsert_combo("new", [T("acme/m1")])
        with pytest.raises(BadRequest, match="unknown target 'beta/b1'"):
            await ConfigEditor(store).upsert_combo("old", [T("beta/b1")])


async def test_delete_and_toggle_combos(settings: Settings) -> None:
    async with Store(settings) as store:
        await _providers(store)
        await ConfigEditor(store).upsert_combo("inner", [T("acme/m1")])
        await ConfigEditor(store).upsert_combo("outer", [T("inner")])
        await store.add_alias("claude-*", "inner")
        with pytest.raises(BadRequest, match="target of combo 'outer'"):
            await store.delete_combo("inner")
        assert await store.delete_combo("outer")
        with pytest.raises(BadRequest, match="target of alias 'claude-\\*'"):
            await store.delete_combo("inner")
        assert await store.remove_alias("claude-*")
        before = await store.revision()
        assert await store.delete_combo("inner")
        assert not await store.delete_combo("inner")
        assert await store.revision() == before + 1

        await ConfigEditor(store).upsert_combo("c", [T("m1")])
        await store.set_combo_enabled("c", False)
        combo = (await store.snapshot()).combo("c")
        assert combo is not None and not combo.enabled
        with pytest.raises(BadRequest, match="unknown combo 'nope'"):
            await store.set_combo_enabled("nope", True)


# -- aliases -----------------------------------------------------------------------


async def test_aliases_keep_their_order(settings: Settings) -> None:
    async with Store(settings) as store:
        first = await store.add_alias("claude-*", "acme/m1")
        second = await store.add_alias("gpt-*", "beta/*")
        third = await store.add_alias("o3", "acme/m2")
        assert first.position < second.position < third.position
        # Same pattern: replaced in place, not moved.
        again = await store.add_alias("claude-*", "beta/b1")
        assert again.position == first.position and again.target == "beta/b1"
        assert await store.remove_alias("gpt-*")
        assert not await store.remove_alias("gpt-*")
        readded = await store.add_alias("gpt-*", "acme/*")
        snap = await store.snapshot()
    assert [(a.pattern, a.target) for a in snap.aliases] == [
        ("claude-*", "beta/b1"),
        ("o3", "acme/m2"),
        ("gpt-*", "acme/*"),
    ]
    assert snap.aliases[-1] == readded


@pytest.mark.parametrize(
    ("pattern", "target", "message"),
    [
        ("", "x", "alias pattern"),
        ("a b", "x", "no spaces"),
        ("x", "", "alias target"),
        ("x", "y*", "more '\\*' than pattern"),
    ],
)
async def test_bad_aliases_are_refused(
    settings: Settings, pattern: str, target: str, message: str
) -> None:
    async with Store(settings) as store:
        with pytest.raises(BadRequest, match=message):
            await store.add_alias(pattern, target)
        assert (await store.snapshot()).aliases == ()


# -- provider and account options -----------------------------------------------------


async def test_update_provider_merges_extra(settings: Settings) -> None:
    async with Store(settings) as store:
        await _providers(store)
        before = await store.revision()
        proxy = f"socks5://user:{PROXY_PASSWORD}@127.0.0.1:1080"
        updated = await ConfigEditor(store).update_provider(
            "acme",
            extra={
                "proxy": proxy,
                "limits": {"rpm": 60},
                "headers": {"X-Team": "blue"},
                "alias": "ac",
            },
        )
        assert await store.revision() == before + 1
        assert updated.extra["proxy"] == proxy
        assert updated.extra["limits"] == {
            "rpm": 60,
            "min_gap": None,
            "max_concurrent": None,
            "max_queue": 64,
        }
        assert updated.models == ("m1", "m2") and updated.base_url == "https://acme.test/v1"
        # Merge: untouched keys stay; None removes one.
        again = await ConfigEditor(store).update_provider(
            "acme", base_url="https://acme2.test/v1/", models=["m9"], extra={"proxy": None}
        )
        assert "proxy" not in again.extra
        assert again.extra["headers"] == {"X-Team": "blue"} and again.extra["alias"] == "ac"
        assert again.base_url == "https://acme2.test/v1" and again.models == ("m9",)
        direct = await ConfigEditor(store).update_provider("acme", extra={"proxy": "direct"})
        assert direct.extra["proxy"] == "direct"
        assert (await store.snapshot()).provider("acme") == direct
    # The proxy password never shows in a repr.
    assert PROXY_PASSWORD not in repr(updated) and "user:***@" in repr(updated)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"proxy": f"ftp://u:{PROXY_PASSWORD}@h:1"}, "must start with one of"),
        ({"proxy": f"socks5://u:{PROXY_PASSWORD}@:1080"}, "has no host"),
        ({"proxy": f"socks5://u:{PROXY_PASSWORD}@h:99999"}, "cannot be parsed"),
        ({"limits": {"rpm": 0}}, "'rpm' must be an integer >= 1"),
        ({"limits": {"burst": 3}}, "unknown rate-limit fields: burst"),
        ({"headers": {"Bad Name": "x"}}, "invalid header name"),
        ({"headers": {"X-A": "a\r\nb"}}, "line breaks"),
        ({"alias": "a/b"}, "provider alias"),
    ],
)
async def test_update_provider_refuses_bad_extra(
    settings: Settings, extra: dict[str, object], message: str
) -> None:
    async with Store(settings) as store:
        await _providers(store)
        before = await store.revision()
        with pytest.raises(BadRequest, match=re.escape(message)) as info:
            await ConfigEditor(store).update_provider("acme", extra=extra)
        assert PROXY_PASSWORD not in str(info.value)
        assert await store.revision() == before


async def test_update_provider_unknown_or_bad_fields(settings: Settings) -> None:
    async with Store(settings) as store:
        await _providers(store)
        with pytest.raises(BadRequest, match="unknown provider 'ghost'"):
            await ConfigEditor(store).update_provider("ghost", base_url="https://x.test")
        with pytest.raises(BadRequest, match="base_url"):
            await ConfigEditor(store).update_provider("acme", base_url="ftp://x.test")
        with pytest.raises(BadRequest, match="not one string"):
            await ConfigEditor(store).update_provider("acme", models="m1")


async def test_update_account_merges_extra(settings: Settings) -> None:
    async with Store(settings) as store:
        await _providers(store)
        account = (await store.snapshot()).accounts[0]
        changed = await ConfigEditor(store).update_account(
            account.id,
            priority=7,
            enabled=False,
            extra={"proxy": "http://127.0.0.1:3128", "limits": {"max_concurrent": 2}},
        )
        assert (changed.priority, changed.enabled) == (7, False)
        assert changed.api_key == account.api_key  # the sealed key is untouched
        assert changed.extra["proxy"] == "http://127.0.0.1:3128"
        assert changed.extra["limits"]["max_concurrent"] == 2
        kept = await ConfigEditor(store).update_account(account.id, extra={"limits": None})
        assert kept.extra == {"proxy": "http://127.0.0.1:3128"}
        assert (kept.priority, kept.enabled) == (7, False)
        again = await ConfigEditor(store).update_account(account.id, enabled=True)
        assert again.enabled and again.extra == kept.extra
        with pytest.raises(BadRequest, match="unknown account id 999"):
            await ConfigEditor(store).update_account(999, priority=1)
        with pytest.raises(BadRequest, match="must start with one of"):
            await ConfigEditor(store).update_account(account.id, extra={"proxy": "gopher://h"})


# -- settings ----------------------------------------------------------------------


async def test_known_settings_are_checked(settings: Settings) -> None:
    async with Store(settings) as store:
        await ConfigEditor(store).set_setting("account_strategy", "round-robin")
        await ConfigEditor(store).set_setting("proxy", "socks5h://127.0.0.1:9050")
        await ConfigEditor(store).set_setting("breaker", {"failure_threshold": 3, "window": 30})
        for key, value, message in [
            ("account_strategy", "sideways", "unknown strategy"),
            ("proxy", "telnet://h", "must start with one of"),
            ("breaker", {"failure_threshold": 0}, "failure_threshold must be a whole number"),
            ("breaker", {"sparkle": 1}, "unknown fields sparkle"),
            ("cooldown", {"base": 10, "cap": 5}, "must not be below"),
            ("fallback", {"max_attempts": 1.5}, "whole number"),
            ("system_prompt", 42, "must be text"),
        ]:
            with pytest.raises(BadRequest, match=message):
                await ConfigEditor(store).set_setting(key, value)
        snap = await store.snapshot()
    assert snap.settings["account_strategy"] == "round-robin"
    assert snap.settings["breaker"] == {"failure_threshold": 3, "window": 30.0}


async def test_merge_and_delete_settings(settings: Settings) -> None:
    async with Store(settings) as store:
        r0 = await store.revision()
        assert await ConfigEditor(store).merge_setting("breaker", {"failure_threshold": 4}) == {
            "failure_threshold": 4
        }
        assert await ConfigEditor(store).merge_setting("breaker", {"window": 10}) == {
            "failure_threshold": 4,
            "window": 10.0,
        }
        assert await ConfigEditor(store).merge_setting("breaker", {"failure_threshold": None}) == {
            "window": 10.0
        }
        with pytest.raises(BadRequest, match="window must be a number"):
            await ConfigEditor(store).merge_setting("breaker", {"window": -1})
        assert await ConfigEditor(store).merge_setting("breaker", {"window": None}) is None
        assert "breaker" not in (await store.snapshot()).settings
        await ConfigEditor(store).set_setting("system_prompt", "hi")
        assert await ConfigEditor(store).delete_setting("system_prompt")
        assert not await ConfigEditor(store).delete_setting("system_prompt")
        assert await store.revision() == r0 + 6


# -- small pieces --------------------------------------------------------------------


def test_mask_proxy() -> None:
    assert mask_proxy("socks5://user:secret@host:1080") == "socks5://user:***@host:1080"
    assert mask_proxy("http://proxy.test:3128") == "http://proxy.test:3128"
    assert mask_proxy("socks5h://tok@[::1]:9050") == "socks5h://tok@[::1]:9050"
    assert mask_proxy("direct") == "direct"
    assert mask_proxy("http://u:p@h:notaport") == "***"
    assert mask_proxy(None) == "-"


def test_check_proxy() -> None:
    assert check_proxy(" socks5://u:p@h:1080 ") == "socks5://u:p@h:1080"
    assert check_proxy("direct") == "direct"
    for scheme in ("http", "socks4", "socks4a", "socks5", "socks5h"):
        assert check_proxy(f"{scheme}://h:1") == f"{scheme}://h:1"
    for bad in ("", "h:1080", "socks5://h:1080/path", "socks5://h:0"):
        with pytest.raises(BadRequest):
            check_proxy(bad)


async def test_list_client_keys_and_snapshot_repr(settings: Settings) -> None:
    async with Store(settings) as store:
        first, _ = await store.create_client_key("a")
        second, _ = await store.create_client_key(None)
        assert await store.revoke_client_key(first.id)
        keys = await store.list_client_keys()
        await ConfigEditor(store).set_setting("proxy", f"socks5://u:{PROXY_PASSWORD}@h:1")
        snap = await store.snapshot()
    assert [(k.id, k.revoked) for k in keys] == [(first.id, True), (second.id, False)]
    assert PROXY_PASSWORD not in repr(snap)


def test_a_proxy_reached_over_tls_is_refused_when_saved() -> None:
    from omniroute.errors import BadRequest
    from omniroute.store.proxies import check_proxy

    assert check_proxy("http://user:pw@127.0.0.1:3128") == "http://user:pw@127.0.0.1:3128"
    with pytest.raises(BadRequest, match="must start with one of") as caught:
        check_proxy("https://user:secret-pw@127.0.0.1:3128")
    assert "secret-pw" not in str(caught.value)
