"""The request log: rows buffered in memory, written in batches by the writer.

``RequestLogBuffer.add`` is called on the hot path and must never block or
raise: it appends to a bounded deque and counts what it has to drop.  The
writer thread drains the buffer in one transaction per batch.
"""

from __future__ import annotations

import collections
import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from .db import BEGIN_WRITE, run_transaction
from .records import RequestLogRow

log = logging.getLogger("omniroute.store")

# Constant SQL (values are always bound); _COLUMNS is derived from it.
_COLUMN_SQL = (
    "ts, request_id, client_key_id, model, resolved_model, provider, account_id, "
    "client_format, upstream_format, stream, status, error_kind, latency_ms, ttft_ms, "
    "input_tokens, output_tokens, cached_tokens, reasoning_tokens, usage_estimated, operation, "
    "cost, combo, combo_step"
)
_COLUMNS = tuple(name.strip() for name in _COLUMN_SQL.split(","))
_TS, _KEY_ID, _INPUT, _OUTPUT = (
    _COLUMNS.index(name) for name in ("ts", "client_key_id", "input_tokens", "output_tokens")
)
_PLACES = ", ".join("?" * len(_COLUMNS))
_INSERT = "INSERT INTO request_log (" + _COLUMN_SQL + ") VALUES (" + _PLACES + ")"  # noqa: S608
_SELECT_RECENT = "SELECT " + _COLUMN_SQL + " FROM request_log ORDER BY id DESC LIMIT ?"  # noqa: S608


class RequestLogBuffer:
    """Bounded, thread-safe hand-over of log rows from the event loop to the writer.

    deque.append and popleft are atomic in CPython, so producers and the
    single consumer need no lock; the bound is checked before appending, so it
    may be exceeded by at most the number of concurrent producer threads.
    """

    __slots__ = (
        "_rows", "_limit", "_closed", "_dropped_full", "_dropped_failed", "_keep", "_pruned_at",
    )  # fmt: skip

    def __init__(self, limit: int, retention: float = 0.0) -> None:
        """``retention``: seconds a row is kept; 0 keeps rows forever."""
        self._rows: collections.deque[RequestLogRow] = collections.deque()
        self._limit = max(1, limit)
        self._closed = False
        self._dropped_full = 0  # only touched by producers (the event loop)
        self._dropped_failed = 0  # only touched by the writer thread
        self._keep = retention
        self._pruned_at = 0.0  # writer thread only

    @property
    def dropped(self) -> int:
        return self._dropped_full + self._dropped_failed

    def __len__(self) -> int:
        return len(self._rows)

    def close(self) -> None:
        """Refuse (and count) rows from now on; rows already queued still flush."""
        self._closed = True

    def add(self, row: RequestLogRow) -> None:
        try:
            if self._closed or len(self._rows) >= self._limit:
                self._dropped_full += 1
                return
            self._rows.append(row)
        except Exception:  # never let logging break a request
            self._dropped_full += 1

    def flush(self, conn: sqlite3.Connection) -> int:
        """Write every queued row in one transaction (runs in the writer thread).

        Returns the number of rows written; rows that cannot be stored (wrong
        types) or a batch that fails to commit are counted as dropped.
        """
        self._prune(conn)
        batch: list[RequestLogRow] = []
        for _ in range(len(self._rows)):  # bounded: rows added meanwhile wait
            try:
                batch.append(self._rows.popleft())
            except IndexError:
                break
        if not batch:
            return 0
        values = []
        for row in batch:
            converted = _values(row)
            if converted is None:
                self._dropped_failed += 1
            else:
                values.append(converted)
        usage = _key_usage(values)

        def write(c: sqlite3.Connection) -> None:
            c.executemany(_INSERT, values)
            c.executemany(_KEY_USAGE, [(*used, key_id) for key_id, used in usage.items()])

        try:
            run_transaction(conn, write, BEGIN_WRITE)
        except Exception:
            log.warning("request log: could not write %d rows", len(values), exc_info=True)
            self._dropped_failed += len(values)
            return 0
        return len(values)

    def _prune(self, conn: sqlite3.Connection) -> None:
        """Drop rows past the retention period, at most once every ten minutes."""
        now = time.time()
        if self._keep <= 0 or now - self._pruned_at < _PRUNE_EVERY:
            return
        self._pruned_at = now
        try:
            run_transaction(
                conn,
                lambda c: c.execute("DELETE FROM request_log WHERE ts < ?", (now - self._keep,)),
                BEGIN_WRITE,
            )
        except Exception:
            log.warning("request log: could not drop old rows", exc_info=True)


