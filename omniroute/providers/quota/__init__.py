"""Provider quotas: usage windows read from headers, usage endpoints and
error bodies, or estimated from our own counts; kept per account in a
``QuotaBook`` that routing asks before it picks an account."""

from __future__ import annotations

from omniroute.providers.quota.book import Block, QuotaBook
from omniroute.providers.quota.estimate import Estimates, QuotaLimit, parse_limits
from omniroute.providers.quota.exhausted import UNKNOWN_RESET, exhausted
from omniroute.providers.quota.readers import FORMAT_READERS, READERS, Endpoint, Reader, reader
from omniroute.providers.quota.window import Window

DEFAULT_SKIP_AT = 0.95  # an account this full is left alone until its window resets

__all__ = [
    "Block",
    "DEFAULT_SKIP_AT",
    "Endpoint",
    "Estimates",
    "FORMAT_READERS",
    "QuotaBook",
    "QuotaLimit",
    "READERS",
    "Reader",
    "UNKNOWN_RESET",
    "Window",
    "exhausted",
    "parse_limits",
    "reader",
]
