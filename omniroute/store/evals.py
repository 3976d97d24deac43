"""The SQL of evals: user suites, runs and their results.

Each function takes a connection and is handed to ``Store.write`` or
``Store.read`` by its caller, so it runs on the store's own threads.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class StoredSuite:
    name: str
    description: str
    cases: list[Any]  # as saved; read again through the suite reader before use
    updated_at: float


@dataclass(frozen=True, slots=True)
class ResultRow:
    run_id: int
    model: str
    case_id: str
    passed: bool
    output: str | None
    latency_ms: float | None
    cost: float | None
    error: str | None


def list_suites(conn: sqlite3.Connection) -> list[StoredSuite]:
    rows = conn.execute(
        "SELECT name, description, cases, updated_at FROM eval_suites ORDER BY name"
    ).fetchall()
    return [StoredSuite(r[0], r[1], json.loads(r[2]), r[3]) for r in rows]


def get_suite(conn: sqlite3.Connection, name: str) -> StoredSuite | None:
    row = conn.execute(
        "SELECT name, description, cases, updated_at FROM eval_suites WHERE name = ?", (name,)
    ).fetchone()
    return None if row is None else StoredSuite(row[0], row[1], json.loads(row[2]), row[3])


def put_suite(
    conn: sqlite3.Connection, name: str, description: str, cases: list[Any], now: float
) -> bool:
    """Create or replace; True when the suite is new."""
    existed = conn.execute("SELECT 1 FROM eval_suites WHERE name = ?", (name,)).fetchone()
    conn.execute(
        "INSERT INTO eval_suites (name, description, cases, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(name) DO UPDATE SET description = excluded.description, "
        "cases = excluded.cases, updated_at = excluded.updated_at",
        (name, description, json.dumps(cases, separators=(",", ":")), now),
    )
    return existed is None


def delete_suite(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("DELETE FROM eval_suites WHERE name = ?", (name,)).rowcount > 0


def create_run(
    conn: sqlite3.Connection, suite: str, models: list[str], cases: int, now: float
) -> int:
    cursor = conn.execute(
        "INSERT INTO eval_runs (suite, models, cases, status, started_at) "
        "VALUES (?, ?, ?, 'running', ?)",
        (suite, json.dumps(models), cases, now),
    )
    return int(cursor.lastrowid or 0)


def add_result(conn: sqlite3.Connection, row: ResultRow) -> None:
    conn.execute(
        "INSERT INTO eval_results (run_id, model, case_id, passed, output, latency_ms, cost, "
        "error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (row.run_id, row.model, row.case_id, int(row.passed), row.output, row.latency_ms,
         row.cost, row.error),
    )  # fmt: skip


def finish_run(conn: sqlite3.Connection, run_id: int, status: str, now: float) -> None:
    conn.execute(
        "UPDATE eval_runs SET status = ?, finished_at = ? WHERE id = ?", (status, now, run_id)
    )


def end_unfinished_runs(conn: sqlite3.Connection, now: float) -> int:
    """Runs still marked running when the gateway starts were cut short by
    its stop: they say so."""
    return conn.execute(
        "UPDATE eval_runs SET status = 'interrupted', finished_at = ? WHERE status = 'running'",
        (now,),
    ).rowcount


_RUN_COLUMNS = "id, suite, models, cases, status, started_at, finished_at"


def _run(row: sqlite3.Row | tuple[Any, ...]) -> dict[str, Any]:
    models = json.loads(row[2])
    return {
        "id": row[0],
        "suite": row[1],
        "models": models,
        "cases": row[3],
        "total": row[3] * len(models),
        "status": row[4],
        "started_at": row[5],
        "finished_at": row[6],
    }


def get_run(conn: sqlite3.Connection, run_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {_RUN_COLUMNS} FROM eval_runs WHERE id = ?",  # noqa: S608 (fixed columns)
        (run_id,),
    ).fetchone()
    return None if row is None else _run(row)


def run_results(conn: sqlite3.Connection, run_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT model, case_id, passed, output, latency_ms, cost, error FROM eval_results "
        "WHERE run_id = ? ORDER BY id",
        (run_id,),
    ).fetchall()
    keys = ("model", "case", "passed", "output", "latency_ms", "cost", "error")
    return [{**dict(zip(keys, r, strict=True)), "passed": bool(r[2])} for r in rows]


def recent_runs(conn: sqlite3.Connection, limit: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        f"SELECT {_RUN_COLUMNS} FROM eval_runs ORDER BY id DESC LIMIT ?",  # noqa: S608
        (limit,),
    ).fetchall()
    runs = [_run(r) for r in rows]
    if not runs:
        return runs
    counts = conn.execute(
        "SELECT run_id, count(*), sum(passed) FROM eval_results WHERE run_id BETWEEN ? AND ? "
        "GROUP BY run_id",
        (runs[-1]["id"], runs[0]["id"]),
    ).fetchall()
    done = {r[0]: (r[1], r[2] or 0) for r in counts}
    for run in runs:
        run["done"], run["passed"] = done.get(run["id"], (0, 0))
    return runs
