"""The package metadata ships every module and the dashboard."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from omniroute.app import web_root

REPO = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_for_installation() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "omniroute").rglob("__init__.py")
    }
    assert on_disk <= listed, f"add to pyproject.toml: {sorted(on_disk - listed)}"
    assert "omniroute.web" in listed and config["package-dir"]["omniroute.web"] == "web"


def test_runtime_dependencies_are_exactly_the_allowed_ones() -> None:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    names = sorted(d.split(">")[0].split("=")[0].split("<")[0].strip().lower() for d in deps)
    assert names == ["certifi", "cryptography", "h11", "httpx", "python-socks"]


def test_the_dashboard_files_are_found() -> None:
    assert (web_root() / "index.html").is_file()


def test_the_license_is_an_spdx_expression() -> None:
    # setuptools stops building projects whose license is a table after 2027-02-18.
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "MIT"
    requires = pyproject["build-system"]["requires"]
    assert "setuptools>=77" in requires  # the first to read an SPDX expression


def test_the_service_unit_runs_what_the_readme_installs() -> None:
    unit = (REPO / "omniroute.service").read_text()
    readme = (REPO / "README.md").read_text()
    exec_start = re.search(r"^ExecStart=(\S+) serve --data-dir (\S+)$", unit, re.MULTILINE)
    user = re.search(r"^User=(\S+)$", unit, re.MULTILINE)
    state = re.search(r"^StateDirectory=(\S+)$", unit, re.MULTILINE)
    assert exec_start and user and state
    binary, data_dir = exec_start.groups()
    assert data_dir == f"/var/lib/{state.group(1)}"  # the directory systemd creates for it
    # The documented install puts the command where the unit runs it from,
    # with a pipx that Debian 12 and Ubuntu 22.04 ship (no --global there).
    install = f"sudo PIPX_HOME=/opt/pipx PIPX_BIN_DIR={binary.rpartition('/')[0]} pipx install ."
    assert install in readme and install in unit
    assert "--global" not in unit
    assert f"useradd --system --home {data_dir} " in readme
    assert f"sudo -u {user.group(1)} omniroute status --data-dir {data_dir}" in readme
    assert f"sudo -u {user.group(1)} omniroute key create --data-dir {data_dir}" in readme
