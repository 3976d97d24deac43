"""Query parameters of the read routes: whole numbers and moments in time.

A bad value is a 400 naming the parameter; an absent or empty one is None.
"""

from __future__ import annotations

import re
import time

from omniroute.errors import BadRequest
from omniroute.http.message import Request

# "24h", "7d", "30d": that long before now.
_AGO = re.compile(r"(\d{1,6})([hd])")
_SECONDS = re.compile(r"\d{1,12}(\.\d{1,6})?")
_UNIT = {"h": 3600, "d": 86_400}
MAX_AGO = 3660 * 86_400  # ten years: more is a typo, not a period


def whole(request: Request, name: str, low: int, high: int) -> int | None:
    """A whole-number query parameter from ``low`` to ``high``."""
    text = request.query.get(name)
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise BadRequest(f"'{name}' must be a whole number from {low} to {high}")
    return int(text)


def moment(request: Request, name: str, *, ago: bool = False) -> float | None:
    """Unix seconds; with ``ago``, also a span before now such as 24h or 7d."""
    return moment_of(name, request.query.get(name), ago=ago)


def moment_of(name: str, text: str | None, *, ago: bool = False) -> float | None:
    """``moment`` for a value given some other way than a query (an MCP tool's
    argument, say); errors name it the same."""
    if not text:
        return None
    if _SECONDS.fullmatch(text):
        return float(text)
    span = _AGO.fullmatch(text) if ago else None
    if span is not None and 0 < int(span[1]) * _UNIT[span[2]] <= MAX_AGO:
        return time.time() - int(span[1]) * _UNIT[span[2]]
    spans = " or a span before now such as 24h, 7d, 30d" if ago else ""
    raise BadRequest(f"'{name}' must be unix seconds{spans}")


def period(request: Request, since: float, until: float) -> tuple[float, float]:
    """``since`` (which may be a span) and ``until``, else the defaults given;
    since must come first."""
    return period_of(request.query.get("since"), request.query.get("until"), since, until)


def period_of(
    since_text: str | None, until_text: str | None, since: float, until: float
) -> tuple[float, float]:
    """``period`` from the two values as text."""
    start = moment_of("since", since_text, ago=True)
    end = moment_of("until", until_text)
    start = since if start is None else start
    end = until if end is None else end
    if start >= end:
        raise BadRequest("'since' must be before 'until'")
    return start, end
