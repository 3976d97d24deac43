"""``omniroute status`` against a running gateway: short tables for a person,
the whole answer with ``--json``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from omniroute import __version__
from tests.cli.helpers import cli_async
from tests.support.harness import run_cli, running_gateway
from tests.support.mock_upstream import MockUpstream, Status

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

BAD_KEY = "sk-status-bad-upstream-0123456789"
BUSY_KEY = "sk-status-busy-upstream-0123456789"


def _section(text: str, title: str) -> list[str]:
    """The indented rows under ``title:`` (header row first)."""
    lines = text.splitlines()
    start = lines.index(f"{title}:") + 1
    rows = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        rows.append(line.strip())
    return rows


async def test_status_is_readable_and_complete_as_json(tmp_path: Path) -> None:
    async with MockUpstream() as mock, running_gateway(tmp_path) as gw:
        mock.route("POST", "/bad/v1/chat/completions", Status(500, b"{}"))
        mock.route("POST", "/busy/v1/chat/completions", Status(429, b"{}", {"retry-after": "40"}))
        await gw.add_provider("bad", "openai", mock.url + "/bad/v1", BAD_KEY, ["m"])
        await gw.add_provider("busy", "openai", mock.url + "/busy/v1", BUSY_KEY, ["m"])
        await gw.config.set_setting("breaker", {"failure_threshold": 1, "cooldown": 60})
        await gw.config.update_provider("busy", extra={"limits": {"rpm": 100}})
        await gw.reload()
        auth = {"authorization": f"Bearer {gw.client_key}"}
        async with httpx.AsyncClient(base_url=gw.base_url, headers=auth, timeout=10) as http:
            for model in ("bad/m", "busy/m"):
                answer = await http.post(
                    "/v1/chat/completions",
                    json={"model": model, "messages": [{"role": "user", "content": "x"}]},
                )
                assert answer.status_code >= 400
        data = Path(gw.settings.data_dir)

        code, text, err = await cli_async(data, "status")
        assert code == 0, err
        code, raw, err = await cli_async(data, "status", "--json")
        assert code == 0, err

    first, second = text.splitlines()[:2]
    assert first.startswith(f"omniroute {__version__} (Python ")
    assert f"at {gw.base_url}: ok, up " in first
    assert re.fullmatch(
        r"memory [\d.]+ MB, \d+ connection\(s\), \d+ request\(s\) in progress, "
        r"config revision \d+",
        second,
    ), second
    assert "upstream connections: " in text
    assert "{" not in text  # not JSON

    breakers = _section(text, "breakers")
    assert breakers[0].split() == ["KEY", "STATE", "FAILURES", "PROBE", "IN"]
    bad = next(row.split() for row in breakers if row.startswith("model:bad/m "))
    assert bad[1] == "open" and bad[2] == "1" and bad[3].endswith("s")
    cooldowns = _section(text, "cooldowns")
    assert cooldowns[0].split() == ["KEY", "LEFT", "STRIKES", "REASON"]
    assert len(cooldowns) == 2 and cooldowns[1].startswith("account:")
    limiters = _section(text, "limiters")
    assert any(row.startswith("provider:busy ") and "rpm=100" in row for row in limiters)
    latency = _section(text, "latency")
    assert latency[0].split() == ["KEY", "REQUESTS", "IN", "FLIGHT", "SUCCESS", "LATENCY"]

    report = json.loads(raw)
    assert report["status"] == "ok" and report["version"] == __version__
    assert {"breakers", "cooldowns", "limiters", "health", "upstream_pool"} <= set(report)
    assert any(b["key"] == "model:bad/m" for b in report["breakers"])
    for secret in (BAD_KEY, BUSY_KEY, gw.client_key):
        assert secret not in text + raw


async def test_status_without_a_gateway_is_one_line(tmp_path: Path) -> None:
    done = run_cli("status", data_dir=tmp_path / "d", check=False)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"omniroute: no gateway is running for {tmp_path / 'd'}; start it first"
    ]
