"""Every quota reader against the headers and bodies its provider sends.

The bodies follow the shapes each provider's own console or CLI reads (see
``omniroute/providers/quota/readers.py``); the times are fixed so every
reset is exact.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from omniroute.errors import ConfigError
from omniroute.providers.catalog import Catalog
from omniroute.providers.quota import READERS, UNKNOWN_RESET, Window, exhausted, parse_limits
from omniroute.providers.quota.readers import (
    kimi_url,
    minimax_url,
    zai_url,
)

NOW = 1_800_000_000.0  # a fixed wall-clock moment (2027-01-15)


def windows(reader: str, headers: dict[str, str], model: str = "m") -> dict[str, Window]:
    return {w.name: w for w in READERS[reader].from_headers(headers, NOW, model)}


def parsed(reader: str, body: Any) -> dict[str, Window]:
    endpoint = READERS[reader].endpoint
    assert endpoint is not None
    return {w.name: w for w in endpoint.parse(body, NOW)}


# ------------------------------------------------------------------ anthropic


def test_anthropic_unified_windows_are_fractions_with_unix_resets() -> None:
    found = windows(
        "anthropic",
        {
            "Anthropic-Ratelimit-Unified-Status": "allowed_warning",
            "anthropic-ratelimit-unified-5h-status": "allowed",
            "anthropic-ratelimit-unified-5h-utilization": "0.96",
            "anthropic-ratelimit-unified-5h-reset": str(int(NOW) + 3600),
            "anthropic-ratelimit-unified-7d-status": "allowed",
            "anthropic-ratelimit-unified-7d-utilization": "0.4",
            "anthropic-ratelimit-unified-7d-reset": str(int(NOW) + 86400),
            "anthropic-ratelimit-unified-representative-claim": "five_hour",
        },
    )
    assert set(found) == {"5h", "7d"}
    assert found["5h"] == Window("5h", 0.96, NOW + 3600, scope="account")
    assert found["7d"].used_fraction == 0.4 and found["7d"].resets_at == NOW + 86400


def test_anthropic_other_windows_limit_only_the_model_asked_for() -> None:
    found = windows(
        "anthropic",
        {
            "anthropic-ratelimit-unified-status": "rejected",
            "anthropic-ratelimit-unified-5h-utilization": "0.2",
            "anthropic-ratelimit-unified-7d_oi-status": "rejected",
            "anthropic-ratelimit-unified-7d_oi-utilization": "0.99",
            "anthropic-ratelimit-unified-7d_oi-reset": str(int(NOW) + 7200),
        },
        model="claude-opus-4-6",
    )
    spent = found["7d_oi"]
    assert spent.scope == "model" and spent.model == "claude-opus-4-6"
    assert spent.used_fraction == 1.0  # rejected: full, whatever the number says
    assert spent.limits("claude-opus-4-6") and not spent.limits("claude-sonnet-4-5")
    assert found["5h"].scope == "account" and "unified" not in found


def test_anthropic_refusal_without_a_named_window_spends_the_plan() -> None:
    found = windows(
        "anthropic",
        {
            "anthropic-ratelimit-unified-status": "rejected",
            "anthropic-ratelimit-unified-reset": str(int(NOW) + 600),
        },
    )
    assert found == {"unified": Window("unified", 1.0, NOW + 600)}


def test_anthropic_answers_without_unified_headers_give_nothing() -> None:
    assert windows("anthropic", {"anthropic-ratelimit-requests-remaining": "10"}) == {}


# --------------------------------------------------------------- openai, github


def test_openai_rate_limit_headers_with_go_durations() -> None:
    found = windows(
        "openai",
        {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "20",
            "x-ratelimit-reset-requests": "6m0s",
            "x-ratelimit-limit-tokens": "40000",
            "x-ratelimit-remaining-tokens": "39000",
            "x-ratelimit-reset-tokens": "20ms",
        },
    )
    assert found["requests"].used_fraction == pytest.approx(0.96)
    assert found["requests"].resets_at == NOW + 360
    assert found["tokens"].used_fraction == pytest.approx(0.025)
    assert found["tokens"].resets_at == pytest.approx(NOW + 0.02)
    only_seconds = windows(
        "openai",
        {
            "x-ratelimit-limit-requests": "10",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "1s",
        },
    )
    assert only_seconds["requests"] == Window("requests", 1.0, NOW + 1)


def test_openai_unreadable_numbers_are_skipped() -> None:
    assert windows("openai", {"x-ratelimit-limit-requests": "0"}) == {}
    assert (
        windows(
            "openai",
            {"x-ratelimit-limit-requests": "x", "x-ratelimit-remaining-requests": "1"},
        )
        == {}
    )


def test_github_models_headers_both_kinds() -> None:
    found = windows(
        "github",
        {
            "x-ratelimit-limit": "150",
            "x-ratelimit-remaining": "6",
            "x-ratelimit-reset": str(int(NOW) + 900),
        },
    )
    assert found["requests"].used_fraction == pytest.approx(0.96)
    assert found["requests"].resets_at == NOW + 900
    tokens = windows(
        "github",
        {"x-ratelimit-limit-tokens": "8000", "x-ratelimit-remaining-tokens": "4000"},
    )
    assert tokens["tokens"].used_fraction == 0.5 and tokens["tokens"].resets_at is None


# ------------------------------------------------------------- coding plans


def test_zai_quota_limit_body() -> None:
    body = {
        "code": 200,
        "msg": "Operation successful",
        "data": {
            "limits": [
                {
                    "type": "TOKENS_LIMIT",
                    "unit": 3,
                    "number": 5,
                    "usage": 800000000,
                    "currentValue": 768000000,
                    "remaining": 32000000,
                    "percentage": 96,
                    "nextResetTime": int(NOW * 1000) + 3_600_000,
                },
                {"type": "TIME_LIMIT", "unit": 5, "number": 1, "usage": 4000, "percentage": 3},
            ]
        },
        "success": True,
    }
    found = parsed("zai", body)
    assert found == {"5h": Window("5h", 0.96, NOW + 3600, source="endpoint")}
    assert zai_url("https://api.z.ai/api/coding/paas/v4") == (
        "https://api.z.ai/api/monitor/usage/quota/limit"
    )


def test_kimi_usages_body() -> None:
    body = {
        "usage": {"limit": "100", "remaining": "74", "resetTime": "2027-01-20T08:00:00.757941Z"},
        "limits": [
            {
                "window": {"duration": 300, "timeUnit": "TIME_UNIT_MINUTE"},
                "detail": {
                    "limit": "100",
                    "remaining": "4",
                    "resetTime": "2027-01-15T09:00:00.123456789Z",
                },
            }
        ],
        "user": {"membership": {"level": "LEVEL_INTERMEDIATE"}},
    }
    found = parsed("kimi", body)
    assert found["weekly"].used_fraction == pytest.approx(0.26)
    assert found["weekly"].resets_at == pytest.approx(1800432000.757941)
    assert found["5h"].used_fraction == pytest.approx(0.96)
    assert found["5h"].resets_at == pytest.approx(1800003600.123456)
    assert kimi_url("https://api.kimi.com/coding/v1") == "https://api.kimi.com/coding/v1/usages"


def test_a_reset_given_as_a_date_is_that_day_in_utc_and_a_zoneless_time_is_none() -> None:
    def weekly_reset(when: str) -> float | None:
        body = {"usage": {"limit": "100", "remaining": "74", "resetTime": when}}
        return parsed("kimi", body)["weekly"].resets_at

    assert weekly_reset("2027-02-01") == datetime(2027, 2, 1, tzinfo=UTC).timestamp()
    assert weekly_reset("2027-02-01T00:00:00") is None


def test_minimax_remains_counts_what_is_left() -> None:
    body = {
        "model_remains": [
            {
                "model_name": "MiniMax-M2",
                "current_interval_total_count": 1500,
                "current_interval_usage_count": 60,  # what is *left*
                "start_time": int(NOW * 1000) - 3_600_000,
                "end_time": int(NOW * 1000) + 7_200_000,
                "remains_time": 7_200_000,
            },
            {
                "current_interval_total_count": 100,
                "current_interval_usage_count": 100,
                "remains_time": 60_000,
            },
        ],
        "base_resp": {"status_code": 0, "status_msg": "success"},
    }
    endpoint = READERS["minimax"].endpoint
    assert endpoint is not None
    first, second = endpoint.parse(body, NOW)
    assert first.used_fraction == pytest.approx(0.96) and first.resets_at == NOW + 7200
    assert first.scope == "model" and first.limits("minimax-m2") and not first.limits("other")
    assert second.scope == "account" and second.used_fraction == 0.0
    assert second.resets_at == NOW + 60
    assert minimax_url("https://api.minimax.io/anthropic/v1") == (
        "https://api.minimax.io/v1/api/openplatform/coding_plan/remains"
    )


@pytest.mark.parametrize("reader", ["zai", "kimi", "minimax"])
@pytest.mark.parametrize("body", [None, [], "text", {"data": 3}, {"limits": "x"}])
def test_an_unexpected_body_gives_no_windows(reader: str, body: Any) -> None:
    assert parsed(reader, body) == {}


# ---------------------------------------------------------- spent-plan bodies


def test_codex_usage_limit_reached_marks_the_plan_until_its_reset() -> None:
    body = json.dumps(
        {
            "error": {
                "type": "usage_limit_reached",
                "message": "You have hit your ChatGPT usage limit (plus plan).",
                "plan_type": "plus",
                "resets_at": int(NOW) + 5000,
            }
        }
    ).encode()
    assert exhausted(429, body, NOW) == [Window("plan", 1.0, NOW + 5000, source="error")]
    relative = json.dumps({"error": {"type": "usage_limit_reached", "resets_in_seconds": 60}})
    assert exhausted(429, relative.encode(), NOW)[0].resets_at == NOW + 60


def test_chatgpt_sharing_limit_has_no_reset_so_a_cautious_one() -> None:
    body = json.dumps(
        {
            "error": {
                "message": "usage limit reached",
                "type": "invalid_request_error",
                "code": "subscription_sharing_usage_limit_exceeded",
            }
        }
    ).encode()
    assert exhausted(429, body, NOW) == [Window("plan", 1.0, NOW + UNKNOWN_RESET, source="error")]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (429, b'{"error": {"type": "rate_limit_exceeded", "message": "slow down"}}'),
        (400, b'{"error": {"type": "usage_limit_reached"}}'),
        (429, b"not json"),
        (429, b""),
        (429, b'["error"]'),
    ],
)
def test_other_refusals_spend_nothing(status: int, body: bytes) -> None:
    assert exhausted(status, body, NOW) == []


# -------------------------------------------------------------------- catalog


def test_the_catalog_names_only_known_readers() -> None:
    catalog = Catalog.load()
    named = {p.id: p.quota for p in catalog.all() if p.quota}
    assert set(named.values()) <= set(READERS)
    assert named["anthropic"] == "anthropic" and named["openai"] == "openai"
    assert named["zai-coding"] == "zai" and named["minimax-coding"] == "minimax"
    assert catalog.get("kimi-for-coding").to_json()["quota"] == "kimi"  # type: ignore[union-attr]


def _entry(**extra: Any) -> dict[str, Any]:
    return {
        "providers": [
            {
                "id": "plan",
                "alias": "pl",
                "name": "Plan",
                "format": "openai",
                "base_url": "https://plan.example/v1",
                "auth": "api_key",
                "auth_header": "bearer",
                "tier": "subscription",
                **extra,
            }
        ]
    }


def test_catalog_quota_fields_are_checked() -> None:
    catalog = Catalog.from_data(
        _entry(quota="zai", quota_limits=[{"window": "5h", "requests": 200}])
    )
    entry = catalog.get("plan")
    assert entry is not None and entry.quota == "zai"
    assert entry.to_json()["quota_limits"] == [{"window": "5h", "requests": 200, "tokens": None}]
    with pytest.raises(ConfigError, match="unknown quota reader 'nope'"):
        Catalog.from_data(_entry(quota="nope"))
    for bad in (
        {"window": "5 hours", "requests": 1},
        {"window": "5h"},
        {"window": "5h", "requests": 1, "tokens": 2},
        {"window": "5h", "requests": 0},
        {"window": "5h", "requests": True},
        {"window": "5h", "requests": 1, "extra": 1},
    ):
        with pytest.raises(ConfigError, match="quota limit"):
            Catalog.from_data(_entry(quota_limits=[bad]))
    assert parse_limits(None, "x") == ()
