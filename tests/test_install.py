"""The package builds and installs the way the README tells users to do it.

These tests download from the package index (setuptools for the isolated
build, pipx and the runtime dependencies), so they are marked ``packaging``.
They are skipped only when pip cannot reach any index; any other failure is a
failure. The checkout is copied first: an in-tree build writes ``build/`` and
``*.egg-info`` beside the sources, and the working copy is not ours to write.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from omniroute import __version__

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.packaging

# What pip prints when no index answers (DNS, refused, unreachable, timed out,
# a proxy in the way); any other failure must fail the test.
_OFFLINE = re.compile(
    r"Failed to establish a new connection|Temporary failure in name resolution|"
    r"Name or service not known|Network is unreachable|No route to host|Connection refused|"
    r"ConnectTimeoutError|Read timed out|ProxyError|Could not fetch URL"
)
_NOT_FOUND = re.compile(r"No matching distribution found|Could not find a version that satisfies")
_COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMNIROUTE_", "PIPX_"))}
    env.pop("DATA_DIR", None)
    env.pop("PYTHONPATH", None)  # the installed command must not see this checkout
    # Fail fast when the index is unreachable instead of retrying for minutes.
    env.update(PIP_DEFAULT_TIMEOUT="30", PIP_RETRIES="2", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.update(extra)
    return env


def _run(
    args: list[str], *, timeout: float, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd, check=False
    )


def _needs_index(done: subprocess.CompletedProcess[str], what: str) -> None:
    """Skip when ``done`` (a pip run) failed for want of a package index;
    fail on any other error."""
    if done.returncode == 0:
        return
    output = done.stdout + done.stderr
    offline = _OFFLINE.search(output)
    # Only when that left pip without the package: an unreachable extra index
    # next to a working one must not hide a build that failed.
    if offline and _NOT_FOUND.search(output):
        pytest.skip(f"pip could not reach a package index ({offline.group(0)}) during {what}")
    pytest.fail(f"{what} failed (exit {done.returncode}):\n{output[-3000:]}")


def _checkout_copy(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=_COPY_IGNORE)
    return source


def test_the_wheel_declares_its_license_as_an_spdx_expression(tmp_path: Path) -> None:
    source = _checkout_copy(tmp_path)
    out = tmp_path / "wheels"
    done = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(source)],
        timeout=300,
        env=_env(),
        cwd=tmp_path,
    )
    _needs_index(done, "pip wheel")
    (wheel,) = out.glob("omniroute-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    headers = metadata.split("\n\n", 1)[0].splitlines()
    assert "License-Expression: MIT" in headers
    assert not any(line.startswith("License:") for line in headers)
    assert "project.license" not in done.stderr  # no deprecation warning about it


def test_pipx_1_1_installs_the_command_the_way_the_readme_says(tmp_path: Path) -> None:
    """Debian 12, Raspberry Pi OS bookworm and Ubuntu 22.04 ship pipx 1.1 or
    older, which has no ``--global``: the README installs with PIPX_HOME and
    PIPX_BIN_DIR instead. This runs that command shape with pipx 1.1.0."""
    readme = (REPO / "README.md").read_text()
    assert "PIPX_HOME=/opt/pipx PIPX_BIN_DIR=/usr/local/bin pipx install ." in readme
    source = _checkout_copy(tmp_path)
    venv = tmp_path / "pipx-venv"
    done = _run([sys.executable, "-m", "venv", str(venv)], timeout=120, env=_env(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    python = venv / "bin" / "python"
    done = _run(
        [str(python), "-m", "pip", "install", "pipx==1.1.0"],
        timeout=300,
        env=_env(),
        cwd=tmp_path,
    )
    _needs_index(done, "pip install pipx==1.1.0")

    home, bin_dir = tmp_path / "pipx-home", tmp_path / "bin"
    pipx_env = _env(PIPX_HOME=str(home), PIPX_BIN_DIR=str(bin_dir), USE_EMOJI="0")
    done = _run([str(venv / "bin" / "pipx"), "--version"], timeout=60, env=pipx_env, cwd=tmp_path)
    assert done.stdout.strip() == "1.1.0", done.stdout + done.stderr
    done = _run(
        [str(venv / "bin" / "pipx"), "install", str(source)],
        timeout=600,
        env=pipx_env,
        cwd=tmp_path,
    )
    _needs_index(done, "pipx install")

    command = bin_dir / "omniroute"
    assert command.is_file(), sorted(p.name for p in bin_dir.iterdir())
    assert str(command.resolve()).startswith(str(home / "venvs" / "omniroute"))
    env = _env()
    version = _run([str(command), "--version"], timeout=60, env=env, cwd=tmp_path)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"omniroute {__version__}"
    data = tmp_path / "data"
    keys = _run(
        [str(command), "key", "list", "--data-dir", str(data)], timeout=60, env=env, cwd=tmp_path
    )
    assert keys.returncode == 0, keys.stderr
    assert "no client keys yet" in keys.stdout
    assert (data / "omniroute.db").is_file()
