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

from . import usage_hourly
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
        "_max_rows",
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
        self._max_rows: int | None = None

    @property
    def max_rows(self) -> int | None:
        return self._max_rows

    @max_rows.setter
    def max_rows(self, value: int | None) -> None:
        """The newest rows kept (None: no limit); a new limit applies at the next flush."""
        if value != self._max_rows:
            self._max_rows = value
            self._pruned_at = 0.0

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
        hours = _by_hour(values)

        def write(c: sqlite3.Connection) -> None:
            c.executemany(_INSERT, values)
            c.executemany(_KEY_USAGE, [(*used, key_id) for key_id, used in usage.items()])
            usage_hourly.add(c, hours)

        try:
            run_transaction(conn, write, BEGIN_WRITE)
        except Exception:
            log.warning("request log: could not write %d rows", len(values), exc_info=True)
            self._dropped_failed += len(values)
            return 0
        return len(values)

    def _prune(self, conn: sqlite3.Connection) -> None:
        """Drop rows past the retention period and beyond the row limit, at
        most once every ten minutes (and at once after the limit changed)."""
        now = time.time()
        max_rows = self._max_rows
        if (self._keep <= 0 and max_rows is None) or now - self._pruned_at < _PRUNE_EVERY:
            return
        self._pruned_at = now

        def prune(c: sqlite3.Connection) -> None:
            if self._keep > 0:
                _drop_before(c, now - self._keep)
            if max_rows is not None:
                c.execute(_PRUNE_ROWS, (max_rows,))

        try:
            run_transaction(conn, prune, BEGIN_WRITE)
        except Exception:
            log.warning("request log: could not drop old rows", exc_info=True)


_PRUNE_EVERY = 600.0  # seconds
# Everything older than the newest N rows (ids only grow).
_PRUNE_ROWS = (
    "DELETE FROM request_log WHERE id <= "
    "(SELECT id FROM request_log ORDER BY id DESC LIMIT 1 OFFSET ?)"
)


def _drop_before(conn: sqlite3.Connection, cutoff: float) -> None:
    conn.execute("DELETE FROM request_log WHERE ts < ?", (cutoff,))
    usage_hourly.prune(conn, cutoff)


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


_ROLLED = tuple(
    _COLUMNS.index(name)
    for name in (
        "ts", "provider", "resolved_model", "model", "client_key_id", "account_id", "combo",
        "combo_step", "status", "input_tokens", "output_tokens", "cached_tokens",
        "reasoning_tokens", "latency_ms", "cost",
    )
)  # fmt: skip


def _by_hour(
    values: list[tuple[Any, ...]],
) -> dict[usage_hourly.HourKey, usage_hourly.HourNumbers]:
    """A batch of stored rows summed per UTC hour and what usage groups by."""
    hours: dict[usage_hourly.HourKey, usage_hourly.HourNumbers] = {}
    for row in values:
        ts, provider, resolved, model, key_id, account_id, combo, step, status, *rest = (
            row[i] for i in _ROLLED
        )
        given, taken, cached, reasoning, latency, cost = rest
        name = f"{provider}/{resolved}" if provider is not None and resolved is not None else model
        hour = usage_hourly.hour_of(ts)
        key = usage_hourly.HourKey(hour, provider, name, key_id, account_id, combo, step)
        hours[key] = hours.get(key, usage_hourly.NOTHING).plus(
            usage_hourly.HourNumbers(
                1, int(status >= 400), given, taken, cached, reasoning, latency, cost
            )
        )
    return hours


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
    _SELECT_ROWS + "WHERE r.id < :before AND r.id > :after AND r.ts >= :since AND r.ts < :until "
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
    after: int = 0  # only rows with a larger id: what came since (following the log)
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
        "after": wanted.after,
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
