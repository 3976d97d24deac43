from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

# Asserts inside shared test helpers report like those in test modules.
pytest.register_assert_rewrite("tests.formats.helpers", "tests.support")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def info_logs() -> Iterator[None]:
    """The gateway's INFO records reach its handlers (as under `omniroute serve`)."""
    logger = logging.getLogger("omniroute")
    before = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(before)
