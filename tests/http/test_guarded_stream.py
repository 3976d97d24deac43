from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from omniroute.http.message import GuardedStream

pytestmark = pytest.mark.anyio


async def _numbers(log: list[str]) -> AsyncIterator[bytes]:
    try:
        for n in range(3):
            yield str(n).encode()
    finally:
        log.append("generator finally")


async def test_cleanup_runs_once_when_closed_before_first_step() -> None:
    log: list[str] = []

    async def cleanup() -> None:
        log.append("cleanup")

    stream = GuardedStream(_numbers(log), cleanup)
    await stream.aclose()
    await stream.aclose()
    # A never-started generator skips its own finally; the guard does not.
    assert log == ["cleanup"]


async def test_cleanup_runs_at_the_end_and_after_a_partial_read() -> None:
    log: list[str] = []

    async def cleanup() -> None:
        log.append("cleanup")

    assert [c async for c in GuardedStream(_numbers(log), cleanup)] == [b"0", b"1", b"2"]
    assert log == ["generator finally", "cleanup"]
    log.clear()
    partial = GuardedStream(_numbers(log), cleanup)
    assert await partial.__anext__() == b"0"
    await partial.aclose()
    assert log == ["generator finally", "cleanup"]


async def test_cleanup_runs_when_the_source_fails() -> None:
    log: list[str] = []

    async def broken() -> AsyncIterator[bytes]:
        yield b"x"
        raise RuntimeError("upstream gone")

    async def cleanup() -> None:
        log.append("cleanup")

    stream = GuardedStream(broken(), cleanup)
    assert await stream.__anext__() == b"x"
    with pytest.raises(RuntimeError):
        await stream.__anext__()
    assert log == ["cleanup"]
