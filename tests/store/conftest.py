from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from omniroute.settings import Settings


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    # Not created yet: the store must create it (mode 0700).
    return tmp_path / "data"


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    # A long flush interval: rows reach the disk only when a test says so,
    # unless the test asks for a short interval itself.
    return Settings(data_dir=data_dir, log_flush_interval=30.0)


@pytest.fixture(autouse=True)
def no_leftover_store_threads() -> Iterator[None]:
    yield
    left = [t.name for t in threading.enumerate() if t.name.startswith("omniroute-store-")]
    assert left == [], f"store threads still running: {left}"
