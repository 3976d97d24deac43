from __future__ import annotations

import pytest

# Asserts inside shared test helpers report like those in test modules.
pytest.register_assert_rewrite("tests.formats.helpers", "tests.support")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
