"""One model's figures in a run: how many cases passed, how fast, what it cost."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from typing import Any


def summarize(models: Iterable[str], results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per model, in the order given: cases done, passed, errors, pass rate
    (0-1; None before any case is done), median latency (ms) and total cost
    (USD; None when no result had a known price)."""
    rows: dict[str, list[Mapping[str, Any]]] = {model: [] for model in models}
    for result in results:
        rows.setdefault(str(result["model"]), []).append(result)
    out = []
    for model, done in rows.items():
        latencies = [float(r["latency_ms"]) for r in done if r.get("latency_ms") is not None]
        costs = [float(r["cost"]) for r in done if r.get("cost") is not None]
        passed = sum(1 for r in done if r["passed"])
        out.append(
            {
                "model": model,
                "done": len(done),
                "passed": passed,
                "errors": sum(1 for r in done if r.get("error") and not r["passed"]),
                "pass_rate": round(passed / len(done), 4) if done else None,
                "median_latency_ms": round(statistics.median(latencies), 1) if latencies else None,
                "cost": round(sum(costs), 8) if costs else None,
            }
        )
    return out
