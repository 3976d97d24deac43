"""The benchmark's child processes: the fixed-answer upstream and the load client.

    python scripts/bench_roles.py upstream   # prints "port N", serves until orphaned
    python scripts/bench_roles.py faulty     # prints "ports A B C": the soak's upstreams
    python scripts/bench_roles.py load       # reads one JSON job on stdin, prints JSON

``scripts/bench.py`` starts them, one process each, so that neither shares a
core with the gateway more than the machine forces. Both exit by themselves
when their parent goes or after ``CHILD_LIFETIME``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import random
import re
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

SLOW_INTERVAL = 1.0  # seconds between two events of a slow (held-open) stream
SLOW_EVENTS = 120  # so a slow stream ends by itself after two minutes
PACE_INTERVAL = 0.005  # seconds between two events of a paced stream
PACED_EVENTS = 40
CHILD_LIFETIME = 900.0  # children exit after this, whatever happens

# ---------------------------------------------------------------------------
# Role 1: the fixed-answer upstream (raw asyncio Protocol, keep-alive)
# ---------------------------------------------------------------------------


def _chat_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _sse_chunk(obj: Any) -> bytes:
    """One SSE event as one HTTP/1.1 chunk (RFC 9112 §7.1)."""
    event = b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(event), event)


def _fixed_replies() -> tuple[bytes, bytes, bytes]:
    """(JSON response, whole SSE response, SSE response head) as ready-to-write bytes."""
    answer = {
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 1_700_000_000,
        "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "Hello! How can I help?"}}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 8, "total_tokens": 17},
    }
    body = json.dumps(answer).encode()
    json_reply = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                  b"content-length: %d\r\n\r\n%s" % (len(body), body))
    sse_head = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n")
    words = ["Hello", "!", " How", " can", " I", " help", " you", "?"]
    chunks = [_chat_chunk({"role": "assistant", "content": ""})]  # ten events and [DONE]
    chunks += [_chat_chunk({"content": word}) for word in words]
    chunks.append(_chat_chunk({}, "stop"))
    events = b"".join(_sse_chunk(c) for c in chunks) + _sse_chunk(b"[DONE]")
    stream = sse_head + events + b"0\r\n\r\n"  # the last chunk has size zero
    return json_reply, stream, sse_head


JSON_REPLY, STREAM_REPLY, SSE_HEAD = _fixed_replies()
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
TRANSCRIPT_REPLY = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: 14\r\n\r\n{\"text\": \"ok\"}")
STREAM_TRUE = re.compile(rb'"stream"\s*:\s*true')


def _split_request(buf: bytearray) -> tuple[bytes, bytes] | None:
    """Take one whole request (head, body) off the buffer, or None if incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end]).lower()
    match = re.search(rb"\r\ncontent-length:\s*(\d+)", head)
    if b"\r\ntransfer-encoding:" in head:
        return _split_chunked(buf, head, end + 4)
    total = end + 4 + (int(match.group(1)) if match else 0)
    if len(buf) < total:
        return None
    body = bytes(buf[end + 4:total])
    del buf[:total]
    return head, body


def _split_chunked(buf: bytearray, head: bytes, pos: int) -> tuple[bytes, bytes] | None:
    body = bytearray()
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size = int(bytes(buf[pos:line_end]).split(b";")[0], 16)
        if size == 0:
            trailer_end = buf.find(b"\r\n\r\n", line_end)
            if trailer_end < 0:
                return None
            del buf[:trailer_end + 4]
            return head, bytes(body)
        if len(buf) < line_end + 2 + size + 2:
            return None
        body += buf[line_end + 2:line_end + 2 + size]
        pos = line_end + 2 + size + 2


