"""Runtime options: the typed view read leniently from what is stored, and the
strict checks every value passes before it is written."""

from __future__ import annotations

import logging
from types import MappingProxyType
from typing import Any

import pytest

from omniroute.config.options import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_SECONDS,
    BreakerOptions,
    CooldownOptions,
    FallbackOptions,
    Options,
    ProviderOptions,
    check_extra,
    check_setting,
    egress_proxy,
)
from omniroute.errors import BadRequest
from omniroute.routing.ratelimit import Limits

PASSWORD = "hunter2-pr0xy"
PROXY = f"socks5://alice:{PASSWORD}@proxy.test:1080"


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# -- Options.read ------------------------------------------------------------------


def test_defaults() -> None:
    options = Options.read({})
    assert options == Options()
    assert options.proxy is None and options.system_prompt is None
    assert options.account_strategy == "fill-first"
    assert options.breaker == BreakerOptions(None, None, None)
    assert options.cooldown == CooldownOptions(None, None, None)
    assert options.fallback == FallbackOptions(DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_SECONDS)


def test_typed_groups() -> None:
    options = Options.read(
        {
            "breaker": {"failure_threshold": 3, "window": 30, "cooldown": 0},
            "cooldown": {"base": 2, "factor": 1.5, "cap": 120},
            "fallback": {"max_seconds": 45},
            "account_strategy": "least-used",
            "proxy": f"  {PROXY} ",
            "system_prompt": "  Answer in French.\n",
        }
    )
    assert options.breaker == BreakerOptions(3, 30.0, 0.0)
    assert isinstance(options.breaker.window, float)
    assert options.cooldown == CooldownOptions(2.0, 1.5, 120.0)
    assert options.fallback == FallbackOptions(DEFAULT_MAX_ATTEMPTS, 45.0)
    assert options.account_strategy == "least-used"
    assert options.proxy == PROXY
    assert options.system_prompt == "Answer in French."


def test_blank_system_prompt_is_none() -> None:
    assert Options.read({"system_prompt": " \n\t"}).system_prompt is None


def test_unknown_keys_and_nulls_are_ignored_quietly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="omniroute.config"):
        options = Options.read(
            {"theme": "dark", "breaker_state": {"x": 1}, "proxy": None, "fallback": None}
        )
    assert options == Options()
    assert warnings(caplog) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("fallback", {"max_attempts": 0}),
        ("fallback", {"max_attempts": 2.5}),
        ("fallback", {"retries": 3}),
        ("breaker", {"failure_threshold": True}),
        ("breaker", "often"),
        ("cooldown", {"base": 10, "cap": 1}),
        ("cooldown", {"factor": 0.5}),
        ("account_strategy", "fastest"),
        ("system_prompt", 42),
        ("proxy", "ftp://proxy.test:21"),
    ],
)
def test_invalid_stored_value_is_ignored_with_a_warning(
    key: str, value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="omniroute.config"):
        options = Options.read({key: value})
    assert getattr(options, key) == getattr(Options(), key)
    (warning,) = warnings(caplog)
    assert repr(key) in warning


def test_other_settings_survive_an_invalid_one() -> None:
    options = Options.read({"fallback": {"max_attempts": -1}, "breaker": {"window": 5}})
    assert options.fallback == FallbackOptions()
    assert options.breaker == BreakerOptions(window=5.0)


def test_invalid_stored_proxy_warning_hides_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="omniroute.config"):
        options = Options.read({"proxy": f"https://alice:{PASSWORD}@proxy.test:8443"})
    assert options.proxy is None
    assert warnings(caplog) and not any(PASSWORD in w for w in warnings(caplog))
    assert PASSWORD not in repr(Options.read({"proxy": PROXY}))


# -- ProviderOptions.read ----------------------------------------------------------


