"""Every refusal of the real command is one line on stderr with exit status 2,
named after the (sub)command that refused; numbers are checked when the
command line is read, before anything is opened."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.harness import REPO, run_cli


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIROUTE_")}
    env.update(extra)
    return env


def _one_line_refusal(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    return done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--port", "99999"],
        ["--port", "-1"],
        ["serve", "--port", "65536"],
        ["serve", "--port", "http"],
    ],
)
def test_a_port_out_of_range_is_one_line(tmp_path: Path, args: list[str]) -> None:
    data = tmp_path / "data"
    refused = _one_line_refusal(run_cli(*args, data_dir=data, check=False))
    assert "--port" in refused and "0 to 65535" in refused
    assert not data.exists()  # refused while reading the command line


def test_a_port_out_of_range_from_the_environment_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "omniroute", "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(OMNIROUTE_PORT="70000"),
        cwd=REPO,
    )
    assert "0 to 65535" in _one_line_refusal(done)


def test_port_zero_serves_on_any_free_port(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "omniroute", "serve", "--port", "0", "--data-dir", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=REPO,
    )
    try:
        admin = data / "admin.json"
        deadline = time.monotonic() + 30
        while not admin.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the gateway did not start within 30 s"
            time.sleep(0.05)
        url = re.search(r'"url": "(http://127\.0\.0\.1:(\d+))"', admin.read_text())
        assert url is not None and int(url.group(2)) > 0
        with urllib.request.urlopen(url.group(1) + "/health", timeout=10) as answer:
            assert answer.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["key", "revoke", "99999999999999999999999"], "argument id: needs a whole number"),
        (["account", "set", "0", "--enable"], "argument id: needs a whole number"),
        (
            ["provider", "add", "p", "--api-key", "k", "--priority", "1e30"],
            "argument --priority: needs a whole number",
        ),
        (["provider", "set", "p", "--rpm", "99999999999999999999"], "argument --rpm"),
        (["provider", "set", "p", "--min-gap", "nan"], "argument --min-gap: needs a number"),
        (["account", "set", "1", "--max-queue", "-1"], "argument --max-queue"),
        (["combo", "add", "c", "a/b", "--weights", "1e99"], "argument --weights"),
        (["config", "set", "breaker.window", "inf"], "breaker.window needs a number"),
        (["config", "set", "fallback.max-attempts", "7.5"], "needs a whole number"),
    ],
)
def test_numbers_are_checked_when_the_command_line_is_read(
    tmp_path: Path, args: list[str], words: str
) -> None:
    data = tmp_path / "data"
    refused = _one_line_refusal(run_cli(*args, data_dir=data, check=False))
    assert words in refused
    prog = " ".join(["omniroute", *args[:2]])
    assert refused.startswith(f"{prog}: ")
    assert not data.exists()


def test_an_unknown_option_is_reported_by_its_subcommand(tmp_path: Path) -> None:
    refused = _one_line_refusal(
        run_cli("provider", "add", "x", "--bogus", data_dir=tmp_path / "d", check=False)
    )
    assert refused.startswith("omniroute provider add: unrecognized arguments: --bogus")
    assert "`omniroute provider add --help`" in refused
    assert "COMMAND" not in refused  # not the top-level usage


@pytest.mark.parametrize(
    ("args", "prog", "words"),
    [
        (["provider"], "omniroute provider", "required: ACTION"),
        (["account", "set", "1", "--enable", "--disable"], "omniroute account set", "not allowed"),
        (["config", "set", "no.such.key", "1"], "omniroute config set", "invalid choice"),
        (["frobnicate"], "omniroute", "invalid choice"),
    ],
)
def test_usage_errors_are_one_line(tmp_path: Path, args: list[str], prog: str, words: str) -> None:
    refused = _one_line_refusal(run_cli(*args, data_dir=tmp_path / "d", check=False))
    assert refused.startswith(f"{prog}: ") and words in refused


def test_serve_has_no_dashboard_option_yet(tmp_path: Path) -> None:
    # The dashboard is not opened by anything yet, so no option pretends to stop it.
    for args in (["--help"], ["serve", "--help"]):
        assert "--no-open" not in run_cli(*args, data_dir=tmp_path / "d").stdout
    refused = _one_line_refusal(run_cli("serve", "--no-open", data_dir=tmp_path, check=False))
    assert "unrecognized arguments: --no-open" in refused