class FixedUpstream(asyncio.Protocol):
    """Answers POST .../chat/completions; paths under /slow/ stream one event a
    second, paths under /paced/ one every 5 ms, each text stamped with the
    moment it was written (CLOCK_MONOTONIC is shared by every process on the
    machine, so the load client can tell how long each event took to arrive)."""

    __slots__ = ("transport", "buf", "slow")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.slow: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.slow is not None:
            self.slow.cancel()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (request := _split_request(self.buf)) is not None:
            self.answer(*request)

    def answer(self, head: bytes, body: bytes) -> None:
        assert self.transport is not None
        target = head.split(b" ", 2)[1]
        if target.endswith(b"/audio/transcriptions"):
            self.transport.write(TRANSCRIPT_REPLY)
        elif not target.endswith(b"/chat/completions"):
            self.transport.write(NOT_FOUND)
        elif target.startswith(b"/slow/"):
            # The opening chunk carries the role and empty content, as OpenAI's does.
            opening = _chat_chunk({"role": "assistant", "content": ""})
            self.transport.write(SSE_HEAD + _sse_chunk(opening))
            self.slow = asyncio.get_running_loop().call_later(SLOW_INTERVAL, self.tick, 1)
        elif target.startswith(b"/paced/"):
            opening = _chat_chunk({"role": "assistant", "content": ""})
            self.transport.write(SSE_HEAD + _sse_chunk(opening))
            self.pace(0)
        elif STREAM_TRUE.search(body):
            self.transport.write(STREAM_REPLY)
        else:
            self.transport.write(JSON_REPLY)
        if b"\r\nconnection: close" in head:
            self.transport.close()

    def tick(self, sent: int) -> None:
        assert self.transport is not None
        if self.transport.is_closing():
            return
        if sent >= SLOW_EVENTS:
            self.transport.write(_sse_chunk(_chat_chunk({}, "stop")) + b"0\r\n\r\n")
            return
        self.transport.write(_sse_chunk(_chat_chunk({"content": "."})))
        self.slow = asyncio.get_running_loop().call_later(SLOW_INTERVAL, self.tick, sent + 1)


    def pace(self, sent: int) -> None:
        assert self.transport is not None
        if self.transport.is_closing():
            return
        if sent >= PACED_EVENTS:
            self.transport.write(_sse_chunk(_chat_chunk({}, "stop")) + b"0\r\n\r\n")
            return
        stamp = f"@{time.monotonic():.6f};"
        self.transport.write(_sse_chunk(_chat_chunk({"content": stamp})))
        self.slow = asyncio.get_running_loop().call_later(PACE_INTERVAL, self.pace, sent + 1)


async def run_upstream() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FixedUpstream, "127.0.0.1", 0, backlog=1024)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    await _until_orphaned(CHILD_LIFETIME)
    server.close()


# ---------------------------------------------------------------------------
# Role 2: the soak's three upstreams (one flaky with 5xx, one rate-limited, one healthy)
# ---------------------------------------------------------------------------

SOAK_ANSWER = "Hello! How can I help you?"
# Every answer ends with a marker naming the upstream and its request number,
# so the load client can tell one upstream answer from a spliced or doubled one.
SOAK_MARKER = re.compile(r" \[(\w+)-(\d+)\]")
SOAK_UPSTREAMS = (
    # name, share of requests that fail, how they fail
    ("flaky", 0.30, "5xx"),
    ("limited", 0.20, "429"),
    ("healthy", 0.0, ""),
)


def _whole(status: str, body: bytes, extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 %s\r\ncontent-type: application/json\r\n%scontent-length: %d\r\n\r\n%s"
            % (status.encode(), extra, len(body), body))


def _error_body(message: str, kind: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "param": None,
                                 "code": None}}).encode()