_PRUNE_EVERY = 600.0  # seconds
_KEY_USAGE = (
    "UPDATE client_keys SET last_used_at = max(coalesce(last_used_at, 0), ?), "
    "requests = requests + ?, input_tokens = input_tokens + ?, "
    "output_tokens = output_tokens + ? WHERE id = ?"
)


def _key_usage(values: list[tuple[Any, ...]]) -> dict[int, tuple[float, int, int, int]]:
    """Each key's usage in a batch of stored rows, written with the batch
    (not a config change): its last request's time, requests, input and
    output tokens."""
    usage: dict[int, tuple[float, int, int, int]] = {}
    for row in values:
        key_id = row[_KEY_ID]
        if key_id is None:
            continue
        last, count, given, taken = usage.get(key_id, (0.0, 0, 0, 0))
        usage[key_id] = (
            max(last, row[_TS]),
            count + 1,
            given + row[_INPUT],
            taken + row[_OUTPUT],
        )
    return usage


def _values(row: RequestLogRow) -> tuple[Any, ...] | None:
    """The row as bound parameters, or None if its fields have unusable types."""
    try:
        return (
            float(row.ts),
            str(row.request_id),
            _opt_int(row.client_key_id),
            str(row.model),
            _opt_str(row.resolved_model),
            _opt_str(row.provider),
            _opt_int(row.account_id),
            _opt_str(row.client_format),
            _opt_str(row.upstream_format),
            int(bool(row.stream)),
            int(row.status),
            _opt_str(row.error_kind),
            float(row.latency_ms),
            None if row.ttft_ms is None else float(row.ttft_ms),
            int(row.input_tokens),
            int(row.output_tokens),
            int(row.cached_tokens),
            int(row.reasoning_tokens),
            int(bool(row.usage_estimated)),
            str(row.operation),
            None if row.cost is None else float(row.cost),
            _opt_str(row.combo),
            _opt_int(row.combo_step),
        )
    except (AttributeError, TypeError, ValueError, OverflowError):
        return None


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def recent_requests(conn: sqlite3.Connection, limit: int) -> list[RequestLogRow]:
    """The newest ``limit`` rows, newest first."""
    rows = conn.execute(_SELECT_RECENT, (max(0, int(limit)),))
    return [_row(values) for values in rows]


def _row(values: tuple[Any, ...]) -> RequestLogRow:
    data = dict(zip(_COLUMNS, values, strict=True))
    data["stream"] = bool(data["stream"])
    data["usage_estimated"] = bool(data["usage_estimated"])
    return RequestLogRow(**data)


# -- reading the log back (the management API) ---------------------------------

# Every filter is always bound; one that is not wanted is bound as NULL (or as
# the widest range), so the SQL text never depends on the request.
_SELECT_ROWS = (
    "SELECT r.id, k.name, r.ts, r.request_id, r.client_key_id, r.model, r.resolved_model, "
    "r.provider, r.account_id, r.client_format, r.upstream_format, r.stream, r.status, "
    "r.error_kind, r.latency_ms, r.ttft_ms, r.input_tokens, r.output_tokens, r.cached_tokens, "
    "r.reasoning_tokens, r.usage_estimated, r.operation, r.cost, r.combo, r.combo_step "
    "FROM request_log r LEFT JOIN client_keys k ON k.id = r.client_key_id "
)
_SELECT_PAGE = (
    _SELECT_ROWS + "WHERE r.id < :before AND r.ts >= :since AND r.ts < :until "
    "AND r.status BETWEEN :status_low AND :status_high "
    "AND (:model IS NULL OR r.model = :model OR r.resolved_model = :model "
    "OR r.provider || '/' || r.resolved_model = :model) "
    "AND (:provider IS NULL OR r.provider = :provider) "
    "AND (:key IS NULL OR r.client_key_id = :key) "
    "ORDER BY r.id DESC LIMIT :limit"
)
_SELECT_ONE = _SELECT_ROWS + "WHERE r.id = ?"
_NEWEST = 2**62
_FOREVER = float("inf")


@dataclass(frozen=True, slots=True)
class RequestFilter:
    """Which logged requests to list; None (or the default) means any."""

    limit: int = 50
    before: int | None = None  # only rows with a smaller id: the next page back
    status: tuple[int, int] = (0, 999)  # inclusive range
    model: str | None = None  # requested, resolved, or provider/resolved
    provider: str | None = None
    key_id: int | None = None
    since: float = 0.0
    until: float = _FOREVER  # exclusive


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """A stored row with its id and the name of its client key (if any)."""

    id: int
    key_name: str | None
    row: RequestLogRow


