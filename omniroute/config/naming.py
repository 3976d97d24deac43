"""How a caller's inputs are named in the errors of rules the CLI and the
management API share: ``--api-key`` on the command line, ``'api_key'`` in a
JSON body."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Naming:
    field: Callable[[str], str]  # "api_key" -> "--api-key" or "'api_key'"
    catalog: str  # where the provider catalog is listed
    option: str  # what one input is called: "option" or "field"
