"""Usage totals read whole hours from the hourly roll-up and the partial
hours at a period's ends from the log: the answer must equal summing the log
itself, for any period. The migration fills the roll-up from rows logged
before it."""

from __future__ import annotations

import random
import sqlite3
from typing import Any

import pytest

from omniroute.settings import Settings
from omniroute.store import RequestLogRow, Store
from omniroute.store.migrations import MIGRATIONS
from omniroute.store.usage_hourly import USAGE_DIMENSIONS, usage

pytestmark = pytest.mark.anyio

DAY = 86_400.0
START = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def rows(count: int) -> list[RequestLogRow]:
    rng = random.Random(5)
    made = []
    for i in range(count):
        reached = rng.random() > 0.1
        made.append(
            RequestLogRow(
                ts=START + rng.random() * 6 * DAY,
                request_id=f"r{i}",
                model=rng.choice(["c1", "x/m"]),
                status=rng.choice([200, 200, 200, 429, 502]),
                latency_ms=rng.random() * 100,
                client_key_id=rng.choice([None, 1, 2]),
                resolved_model=rng.choice(["m", "n"]) if reached else None,
                provider=rng.choice(["p", "q"]) if reached else None,
                account_id=rng.choice([1, 2]) if reached else None,
                input_tokens=rng.randint(0, 900),
                output_tokens=rng.randint(0, 300),
                cached_tokens=rng.randint(0, 50),
                reasoning_tokens=rng.randint(0, 20),
                cost=rng.choice([None, rng.random() / 100]),
                combo=rng.choice([None, "c1"]),
                combo_step=rng.choice([0, 1]),
            )
        )
    return made


def straight_from_the_log(conn: sqlite3.Connection, since: float, until: float) -> Any:
    return conn.execute(
        "SELECT count(*), sum(status >= 400), sum(input_tokens), sum(output_tokens), "
        "sum(cached_tokens), sum(reasoning_tokens), sum(latency_ms), sum(cost) "
        "FROM request_log WHERE ts >= ? AND ts < ?",
        (since, until),
    ).fetchone()


HOUR = 3600.0
PERIODS = [
    (START, START + 6 * DAY),  # whole hours only
    (START + 0.3 * DAY + 17, START + 4.7 * DAY + 5),  # partial hours at both ends
    (START + 1.5 * DAY + 60, START + 1.5 * DAY + 1000),  # inside one hour
    (START + 5 * HOUR + 1800, START + 6 * HOUR + 1800),  # two partial hours, no whole one
    (0.0, START + 10 * DAY),
]


@pytest.mark.parametrize(("since", "until"), PERIODS)
async def test_totals_equal_the_log_for_any_period(
    settings: Settings, since: float, until: float
) -> None:
    async with Store(settings) as store:
        for row in rows(600):
            store.log_request(row)
        await store.flush_logs()

        def check(conn: sqlite3.Connection) -> None:
            expected = straight_from_the_log(conn, since, until)
            for group in USAGE_DIMENSIONS:
                grouped, totals = usage(conn, group, None, since, until)
                assert totals["requests"] == expected[0] == sum(r["requests"] for r in grouped)
                assert totals["errors"] == expected[1]
                assert totals["input_tokens"] == expected[2]
                assert totals["output_tokens"] == expected[3]
                assert totals["cached_tokens"] == expected[4]
                assert totals["reasoning_tokens"] == expected[5]
                assert totals["avg_latency_ms"] == pytest.approx(expected[6] / expected[0])
                assert totals["cost"] == pytest.approx(expected[7])
            by_day, _ = usage(conn, "day", "provider", since, until)
            assert [r["name"] for r in by_day] == sorted(r["name"] for r in by_day)

        await store.read(check)


async def test_the_migration_rolls_up_rows_logged_before_it(settings: Settings) -> None:
    async with Store(settings, migrations=MIGRATIONS[:7]) as old:

        def fill(conn: sqlite3.Connection) -> None:
            for i in range(20):
                conn.execute(
                    "INSERT INTO request_log (ts, request_id, model, provider, resolved_model, "
                    "status, latency_ms, input_tokens, output_tokens) "
                    "VALUES (?, ?, 'x', 'p', 'm', ?, 10, 5, 3)",
                    (START + i * DAY / 4, f"r{i}", 200 if i % 5 else 500),
                )

        await old.write(fill)
    async with Store(settings) as store:

        def check(conn: sqlite3.Connection) -> None:
            grouped, totals = usage(conn, "model", None, START, START + 5 * DAY)
            assert [(r["name"], r["requests"], r["errors"]) for r in grouped] == [("p/m", 20, 4)]
            assert (totals["input_tokens"], totals["output_tokens"], totals["cost"]) == (
                100,
                60,
                None,
            )
            hours = conn.execute("SELECT count(*) FROM usage_hourly").fetchone()[0]
            assert hours == 20  # every row in an hour of its own

        await store.read(check)