class FaultPlan:
    """How one soak upstream misbehaves, and what it has done so far."""

    __slots__ = ("name", "fail_share", "fault", "rng", "stats")

    def __init__(self, name: str, fail_share: float, fault: str, seed: int) -> None:
        self.name, self.fail_share, self.fault = name, fail_share, fault
        self.rng = random.Random(seed)  # seeded: every run injects the same faults
        self.stats = {"requests": 0, "failed": 0, "answered": 0}

    def reply(self, stream: bool) -> bytes:
        self.stats["requests"] += 1
        if self.fail_share and self.rng.random() < self.fail_share:
            self.stats["failed"] += 1
            if self.fault == "429":
                body = _error_body("Rate limit reached", "requests")
                return _whole("429 Too Many Requests", body, b"retry-after: 1\r\n")
            if self.rng.random() < 0.5:
                return _whole("500 Internal Server Error", _error_body("boom", "server_error"))
            return _whole("503 Service Unavailable", _error_body("overloaded", "server_error"))
        self.stats["answered"] += 1
        text = f"{SOAK_ANSWER} [{self.name}-{self.stats['answered']}]"
        if not stream:
            message = {"role": "assistant", "content": text}
            answer = {"id": "chatcmpl-soak", "object": "chat.completion", "created": 1_700_000_000,
                      "model": "m",
                      "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
                      "usage": {"prompt_tokens": 9, "completion_tokens": 10, "total_tokens": 19}}
            return _whole("200 OK", json.dumps(answer).encode())
        chunks = [_chat_chunk({"role": "assistant", "content": ""})]
        chunks += [_chat_chunk({"content": word}) for word in re.findall(r"\S+\s*", text)]
        chunks.append(_chat_chunk({}, "stop"))
        events = b"".join(_sse_chunk(c) for c in chunks) + _sse_chunk(b"[DONE]")
        return SSE_HEAD + events + b"0\r\n\r\n"


class FaultyUpstream(FixedUpstream):
    """An OpenAI-compatible upstream failing a share of its requests before it
    answers (5xx, or 429 with ``Retry-After: 1``); ``GET /stats`` tells counts."""

    __slots__ = ("plan",)

    def __init__(self, plan: FaultPlan) -> None:
        super().__init__()
        self.plan = plan

    def answer(self, head: bytes, body: bytes) -> None:
        assert self.transport is not None
        target = head.split(b" ", 2)[1]
        if target == b"/stats":
            self.transport.write(_whole("200 OK", json.dumps(self.plan.stats).encode()))
        elif not target.endswith(b"/chat/completions"):
            self.transport.write(NOT_FOUND)
        else:
            self.transport.write(self.plan.reply(STREAM_TRUE.search(body) is not None))
        if b"\r\nconnection: close" in head:
            self.transport.close()


async def run_faulty() -> None:
    loop = asyncio.get_running_loop()
    servers = []
    for seed, (name, share, fault) in enumerate(SOAK_UPSTREAMS, start=1):
        plan = FaultPlan(name, share, fault, seed)
        servers.append(await loop.create_server(functools.partial(FaultyUpstream, plan),
                                                "127.0.0.1", 0, backlog=1024))
    ports = " ".join(str(s.sockets[0].getsockname()[1]) for s in servers)
    print(f"ports {ports}", flush=True)
    await _until_orphaned(CHILD_LIFETIME)
    for server in servers:
        server.close()


async def _until_orphaned(limit: float) -> None:
    """Return when the parent has gone (we were re-parented) or after ``limit`` seconds."""
    parent, deadline = os.getppid(), time.monotonic() + limit
    while os.getppid() == parent and time.monotonic() < deadline:
        await asyncio.sleep(0.5)


# ---------------------------------------------------------------------------
# Role 3: the load clients (raw asyncio streams, keep-alive)
# ---------------------------------------------------------------------------