def find_requests(conn: sqlite3.Connection, wanted: RequestFilter) -> list[LoggedRequest]:
    """Rows matching ``wanted``, newest first, at most ``wanted.limit``."""
    params = {
        "before": _NEWEST if wanted.before is None else wanted.before,
        "since": wanted.since,
        "until": wanted.until,
        "status_low": wanted.status[0],
        "status_high": wanted.status[1],
        "model": wanted.model,
        "provider": wanted.provider,
        "key": wanted.key_id,
        "limit": max(0, int(wanted.limit)),
    }
    return [_logged(values) for values in conn.execute(_SELECT_PAGE, params)]


def find_request(conn: sqlite3.Connection, row_id: int) -> LoggedRequest | None:
    found = conn.execute(_SELECT_ONE, (row_id,)).fetchone()
    return None if found is None else _logged(found)


def _logged(values: tuple[Any, ...]) -> LoggedRequest:
    return LoggedRequest(int(values[0]), values[1], _row(values[2:]))


# -- usage: totals grouped by one dimension (and optionally a second one) -------

USAGE_DIMENSIONS = ("provider", "model", "key", "account", "day")
# What each dimension groups by, and the name it shows. A model is named by
# what served it (provider/upstream id); a request that never reached a
# provider keeps the name it asked for. An account is named provider#id.
_DIMENSION_SQL = {
    "provider": ("r.provider", "r.provider"),
    "model": ("coalesce(r.provider || '/' || r.resolved_model, r.model)",) * 2,
    "key": ("r.client_key_id", "k.name"),
    "account": ("r.provider, r.account_id", "r.provider || '#' || r.account_id"),
    "day": ("strftime('%Y-%m-%d', r.ts, 'unixepoch')",) * 2,
}
# The ids shown beside a key's or an account's name.
_DIMENSION_ID = {"key": ("key_id", "r.client_key_id"), "account": ("account_id", "r.account_id")}
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
_NUMBERS_SQL = (
    "count(*), coalesce(sum(r.status >= 400), 0), coalesce(sum(r.input_tokens), 0), "
    "coalesce(sum(r.output_tokens), 0), coalesce(sum(r.cached_tokens), 0), "
    "coalesce(sum(r.reasoning_tokens), 0), avg(r.latency_ms), sum(r.cost)"
)
_FROM_PERIOD = (
    " FROM request_log r LEFT JOIN client_keys k ON k.id = r.client_key_id "
    "WHERE r.ts >= :since AND r.ts < :until"
)
_USAGE_TOTALS = "SELECT " + _NUMBERS_SQL + _FROM_PERIOD


@dataclass(frozen=True, slots=True)
class _UsageQuery:
    sql: str
    fields: tuple[str, ...]  # the names of the leading columns, before the numbers


def _usage_query(group: str, series: str | None) -> _UsageQuery:
    """The one SQL text for a (group, series) pair, built from the constants above."""
    parts = [(group, "name")] + ([(series, "series")] if series else [])
    fields: list[str] = []
    shown: list[str] = []
    grouped: list[str] = []
    for dimension, label in parts:
        by, name = _DIMENSION_SQL[dimension]
        fields.append(label)
        shown.append(name)
        grouped.append(by)
        if dimension in _DIMENSION_ID:
            id_field, id_sql = _DIMENSION_ID[dimension]
            fields.append(id_field)
            shown.append(id_sql)
    # Days read best in time order; anything else by how much it was used.
    order = "1, 2" if group == "day" else "count(*) DESC, 1"
    sql = (
        "SELECT " + ", ".join(shown) + ", " + _NUMBERS_SQL + _FROM_PERIOD
        + " GROUP BY " + ", ".join(grouped) + " ORDER BY " + order
    )  # fmt: skip
    return _UsageQuery(sql, tuple(fields))


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
    USAGE_NUMBERS; errors are rows with status >= 400.
    """
    query = _USAGE_QUERIES[(group, series)]
    period = {"since": since, "until": until}
    rows = []
    for values in conn.execute(query.sql, period):
        rows.append(dict(zip(query.fields + USAGE_NUMBERS, values, strict=True)))
    totals = conn.execute(_USAGE_TOTALS, period).fetchone()
    return rows, dict(zip(USAGE_NUMBERS, totals, strict=True))


# -- spending: what budgets count, added up again at start ---------------------

_SPENDING = (
    "SELECT strftime('%Y-%m-%d', ts, 'unixepoch'), provider, client_key_id, combo, combo_step, "
    "sum(cost) FROM request_log WHERE ts >= ? AND ts < ? AND cost > 0 "
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
    """Cost per UTC day, provider, client key and combo step in [since, until)."""
    return [SpentRow(*values) for values in conn.execute(_SPENDING, (since, until))]
