"""`omniroute provider catalog NAME` for the coding plans and official keys:
the entry, its models and whether the plan's remaining quota can be read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omniroute.providers.catalog import Catalog
from tests.support.harness import run_cli

PLANS = (
    "zai-coding", "kimi-for-coding", "minimax-coding", "alibaba-coding", "github-models",
    "kilo-api", "cline-api", "gemini-free",
)  # fmt: skip


@pytest.mark.parametrize("pid", PLANS)
def test_each_plan_is_shown_by_id_and_alias(tmp_path: Path, pid: str) -> None:
    entry = Catalog.load().get(pid)
    assert entry is not None
    for name in (pid, entry.alias):
        out = run_cli("provider", "catalog", name, data_dir=tmp_path / "data").stdout
        lines = out.splitlines()
        assert lines[2].split()[:6] == [
            entry.id,
            entry.alias,
            entry.tier,
            entry.format,
            "api_key",
            entry.base_url,
        ]
        shown = [line.split()[0] for line in lines[3 : 3 + len(entry.models)]]
        assert shown == list(entry.model_ids)
        quota = [line.strip() for line in lines if "remaining quota" in line]
        expected = (
            [] if entry.quota is None else [f"remaining quota: readable ({entry.quota} reader)"]
        )
        assert quota == expected


def test_the_json_names_the_quota_reader(tmp_path: Path) -> None:
    out = run_cli("provider", "catalog", "mmc", "--json", data_dir=tmp_path / "data").stdout
    (entry,) = json.loads(out)
    assert entry["id"] == "minimax-coding" and entry["quota"] == "minimax"
    assert entry["base_url"] == "https://api.minimax.io/anthropic/v1"