class Client:
    """One keep-alive HTTP/1.1 connection sending the same request again and again."""

    __slots__ = ("host", "port", "request", "reader", "writer")

    def __init__(self, host: str, port: int, request: bytes) -> None:
        self.host, self.port, self.request = host, port, request
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(
        self, read_body: bool = True, until: re.Pattern[bytes] | None = None
    ) -> tuple[int, float, float, bytes]:
        """(status, seconds to first body byte, seconds to the end, error sample).

        With ``until``, "first" is when the body first matches it (e.g. the
        first token of text) rather than its first byte."""
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        start = time.perf_counter()
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        first, sample = await self._body(lower, read_body, until)
        if b"\r\nconnection: close" in lower:
            self.close()
        done = time.perf_counter()
        return status, first - start, done - start, b"" if status == 200 else sample[:300]

    async def _body(
        self, lower_head: bytes, read_body: bool, until: re.Pattern[bytes] | None = None
    ) -> tuple[float, bytes]:
        assert self.reader is not None
        if b"transfer-encoding: chunked" not in lower_head:
            match = re.search(rb"content-length:\s*(\d+)", lower_head)
            data = await self.reader.readexactly(int(match.group(1)) if match else 0)
            return time.perf_counter(), data
        first = 0.0
        data = b""
        seen = b""  # what ``until`` is matched against
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if not first and until is None:
                first = time.perf_counter()
            if size == 0:
                await self.reader.readuntil(b"\r\n")  # end of (empty) trailer section
                return first, data
            chunk = await self.reader.readexactly(size + 2)
            data = data if len(data) > 300 else data + chunk
            if until is not None and not first:
                seen += chunk
                if until.search(seen):
                    first = time.perf_counter()
            if not read_body and first:
                return first, data

    async def event_delays(self) -> list[float]:
        """One paced stream: the delay of each stamped event, in seconds."""
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        if int(head[9:12]) != 200 or b"transfer-encoding: chunked" not in head.lower():
            raise ValueError(f"not a stream: {head[:200]!r}")
        delays: list[float] = []
        pending = b""  # an event's stamp may be split across chunks
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
            chunk = (await self.reader.readexactly(size + 2))[:-2]
            now = time.monotonic()
            pending += chunk
            last_end = 0
            for match in STAMP.finditer(pending):
                delays.append(now - float(match.group(1)))
                last_end = match.end()
            pending = pending[last_end:][-64:]
        await self.reader.readuntil(b"\r\n")  # end of (empty) trailer section
        if b"\r\nconnection: close" in head.lower():
            self.close()
        return delays

    async def exchange_whole(self) -> tuple[int, float, bytes]:
        """(status, seconds to the end, the whole body with chunk framing removed)."""
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        start = time.perf_counter()
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lower = head.lower()
        if b"transfer-encoding: chunked" in lower:
            body = bytearray()
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                body += (await self.reader.readexactly(size + 2))[:-2]
            await self.reader.readuntil(b"\r\n")  # end of (empty) trailer section
        else:
            match = re.search(rb"content-length:\s*(\d+)", lower)
            body = bytearray(await self.reader.readexactly(int(match.group(1)) if match else 0))
        if b"\r\nconnection: close" in lower:
            self.close()
        return int(head[9:12]), time.perf_counter() - start, bytes(body)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _request_bytes(job: dict[str, Any]) -> bytes:
    body = str(job["body"]).encode()
    lines = [f"POST {job['path']} HTTP/1.1", f"host: 127.0.0.1:{job['port']}",
             "content-type: application/json", f"content-length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in job["headers"]]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# The first chat-completion chunk that carries text: the first token.
FIRST_TOKEN = re.compile(rb'"content":\s*"[^"]')


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Tally:
    __slots__ = ("times", "errors", "sample")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.errors = 0
        self.sample = ""

    def add(self, status: int, seconds: float, sample: bytes) -> None:
        if status == 200:
            self.times.append(seconds)
            return
        self.errors += 1
        self.sample = self.sample or f"HTTP {status}: {sample.decode('utf-8', 'replace')}"

    def failed(self, exc: BaseException) -> None:
        self.errors += 1
        self.sample = self.sample or f"{type(exc).__name__}: {exc}"

    def result(self, **extra: Any) -> dict[str, Any]:
        ms = [t * 1000 for t in self.times]
        return {"ok": len(ms), "errors": self.errors, "error_sample": self.sample,
                "p50_ms": percentile(ms, 0.50), "p99_ms": percentile(ms, 0.99), **extra}


async def load_sequential(job: dict[str, Any]) -> dict[str, Any]:
    """Concurrency 1: total time per request, or time to first byte for streams."""
    client, tally = Client("127.0.0.1", job["port"], _request_bytes(job)), Tally()
    first_byte, fresh = job["kind"] in ("ttfb", "ttft"), job.get("fresh", False)
    until = FIRST_TOKEN if job["kind"] == "ttft" else None
    for index in range(job["warmup"] + job["count"]):
        try:
            status, first, total, sample = await asyncio.wait_for(
                client.exchange(read_body=not fresh, until=until), job["timeout"])
        except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError) as exc:
            tally.failed(exc)
            client.close()
            continue
        if fresh:  # the rest of the body is not read: the connection cannot be reused
            client.close()
        if index >= job["warmup"]:
            tally.add(status, first if first_byte else total, sample)
    client.close()
    return tally.result()


