"""Telemetry windows, the live monitor's queues and the console log's ring:
percentiles against a known distribution, windows that slide on an injected
clock, and memory that stays bounded whatever the traffic."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from omniroute.gateway.console import ConsoleLog
from omniroute.gateway.monitor import Monitor
from omniroute.gateway.telemetry import BUCKET_GROWTH, WINDOWS, Telemetry
from omniroute.store.records import RequestLogRow


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def row(
    clock: Clock,
    latency: float,
    *,
    status: int = 200,
    provider: str | None = "acme",
    model: str = "m1",
    account: int | None = 1,
    ttft: float | None = None,
) -> RequestLogRow:
    return RequestLogRow(
        ts=clock.now,
        request_id="r",
        model=model,
        status=status,
        latency_ms=latency,
        provider=provider,
        resolved_model=model if provider else None,
        account_id=account if provider else None,
        ttft_ms=ttft,
        output_tokens=10,
    )


def close_to(shown: float | None, true: float) -> bool:
    """Within one bucket: the bucket's upper bound is at most one step above."""
    assert shown is not None
    return true <= shown <= true * BUCKET_GROWTH * 1.001


def test_percentiles_of_a_known_distribution_are_within_one_bucket() -> None:
    clock = Clock()
    telemetry = Telemetry(clock)
    # 1..1000 ms, each once, in random order: p50 = 500, p95 = 950, p99 = 990.
    values = list(range(1, 1001))
    random.Random(7).shuffle(values)
    for ms in values:
        telemetry.record(row(clock, float(ms), ttft=ms / 2))
    overall = telemetry.snapshot(["5m"])["5m"]["overall"]
    assert overall["requests"] == 1000
    assert close_to(overall["latency_ms"]["p50"], 500)
    assert close_to(overall["latency_ms"]["p95"], 950)
    assert close_to(overall["latency_ms"]["p99"], 990)
    assert close_to(overall["ttft_ms"]["p50"], 250)
    assert overall["requests_per_s"] == round(1000 / 300, 4)
    assert overall["output_tokens_per_s"] == round(10_000 / 300, 4)


def test_success_rate_and_groups() -> None:
    clock = Clock()
    telemetry = Telemetry(clock)
    for _ in range(3):
        telemetry.record(row(clock, 100))
    telemetry.record(row(clock, 100, status=502, account=2))
    telemetry.record(row(clock, 5, status=404, provider=None, model="nobody/x"))
    window = telemetry.snapshot(["1h"])["1h"]
    assert window["overall"]["requests"] == 5 and window["overall"]["success_rate"] == 0.6
    (provider,) = window["providers"]
    assert provider["requests"] == 4 and provider["success_rate"] == 0.75
    assert [(a["account"], a["requests"], a["errors"]) for a in window["accounts"]] == [
        (1, 3, 0),
        (2, 1, 1),
    ]
    assert [m["model"] for m in window["models"]] == ["acme/m1"]
    assert window["overall"]["ttft_ms"] == {"p50": None, "p95": None, "p99": None}


def test_windows_slide_with_the_clock() -> None:
    clock = Clock()
    telemetry = Telemetry(clock)
    telemetry.record(row(clock, 100))

    def counts() -> dict[str, int]:
        return {name: w["overall"]["requests"] for name, w in telemetry.snapshot().items()}

    assert counts() == {"5m": 1, "1h": 1, "24h": 1}
    clock.now += 6 * 60
    telemetry.record(row(clock, 100))
    assert counts() == {"5m": 1, "1h": 2, "24h": 2}
    clock.now += 2 * 3600
    assert counts() == {"5m": 0, "1h": 0, "24h": 2}
    clock.now += 25 * 3600
    assert counts() == {"5m": 0, "1h": 0, "24h": 0}


def test_rows_read_back_count_only_inside_their_windows() -> None:
    clock = Clock()
    telemetry = Telemetry(clock)
    old = Clock(clock.now - 2 * 3600)
    recent = Clock(clock.now - 60)
    assert telemetry.rebuild([row(old, 10), row(recent, 10), row(Clock(0.0), 10)]) == 3
    counts = {n: w["overall"]["requests"] for n, w in telemetry.snapshot().items()}
    assert counts == {"5m": 1, "1h": 1, "24h": 2}


