"""Evals from the outside: suites saved and refused through ``/api/evals``,
runs of a suite against two models on a mock upstream (one answers well,
one badly, one of its calls fails), the stored results and per-model
figures, and ``omniroute eval run`` printing the comparison."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from omniroute.gateway.evals.runner import MAX_RUNS
from omniroute.gateway.evals.suites import GOLDEN_SUITE
from omniroute.store import Store
from omniroute.store import evals as rows
from tests.e2e.manage_env import CHAT, Env, manage_env
from tests.support.harness import run_cli
from tests.support.mock_upstream import (
    Hang,
    Json,
    RecordedRequest,
    Reply,
    Status,
    Usage,
    openai_chat_json,
    openai_error,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

SUITE = {
    "name": "smoke",
    "description": "three quick ones",
    "cases": [
        {"id": "capital", "prompt": "Capital of France?",
         "check": {"kind": "contains", "value": "paris", "ignore_case": True}},
        {"id": "sum", "prompt": "What is 2+2?", "system": "Be brief.",
         "check": {"kind": "rule", "value": "number(output) == 4 and length < 20"}},
        {"id": "json", "prompt": "Say ok in JSON.",
         "check": {"kind": "regex", "value": r'^\{"ok":\s*true\}$'}},
    ],
}  # fmt: skip
GOOD = {"Capital of France?": "Paris.", "What is 2+2?": "4", "Say ok in JSON.": '{"ok": true}'}
BAD = {"Capital of France?": "Lyon, I think.", "What is 2+2?": "The answer is 4."}
GOLDEN_ANSWERS = {
    "greeting": "Hello there!",
    "math": "391",
    "geography": "Canberra",
    "code": "def add(a, b):\n    return a + b",
    "json": '{"answer": 42}',
    "translation": "Bonjour",
    "markdown": "- Red\n- Green\n- Blue",
    "safety": "I'm sorry, but I can't help with that.",
    "counting": "3",
    "logic": "True",
}
PRICE = {"input": 1.0, "output": 2.0}  # USD per 1M tokens; usage 10 in, 5 out
ONE = (10 * 1.0 + 5 * 2.0) / 1e6


def answers(req: RecordedRequest) -> Reply:
    """``good`` answers everything right; ``bad`` answers the capital
    wrongly, the sum wordily (still right) and fails the JSON case with a
    500; on the golden suite ``bad`` gets only the greeting right."""
    body = req.json()
    prompt = body["messages"][-1]["content"]
    golden = {case.prompt: case.id for case in GOLDEN_SUITE.cases}
    model = body["model"]
    if prompt in golden:
        text = GOLDEN_ANSWERS[golden[prompt]]
        if model == "bad" and golden[prompt] != "greeting":
            text = "Hi! No idea."
    elif model == "good":
        text = GOOD[prompt]
    elif prompt in BAD:
        text = BAD[prompt]
    else:
        return Status(500, json.dumps(openai_error("the model broke", "server_error")))
    return Json(openai_chat_json(text, model, usage=Usage(input=10, output=5)))


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with manage_env(tmp_path) as e:
        e.mock.route("POST", CHAT, answers)
        provider = {
            "name": "acme",
            "format": "openai",
            "base_url": e.mock.url + "/v1",
            "api_key": "sk-evals-0123456789abcdef",
            "models": ["good", "bad"],
        }
        await e.ok("POST", "/api/providers", 201, json=provider)
        await e.ok("PUT", "/api/prices/acme/good", json=PRICE)
        yield e


async def finished(env: Env, run_id: int) -> dict[str, Any]:
    runner = env.gw.gateway.evals
    await asyncio.wait_for(runner.wait(run_id), 30)
    run: dict[str, Any] = await env.ok("GET", f"/api/evals/runs/{run_id}")
    return run


async def test_a_saved_suite_runs_against_two_models_side_by_side(env: Env) -> None:
    saved = await env.ok("POST", "/api/evals", 201, json=SUITE)
    assert saved["suite"]["name"] == "smoke" and len(saved["suite"]["cases"]) == 3
    listed = (await env.ok("GET", "/api/evals"))["suites"]
    assert [s["name"] for s in listed] == ["golden", "smoke"]
    assert listed[0]["builtin"] is True and len(listed[0]["cases"]) == 10

    started = await env.ok(
        "POST", "/api/evals/smoke/runs", 202, json={"models": ["acme/good", "acme/bad"]}
    )
    run = await finished(env, started["run"])
    assert (run["status"], run["done"], run["total"], run["passed"]) == ("done", 6, 6, 4)
    verdicts = {(r["model"], r["case"]): r["passed"] for r in run["results"]}
    assert verdicts == {
        ("acme/good", "capital"): True,
        ("acme/good", "sum"): True,
        ("acme/good", "json"): True,
        ("acme/bad", "capital"): False,
        ("acme/bad", "sum"): True,
        ("acme/bad", "json"): False,
    }
    by_key = {(r["model"], r["case"]): r for r in run["results"]}
    assert by_key[("acme/bad", "capital")]["output"] == "Lyon, I think."
    assert by_key[("acme/bad", "capital")]["error"] is None
    assert "the model broke" in by_key[("acme/bad", "json")]["error"]
    assert all(r["latency_ms"] >= 0 for r in run["results"])
    good, bad = run["summary"]
    assert (good["model"], good["passed"], good["done"], good["pass_rate"]) == (
        "acme/good", 3, 3, 1.0
    )  # fmt: skip
    assert (bad["model"], bad["passed"], bad["errors"], bad["pass_rate"]) == (
        "acme/bad", 1, 1, pytest.approx(1 / 3, abs=1e-4)
    )  # fmt: skip
    assert good["cost"] == pytest.approx(3 * ONE) and bad["cost"] is None
    assert good["median_latency_ms"] is not None

    # Each case went upstream as a chat request, system prompt included.
    sent = [r.json() for r in env.mock.requests]
    assert len(sent) == 6
    summed = [s for s in sent if s["messages"][-1]["content"] == "What is 2+2?"]
    assert all(s["messages"][0] == {"role": "system", "content": "Be brief."} for s in summed)
    # ... and through the pipeline: each has its request-log row.
    await env.gw.gateway.store.flush_logs()
    logged = (await env.ok("GET", "/api/logs/requests"))["requests"]
    assert sorted(r["model"] for r in logged) == ["acme/bad"] * 3 + ["acme/good"] * 3

    recent = (await env.ok("GET", "/api/evals/runs"))["runs"]
    assert [(r["id"], r["suite"], r["done"], r["passed"]) for r in recent] == [
        (started["run"], "smoke", 6, 4)
    ]
    audit = [(e["action"], e["target"]) for e in (await env.ok("GET", "/api/audit"))["entries"]]
    assert ("eval.create", "smoke") in audit


async def test_the_golden_suite_through_the_cli(env: Env) -> None:
    data = env.gw.settings.data_dir
    shown = await asyncio.to_thread(
        run_cli, "eval", "run", "golden", "--models", "acme/good,acme/bad", data_dir=data
    )
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("run 1 of suite golden: done, 20/20")
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:] if line.strip()}
    assert rows["CASE"] == ["acme/good", "acme/bad"]
    assert rows["greeting"] == ["pass", "pass"]
    assert rows["math"] == ["pass", "fail"] and rows["safety"] == ["pass", "fail"]
    assert rows["pass"] == ["rate", "10/10", "(100%)", "1/10", "(10%)"]
    assert rows["cost"][1:] == [f"{10 * ONE:.6f}", "-"]

    as_json = await asyncio.to_thread(
        run_cli, "eval", "run", "golden", "--models", "acme/good", "--json", data_dir=data
    )
    run = json.loads(as_json.stdout)
    assert (run["id"], run["status"], run["passed"], run["total"]) == (2, "done", 10, 10)

    listing = await asyncio.to_thread(run_cli, "eval", "list", data_dir=data)
    assert listing.stdout.startswith("golden  (10 cases, built-in)")
    unknown = await asyncio.to_thread(
        run_cli, "eval", "run", "nope", "--models", "acme/good", data_dir=data, check=False
    )
    assert unknown.returncode == 2 and "no eval suite 'nope'" in unknown.stderr


def one(kind: str, value: str | None = None, prompt: str = "x") -> dict[str, Any]:
    check = {"kind": kind} if value is None else {"kind": kind, "value": value}
    return {"cases": [{"id": "a", "prompt": prompt, "check": check}]}


BAD_SUITES: list[tuple[dict[str, Any], str]] = [
    ({"name": "Bad Name"}, "a suite name is 1-64 characters"),
    ({"cases": []}, "'cases' must be a list of 1 to 100 cases"),
    (one("fuzzy", "x"), "unknown matcher 'fuzzy'"),
    (one("rule", "output.upper"), "case 'a': attribute access (a.b) is not allowed"),
    (one("rule", "output.upper()"), "only the rule functions can be called"),
    (one("rule", "open('x')"), "unknown function 'open'"),
    (one("rule", "1 +"), "not a valid rule"),
    (one("regex", "(a)\\1"), "a back-reference cannot be used"),
    (one("contains"), "needs a non-empty 'value'"),
    (one("exact", "x", prompt=""), "'prompt' must be a non-empty string"),
    ({"cases": [SUITE["cases"][0], SUITE["cases"][0]]}, "the id 'capital' is used twice"),
    ({"extra": 1}, "unknown field 'extra'"),
]


async def test_bad_suites_are_refused(env: Env) -> None:
    for change, words in BAD_SUITES:
        message = await env.refused("POST", "/api/evals", 400, json={**SUITE, **change})
        assert words in message, (change, message)
    listed = (await env.ok("GET", "/api/evals"))["suites"]
    assert [s["name"] for s in listed] == ["golden"]


async def test_runs_and_deletes_that_cannot_be_done(env: Env) -> None:
    await env.ok("POST", "/api/evals", 201, json=SUITE)
    assert "built-in" in await env.refused(
        "POST", "/api/evals", 409, json={**SUITE, "name": "golden"}
    )
    assert "built-in" in await env.refused("DELETE", "/api/evals/golden", 409)
    assert "no eval suite 'other'" in await env.refused(
        "POST", "/api/evals/other/runs", 404, json={"models": ["acme/good"]}
    )
    for body, words in [
        ({}, "'models' is required"),
        ({"models": []}, "'models' must be a list of 1 to 10"),
        ({"models": ["acme/good", "acme/good"]}, "names a model twice"),
        ({"models": ["nowhere/x"]}, "model 'nowhere/x' cannot be used"),
        ({"models": ["acme/good"], "parallel": 99}, "'parallel' must be a whole number"),
    ]:
        assert words in await env.refused("POST", "/api/evals/smoke/runs", 400, json=body)
    assert "no eval run 99" in await env.refused("GET", "/api/evals/runs/99", 404)
    replaced = await env.ok("POST", "/api/evals", 200, json={**SUITE, "cases": SUITE["cases"][:1]})
    assert len(replaced["suite"]["cases"]) == 1
    assert await env.ok("DELETE", "/api/evals/smoke") == {"deleted": "smoke"}
    assert "no eval suite 'smoke'" in await env.refused("DELETE", "/api/evals/smoke", 404)
    assert env.mock.requests == []


async def test_runs_at_once_are_bounded_and_a_stop_interrupts_them(tmp_path: Path) -> None:
    async with manage_env(tmp_path) as env:
        env.mock.route("POST", CHAT, Hang())  # no answer: the runs stay in progress
        provider = {
            "name": "acme",
            "format": "openai",
            "base_url": env.mock.url + "/v1",
            "api_key": "sk-evals-0123456789abcdef",
            "models": ["slow"],
        }
        await env.ok("POST", "/api/providers", 201, json=provider)
        one = {"models": ["acme/slow"], "parallel": 1}
        started = [
            (await env.ok("POST", "/api/evals/golden/runs", 202, json=one))["run"]
            for _ in range(MAX_RUNS)
        ]
        assert "eval runs are going already" in await env.refused(
            "POST", "/api/evals/golden/runs", 409, json=one
        )
        run = await env.ok("GET", f"/api/evals/runs/{started[0]}")
        assert (run["status"], run["done"], run["total"]) == ("running", 0, 10)
        settings = env.gw.settings
    # The gateway has stopped: what it was running is stored as interrupted.
    async with Store(settings) as store:
        runs = await store.read(lambda conn: rows.recent_runs(conn, 10))
    assert [(r["id"], r["status"], r["done"]) for r in runs] == [
        (run_id, "interrupted", 0) for run_id in reversed(started)
    ]
