"""Live numbers per provider, model and account over sliding windows.

Every finished request (the same row the request log gets) is counted into
three rings of time slices: 10-second slices for the last 5 minutes,
2-minute slices for the last hour and 30-minute slices for the last day.
A slice holds counts and two fixed histograms (latency and time to first
token), so recording a request is O(1) and the memory of one series is
bounded by its slice count whatever the traffic. Each ring also keeps the
running sum of its slices (a slice's counts are taken out when it slides
out), so reading a window costs one histogram per series. A window slides
by whole slices: the 5-minute figure covers the last 5 minutes to 10 seconds.

Series are keyed by (provider, model, account); at most ``MAX_SERIES`` are
kept, the rest (and requests refused before routing) go to one catch-all
series, so the number of series is bounded too. Percentiles are read off
the histograms: the upper bound of the bucket the rank falls in, so they
are exact to one bucket (20 %). A series holds at most 108 slices of about
1 KB (105 KB measured with every slice in use): with ``MAX_SERIES`` series
all busy for a whole day, about 27 MB.
"""

from __future__ import annotations

import array
import bisect
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

from omniroute.store.records import RequestLogRow

# Bucket upper bounds in milliseconds: 1 ms to about 30 minutes, each 20 %
# above the previous; one more bucket catches anything longer.
BUCKET_GROWTH = 1.2
_LONGEST_MS = 1_800_000
BUCKETS: tuple[float, ...] = tuple(
    round(BUCKET_GROWTH**i, 3)
    for i in range(int(math.log(_LONGEST_MS) / math.log(BUCKET_GROWTH)) + 1)
)
_NB = len(BUCKETS) + 1

# name -> (slice seconds, number of slices)
WINDOWS: dict[str, tuple[float, int]] = {"5m": (10.0, 30), "1h": (120.0, 30), "24h": (1800.0, 48)}
MAX_SERIES = 256
PERCENTILES = (50, 95, 99)
OTHER = ("", "", None)  # the catch-all series: unrouted requests and overflow

SeriesKey = tuple[str, str, int | None]
# (error 0/1, input tokens, output tokens, latency bucket, ttft bucket or None)
Sample = tuple[int, int, int, int, int | None]


def bucket_of(ms: float) -> int:
    return bisect.bisect_left(BUCKETS, ms)


def _histogram() -> array.array[int]:
    return array.array("I", bytes(4 * _NB))


class Slice:
    """What one series saw in one time slice."""

    __slots__ = ("index", "requests", "errors", "input_tokens", "output_tokens", "latency", "ttft")

    def __init__(self, index: int) -> None:
        self.index = index
        self.requests = 0
        self.errors = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.latency = _histogram()
        self.ttft: array.array[int] | None = None  # only once a request had a first token

    def add(self, sample: Sample) -> None:
        error, given, taken, latency, ttft = sample
        self.requests += 1
        self.errors += error
        self.input_tokens += given
        self.output_tokens += taken
        self.latency[latency] += 1
        if ttft is not None:
            if self.ttft is None:
                self.ttft = _histogram()
            self.ttft[ttft] += 1

    def remove_from(self, total: Slice) -> None:
        """Take this slice's counts out of a running total."""
        total.requests -= self.requests
        total.errors -= self.errors
        total.input_tokens -= self.input_tokens
        total.output_tokens -= self.output_tokens
        _subtract(total.latency, self.latency)
        if self.ttft is not None and total.ttft is not None:
            _subtract(total.ttft, self.ttft)


def _subtract(total: array.array[int], part: array.array[int]) -> None:
    for i, n in enumerate(part):
        if n:
            total[i] -= n