def test_provider_options_read() -> None:
    options = ProviderOptions.read(
        {
            "catalog": " openai ",
            "proxy": "direct",
            "limits": {"rpm": 60, "max_concurrent": 2},
            "headers": {"X-Team": "blue"},
            "alias": "my-oai",
            "notes": "kept elsewhere",
        }
    )
    assert options.catalog == "openai"
    assert options.proxy == "direct"
    assert options.limits == Limits(rpm=60, max_concurrent=2)
    assert dict(options.headers) == {"X-Team": "blue"}
    assert isinstance(options.headers, MappingProxyType)
    assert options.alias == "my-oai"


def test_provider_options_defaults() -> None:
    options = ProviderOptions.read({})
    assert options == ProviderOptions()
    assert options.limits is None and dict(options.headers) == {}


def test_provider_options_invalid_values_are_ignored_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    extra = {
        "catalog": "  ",
        "proxy": f"ftp://bob:{PASSWORD}@proxy.test",
        "limits": {"rpm": 0},
        "headers": {"bad name": "x"},
        "alias": "no spaces allowed",
    }
    with caplog.at_level(logging.WARNING, logger="omniroute.config"):
        options = ProviderOptions.read(extra, "provider 'acme'")
    assert options == ProviderOptions()
    found = warnings(caplog)
    assert len(found) == len(extra)
    assert all("provider 'acme'" in w for w in found)
    assert {key for key in extra if any(repr(key) in w for w in found)} == set(extra)
    assert not any(PASSWORD in w for w in found)


# -- check_setting -----------------------------------------------------------------


def test_check_setting_normalises_known_values() -> None:
    assert check_setting("proxy", f" {PROXY} ") == PROXY
    assert check_setting("proxy", "direct") == "direct"
    assert check_setting("breaker", {"window": 10}) == {"window": 10.0}
    assert check_setting("fallback", {"max_attempts": 3}) == {"max_attempts": 3}
    assert check_setting("account_strategy", "p2c") == "p2c"


def test_check_setting_passes_none_and_unknown_keys() -> None:
    assert check_setting("fallback", None) is None
    assert check_setting("theme", {"any": ["json"]}) == {"any": ["json"]}


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("fallback", {"max_attempts": 0}, "fallback.max_attempts"),
        ("fallback", {"max_seconds": "soon"}, "fallback.max_seconds"),
        ("breaker", {"window": -1}, "breaker.window"),
        ("breaker", {"failure_threshold": 1.5}, "breaker.failure_threshold"),
        ("breaker", {"cooldwn": 3}, "cooldwn"),
        ("breaker", [1, 2], "'breaker'"),
        ("cooldown", {"base": 5, "cap": 2}, "cooldown.cap"),
        ("cooldown", {"factor": 0.9}, "cooldown.factor"),
        ("system_prompt", "x" * 100_001, "system_prompt"),
        ("account_strategy", "fastest", "fastest"),
        ("proxy", "", "proxy"),
        ("proxy", "ftp://proxy.test", "proxy"),
    ],
)
def test_check_setting_errors_name_the_field(key: str, value: Any, named: str) -> None:
    with pytest.raises(BadRequest) as caught:
        check_setting(key, value)
    assert named in caught.value.message


@pytest.mark.parametrize(
    "url",
    [
        f"https://alice:{PASSWORD}@proxy.test:8443",  # scheme not supported
        f"socks5://alice:{PASSWORD}@proxy.test:99999",  # port out of range
        f"socks5://alice:{PASSWORD}@proxy.test:1080/path",  # more than a proxy
        f"socks5://alice:{PASSWORD}@:1080",  # no host
        f"socks5://alice:{PASSWORD}@proxy.test:0",
    ],
)
def test_proxy_errors_never_repeat_the_password(url: str) -> None:
    with pytest.raises(BadRequest) as setting:
        check_setting("proxy", url)
    with pytest.raises(BadRequest) as extra:
        check_extra({"proxy": url}, account=True, what="account 3")
    for caught in (setting, extra):
        assert PASSWORD not in caught.value.message
        assert PASSWORD not in str(caught.value)
        assert "alice" not in caught.value.message


