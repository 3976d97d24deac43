"""``omniroute eval``: run an eval suite against models, through the running
gateway's management API (with the local admin token), and compare them.

    omniroute eval list [--json]                    the suites (built-in golden first)
    omniroute eval run SUITE --models A,B [--parallel N] [--timeout S] [--json]
        start a run, wait for it, print each case's verdict per model side by
        side and each model's pass rate, median latency and cost; --json prints
        the run as ``GET /api/evals/runs/{id}`` answers

The gateway must be running (its admin file in the data dir is how it is
found): the cases go through it, as client requests would.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from omniroute import errors
from omniroute.cli.common import command, group, split_list, whole
from omniroute.cli.status import ask_gateway
from omniroute.cli.status import table as columns
from omniroute.settings import Settings

POLL_EVERY = 0.5  # seconds between two looks at a run in progress
DEFAULT_TIMEOUT = 900


def register(sub: Any) -> None:
    evals = group(sub, "eval", "eval suites: run them against models and compare")
    listing = command(evals, "list", "the eval suites", cmd_list)
    listing.add_argument("--json", action="store_true", help="as GET /api/evals answers")
    run = command(evals, "run", "run a suite against models, side by side", cmd_run)
    run.add_argument("suite", metavar="SUITE", help="a suite name (golden: the built-in one)")
    run.add_argument("--models", required=True, help="comma-separated models or combos")
    run.add_argument("--parallel", type=whole(1, 16), help="cases in flight at once (default 4)")
    run.add_argument(
        "--timeout",
        type=whole(1, 86_400),
        default=DEFAULT_TIMEOUT,
        help=f"seconds to wait for the run (default {DEFAULT_TIMEOUT}; it goes on regardless)",
    )
    run.add_argument("--json", action="store_true", help="the run as GET /api/evals/runs/ID")


async def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    suites = _api(settings, "GET", "/api/evals")["suites"]
    if args.json:
        print(json.dumps({"suites": suites}, indent=2, ensure_ascii=False))
        return 0
    for suite in suites:
        kind = "built-in" if suite.get("builtin") else "saved"
        print(f"{suite['name']}  ({len(suite['cases'])} cases, {kind})  {suite['description']}")
    return 0


async def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    models = split_list(args.models)
    body: dict[str, Any] = {"models": models}
    if args.parallel:
        body["parallel"] = args.parallel
    started = _api(settings, "POST", f"/api/evals/{_quote(args.suite)}/runs", body)
    run_id = int(started["run"])
    deadline = time.monotonic() + args.timeout
    run = _api(settings, "GET", f"/api/evals/runs/{run_id}")
    while run["status"] == "running" and time.monotonic() < deadline:
        time.sleep(POLL_EVERY)
        run = _api(settings, "GET", f"/api/evals/runs/{run_id}")
    if args.json:
        print(json.dumps(run, indent=2, ensure_ascii=False))
    else:
        print("\n".join(table(run)))
    if run["status"] == "running":
        raise errors.BadRequest(
            f"run {run_id} is still going after {args.timeout}s; see GET /api/evals/runs/{run_id}"
        )
    return 0


def table(run: Mapping[str, Any]) -> list[str]:
    """The run as text: one row per case, one column per model, then each
    model's figures."""
    models: list[str] = list(run["models"])
    verdicts: dict[tuple[str, str], str] = {}
    cases: list[str] = []
    for result in run["results"]:
        if result["case"] not in cases:
            cases.append(result["case"])
        mark = "pass" if result["passed"] else ("error" if result.get("error") else "fail")
        verdicts[(result["case"], result["model"])] = mark
    rows: list[Sequence[str]] = [("CASE", *models)]
    rows += [(case, *(verdicts.get((case, m), "-") for m in models)) for case in cases]
    figures = {s["model"]: s for s in run["summary"]}
    rows.append(("pass rate", *(_rate(figures.get(m, {})) for m in models)))
    rows.append(("median ms", *(_num(figures.get(m, {}).get("median_latency_ms")) for m in models)))
    rows.append(("cost USD", *(_cost(figures.get(m, {}).get("cost")) for m in models)))
    head = f"run {run['id']} of suite {run['suite']}: {run['status']}, {run['done']}/{run['total']}"
    return [head, "", *columns(rows)]


def _rate(figures: Mapping[str, Any]) -> str:
    if figures.get("pass_rate") is None:
        return "-"
    return f"{figures['passed']}/{figures['done']} ({figures['pass_rate'] * 100:.0f}%)"


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:g}"


def _cost(value: Any) -> str:
    return "-" if value is None else f"{value:.6f}"


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _api(settings: Settings, method: str, path: str, body: Any = None) -> Any:
    """One call to the running gateway's management API with the local token."""
    return ask_gateway(settings, path, method=method, body=body, timeout=30)[1]
