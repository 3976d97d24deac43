"""Benchmark: the gateway next to a direct call to the same fixed-answer upstream.

    scripts/bench [--quick] [--json] [--streams N] [--duration S] [--soak]

Everything runs on 127.0.0.1 with ephemeral ports, each part in its own
process so that the gateway has a core of its own as far as the machine
allows: (1) a fixed-answer upstream and (3) load clients, one process per
measurement (both in ``bench_roles.py``), and (2) the gateway, configured and
started through its real CLI. Every child is stopped on exit, errors
included (and gets SIGTERM if this process is killed); every wait has a
deadline.

A report row is one scenario function in ``SCENARIOS``: it receives the
running ``Bench`` and returns ``Row`` values, so new rows (a translating
path, a failure soak) are one function each.

``--soak`` runs only the failure soak (``scenario_soak``): streamed requests
through a combo over three upstreams that fail on purpose, checking that
every client still gets exactly one whole answer.
"""

from __future__ import annotations

import argparse
import ctypes
import http.client
import json
import os
import platform
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench_roles import SOAK_UPSTREAMS, percentile  # this file's directory is on sys.path

REPO = Path(__file__).resolve().parents[1]
PROMPT = [{"role": "user", "content": "Say hello."}]
UPSTREAM_KEY = "sk-bench"
ROLES = str(Path(__file__).resolve().with_name("bench_roles.py"))


class BenchError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Target:
    """Where a load client sends its one request, again and again."""

    port: int
    path: str
    headers: tuple[tuple[str, str], ...]
    body: str


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    unit: str
    direct: float | None
    gateway: float | None
    higher_is_better: bool = False

    @property
    def difference(self) -> float | None:
        if self.direct is None or self.gateway is None:
            return None
        return self.gateway - self.direct


@dataclass(frozen=True, slots=True)
class Sizes:
    latency: int
    ttfb: int
    duration: float
    warmup_seconds: float
    streams: int
    starts: int
    soak: int  # streamed requests per soak run
    usage_rows: int  # request-log rows generated for the usage questions

    @classmethod
    def pick(cls, quick: bool, streams: int | None, duration: float | None) -> Sizes:
        base = (cls(200, 100, 1.5, 0.5, 100, 1, 1000, 100_000) if quick
                else cls(2000, 1000, 5.0, 1.0, 1000, 3, 10_000, 1_000_000))
        return cls(base.latency, base.ttfb, duration or base.duration, base.warmup_seconds,
                   streams or base.streams, base.starts, base.soak, base.usage_rows)


def _pdeathsig() -> None:
    """Children get SIGTERM if we die, even by SIGKILL (prctl(2) PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)


class Children:
    """Every process we start, so that all of them are stopped on the way out."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []

    def spawn(self, args: Sequence[str], **kwargs: Any) -> subprocess.Popen[str]:
        proc = subprocess.Popen(list(args), text=True, preexec_fn=_pdeathsig, cwd=REPO, **kwargs)
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[str]) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(self.procs[:]):
            self.stop(proc)


def _read_line(proc: subprocess.Popen[str], timeout: float, what: str) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    if not line:
        raise BenchError(f"{what}: no answer within {timeout:.0f} s (exit code {proc.poll()})")
    return line.strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _health_status(port: int) -> int | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
            head = sock.recv(64)
        return int(head[9:12]) if head.startswith(b"HTTP/1.") else None
    except (OSError, ValueError):
        return None