# -- check_extra -------------------------------------------------------------------


def test_check_extra_normalises_known_keys() -> None:
    checked = check_extra(
        {
            "catalog": " openai ",
            "proxy": f" {PROXY} ",
            "limits": {"rpm": 5},
            "headers": {"X-Team": "blue"},
            "alias": "mine",
            "notes": {"free": "form"},
            "alias_old": None,
        },
        account=False,
        what="provider 'acme'",
    )
    assert checked == {
        "catalog": "openai",
        "proxy": PROXY,
        "limits": {"rpm": 5, "min_gap": None, "max_concurrent": None, "max_queue": 64},
        "headers": {"X-Team": "blue"},
        "alias": "mine",
        "notes": {"free": "form"},
        "alias_old": None,
    }


def test_check_extra_none_removes_a_key_unchecked() -> None:
    assert check_extra({"proxy": None, "limits": None}, account=True, what="account 1") == {
        "proxy": None,
        "limits": None,
    }


@pytest.mark.parametrize(
    ("patch", "named"),
    [
        ({"limits": {"rpm": 0}}, "'rpm'"),
        ({"limits": {"burst": 3}}, "burst"),
        ({"limits": "fast"}, "limits"),
        ({"headers": {"bad name": "x"}}, "'bad name'"),
        ({"headers": {"X-Team": "a\r\nInjected: 1"}}, "'X-Team'"),
        ({"headers": {"X-Team": 5}}, "'X-Team'"),
        ({"headers": ["X-Team"]}, "headers"),
        ({"alias": "has space"}, "alias"),
        ({"catalog": ""}, "catalog"),
        ({"proxy": "gopher://proxy.test"}, "proxy"),
    ],
)
def test_check_extra_errors_name_the_field(patch: dict[str, Any], named: str) -> None:
    with pytest.raises(BadRequest) as caught:
        check_extra(patch, account=False, what="provider 'acme'")
    assert named in caught.value.message


def test_check_extra_for_an_account_checks_proxy_and_limits() -> None:
    with pytest.raises(BadRequest, match="'rpm'"):
        check_extra({"limits": {"rpm": -2}}, account=True, what="account 1")
    checked = check_extra({"limits": {"min_gap": 1}}, account=True, what="account 1")
    assert checked["limits"]["min_gap"] == 1.0


def test_check_extra_refuses_what_is_not_an_object() -> None:
    with pytest.raises(BadRequest, match="account 7: options must be an object"):
        check_extra(["proxy"], account=True, what="account 7")  # type: ignore[arg-type]


# -- egress_proxy ------------------------------------------------------------------

GLOBAL, PROVIDER, ACCOUNT = "socks5://g.test:1", "http://p.test:2", "socks5h://a.test:3"


@pytest.mark.parametrize(
    ("global_", "provider", "account", "expected"),
    [
        (None, None, None, None),
        (GLOBAL, None, None, GLOBAL),
        (GLOBAL, PROVIDER, None, PROVIDER),
        (GLOBAL, PROVIDER, ACCOUNT, ACCOUNT),
        (None, None, ACCOUNT, ACCOUNT),
        ("direct", None, None, None),
        ("direct", PROVIDER, None, PROVIDER),
        (GLOBAL, "direct", None, None),
        (GLOBAL, "direct", ACCOUNT, ACCOUNT),
        (GLOBAL, PROVIDER, "direct", None),
    ],
)
def test_egress_proxy_most_specific_wins(
    global_: str | None, provider: str | None, account: str | None, expected: str | None
) -> None:
    assert (
        egress_proxy(
            Options(proxy=global_), ProviderOptions(proxy=provider), ProviderOptions(proxy=account)
        )
        == expected
    )


def test_egress_proxy_from_stored_values() -> None:
    options = Options.read({"proxy": GLOBAL})
    provider = ProviderOptions.read({"proxy": " direct "})
    account = ProviderOptions.read({})
    assert egress_proxy(options, provider, account) is None