STAMP = re.compile(rb"@(\d+\.\d+);")


async def load_event_delay(job: dict[str, Any]) -> dict[str, Any]:
    """Paced streams one after another: for every event, the time from the
    upstream writing it to this client reading it."""
    client, tally = Client("127.0.0.1", job["port"], _request_bytes(job)), Tally()
    for index in range(job["warmup"] + job["count"]):
        try:
            delays = await asyncio.wait_for(client.event_delays(), job["timeout"])
        except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError) as exc:
            tally.failed(exc)
            client.close()
            continue
        if index >= job["warmup"]:
            for delay in delays:
                tally.add(200, delay, b"")
    client.close()
    return tally.result()


async def load_throughput(job: dict[str, Any]) -> dict[str, Any]:
    """``concurrency`` connections in a closed loop; completions counted after the warm-up."""
    request, tally = _request_bytes(job), Tally()
    start = time.perf_counter()
    measure_from = start + job["warmup_seconds"]
    stop_at = measure_from + job["duration"]

    served = 0  # every answered request, warm-up included (for CPU per request)

    async def worker() -> None:
        nonlocal served
        client = Client("127.0.0.1", job["port"], request)
        while time.perf_counter() < stop_at:
            try:
                status, _, total, sample = await asyncio.wait_for(client.exchange(), job["timeout"])
            except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError) as exc:
                tally.failed(exc)
                client.close()
                continue
            served += 1
            if measure_from <= time.perf_counter() <= stop_at:
                tally.add(status, total, sample)
        client.close()

    await asyncio.gather(*(worker() for _ in range(job["concurrency"])))
    return tally.result(rps=len(tally.times) / job["duration"], served=served)


async def load_hold(job: dict[str, Any]) -> dict[str, Any]:
    """Open ``count`` streams, report when all have their first event, hold until told."""
    request, tally = _request_bytes(job), Tally()
    gate = asyncio.Semaphore(64)  # do not overrun the listen backlog
    clients = [Client("127.0.0.1", job["port"], request) for _ in range(job["count"])]

    async def open_one(client: Client) -> None:
        async with gate:
            try:
                status, first, _, sample = await asyncio.wait_for(
                    client.exchange(read_body=False), job["timeout"])
                tally.add(status, first, sample)
            except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError) as exc:
                tally.failed(exc)

    await asyncio.gather(*(open_one(c) for c in clients))
    print(json.dumps({"ready": len(tally.times), **tally.result()}), flush=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_stdin_line(), job["hold_seconds"])
    for client in clients:
        client.close()
    return tally.result()


def _stream_text(body: bytes) -> tuple[str, int]:
    """(the assistant text, the number of error events) of an OpenAI SSE body."""
    text, errors = "", 0
    for line in body.decode("utf-8", "replace").splitlines():
        data = line[5:].strip() if line.startswith("data:") else ""
        if not data or data == "[DONE]":
            continue
        event = json.loads(data)
        errors += "error" in event
        for choice in event.get("choices") or []:
            text += choice.get("delta", {}).get("content") or ""
    return text, errors