def vm_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (proc(5): fields 14 and 15 of stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Bench:
    """The running pieces, handed to every scenario."""

    sizes: Sizes
    children: Children
    data_dir: Path
    upstream_port: int = 0
    gateway_port: int = 0
    gateway: subprocess.Popen[str] | None = None
    client_key: str = ""
    start_times_ms: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    # -- the pieces ---------------------------------------------------------

    def start_upstream(self) -> None:
        proc = self.children.spawn([sys.executable, ROLES, "upstream"],
                                   stdout=subprocess.PIPE)
        self.upstream_port = int(_read_line(proc, 20, "upstream").split()[1])

    def cli(self, *args: str) -> str:
        command = [sys.executable, "-m", "omniroute", *args, "--data-dir", str(self.data_dir)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO,
                              env=_clean_env())
        if done.returncode != 0:
            raise BenchError(f"omniroute {args[0]} {args[1]} failed: {done.stderr.strip()[-500:]}")
        return done.stdout

    def configure_gateway(self) -> None:
        base = f"http://127.0.0.1:{self.upstream_port}"
        for name, url in (("bench", f"{base}/v1"), ("slow", f"{base}/slow/v1"),
                          ("paced", f"{base}/paced/v1")):
            self.cli("provider", "add", name, "--format", "openai", "--base-url", url,
                     "--api-key", UPSTREAM_KEY, "--models", "m")
        self.client_key = self.cli("key", "create").strip().splitlines()[-1].strip()

    def start_gateway(self) -> None:
        """Spawn ``omniroute serve``; time spawn -> first 200 on /health."""
        self.gateway_port = _free_port()
        log = (self.data_dir / "gateway.log").open("a")
        started = time.perf_counter()
        self.gateway = self.children.spawn(
            [sys.executable, "-m", "omniroute", "serve", "--host", "127.0.0.1", "--port",
             str(self.gateway_port), "--data-dir", str(self.data_dir)],
            stdout=log, stderr=subprocess.STDOUT, env=_clean_env())
        log.close()
        deadline = started + 30
        while _health_status(self.gateway_port) != 200:
            if self.gateway.poll() is not None or time.perf_counter() > deadline:
                raise BenchError(f"gateway did not come up: {self.gateway_log()[-800:]}")
            time.sleep(0.005)
        self.start_times_ms.append((time.perf_counter() - started) * 1000)

    def gateway_log(self) -> str:
        path = self.data_dir / "gateway.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @property
    def gateway_pid(self) -> int:
        assert self.gateway is not None
        return self.gateway.pid

    # -- targets and load ---------------------------------------------------

    def direct(self, stream: bool = False) -> Target:
        return _chat_target(self.upstream_port, "/v1/chat/completions", UPSTREAM_KEY, "m", stream)

    def through(self, model: str = "bench/m", stream: bool = False) -> Target:
        return _chat_target(self.gateway_port, "/v1/chat/completions", self.client_key, model,
                            stream)

    def through_anthropic(self, model: str) -> Target:
        """A streamed Anthropic Messages request through the gateway: the
        upstream's OpenAI chunks are translated for this client."""
        body = {"model": model, "max_tokens": 256, "messages": PROMPT, "stream": True}
        return Target(self.gateway_port, "/v1/messages",
                      (("x-api-key", self.client_key), ("anthropic-version", "2023-06-01")),
                      json.dumps(body))

    def start_load(self, job: dict[str, Any]) -> subprocess.Popen[str]:
        """A load client left running in the background with ``job``; its
        stdin stays open for later lines, and it is stopped with the rest."""
        proc = self.children.spawn([sys.executable, ROLES, "load"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE)
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(job) + "\n")
        proc.stdin.flush()
        return proc

    def load(self, kind: str, target: Target, **params: Any) -> dict[str, Any]:
        job = {"kind": kind, "timeout": 30.0, **asdict(target), **params}
        limit = float(params.get("deadline", 270.0)) + 30.0
        proc = self.children.spawn([sys.executable, ROLES, "load"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE)
        try:
            out, _ = proc.communicate(json.dumps(job) + "\n", timeout=limit)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{kind} load client did not finish within {limit:.0f} s")
        finally:
            self.children.stop(proc)
        if not out.strip():
            raise BenchError(f"{kind} load client failed (exit code {proc.returncode})")
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        if "errors" in result:  # the soak judges its own outcomes
            self._note_errors(kind, target, result)
        return result

    # -- the soak's pieces --------------------------------------------------

    def start_faulty_upstreams(self) -> list[int]:
        """The soak's three upstreams (one process, one port each)."""
        proc = self.children.spawn([sys.executable, ROLES, "faulty"], stdout=subprocess.PIPE)
        return [int(p) for p in _read_line(proc, 20, "faulty upstreams").split()[1:]]

    def wait_for_model(self, model: str, timeout: float = 15.0) -> None:
        """The running gateway polls its store for changes; wait until it has ``model``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listing = _get_json(self.gateway_port, "/v1/models",
                                {"authorization": f"Bearer {self.client_key}"})
            if listing and model in [m.get("id") for m in listing.get("data", [])]:
                return
            time.sleep(0.1)
        raise BenchError(f"the gateway never listed {model!r} within {timeout:.0f} s")

    def _note_errors(self, kind: str, target: Target, result: dict[str, Any]) -> None:
        if result["errors"]:
            where = "gateway" if target.port == self.gateway_port else "direct"
            self.notes.append(f"{kind} ({where}): {result['errors']} failed, e.g. "
                              f"{result['error_sample']}")


def _chat_target(port: int, path: str, key: str, model: str, stream: bool) -> Target:
    body = {"model": model, "messages": PROMPT, "stream": stream}
    return Target(port, path, (("authorization", f"Bearer {key}"),), json.dumps(body))


def _get_json(port: int, path: str, headers: dict[str, str] | None = None) -> Any:
    """GET a JSON document from a loopback port; None when that fails."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        reply = conn.getresponse()
        return json.loads(reply.read()) if reply.status == 200 else None
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def _clean_env() -> dict[str, str]:
    """Our environment minus any OMNIROUTE_* setting that would skew the run."""
    return {k: v for k, v in os.environ.items() if not k.startswith("OMNIROUTE_")}


# ---------------------------------------------------------------------------
# Scenarios: one function per group of rows
# ---------------------------------------------------------------------------


def scenario_startup(bench: Bench) -> list[Row]:
    for _ in range(bench.sizes.starts - 1):  # the first start happened during setup
        assert bench.gateway is not None
        bench.children.stop(bench.gateway)
        bench.start_gateway()
    return [Row("start -> first 200 on /health", "ms", None, percentile(bench.start_times_ms, 0.5))]


def scenario_idle_rss(bench: Bench) -> list[Row]:
    bench.load("latency", bench.through(), count=200, warmup=0)
    bench.load("ttfb", bench.through(stream=True), count=50, warmup=0)
    time.sleep(1.0)
    return [Row("idle RSS after warm-up", "MB", None, vm_rss_mb(bench.gateway_pid))]


def scenario_latency(bench: Bench) -> list[Row]:
    params = {"count": bench.sizes.latency, "warmup": 50}
    direct = bench.load("latency", bench.direct(), **params)
    gateway = bench.load("latency", bench.through(), **params)
    return [Row(f"JSON latency c=1 {q}", "ms", direct[f"{q}_ms"], gateway[f"{q}_ms"])
            for q in ("p50", "p99")]


def scenario_ttfb(bench: Bench) -> list[Row]:
    params = {"count": bench.sizes.ttfb, "warmup": 20}
    direct = bench.load("ttfb", bench.direct(stream=True), **params)
    gateway = bench.load("ttfb", bench.through(stream=True), **params)
    return [Row(f"stream first byte c=1 {q}", "ms", direct[f"{q}_ms"], gateway[f"{q}_ms"])
            for q in ("p50", "p99")]


def scenario_translate(bench: Bench) -> list[Row]:
    """Whole streamed answers at concurrency 1: the same upstream stream passed
    through to an OpenAI client, and translated for an Anthropic client
    (``POST /v1/messages``: OpenAI chunks decoded, Anthropic events encoded)."""
    params = {"count": bench.sizes.ttfb, "warmup": 20}
    direct = bench.load("latency", bench.direct(stream=True), **params)
    passthrough = bench.load("latency", bench.through(stream=True), **params)
    translating = bench.load("latency", bench.through_anthropic("bench/m"), **params)
    return _lane_rows("stream whole c=1 {q}", direct, passthrough, translating)


def _lane_rows(title: str, direct: dict[str, Any], passthrough: dict[str, Any],
               translating: dict[str, Any]) -> list[Row]:
    """p50 and p99 rows of the pass-through and the translating lane, each
    next to the direct measure; ``title`` holds ``{q}`` for the quantile."""
    rows = []
    for q in ("p50", "p99"):
        name = title.format(q=q)
        rows.append(Row(f"{name}, pass-through", "ms", direct[f"{q}_ms"], passthrough[f"{q}_ms"]))
        rows.append(Row(f"{name}, Anthropic client", "ms",
                        direct[f"{q}_ms"], translating[f"{q}_ms"]))
    return rows


def scenario_event_delay(bench: Bench) -> list[Row]:
    """How long each upstream SSE event takes to reach the client: streams of
    40 events 5 ms apart, every event stamped by the upstream when written,
    passed through to an OpenAI client and translated for an Anthropic one."""
    params = {"count": max(5, bench.sizes.ttfb // 20), "warmup": 2}
    direct = bench.direct(stream=True)
    direct = Target(direct.port, "/paced/v1/chat/completions", direct.headers, direct.body)
    alone = bench.load("event_delay", direct, **params)
    passthrough = bench.load("event_delay", bench.through(model="paced/m", stream=True), **params)
    translating = bench.load("event_delay", bench.through_anthropic("paced/m"), **params)
    return _lane_rows("SSE event delay {q}", alone, passthrough, translating)


def scenario_slow_first_event(bench: Bench) -> list[Row]:
    """First byte and first token of a stream whose events come one a second.

    The upstream's opening chunk (role, empty content) comes at once, the
    first text a second later. The gateway holds the response back until the
    model really starts answering, so that an error arriving first can still
    move the request to another upstream: its first byte comes with the first
    token, and the first-token row is the fair comparison.
    """
    params = {"count": 3 if bench.sizes.latency < 1000 else 5, "warmup": 0, "fresh": True}
    slow = bench.direct(stream=True)
    slow = Target(slow.port, "/slow/v1/chat/completions", slow.headers, slow.body)
    through = bench.through(model="slow/m", stream=True)
    direct = bench.load("ttfb", slow, **params)
    gateway = bench.load("ttfb", through, **params)
    direct_token = bench.load("ttft", slow, **params)
    gateway_token = bench.load("ttft", through, **params)
    return [
        Row("stream first byte, 1 s/event, p50", "ms", direct["p50_ms"], gateway["p50_ms"]),
        Row("stream first token, 1 s/event, p50", "ms",
            direct_token["p50_ms"], gateway_token["p50_ms"]),
    ]


UPLOAD_MB = 25  # the largest audio file the API takes


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise BenchError(f"no {field} for pid {pid}")


def scenario_upload(bench: Bench) -> list[Row]:
    """A 25 MB transcription upload forwarded to the upstream: how much the
    gateway's peak RSS grows (the goal: no more than the file once)."""
    boundary = "bench-upload-7MA4YWxkTrZu0gW"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nbench/m\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n").encode()
    audio = os.urandom(UPLOAD_MB * 1024 * 1024)
    body = head + audio + f"\r\n--{boundary}--\r\n".encode()
    pid = bench.gateway_pid
    time.sleep(0.5)
    before_kb = _status_kb(pid, "VmRSS")
    # Writing 5 resets the peak RSS to the current RSS (proc(5), clear_refs).
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    conn = http.client.HTTPConnection("127.0.0.1", bench.gateway_port, timeout=120)
    try:
        conn.request("POST", "/v1/audio/transcriptions", body=body, headers={
            "authorization": f"Bearer {bench.client_key}",
            "content-type": f"multipart/form-data; boundary={boundary}"})
        reply = conn.getresponse()
        answer = reply.read()
    finally:
        conn.close()
    if reply.status != 200:
        raise BenchError(f"the upload was answered {reply.status}: {answer[:200]!r}")
    growth_mb = (_status_kb(pid, "VmHWM") - before_kb) / 1024
    # The file once, plus the fixed-size buffers on the way (a socket read,
    # an upload slice): anything more means a copy of the file was made.
    if growth_mb > UPLOAD_MB + 1:
        bench.notes.append(f"a {UPLOAD_MB} MB upload grew the gateway's RSS by {growth_mb:.1f} MB")
    return [
        Row(f"{UPLOAD_MB} MB upload forwarded: peak RSS growth", "MB", None, growth_mb),
        Row(f"{UPLOAD_MB} MB upload: RSS growth per file size", "x", None, growth_mb / UPLOAD_MB),
    ]


def scenario_throughput(bench: Bench) -> list[Row]:
    params = {"concurrency": 64, "duration": bench.sizes.duration,
              "warmup_seconds": bench.sizes.warmup_seconds}
    direct = bench.load("throughput", bench.direct(), **params)
    cpu_before = cpu_seconds(bench.gateway_pid)
    gateway = bench.load("throughput", bench.through(), **params)
    cpu_us = (cpu_seconds(bench.gateway_pid) - cpu_before) * 1e6 / max(1, gateway["served"])
    return [
        Row("JSON throughput c=64", "req/s", direct["rps"], gateway["rps"], higher_is_better=True),
        Row("JSON latency c=64 p50", "ms", direct["p50_ms"], gateway["p50_ms"]),
        Row("gateway CPU per request c=64", "us", None, cpu_us),
        # For sizing a small machine: a Raspberry Pi 4 core is roughly 3-4x slower.
        Row("gateway CPU per 1,000 requests", "s", None, cpu_us / 1000),
    ]


WRITE_LOAD_CONCURRENCY = 8


def scenario_write_load(bench: Bench) -> list[Row]:
    """Whole streams at concurrency 1 while other clients keep the database's
    writer busy (their request-log rows): a chat client's stream and a
    Responses client's, whose conversation is saved for previous_response_id.
    That save must not hold the stream's end back, so the two p99s match."""
    responses = Target(bench.gateway_port, "/v1/responses",
                       (("authorization", f"Bearer {bench.client_key}"),),
                       json.dumps({"model": "bench/m", "input": "Say hello.", "stream": True}))
    params = {"count": bench.sizes.ttfb, "warmup": 20}
    seconds = 120.0 if bench.sizes.latency >= 1000 else 30.0
    job = {"kind": "throughput", "timeout": 30.0, "concurrency": WRITE_LOAD_CONCURRENCY,
           "duration": seconds, "warmup_seconds": 0.0, **asdict(bench.through())}
    background = bench.start_load(job)
    try:
        time.sleep(0.5)  # the writes are under way
        chat = bench.load("latency", bench.through(stream=True), **params)
        answered = bench.load("latency", responses, **params)
    finally:
        bench.children.stop(background)
    return [Row(f"stream whole p99 under writes, {who} client", "ms", None, result["p99_ms"])
            for who, result in (("chat", chat), ("Responses", answered))]


def scenario_open_streams(bench: Bench) -> list[Row]:
    """RSS while ``streams`` slow streams are open through the gateway at once."""
    count = bench.sizes.streams
    idle = vm_rss_mb(bench.gateway_pid)
    job = {"kind": "hold", "timeout": 60.0, "count": count, "hold_seconds": 60.0,
           **asdict(bench.through(model="slow/m", stream=True))}
    proc = bench.start_load(job)
    try:
        assert proc.stdin is not None
        ready = json.loads(_read_line(proc, 90, "stream holder"))
        held = vm_rss_mb(bench.gateway_pid)
        proc.stdin.write("release\n")
        proc.stdin.flush()
    finally:
        bench.children.stop(proc)
    if ready["ready"] < count:
        bench.notes.append(f"open streams: only {ready['ready']} of {count} opened; "
                           f"{ready['error_sample']}")
    per_stream_kb = (held - idle) * 1024 / ready["ready"] if ready["ready"] else None
    return [Row(f"RSS with {ready['ready']} open streams", "MB", None, held),
            Row("RSS per open stream", "KB", None, per_stream_kb)]


SOAK_CONCURRENCY = 32
SOAK_DEADLINE = 240.0  # seconds per soak run; requests not started by then are abandoned
SOAK_SUCCESS_GOAL = 99.9  # percent of streams that must arrive whole


def scenario_soak(bench: Bench) -> list[Row]:
    """Streams through a round-robin combo over three upstreams: one fails 30 %
    of its requests with 5xx, one 20 % with 429 (Retry-After: 1), one is
    healthy. Every stream must be exactly one upstream answer; latency is
    compared with the same run through the healthy upstream alone."""
    ports = bench.start_faulty_upstreams()
    names = [name for name, _, _ in SOAK_UPSTREAMS]
    for name, port in zip(names, ports, strict=True):
        bench.cli("provider", "add", name, "--format", "openai", "--base-url",
                  f"http://127.0.0.1:{port}/v1", "--api-key", f"sk-soak-{name}", "--models", "m")
    bench.cli("combo", "add", "soak", *(f"{n}/m" for n in names), "--strategy", "round-robin")
    bench.cli("combo", "add", "soak-healthy", "healthy/m", "--strategy", "round-robin")
    bench.wait_for_model("soak-healthy")
    count = bench.sizes.soak
    params = {"concurrency": SOAK_CONCURRENCY, "deadline": SOAK_DEADLINE}
    bench.load("soak", bench.through("soak-healthy", stream=True), count=200, **params)  # warm
    alone = bench.load("soak", bench.through("soak-healthy", stream=True), count=count, **params)
    before = [_get_json(port, "/stats") or {} for port in ports]
    soak = bench.load("soak", bench.through("soak", stream=True), count=count, **params)
    after = [_get_json(port, "/stats") or {} for port in ports]
    _judge_soak(bench, "healthy upstream alone", alone)
    _judge_soak(bench, "faulty combo", soak)

    def during(index: int, field: str) -> int:
        return int(after[index].get(field, 0)) - int(before[index].get(field, 0))

    calls = sum(during(i, "requests") for i in range(len(names)))
    # Latency rows: "direct" is the healthy upstream alone, "gateway" the faulty combo.
    rows = [
        Row(f"soak: {count} streams whole", "%", None, _whole_share(soak),
            higher_is_better=True),
        Row("soak: duplicated outputs", "count", None, soak["duplicated"]),
        Row("soak: failed or cut streams", "count", None,
            soak["requested"] - soak["good"] - soak["duplicated"]),
        Row("soak p50 (alone | combo)", "ms", alone["p50_ms"], soak["p50_ms"]),
        Row("soak p99 (alone | combo)", "ms", alone["p99_ms"], soak["p99_ms"]),
        Row("soak: upstream calls per stream", "x", None, calls / max(1, soak["good"])),
    ]
    for index, name in enumerate(names):
        rows.append(Row(f"soak: faults by {name}", "count", None, during(index, "failed")))
        rows.append(Row(f"soak: answers by {name}", "count", None,
                        soak["by_upstream"].get(name, 0)))
    return rows


def _whole_share(result: dict[str, Any]) -> float:
    return 100.0 * int(result["good"]) / max(1, int(result["requested"]))


def _judge_soak(bench: Bench, what: str, result: dict[str, Any]) -> None:
    """Notes (which make the run fail) when a soak run misses its goals."""
    if _whole_share(result) < SOAK_SUCCESS_GOAL:
        bench.notes.append(f"soak ({what}): only {_whole_share(result):.2f} % of streams whole "
                           f"(goal {SOAK_SUCCESS_GOAL} %); samples: {result['samples']}")
    if result["duplicated"]:
        bench.notes.append(f"soak ({what}): {result['duplicated']} streams carried more than "
                           f"one answer, e.g. {result['samples'].get('duplicated')!r}")


# What the browser loads for the first screen after login: the page, what it
# links, the modules app.js imports (followed), English and the home page.
_FIRST_SCREEN_EXTRA = ("/locales/en.json", "/js/pages/home.js")


def _first_screen_paths() -> list[str]:
    import re

    web = REPO / "web"
    html = (web / "index.html").read_text(encoding="utf-8")
    paths = re.findall(r'(?:src|href)="(/[^"]+)"', html)
    pending = [p for p in paths if p.endswith(".js")]
    while pending:
        module = pending.pop()
        text = (web / module.lstrip("/")).read_text(encoding="utf-8")
        for name in re.findall(r'^import [^;]*? from "\./([\w/.-]+)"', text, re.M):
            found = str(Path(module).parent / name)
            if found not in paths:
                paths.append(found)
                pending.append(found)
    return ["/", *paths, *_FIRST_SCREEN_EXTRA]


def scenario_dashboard(bench: Bench) -> list[Row]:
    """Bytes and time to fetch the dashboard's first screen over one
    keep-alive connection, as plain bytes and as served gzipped."""
    paths = _first_screen_paths()
    conn = http.client.HTTPConnection("127.0.0.1", bench.gateway_port, timeout=10)
    rows: list[Row] = []
    try:
        for encoding in ("identity", "gzip"):
            sizes, times = [], []
            for _ in range(5):
                started, total = time.perf_counter(), 0
                for path in paths:
                    conn.request("GET", path, headers={"accept-encoding": encoding})
                    reply = conn.getresponse()
                    body = reply.read()
                    if reply.status != 200:
                        raise BenchError(f"dashboard: {path} answered {reply.status}")
                    total += len(body)
                times.append((time.perf_counter() - started) * 1000)
                sizes.append(total)
            label = "gzipped" if encoding == "gzip" else "plain"
            rows.append(Row(f"dashboard first screen, {len(paths)} files {label}", "KB", None,
                            sizes[-1] / 1024))
            rows.append(Row(f"dashboard first screen fetch {label} p50", "ms", None,
                            percentile(times, 0.5)))
    finally:
        conn.close()
    return rows


def _fill_request_log(db: Path, count: int, days: float) -> None:
    """``count`` request-log rows, in time order over the last ``days`` days,
    written the way the gateway writes them (batches through the writer's
    code, which keeps the daily roll-up)."""
    import random
    import sqlite3

    sys.path.insert(0, str(REPO))
    from omniroute.store.records import RequestLogRow
    from omniroute.store.request_log import RequestLogBuffer

    rng = random.Random(11)
    providers = [("openai", "gpt-5"), ("anthropic", "claude-sonnet-4-5"), ("groq", "llama"),
                 ("deepseek", "deepseek-chat"), ("gemini", "gemini-2.5-pro")]
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    buffer = RequestLogBuffer(limit=50_000)
    start = time.time() - days * 86_400
    step = days * 86_400 / count
    try:
        for i in range(count):
            provider, model = providers[i % 5]
            buffer.add(RequestLogRow(
                ts=start + i * step, request_id=f"bench-{i}", model=f"{provider}/{model}",
                status=200 if rng.random() > 0.03 else 502, latency_ms=rng.uniform(50, 900),
                client_key_id=None, resolved_model=model, provider=provider,
                account_id=1 + i % 3, input_tokens=rng.randint(100, 9000),
                output_tokens=rng.randint(10, 2000), cached_tokens=rng.randint(0, 100),
                cost=rng.uniform(0, 0.02)))
            if len(buffer) >= 50_000:
                buffer.flush(conn)
        buffer.flush(conn)
    finally:
        conn.close()


def _usage_query_ms(db: Path) -> list[float]:
    """The store function behind ``omniroute usage`` and ``/api/usage``, timed
    in this process (the command's own time is mostly Python starting)."""
    import sqlite3

    from omniroute.store.usage_hourly import usage

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        now, times = time.time(), []
        for group in ("day", "provider", "model") * 3:
            started = time.perf_counter()
            usage(conn, group, None, now - 30 * 86_400, now)
            times.append((time.perf_counter() - started) * 1000)
        return times
    finally:
        conn.close()


def _copy_data_dir(source: Path, target: Path) -> None:
    """A consistent copy of the gateway's database (and its key) to fill."""
    import shutil
    import sqlite3

    target.mkdir(mode=0o700)
    shutil.copy2(source / "secret.key", target / "secret.key")
    src = sqlite3.connect(source / "omniroute.db")
    dst = sqlite3.connect(target / "omniroute.db")
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def scenario_usage(bench: Bench) -> list[Row]:
    """Usage questions over a large request log (a copy of the database with
    1,000,000 generated rows over 30 days; 100,000 with --quick): the
    ``omniroute usage`` command (a whole process, start-up included) and
    ``GET /api/usage?group=day`` on a gateway serving that copy."""
    count = bench.sizes.usage_rows
    copy = bench.data_dir / "usage-copy"
    _copy_data_dir(bench.data_dir, copy)
    _fill_request_log(copy / "omniroute.db", count, 30.0)
    base = [sys.executable, "-m", "omniroute"]
    where = ["--data-dir", str(copy)]
    command_ms = []
    for by in ("day", "provider", "model", "day", "provider", "model"):
        started = time.perf_counter()
        done = subprocess.run([*base, "usage", "--by", by, "--since", "30d", *where],
                              capture_output=True, text=True, timeout=120, cwd=REPO,
                              env=_clean_env())
        command_ms.append((time.perf_counter() - started) * 1000)
        if done.returncode != 0:
            raise BenchError(f"omniroute usage failed: {done.stderr.strip()[-300:]}")
    started = time.perf_counter()
    subprocess.run([*base, "--version"], capture_output=True, timeout=60, cwd=REPO,
                   env=_clean_env(), check=True)
    bare_ms = (time.perf_counter() - started) * 1000
    query_ms = _usage_query_ms(copy / "omniroute.db")
    port = _free_port()
    log = (copy / "gateway.log").open("a")
    gateway = bench.children.spawn(
        [*base, "serve", "--host", "127.0.0.1", "--port", str(port), *where],
        stdout=log, stderr=subprocess.STDOUT, env=_clean_env())
    log.close()
    try:
        deadline = time.perf_counter() + 60
        while _health_status(port) != 200:
            if gateway.poll() is not None or time.perf_counter() > deadline:
                raise BenchError("the gateway on the usage copy did not come up")
            time.sleep(0.01)
        token = json.loads((copy / "admin.json").read_text())["token"]
        api_ms = []
        for since in ("30d", "7d") * 5:
            started = time.perf_counter()
            answer = _get_json(port, f"/api/usage?group=day&since={since}",
                               {"authorization": f"Bearer {token}"})
            api_ms.append((time.perf_counter() - started) * 1000)
            if not answer or answer["totals"]["requests"] <= 0:
                raise BenchError("GET /api/usage gave no totals")
    finally:
        bench.children.stop(gateway)
    label = f"{count // 1000:,}K rows"
    return [
        Row(f"omniroute usage, {label}, 30 days, p50", "ms", None, percentile(command_ms, 0.5)),
        Row("  of which interpreter start (--version)", "ms", None, bare_ms),
        Row("  of which the store's query (by day, provider, model)", "ms", None,
            percentile(query_ms, 0.5)),
        Row(f"GET /api/usage?group=day, {label}, p50", "ms", None, percentile(api_ms, 0.5)),
        Row(f"GET /api/usage?group=day, {label}, max", "ms", None, max(api_ms)),
    ]


def _cache_answers(port: int, target: Target, deadline: float) -> bool:
    """One request of ``target``: whether the gateway says it is cacheable."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST", target.path, body=target.body,
                     headers={"content-type": "application/json", **dict(target.headers)})
        reply = conn.getresponse()
        reply.read()
        return reply.getheader("x-omniroute-cache") is not None
    except (OSError, http.client.HTTPException):
        return time.monotonic() > deadline
    finally:
        conn.close()


def scenario_cache(bench: Bench) -> list[Row]:
    """JSON latency at concurrency 1 through the gateway: a request the
    response cache does not take (no temperature: the upstream answers each
    time) next to the same request with temperature 0 once it is cached
    (every request after the first is a hit)."""
    uncached = bench.through()
    body = json.loads(uncached.body)
    cached = Target(uncached.port, uncached.path, uncached.headers,
                    json.dumps({**body, "temperature": 0}))
    bench.cli("config", "set", "cache.enabled", "on")
    try:
        deadline = time.monotonic() + 15  # the gateway polls its settings
        while not _cache_answers(bench.gateway_port, cached, deadline):
            if time.monotonic() > deadline:
                raise BenchError("the gateway never turned its response cache on")
            time.sleep(0.1)
        params = {"count": bench.sizes.latency, "warmup": 50}
        miss = bench.load("latency", uncached, **params)
        hit = bench.load("latency", cached, **params)
    finally:
        bench.cli("config", "set", "cache.enabled", "off")
    return [Row(f"JSON latency c=1 {q}: upstream (direct) vs cache hit (gateway)", "ms",
                miss[f"{q}_ms"], hit[f"{q}_ms"]) for q in ("p50", "p99")]


SCENARIOS: list[Callable[[Bench], list[Row]]] = [
    scenario_idle_rss,
    scenario_latency,
    scenario_ttfb,
    scenario_translate,
    scenario_event_delay,
    scenario_slow_first_event,
    scenario_throughput,
    scenario_write_load,
    scenario_open_streams,
    scenario_upload,
    scenario_cache,
    scenario_startup,
    scenario_dashboard,
    scenario_usage,
    scenario_soak,
]

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    digits = 2 if abs(value) < 10 else 1 if abs(value) < 1000 else 0
    return f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}"


def render_text(rows: Sequence[Row], meta: dict[str, Any], notes: Sequence[str]) -> str:
    lines = [f"OmniRoute bench ({meta['mode']}): python {meta['python']}, "
             f"{meta['cpus']} CPUs, {meta['machine']}", ""]
    lines.append(f"{'':40} {'direct':>11} {'gateway':>11} {'difference':>11}")
    for row in rows:
        label = f"{row.name} ({row.unit})"
        lines.append(f"{label:40} {_fmt(row.direct):>11} {_fmt(row.gateway):>11} "
                     f"{_fmt(row.difference, signed=True):>11}")
    lines += ["", *(f"note: {note}" for note in notes)] if notes else []
    return "\n".join(lines)


def render_json(rows: Sequence[Row], meta: dict[str, Any], notes: Sequence[str]) -> str:
    out = [{**asdict(row), "difference": row.difference} for row in rows]
    return json.dumps({"meta": meta, "rows": out, "notes": list(notes)}, indent=2)


@contextmanager
def _terminate_on_signals() -> Iterator[None]:
    """SIGTERM/SIGHUP unwind like Ctrl-C, so the finally blocks stop the children."""

    def leave(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, leave) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _compile_bytecode() -> None:
    """Compile the package as an install does (pip and pipx write the .pyc
    files), so the start-up row measures an installed gateway even where
    PYTHONDONTWRITEBYTECODE is set."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "omniroute")],
                   check=True, timeout=120, cwd=REPO)


def _raise_fd_limit() -> None:
    """1,000 held streams need ~2,000 descriptors in the gateway; children inherit this."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 8192 if hard == resource.RLIM_INFINITY else min(8192, hard)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def conduct(args: argparse.Namespace) -> int:
    _raise_fd_limit()
    sizes = Sizes.pick(args.quick, args.streams, args.duration)
    rows: list[Row] = []
    children = Children()
    with tempfile.TemporaryDirectory(prefix="omniroute-bench-") as tmp, _terminate_on_signals():
        bench = Bench(sizes, children, Path(tmp))
        try:
            _compile_bytecode()
            bench.start_upstream()
            bench.configure_gateway()
            bench.start_gateway()
            chosen = [s for s in SCENARIOS if s is scenario_soak] if args.soak else SCENARIOS
            if args.only:
                wanted = {f"scenario_{name.strip()}" for name in args.only.split(",")}
                chosen = [s for s in SCENARIOS if s.__name__ in wanted]
            for scenario in chosen:
                try:
                    rows += scenario(bench)
                except BenchError as exc:
                    bench.notes.append(f"{scenario.__name__} failed: {exc}")
        finally:
            children.stop_all()
    mode = ("quick" if args.quick else "full") + (" soak" if args.soak else "")
    meta = {"mode": mode, "python": platform.python_version(),
            "cpus": os.cpu_count(), "machine": platform.machine()}
    print(render_json(rows, meta, bench.notes) if args.json else render_text(rows, meta,
                                                                             bench.notes))
    return 1 if bench.notes else 0


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, for smoke runs")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--streams", type=int, help="open streams to hold (default 1,000)")
    parser.add_argument("--duration", type=float, help="seconds of throughput measurement")
    parser.add_argument("--only", help="only these scenarios, comma-separated (upload,latency…)")
    parser.add_argument("--soak", action="store_true",
                        help="only the failure soak (10,000 streams; 1,000 with --quick)")
    try:
        return conduct(parser.parse_args(argv))
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
