"""Usage totals: the request log summed per UTC hour, and the reads on top.

``usage_hourly`` holds one row per UTC hour and (provider, model name, client
key, account, combo, combo step), added to in the same transaction as each
batch of request-log rows. A usage question over a period reads the whole
hours inside it from here and only its partial first and last hours from the
request log itself, so a month of a busy gateway is thousands of rows to
read rather than millions. Both halves are summed the same way, so the
answer equals summing the log alone.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

HOUR = 3600

USAGE_DIMENSIONS = ("provider", "model", "key", "account", "day")
USAGE_NUMBERS = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "avg_latency_ms",
    "cost",
)


class HourKey(NamedTuple):
    hour: str  # UTC YYYY-MM-DDTHH
    provider: str | None
    model: str
    client_key_id: int | None
    account_id: int | None
    combo: str | None
    combo_step: int | None


class HourNumbers(NamedTuple):
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    latency_ms: float  # the sum
    cost: float | None  # None: no row had a known price

    def plus(self, other: HourNumbers) -> HourNumbers:
        cost = (
            self.cost
            if other.cost is None
            else other.cost
            if self.cost is None
            else self.cost + other.cost
        )
        return HourNumbers(
            self.requests + other.requests,
            self.errors + other.errors,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_tokens + other.cached_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.latency_ms + other.latency_ms,
            cost,
        )


NOTHING = HourNumbers(0, 0, 0, 0, 0, 0, 0.0, None)

# -- writing (the writer thread, inside the request log's batch transaction) ----

_MATCH = (
    "hour = ? AND provider IS ? AND model = ? AND client_key_id IS ? AND account_id IS ? "
    "AND combo IS ? AND combo_step IS ?"
)
_UPDATE = (
    "UPDATE usage_hourly SET requests = requests + ?, errors = errors + ?, "  # noqa: S608
    "input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, "
    "cached_tokens = cached_tokens + ?, reasoning_tokens = reasoning_tokens + ?, "
    "latency_ms = latency_ms + ?, "
    "cost = CASE WHEN ? IS NULL THEN cost ELSE coalesce(cost, 0) + ? END WHERE " + _MATCH
)
_INSERT = "INSERT INTO usage_hourly VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def add(conn: sqlite3.Connection, hours: dict[HourKey, HourNumbers]) -> None:
    for key, numbers in hours.items():
        changed = conn.execute(_UPDATE, (*numbers[:7], numbers.cost, numbers.cost, *key))
        if changed.rowcount == 0:
            conn.execute(_INSERT, (*key, *numbers))


def prune(conn: sqlite3.Connection, cutoff: float) -> None:
    """Drop the hours that ended before ``cutoff``, with the log's old rows."""
    conn.execute("DELETE FROM usage_hourly WHERE hour < ?", (hour_of(cutoff),))


