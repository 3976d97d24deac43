"""The ``omniroute`` command: one module per command group."""

from __future__ import annotations

from omniroute.cli.main import main

__all__ = ["main"]
