"""A client key's scope: checked strictly when written, read leniently, and
kept with the key through create and change."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from omniroute.errors import BadRequest, NotFound
from omniroute.settings import Settings
from omniroute.store import Store
from omniroute.store.key_scope import KeyScope, check_scope

pytestmark = pytest.mark.anyio


def test_check_scope_normalises_and_drops_what_sets_no_limit() -> None:
    checked = check_scope(
        {
            "models": [" openai/* ", "gpt-4o", "openai/*"],
            "providers": [],
            "expires_at": 1_900_000_000,
            "rpm": 60,
            "max_concurrent": None,
        }
    )
    assert checked == {"models": ["openai/*", "gpt-4o"], "expires_at": 1.9e9, "rpm": 60}


@pytest.mark.parametrize(
    ("scope", "named"),
    [
        ({"models": "openai/*"}, "'models' must be a list"),
        ({"models": ["ok", 3]}, "'models' must be a list"),
        ({"models": [""]}, "'models'"),
        ({"models": ["a\nb"]}, "'models'"),
        ({"models": ["x" * 301]}, "'models'"),
        ({"models": [f"m{i}" for i in range(257)]}, "at most 256"),
        ({"providers": [7]}, "'providers'"),
        ({"expires_at": "tomorrow"}, "'expires_at'"),
        ({"expires_at": -5}, "'expires_at'"),
        ({"expires_at": float("inf")}, "'expires_at'"),
        ({"expires_at": True}, "'expires_at'"),
        ({"rpm": 0}, "'rpm' must be a whole number from 1"),
        ({"rpm": 1.5}, "'rpm'"),
        ({"rpm": True}, "'rpm'"),
        ({"max_concurrent": 10**9}, "'max_concurrent'"),
        ({"budget": 5}, "unknown field(s) 'budget'"),
    ],
)
def test_check_scope_names_the_bad_field(scope: dict[str, Any], named: str) -> None:
    with pytest.raises(BadRequest) as caught:
        check_scope(scope)
    assert named in caught.value.message


def test_reading_ignores_a_bad_stored_field_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, "omniroute.store"):
        scope = KeyScope.read({"rpm": "many", "models": ["a/*"], "later": 1}, "client key 3")
    assert scope == KeyScope(models=("a/*",))
    assert "rpm of client key 3" in caplog.text
    assert scope.restricted and not KeyScope(rpm=5).restricted
    assert KeyScope(expires_at=100.0).expired(100.0) and not KeyScope().expired(1e12)


async def _providers(store: Store) -> None:
    await store.upsert_provider("OpenAI", "openai", "https://api.openai.test/v1", ["gpt-4o"])
    await store.upsert_provider("anthropic", "anthropic", "https://api.anthropic.test", ["c"])


async def test_a_scope_is_stored_with_the_key_and_changed_field_by_field(
    settings: Settings,
) -> None:
    async with Store(settings) as store:
        await _providers(store)
        record, plaintext = await store.create_client_key(
            "ci", {"models": ["openai/*"], "providers": ["openai"], "rpm": 60}
        )
        # Provider names are kept as configured, whatever case was given.
        assert record.scope == KeyScope(models=("openai/*",), providers=("OpenAI",), rpm=60)
        revision = await store.revision()
        before, after = await store.update_client_key(
            record.id, {"name": "renamed", "rpm": None, "max_concurrent": 2, "providers": []}
        )
        assert before == record
        assert after.name == "renamed"
        assert after.scope == KeyScope(models=("openai/*",), max_concurrent=2)
        assert await store.revision() > revision  # the running server picks it up
        snap = await store.snapshot()
        assert snap.client_keys[0].scope == after.scope
        (stored,) = await store.read(
            lambda c: c.execute(
                "SELECT scope FROM client_keys WHERE id = ?", (record.id,)
            ).fetchone()
        )
        assert json.loads(stored) == {"models": ["openai/*"], "max_concurrent": 2}
    assert plaintext.startswith("sk-omni-")


async def test_a_refused_change_leaves_the_key_as_it_was(settings: Settings) -> None:
    async with Store(settings) as store:
        await _providers(store)
        record, _ = await store.create_client_key("ci", {"rpm": 5})
        with pytest.raises(BadRequest, match="unknown provider.*'opnai'"):
            await store.update_client_key(record.id, {"providers": ["opnai"], "rpm": 6})
        with pytest.raises(BadRequest, match="'rpm'"):
            await store.update_client_key(record.id, {"name": "x", "rpm": 0})
        with pytest.raises(BadRequest, match="unknown provider"):
            await store.create_client_key("bad", {"providers": ["nowhere"]})
        with pytest.raises(NotFound):
            await store.update_client_key(999, {"rpm": 1})
        keys = await store.list_client_keys()
        assert keys == (record,)
        assert await store.revoke_client_key(record.id)
        with pytest.raises(BadRequest, match="revoked"):
            await store.update_client_key(record.id, {"rpm": 1})
