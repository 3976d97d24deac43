from __future__ import annotations

# Conversation memory is tested against a real store: the store tests' fixtures.
from tests.store.conftest import data_dir, no_leftover_store_threads, settings

__all__ = ["data_dir", "no_leftover_store_threads", "settings"]