def hour_of(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H", time.gmtime(ts))


# -- reading --------------------------------------------------------------------

# Each dimension per source: what it groups by, and the name it shows. A
# model is named by what served it (provider/upstream id); a request that
# never reached a provider keeps the name it asked for. An account is
# named provider#id.
_LOG_DIMENSIONS = {
    "provider": ("r.provider", "r.provider"),
    "model": ("coalesce(r.provider || '/' || r.resolved_model, r.model)",) * 2,
    "key": ("r.client_key_id", "k.name"),
    "account": ("r.provider, r.account_id", "r.provider || '#' || r.account_id"),
    "day": ("strftime('%Y-%m-%d', r.ts, 'unixepoch')",) * 2,
}
_HOUR_DIMENSIONS = {
    "provider": ("r.provider", "r.provider"),
    "model": ("r.model", "r.model"),
    "key": ("r.client_key_id", "k.name"),
    "account": ("r.provider, r.account_id", "r.provider || '#' || r.account_id"),
    "day": ("substr(r.hour, 1, 10)",) * 2,
}
# The ids shown beside a key's or an account's name.
_DIMENSION_ID = {"key": ("key_id", "r.client_key_id"), "account": ("account_id", "r.account_id")}
_LOG_NUMBERS = (
    "count(*), coalesce(sum(r.status >= 400), 0), coalesce(sum(r.input_tokens), 0), "
    "coalesce(sum(r.output_tokens), 0), coalesce(sum(r.cached_tokens), 0), "
    "coalesce(sum(r.reasoning_tokens), 0), coalesce(sum(r.latency_ms), 0), sum(r.cost)"
)
_HOUR_NUMBERS = (
    "sum(r.requests), sum(r.errors), sum(r.input_tokens), sum(r.output_tokens), "
    "sum(r.cached_tokens), sum(r.reasoning_tokens), sum(r.latency_ms), sum(r.cost)"
)
_LOG_FROM = (
    " FROM request_log r LEFT JOIN client_keys k ON k.id = r.client_key_id "
    "WHERE r.ts >= :since AND r.ts < :until"
)
_HOUR_FROM = (
    " FROM usage_hourly r LEFT JOIN client_keys k ON k.id = r.client_key_id "
    "WHERE r.hour >= :first AND r.hour < :last"
)


@dataclass(frozen=True, slots=True)
class _UsageQuery:
    log_sql: str  # over request-log rows in [since, until)
    hour_sql: str  # over whole hours in [first, last)
    fields: tuple[str, ...]  # the names of the leading columns, before the numbers


def _select(
    dimensions: dict[str, tuple[str, str]], numbers: str, source: str, parts: list[str]
) -> str:
    shown: list[str] = []
    grouped: list[str] = []
    for dimension in parts:
        by, name = dimensions[dimension]
        shown.append(name)
        grouped.append(by)
        if dimension in _DIMENSION_ID:
            shown.append(_DIMENSION_ID[dimension][1])
    return (
        "SELECT " + ", ".join(shown) + ", " + numbers + source + " GROUP BY " + ", ".join(grouped)
    )


def _usage_query(group: str, series: str | None) -> _UsageQuery:
    """The SQL texts for a (group, series) pair, built from the constants above."""
    parts = [group] + ([series] if series else [])
    fields: list[str] = []
    for dimension, label in zip(parts, ("name", "series"), strict=False):
        fields.append(label)
        if dimension in _DIMENSION_ID:
            fields.append(_DIMENSION_ID[dimension][0])
    return _UsageQuery(
        _select(_LOG_DIMENSIONS, _LOG_NUMBERS, _LOG_FROM, parts),
        _select(_HOUR_DIMENSIONS, _HOUR_NUMBERS, _HOUR_FROM, parts),
        tuple(fields),
    )


_USAGE_QUERIES = {
    (group, series): _usage_query(group, series)
    for group in USAGE_DIMENSIONS
    for series in (None, *USAGE_DIMENSIONS)
    if series != group
}


def usage(
    conn: sqlite3.Connection, group: str, series: str | None, since: float, until: float
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows grouped by ``group`` (and ``series``) in [since, until), and the totals.

    Each row: its name (and series), the ids of a key or account, then
    USAGE_NUMBERS; errors are rows with status >= 400; cost is null when no
    row had a known price. Days come in time order, anything else most used
    first.
    """
    query = _USAGE_QUERIES[(group, series)]
    width = len(query.fields)
    merged: dict[tuple[Any, ...], HourNumbers] = {}
    for leading, numbers in _parts(conn, query, since, until, width):
        merged[leading] = merged.get(leading, NOTHING).plus(numbers)
    rows = [_shown(query.fields, leading, numbers) for leading, numbers in merged.items()]
    if group == "day":
        rows.sort(key=lambda r: (_sortable(r["name"]), _sortable(r.get("series"))))
    else:
        rows.sort(key=lambda r: (-r["requests"], _sortable(r["name"])))
    total = NOTHING
    for numbers in merged.values():
        total = total.plus(numbers)
    return rows, _shown((), (), total)


def _parts(
    conn: sqlite3.Connection, query: _UsageQuery, since: float, until: float, width: int
) -> list[tuple[tuple[Any, ...], HourNumbers]]:
    """Whole UTC hours from usage_hourly, the partial hours at the ends from the log."""
    first = _hour_start(since) + (0 if since == _hour_start(since) else HOUR)
    last = _hour_start(until) if until != float("inf") else first
    found: list[tuple[Any, ...]] = []
    if first >= last:
        found += conn.execute(query.log_sql, {"since": since, "until": until})
    else:
        hours = {"first": hour_of(first), "last": hour_of(last)}
        found += conn.execute(query.hour_sql, hours)
        if since < first:
            found += conn.execute(query.log_sql, {"since": since, "until": first})
        if last < until:
            found += conn.execute(query.log_sql, {"since": last, "until": until})
    return [(tuple(v[:width]), HourNumbers(*v[width:])) for v in found]


def _hour_start(ts: float) -> float:
    """UTC hours start on multiples of 3600 seconds (unix time has no leap seconds)."""
    return float(max(0, int(ts // HOUR) * HOUR))


def _sortable(value: Any) -> tuple[bool, Any]:
    """As SQLite orders: NULL first."""
    return (value is not None, "" if value is None else value)


def _shown(fields: tuple[str, ...], leading: tuple[Any, ...], n: HourNumbers) -> dict[str, Any]:
    row = dict(zip(fields, leading, strict=True))
    row.update(
        requests=n.requests,
        errors=n.errors,
        input_tokens=n.input_tokens,
        output_tokens=n.output_tokens,
        cached_tokens=n.cached_tokens,
        reasoning_tokens=n.reasoning_tokens,
        avg_latency_ms=n.latency_ms / n.requests if n.requests else None,
        cost=n.cost,
    )
    return row


# -- spending: what budgets count, added up again at start ---------------------

_SPENDING = (
    "SELECT substr(hour, 1, 10), provider, client_key_id, combo, combo_step, sum(cost) "
    "FROM usage_hourly WHERE hour >= ? AND hour < ? AND cost > 0 "
    "GROUP BY 1, provider, client_key_id, combo, combo_step"
)


@dataclass(frozen=True, slots=True)
class SpentRow:
    day: str  # UTC YYYY-MM-DD
    provider: str | None
    key_id: int | None
    combo: str | None
    combo_step: int | None
    cost: float


def spending(conn: sqlite3.Connection, since: float, until: float) -> list[SpentRow]:
    """Cost per UTC day, provider, client key and combo step, for the hours
    from ``since``'s to ``until``'s (both included)."""
    period = (hour_of(since), hour_of(until + HOUR))
    return [SpentRow(*values) for values in conn.execute(_SPENDING, period)]
