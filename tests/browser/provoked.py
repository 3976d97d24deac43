"""Statuses a test provokes on purpose (a 400 from a bad value, a 401 from a
wrong password): allowed in the watcher, and so is the console line
Chromium writes about each of them."""

from __future__ import annotations

from tests.browser.conftest import Watch

_LINE = "the server responded with a status of "


def allow(watch: Watch, *statuses: int) -> None:
    watch.allowed_statuses.update(statuses)


def assert_clean(watch: Watch) -> None:
    watch.errors[:] = [
        e for e in watch.errors if not any(f"{_LINE}{s} " in e for s in watch.allowed_statuses)
    ]
    watch.assert_clean()
