"""Live observation: telemetry windows, the live monitor, the console log.

GET /api/telemetry?window=5m|1h|24h
    latency and time-to-first-token percentiles (p50, p95, p99), success
    rate and throughput, overall and per provider, model and account, over
    the last 5 minutes, hour and day (all three without ``window``)
GET /api/monitor          (a session) server-sent events as requests start,
                          get their first token and end; no bodies
GET /api/logs/console?level=&q=&after=&limit=
    the newest application log records (oldest first) at ``level`` or
    above, containing ``q``, after sequence number ``after``
GET /api/logs/console/stream?level=&q=&after=   (or /api/logs/console?follow=1)
    the same as server-sent events, one ``log`` event per record as it is
    written
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from omniroute.api.admin.access import ADMIN_SESSION, ADMIN_TOKEN, Guards
from omniroute.api.admin.params import whole
from omniroute.errors import BadRequest, RateLimited
from omniroute.gateway.console import LEVELS, ConsoleLog
from omniroute.gateway.monitor import Monitor
from omniroute.gateway.telemetry import BUCKET_GROWTH, WINDOWS, Telemetry
from omniroute.http.message import Request, Response, StreamResponse
from omniroute.http.routing import Router

KEEPALIVE = 15.0  # seconds between keep-alive comments on a quiet stream
FOLLOW_EVERY = 0.5  # seconds between looks at the console log while following
DEFAULT_LIMIT = 200
MAX_LIMIT = 2000
_TEXT_MAX = 200
_SSE_HEADERS = [("cache-control", "no-store"), ("x-accel-buffering", "no")]


class ObserveRoutes:
    __slots__ = ("_telemetry", "_monitor", "_console")

    def __init__(self, telemetry: Telemetry, monitor: Monitor, console: ConsoleLog) -> None:
        self._telemetry = telemetry
        self._monitor = monitor
        self._console = console

    def install(self, router: Router, guards: Guards) -> None:
        read = guards.token_or_session
        router.add("GET", "/api/telemetry", read(self.telemetry), label=ADMIN_TOKEN)
        router.add("GET", "/api/monitor", guards.session(self.monitor), label=ADMIN_SESSION)
        router.add("GET", "/api/logs/console", read(self.console), label=ADMIN_TOKEN)
        router.add("GET", "/api/logs/console/stream", read(self.console_stream), label=ADMIN_TOKEN)

    async def telemetry(self, request: Request) -> Response:
        window = request.query.get("window")
        if window and window not in WINDOWS:
            raise BadRequest(f"'window' must be one of: {', '.join(WINDOWS)}")
        windows = [window] if window else list(WINDOWS)
        return Response.json(
            {
                "windows": self._telemetry.snapshot(windows),
                "bucket_growth": BUCKET_GROWTH,
                "series": len(self._telemetry),
            }
        )

    async def monitor(self, request: Request) -> StreamResponse:
        watcher = self._monitor.watch()
        if watcher is None:
            raise RateLimited("too many live monitors are open; close one and try again")
        monitor = self._monitor

        async def events() -> AsyncIterator[bytes]:
            try:
                yield b": live monitor\n\n"
                async for event in monitor.stream(watcher, KEEPALIVE):
                    if event is None:
                        yield b": keep-alive\n\n"
                    else:
                        yield _event(str(event["event"]), event)
            finally:
                monitor.leave(watcher)

        return _stream(events())

    async def console(self, request: Request) -> Response | StreamResponse:
        if request.query.get("follow") in ("1", "true", "yes"):
            return await self.console_stream(request)
        level, text = _level(request), _text(request)
        after = whole(request, "after", 0, 2**62) or 0
        limit = whole(request, "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
        entries = self._console.entries(level, text, after, limit)
        return Response.json({"entries": entries, "last_seq": self._console.last_seq})

    async def console_stream(self, request: Request) -> StreamResponse:
        level, text = _level(request), _text(request)
        after = whole(request, "after", 0, 2**62)
        console = self._console
        # Without ``after``: what is already there is not repeated, only what comes.
        seen = console.last_seq if after is None else after

        async def records() -> AsyncIterator[bytes]:
            nonlocal seen
            yield b": console log\n\n"
            quiet = 0.0
            while not self._monitor.closed:  # until the client leaves or the gateway stops
                found = console.entries(level, text, seen, MAX_LIMIT)
                # Records filtered out still move the mark on.
                seen = max(seen, console.last_seq if not found else found[-1]["seq"])
                for entry in found:
                    yield _event("log", entry, entry["seq"])
                quiet = 0.0 if found else quiet + FOLLOW_EVERY
                if quiet >= KEEPALIVE:
                    quiet = 0.0
                    yield b": keep-alive\n\n"
                await asyncio.sleep(FOLLOW_EVERY)

        return _stream(records())


def _stream(chunks: AsyncIterator[bytes]) -> StreamResponse:
    # A server that stops ends these streams at once, cleanly.
    return StreamResponse(chunks, headers=list(_SSE_HEADERS), on_shutdown=lambda: b"")


def _event(name: str, data: dict[str, Any], seq: int | None = None) -> bytes:
    head = f"id: {seq}\n" if seq is not None else ""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"{head}event: {name}\ndata: {body}\n\n".encode()


def _level(request: Request) -> str | None:
    level = (request.query.get("level") or "").lower() or None
    if level is not None and level not in LEVELS:
        raise BadRequest(f"'level' must be one of: {', '.join(LEVELS)}")
    return level


def _text(request: Request) -> str | None:
    text = request.query.get("q")
    if text and len(text) > _TEXT_MAX:
        raise BadRequest(f"'q' is longer than {_TEXT_MAX} characters")
    return text or None