class Ring:
    """A fixed number of slots, reused as time moves on: slot ``i % n``
    holds slice ``i`` until slice ``i + n`` needs the slot. ``total`` is the
    sum of the slices held, kept as they are added and dropped, so reading a
    window costs one histogram, not one per slice."""

    __slots__ = ("width", "slots", "total")

    def __init__(self, width: float, count: int) -> None:
        self.width = width
        self.slots: list[Slice | None] = [None] * count
        self.total = Slice(0)
        self.total.ttft = _histogram()

    def _drop(self, slot: int) -> None:
        old = self.slots[slot]
        if old is not None:
            old.remove_from(self.total)
            self.slots[slot] = None

    def add(self, ts: float, sample: Sample, now: float) -> None:
        index = int(ts // self.width)
        if index <= int(now // self.width) - len(self.slots):
            return  # older than the window (a row read back after a restart)
        slot = index % len(self.slots)
        found = self.slots[slot]
        if found is None or found.index != index:
            if found is not None and found.index > index:
                return  # the slot already moved on to a newer slice
            self._drop(slot)
            found = self.slots[slot] = Slice(index)
        found.add(sample)
        self.total.add(sample)

    def current(self, now: float) -> Slice | None:
        """The window's sum at ``now`` (slices that slid out are dropped
        first), or None when it saw nothing."""
        oldest = int(now // self.width) - len(self.slots) + 1
        for slot, found in enumerate(self.slots):
            if found is not None and found.index < oldest:
                self._drop(slot)
        return self.total if self.total.requests else None


class Telemetry:
    """Sliding-window figures; ``record`` is called on the request path."""

    def __init__(self, clock: Callable[[], float] = time.time, max_series: int = MAX_SERIES):
        self._clock = clock
        self._max = max(1, max_series)
        self._series: dict[SeriesKey, dict[str, Ring]] = {}

    def __len__(self) -> int:
        return len(self._series)

    def record(self, row: RequestLogRow) -> None:
        """Count one finished request. Never raises: telemetry must not
        break a request."""
        try:
            self._add(row, self._clock())
        except Exception:  # noqa: S110 (a bad row is simply not counted)
            pass

    def rebuild(self, rows: Iterable[RequestLogRow]) -> int:
        """Count rows read back from the request log (after a restart)."""
        now = self._clock()
        count = 0
        for row in rows:
            self._add(row, now)
            count += 1
        return count

    def _add(self, row: RequestLogRow, now: float) -> None:
        key: SeriesKey = (
            (row.provider, row.resolved_model or row.model, row.account_id)
            if row.provider
            else OTHER
        )
        rings = self._series.get(key)
        if rings is None:
            if len(self._series) >= self._max:
                key = OTHER
                rings = self._series.get(key)
            if rings is None:
                rings = self._series[key] = {
                    name: Ring(width, count) for name, (width, count) in WINDOWS.items()
                }
        # What a slice counts, worked out once for all three rings.
        sample: Sample = (
            int(row.status >= 400),
            max(0, int(row.input_tokens)),
            max(0, int(row.output_tokens)),
            bucket_of(row.latency_ms),
            None if row.ttft_ms is None else bucket_of(row.ttft_ms),
        )
        ts = float(row.ts)
        for ring in rings.values():
            ring.add(ts, sample, now)

    def snapshot(self, windows: Iterable[str] = WINDOWS) -> dict[str, Any]:
        """Every window's figures: overall, and by provider, model, account."""
        now = self._clock()
        return {name: self._window(name, now) for name in windows}

    def _window(self, name: str, now: float) -> dict[str, Any]:
        width, count = WINDOWS[name]
        groups: dict[str, dict[Any, _Sum]] = {"providers": {}, "models": {}, "accounts": {}}
        overall = _Sum()
        for (provider, model, account), rings in self._series.items():
            total = rings[name].current(now)
            if total is None:
                continue
            overall.add(total)
            if not provider:
                continue
            groups["providers"].setdefault(provider, _Sum()).add(total)
            groups["models"].setdefault(f"{provider}/{model}", _Sum()).add(total)
            if account is not None:
                groups["accounts"].setdefault((provider, account), _Sum()).add(total)
        seconds = width * count
        out: dict[str, Any] = {"seconds": seconds, "slice_seconds": width}
        out["overall"] = overall.json(seconds)
        out["providers"] = [
            {"provider": p, **s.json(seconds)} for p, s in sorted(groups["providers"].items())
        ]
        out["models"] = [
            {"model": m, **s.json(seconds)} for m, s in sorted(groups["models"].items())
        ]
        out["accounts"] = [
            {"provider": p, "account": a, **s.json(seconds)}
            for (p, a), s in sorted(groups["accounts"].items())
        ]
        return out


class _Sum:
    """Slices added up, for one line of the answer."""

    __slots__ = ("requests", "errors", "input_tokens", "output_tokens", "latency", "ttft")

    def __init__(self) -> None:
        self.requests = self.errors = self.input_tokens = self.output_tokens = 0
        self.latency = [0] * _NB
        self.ttft = [0] * _NB

    def add(self, s: Slice) -> None:
        self.requests += s.requests
        self.errors += s.errors
        self.input_tokens += s.input_tokens
        self.output_tokens += s.output_tokens
        self.latency = [a + b for a, b in zip(self.latency, s.latency, strict=True)]
        if s.ttft is not None:
            self.ttft = [a + b for a, b in zip(self.ttft, s.ttft, strict=True)]

    def json(self, seconds: float) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "success_rate": (
                round((self.requests - self.errors) / self.requests, 4) if self.requests else None
            ),
            "requests_per_s": round(self.requests / seconds, 4),
            "output_tokens_per_s": round(self.output_tokens / seconds, 4),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "latency_ms": percentiles(self.latency),
            "ttft_ms": percentiles(self.ttft),
        }


def percentiles(histogram: list[int]) -> dict[str, float | None]:
    """p50/p95/p99 of a histogram: the upper bound of the bucket holding
    that rank (None without data; the last bucket has no bound, so its
    lower one is given)."""
    total = sum(histogram)
    out: dict[str, float | None] = {}
    for p in PERCENTILES:
        if total == 0:
            out[f"p{p}"] = None
            continue
        rank = math.ceil(total * p / 100)
        seen = 0
        for i, n in enumerate(histogram):
            seen += n
            if seen >= rank:
                out[f"p{p}"] = BUCKETS[min(i, len(BUCKETS) - 1)]
                break
    return out
