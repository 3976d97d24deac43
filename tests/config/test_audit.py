"""The audit rows the editor writes, and the shared rules under the CLI and
the management API: masking, limit and model merges."""

from __future__ import annotations

import pytest

from omniroute.config.audit import Actor, difference
from omniroute.config.editor import ConfigEditor
from omniroute.config.providers import merge_headers, merge_limits, merge_models
from omniroute.config.redact import mask, redact
from omniroute.errors import BadRequest
from omniroute.settings import Settings
from omniroute.store import ComboTargetRecord, Store
from omniroute.store.admin import AdminRows

pytestmark = pytest.mark.anyio

KEY = "sk-editor-audit-key-0123456789"
PROXY = "socks5://me:pa55w0rd-xyz@127.0.0.1:1080"


def test_masks_show_four_characters_of_long_secrets_and_stay_masked() -> None:
    assert mask(KEY) == "…6789" and mask("short") == "****"
    assert mask(mask(KEY)) == "…6789" and mask("****") == "****"
    shown = redact(
        {
            "proxy": PROXY,
            "headers": {"X-Team": "blue"},
            "options": [{"api_token": KEY, "note": "plain words stay"}],
            "password": "hunter2",
        }
    )
    assert shown == {
        "proxy": "socks5://me:***@127.0.0.1:1080",
        "headers": {"X-Team": "****"},
        "options": [{"api_token": "…6789", "note": "plain words stay"}],
        "password": "****",
    }


def test_difference_keeps_only_what_changed() -> None:
    assert difference({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == {
        "before": {"b": 2, "c": None},
        "after": {"b": 3, "c": 4},
    }


def test_limits_headers_and_models_merge() -> None:
    assert merge_limits(None, {"rpm": 60}) == {
        "rpm": 60,
        "min_gap": None,
        "max_concurrent": None,
        "max_queue": 64,
    }
    # Back to defaults only: no limits at all.
    assert merge_limits({"rpm": 60, "max_queue": 64}, {"rpm": None}) is None
    with pytest.raises(BadRequest, match="unknown rate-limit fields: rps"):
        merge_limits(None, {"rps": 1})
    assert merge_headers({"A": "1", "B": "2"}, {"A": None, "C": "3", "B": ""}) == {"C": "3"}
    assert merge_models(["mine", "b"], ["b", "c"], replace=False) == (["mine", "b", "c"], ["c"], [])
    assert merge_models(["mine", "b"], ["b", "c"], replace=True) == (["b", "c"], ["c"], ["mine"])


async def test_the_editor_audits_each_change_in_its_actors_name(settings: Settings) -> None:
    async with Store(settings) as store:
        editor = ConfigEditor(store, actor=Actor("import"))
        provider, account = await editor.add_account(
            "acme", KEY, provider=("openai", "https://acme.test/v1", ["m1"])
        )
        await editor.update_account(account.id, extra={"proxy": PROXY})
        await editor.upsert_combo("c", [ComboTargetRecord("acme/m1")])
        await editor.set_setting("proxy", PROXY)
        with pytest.raises(BadRequest):
            await editor.upsert_combo("bad", [ComboTargetRecord("nope/x")])
        rows = await AdminRows(store).audit_log(10)
    assert [(r.actor, r.action, r.target) for r in reversed(rows)] == [
        ("import", "provider.add", "acme"),
        ("import", "account.update", str(account.id)),
        ("import", "combo.add", "c"),
        ("import", "settings.update", "proxy"),
    ]
    assert rows[2].detail == {
        "before": {"proxy": None},
        "after": {"proxy": "socks5://me:***@127.0.0.1:1080"},
    }
    assert rows[0].detail["after"] == {"proxy": "socks5://me:***@127.0.0.1:1080"}
    text = repr([dict(r.detail) for r in rows])
    assert KEY not in text and "pa55w0rd" not in text