def test_memory_is_bounded_whatever_the_traffic() -> None:
    clock = Clock()
    telemetry = Telemetry(clock, max_series=8)
    slots = sum(count for _width, count in WINDOWS.values())
    for i in range(20_000):
        clock.now += 7.3  # a day and a half of traffic
        telemetry.record(row(clock, i % 5000, model=f"m{i % 50}", account=i % 13))
    assert len(telemetry) <= 9  # the cap, plus the catch-all series
    kept = sum(
        1
        for rings in telemetry._series.values()
        for ring in rings.values()
        for s in ring.slots
        if s is not None
    )
    assert kept <= 9 * slots
    overall = telemetry.snapshot(["5m"])["5m"]["overall"]
    assert 0 < overall["requests"] <= 300 / 7.3 + 1


def test_a_bad_row_is_not_counted_and_does_not_raise() -> None:
    telemetry = Telemetry(Clock())
    telemetry.record(RequestLogRow(ts="x", request_id="r", model="m", status=200, latency_ms=1))  # type: ignore[arg-type]
    assert telemetry.snapshot(["5m"])["5m"]["overall"]["requests"] == 0


@pytest.mark.anyio
async def test_monitor_delivers_in_order_and_drops_a_watcher_that_falls_behind() -> None:
    monitor = Monitor(queue_max=4)
    reader, stalled = monitor.watch(), monitor.watch()
    assert reader is not None and stalled is not None
    got: list[int] = []
    for i in range(10):
        monitor.publish({"event": "end", "n": i})
        event = await reader.next(1.0)
        assert event is not None
        got.append(event["n"])
    assert got == list(range(10))
    assert stalled.dropped and monitor.watchers == 1 and monitor.dropped == 1
    stream = monitor.stream(stalled, 1.0)
    assert [e async for e in stream] == []  # its stream ends at once
    quiet = await reader.next(0.01)
    assert quiet is None and not reader.dropped


def test_monitor_has_a_watcher_limit() -> None:
    monitor = Monitor(max_watchers=2)
    first = monitor.watch()
    assert first is not None and monitor.watch() is not None
    assert monitor.watch() is None
    monitor.leave(first)
    assert monitor.watch() is not None


def test_console_log_keeps_the_newest_records_and_filters() -> None:
    console = ConsoleLog(capacity=50)
    logger = logging.getLogger("omniroute.test-console")
    logger.addHandler(console)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        for i in range(200):
            logger.info("line %d", i)
        logger.error("broke at the end")
        try:
            raise ValueError("inside")
        except ValueError:
            logger.exception("with a traceback")
    finally:
        logger.removeHandler(console)
        logger.propagate = True
    assert len(console) == 50
    everything = console.entries(limit=1000)
    assert everything[-1]["seq"] == console.last_seq == 202
    assert [e["message"] for e in console.entries("error")][0] == "broke at the end"
    assert "ValueError: inside" in console.entries("error")[-1]["message"]
    assert [e["message"] for e in console.entries(text="LINE 19")] == [
        f"line {i}" for i in range(190, 200)
    ]
    assert console.entries(text="line 10") == []  # pushed out of the ring
    assert [e["seq"] for e in console.entries(after=200)] == [201, 202]
    assert len(console.entries(limit=3)) == 3


@pytest.mark.anyio
async def test_monitor_stream_gives_keepalives_while_quiet() -> None:
    monitor = Monitor()
    watcher = monitor.watch()
    assert watcher is not None
    stream = monitor.stream(watcher, 0.01)
    assert await anext(stream) is None
    monitor.publish({"event": "start"})
    assert await anext(stream) == {"event": "start"}
    await stream.aclose()
    assert monitor.watchers == 0
    await asyncio.sleep(0)


def test_captures_expire_and_are_bounded() -> None:
    from omniroute.gateway.capture import BodyCapture

    clock = Clock()
    capture = BodyCapture(clock, max_entries=3)
    for i in range(5):
        capture.keep(
            f"r{i}", headers={"x-api-key": "k", "accept": "*/*"}, body={"password": "p"},
            status=200, response=b"not json", max_bytes=100, retention=60,
        )  # fmt: skip
    assert len(capture) == 3 and capture.get("r0") is None
    kept = capture.get("r4")
    assert kept is not None and kept["request_headers"] == {"x-api-key": "***", "accept": "*/*"}
    assert kept["request_body"] == '{"password": "***"}' and kept["response_body"] == "not json"
    clock.now += 61
    assert capture.get("r4") is None and len(capture) == 0