class SoakCheck:
    """Sorts the soak's answers: each 200 stream must carry exactly one
    upstream answer (one marker), end with one ``[DONE]`` and hold no error."""

    __slots__ = ("good", "duplicated", "broken", "failed", "by_upstream", "samples", "times")

    def __init__(self) -> None:
        self.good = self.duplicated = self.broken = self.failed = 0
        self.by_upstream: dict[str, int] = {}
        self.samples: dict[str, str] = {}
        self.times: list[float] = []

    def add(self, status: int, seconds: float, body: bytes) -> None:
        if status != 200:
            self._bad("failed", f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}")
            return
        try:
            text, errors = _stream_text(body)
        except (ValueError, AttributeError):  # not JSON, or not the chunk shape
            self._bad("broken", body[:200].decode("utf-8", "replace"))
            return
        markers = SOAK_MARKER.findall(text)
        # A second opening word means a second answer began in the same stream.
        if len(markers) > 1 or text.count(SOAK_ANSWER.split()[0]) > 1:
            self._bad("duplicated", text)
            return
        name, number = markers[0] if markers else ("", "")
        whole = text == f"{SOAK_ANSWER} [{name}-{number}]"
        if errors or not markers or not whole or body.count(b"data: [DONE]") != 1:
            self._bad("broken", text or body[:200].decode("utf-8", "replace"))
            return
        self.good += 1
        self.times.append(seconds)
        self.by_upstream[name] = self.by_upstream.get(name, 0) + 1

    def failed_with(self, exc: BaseException) -> None:
        self._bad("failed", f"{type(exc).__name__}: {exc}")

    def _bad(self, outcome: str, sample: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.samples.setdefault(outcome, sample[:300])

    def result(self, requested: int) -> dict[str, Any]:
        ms = [t * 1000 for t in self.times]
        return {"requested": requested, "good": self.good, "duplicated": self.duplicated,
                "broken": self.broken, "failed": self.failed,
                "abandoned": requested - self.good - self.duplicated - self.broken - self.failed,
                "by_upstream": self.by_upstream, "samples": self.samples,
                "p50_ms": percentile(ms, 0.50), "p99_ms": percentile(ms, 0.99)}


async def load_soak(job: dict[str, Any]) -> dict[str, Any]:
    """``count`` streamed requests, ``concurrency`` at a time, each checked
    whole; requests not started before ``deadline`` seconds are abandoned."""
    request, check = _request_bytes(job), SoakCheck()
    tickets = iter(range(job["count"]))  # shared: each request is handed out once
    stop_at = time.perf_counter() + job["deadline"]

    async def worker() -> None:
        client = Client("127.0.0.1", job["port"], request)
        for _ in tickets:
            if time.perf_counter() > stop_at:
                break
            try:
                status, seconds, body = await asyncio.wait_for(client.exchange_whole(),
                                                               job["timeout"])
            except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError) as exc:
                check.failed_with(exc)
                client.close()
                continue
            check.add(status, seconds, body)
        client.close()

    await asyncio.gather(*(worker() for _ in range(job["concurrency"])))
    return check.result(job["count"])


async def _stdin_line() -> str:
    """The next line on stdin, read by a daemon thread so that it never blocks our exit."""
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str] = loop.create_future()

    def deliver(text: str) -> None:
        if not line.done():
            line.set_result(text)

    def read() -> None:
        loop.call_soon_threadsafe(deliver, sys.stdin.readline())

    threading.Thread(target=read, daemon=True).start()
    return await line


async def run_load() -> None:
    job = json.loads(sys.stdin.readline())
    runner = {"latency": load_sequential, "ttfb": load_sequential, "ttft": load_sequential,
              "throughput": load_throughput, "hold": load_hold, "soak": load_soak,
              "event_delay": load_event_delay}[job["kind"]]
    result = await asyncio.wait_for(runner(job), CHILD_LIFETIME)
    print(json.dumps(result), flush=True)


def main(argv: Sequence[str]) -> int:
    roles = {"upstream": run_upstream, "faulty": run_faulty, "load": run_load}
    if len(argv) != 1 or argv[0] not in roles:
        print("usage: bench_roles.py upstream|faulty|load", file=sys.stderr)
        return 2
    asyncio.run(roles[argv[0]]())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
