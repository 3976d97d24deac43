"""A refusal that says the plan itself is spent, read from the error body.

Some upstreams say so only in the body of their 429: Codex answers
``usage_limit_reached`` with ``resets_at`` (unix seconds) or
``resets_in_seconds``; Sign in with ChatGPT answers
``subscription_sharing_usage_limit_exceeded``, which may be the plan's limit
or the app's weekly one and names no reset time. Either marks the account's
plan window full, until the reset when one is given, else for
``UNKNOWN_RESET`` seconds, after which one request finds out again.
(Claude's refusal is in its headers: ``readers.anthropic_headers``.)
A plain ``rate_limit_exceeded`` is a short burst limit, not a spent plan,
and is left to the cooldowns.
"""

from __future__ import annotations

import json
from typing import Any

from omniroute.providers.quota.window import Window

UNKNOWN_RESET = 900.0  # seconds a spent plan with no reset time is left alone
PLAN = "plan"


def exhausted(status: int, body: bytes, now: float) -> list[Window]:
    if status != 429 or not body:
        return []
    try:
        obj: Any = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        return []
    err = obj.get("error") if isinstance(obj, dict) else None
    if not isinstance(err, dict):
        return []
    kinds = {err.get("type"), err.get("code")}
    if "usage_limit_reached" in kinds:
        return [Window(PLAN, 1.0, _reset(err, now), source="error")]
    if "subscription_sharing_usage_limit_exceeded" in kinds:
        return [Window(PLAN, 1.0, now + UNKNOWN_RESET, source="error")]
    return []


def _reset(err: dict[str, Any], now: float) -> float:
    at, within = err.get("resets_at"), err.get("resets_in_seconds")
    if isinstance(at, int | float) and not isinstance(at, bool) and at > now:
        return float(at)
    if isinstance(within, int | float) and not isinstance(within, bool) and within > 0:
        return now + float(within)
    return now + UNKNOWN_RESET
