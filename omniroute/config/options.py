"""Runtime options: what the database holds besides providers, accounts,
combos and keys, as one typed view with defaults, and the check every value
passes before it is written.

Global settings (``settings`` table, JSON values):

    proxy             global egress proxy URL, or ``direct``
    system_prompt     text put before every request's own system text
    account_strategy  how accounts inside a provider are ordered (default
                      ``fill-first``; any balancing strategy)
    breaker           {failure_threshold, window, cooldown}
    cooldown          {base, factor, cap}
    fallback          {max_attempts, max_seconds}: the budget of one request
    public_hosts      host names the management side answers to
    trusted_proxies   reverse proxies whose X-Forwarded-* headers are believed
    audit_retention_days  how long audit rows are kept (default 90)
    client_allow      networks that may use the client API (empty: any)
    client_deny       networks that may not (wins over client_allow)
    admin_allow       networks that may reach /api and the dashboard (empty: any)
    admin_deny        networks that may not (wins over admin_allow)
    ip_rpm            client API requests per minute from one address (unset: no limit)
    injection_guard   prompt-injection guard: off (default), log or block
    backup_retention  how many automatic backups are kept (default 7)
    backup_interval_hours
                      hours between automatic backups while the server runs
                      (default 24; 0 turns them off)
    allow_link_local_base_urls
                      let a provider's base URL name a link-local address
                      (where cloud metadata services answer); default off
    log               {file, max_bytes, backups}: the application log also
                      written to a file that rotates by size (no file: off)
    request_log       {max_rows, capture_bodies, capture_max_bytes,
                      capture_retention_hours}: the request log keeps at
                      most max_rows rows (besides its age limit; unset: no
                      row limit); debug capture of bodies (off by default)
    cache             {enabled, ttl, max_bytes, tools, combos, skip_combos}:
                      the response cache (off by default); combos lists
                      combos cached even while it is off, skip_combos those
                      never cached
    quota             {skip_at}: routing leaves an account alone once a quota
                      window of it is this full (0..1, default 0.95), until
                      the window resets

Per provider (the ``extra`` column): ``catalog`` (the catalog id it was added
from), ``proxy``, ``limits`` ({rpm, min_gap, max_concurrent, max_queue}),
``headers`` ({name: value} sent upstream), ``alias`` (a custom provider's own
model prefix), ``capabilities`` (what it is asked to serve: chat, embeddings…;
by default what its catalog entry or its wire format offers). Per account:
``proxy`` and ``limits``. Other keys are kept as given (they must be plain JSON).

A proxy URL may carry a password: checks never repeat a value in an error.
Reading is lenient (a value stored by another version that no longer passes
is ignored with a warning, so the gateway still starts); writing is strict.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from omniroute.config import spending
from omniroute.errors import BadRequest
from omniroute.providers.catalog import ModelPrice
from omniroute.providers.family import check_capabilities
from omniroute.providers.quota import DEFAULT_SKIP_AT
from omniroute.routing import breaker as _breaker
from omniroute.routing import cooldown as _cooldown
from omniroute.routing.budgets import Budget
from omniroute.routing.ratelimit import Limits
from omniroute.routing.strategies import STRATEGIES
from omniroute.store.admin import AUDIT_RETENTION_SETTING, DEFAULT_AUDIT_RETENTION_DAYS
from omniroute.store.proxies import DIRECT, check_proxy

log = logging.getLogger("omniroute.config")

# RFC 9110 section 5.1: a field name is a token.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")
_MAX_HEADER_VALUE = 8192
_ALIAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_MAX_PROMPT = 100_000
_MAX_LIST = 256
_MAX_RETENTION_DAYS = 36_500
_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(:[0-9]{1,5})?")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_MAX_ATTEMPTS = 10
DEFAULT_MAX_SECONDS = 300.0
DEFAULT_ACCOUNT_STRATEGY = "fill-first"
DEFAULT_BACKUP_RETENTION = 7
DEFAULT_BACKUP_INTERVAL_HOURS = 24.0
_MAX_BACKUP_RETENTION = 1000
DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_LOG_BACKUPS = 5
_MAX_LOG_BACKUPS = 100
DEFAULT_CAPTURE_MAX_BYTES = 64 * 1024
DEFAULT_CAPTURE_RETENTION_HOURS = 1.0
_MAX_CAPTURE_BYTES = 1024 * 1024
_MAX_CAPTURE_HOURS = 168.0
_MAX_PATH = 4096
DEFAULT_CACHE_TTL = 3600.0
DEFAULT_CACHE_MAX_BYTES = 64 * 1024 * 1024
_MAX_CACHE_TTL = 365 * 86_400.0

# What each global setting is while it is not stored: the running components'
# own defaults (None: no proxy, no system prompt). ``config show`` prints these.
SETTING_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "proxy": None,
        "system_prompt": None,
        "account_strategy": DEFAULT_ACCOUNT_STRATEGY,
        "breaker": MappingProxyType(
            {
                "failure_threshold": _breaker.DEFAULT_FAILURE_THRESHOLD,
                "window": _breaker.DEFAULT_WINDOW,
                "cooldown": _breaker.DEFAULT_COOLDOWN,
            }
        ),
        "cooldown": MappingProxyType(
            {
                "base": _cooldown.DEFAULT_BASE,
                "factor": _cooldown.DEFAULT_FACTOR,
                "cap": _cooldown.DEFAULT_CAP,
            }
        ),
        "fallback": MappingProxyType(
            {"max_attempts": DEFAULT_MAX_ATTEMPTS, "max_seconds": DEFAULT_MAX_SECONDS}
        ),
        "public_hosts": (),
        "trusted_proxies": (),
        AUDIT_RETENTION_SETTING: DEFAULT_AUDIT_RETENTION_DAYS,
        "client_allow": (),
        "client_deny": (),
        "admin_allow": (),
        "admin_deny": (),
        "ip_rpm": None,
        "injection_guard": "off",
        "backup_retention": DEFAULT_BACKUP_RETENTION,
        "backup_interval_hours": DEFAULT_BACKUP_INTERVAL_HOURS,
        "allow_link_local_base_urls": False,
        "log": MappingProxyType(
            {"file": None, "max_bytes": DEFAULT_LOG_MAX_BYTES, "backups": DEFAULT_LOG_BACKUPS}
        ),
        "request_log": MappingProxyType(
            {
                "max_rows": None,
                "capture_bodies": False,
                "capture_max_bytes": DEFAULT_CAPTURE_MAX_BYTES,
                "capture_retention_hours": DEFAULT_CAPTURE_RETENTION_HOURS,
            }
        ),
        "cache": MappingProxyType(
            {
                "enabled": False,
                "ttl": DEFAULT_CACHE_TTL,
                "max_bytes": DEFAULT_CACHE_MAX_BYTES,
                "tools": False,
                "combos": (),
                "skip_combos": (),
            }
        ),
        "quota": MappingProxyType({"skip_at": DEFAULT_SKIP_AT}),
    }
)

INJECTION_MODES = ("off", "log", "block")
MAX_IP_RPM = 1_000_000


# -- the typed view ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BreakerOptions:
    """None leaves the breaker's own default in place."""

    failure_threshold: int | None = None
    window: float | None = None
    cooldown: float | None = None


@dataclass(frozen=True, slots=True)
class CooldownOptions:
    base: float | None = None
    factor: float | None = None
    cap: float | None = None


@dataclass(frozen=True, slots=True)
class FallbackOptions:
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_seconds: float = DEFAULT_MAX_SECONDS


@dataclass(frozen=True, slots=True)
class LogOptions:
    file: str | None = None  # None: the application log goes to stderr only
    max_bytes: int = DEFAULT_LOG_MAX_BYTES  # the file rotates once it is this long
    backups: int = DEFAULT_LOG_BACKUPS  # rotated files kept (file.1 ... file.N)


@dataclass(frozen=True, slots=True)
class RequestLogOptions:
    max_rows: int | None = None  # the newest rows kept; None: no row limit
    # Debug capture of request/response bodies (redacted, in memory only).
    capture_bodies: bool = False
    capture_max_bytes: int = DEFAULT_CAPTURE_MAX_BYTES  # each body cut to this
    capture_retention_hours: float = DEFAULT_CAPTURE_RETENTION_HOURS


@dataclass(frozen=True, slots=True)
class CacheOptions:
    # Off unless turned on: an answer served again is only right for
    # requests meant to repeat, which the gateway cannot know by itself.
    enabled: bool = False
    ttl: float = DEFAULT_CACHE_TTL  # seconds an answer is served again
    max_bytes: int = DEFAULT_CACHE_MAX_BYTES  # the least recently used go first
    tools: bool = False  # requests that offer tools may be cached too
    combos: tuple[str, ...] = ()  # cached even while ``enabled`` is off
    skip_combos: tuple[str, ...] = ()  # never cached

    def on_for(self, combo: str | None) -> bool:
        """Whether requests for ``combo`` (None: not a combo) are cached."""
        if combo is not None:
            if combo in self.skip_combos:
                return False
            if combo in self.combos:
                return True
        return self.enabled


@dataclass(frozen=True, slots=True)
class QuotaOptions:
    skip_at: float = DEFAULT_SKIP_AT  # used share (0..1) at which an account is skipped


@dataclass(frozen=True, slots=True)
class Options:
    """The global settings the running gateway reads."""

    proxy: str | None = field(default=None, repr=False)  # may hold a password
    system_prompt: str | None = None
    account_strategy: str = DEFAULT_ACCOUNT_STRATEGY
    breaker: BreakerOptions = BreakerOptions()
    cooldown: CooldownOptions = CooldownOptions()
    fallback: FallbackOptions = FallbackOptions()
    # Host names the dashboard and the management API answer to besides
    # loopback names and the bound address (a guard against DNS rebinding).
    public_hosts: tuple[str, ...] = ()
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed.
    trusted_proxies: tuple[IPNetwork, ...] = ()
    audit_retention_days: int = DEFAULT_AUDIT_RETENTION_DAYS
    # Who may reach the client API and the management side (empty allow
    # list: anyone not denied).
    client_allow: tuple[IPNetwork, ...] = ()
    client_deny: tuple[IPNetwork, ...] = ()
    admin_allow: tuple[IPNetwork, ...] = ()
    admin_deny: tuple[IPNetwork, ...] = ()
    ip_rpm: int | None = None  # client API requests per minute per address
    injection_guard: str = "off"  # off | log | block
    backup_retention: int = DEFAULT_BACKUP_RETENTION
    backup_interval_hours: float = DEFAULT_BACKUP_INTERVAL_HOURS  # 0: no automatic backups
    allow_link_local_base_urls: bool = False
    log: LogOptions = LogOptions()
    request_log: RequestLogOptions = RequestLogOptions()
    cache: CacheOptions = CacheOptions()
    quota: QuotaOptions = QuotaOptions()
    # Price overrides by provider/model, and spending ceilings by scope
    # (see config/spending.py).
    prices: Mapping[str, ModelPrice] = field(default_factory=lambda: MappingProxyType({}))
    budgets: Mapping[str, Budget] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def read(cls, settings: Mapping[str, Any]) -> Options:
        values: dict[str, Any] = {}
        for key, value in settings.items():
            check = SETTING_CHECKS.get(key)
            if check is None or value is None:
                continue
            try:
                checked = check(key, value)
            except BadRequest as exc:
                log.warning("ignoring stored setting %r: %s", key, exc.message)
                continue
            values[key] = _TYPED.get(key, _same)(checked)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class ProviderOptions:
    """A provider's or an account's options (accounts have proxy and limits only)."""

    catalog: str | None = None
    proxy: str | None = field(default=None, repr=False)
    limits: Limits | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    alias: str | None = None
    # What the provider is asked to serve (None: what its catalog entry or
    # wire format offers).
    capabilities: tuple[str, ...] | None = None

    @classmethod
    def read(cls, extra: Mapping[str, Any], what: str = "provider") -> ProviderOptions:
        values: dict[str, Any] = {}
        for key, check in PROVIDER_CHECKS.items():
            value = extra.get(key)
            if value is None:
                continue
            try:
                checked = check(value)
            except BadRequest as exc:
                log.warning("ignoring stored option %r of %s: %s", key, what, exc.message)
                continue
            if key == "limits":
                checked = Limits.from_dict(checked)
            elif key == "headers":
                checked = MappingProxyType(dict(checked))
            elif key == "capabilities":
                checked = tuple(checked)
            values[key] = checked
        return cls(**values)


def egress_proxy(
    options: Options, provider: ProviderOptions, account: ProviderOptions
) -> str | None:
    """The proxy a call goes through: the account's, else the provider's, else
    the global one (the most specific wins); ``direct`` at any level means none."""
    for value in (account.proxy, provider.proxy, options.proxy):
        if value:
            return None if value == DIRECT else value
    return None


# -- checks --------------------------------------------------------------------------


def check_setting(key: str, value: Any) -> Any:
    """A known setting's value, checked and normalised; others pass unchanged.
    None is always allowed (it is how a value is cleared)."""
    check = SETTING_CHECKS.get(key)
    if value is None or check is None:
        return value
    return check(key, value)


def check_extra(patch: Mapping[str, Any], *, account: bool, what: str) -> dict[str, Any]:
    """A change to a provider's (or an account's) options, checked: known
    keys are normalised, None (remove the key) passes."""
    if not isinstance(patch, Mapping):
        raise BadRequest(f"{what}: options must be an object")
    checks = ACCOUNT_CHECKS if account else PROVIDER_CHECKS
    checked: dict[str, Any] = {}
    for key, value in patch.items():
        check = checks.get(key) if isinstance(key, str) else None
        checked[key] = value if value is None or check is None else check(value)
    return checked


def check_limits(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise BadRequest("limits must be an object: {rpm, min_gap, max_concurrent, max_queue}")
    return Limits.from_dict(value).to_dict()


def check_strategy(value: Any) -> str:
    if value not in STRATEGIES:
        raise BadRequest(f"unknown strategy {value!r}; known: {', '.join(STRATEGIES)}")
    return str(value)


def _check_headers(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise BadRequest("headers must be an object of name: value")
    checked: dict[str, str] = {}
    for name, text in value.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise BadRequest(f"invalid header name {name!r}")
        if not isinstance(text, str) or len(text) > _MAX_HEADER_VALUE:
            raise BadRequest(f"header {name!r}: the value must be text")
        if any(ch in text for ch in "\r\n\0"):
            raise BadRequest(f"header {name!r}: the value must not contain line breaks")
        checked[name] = text
    return checked


def _check_alias(value: Any) -> str:
    if not isinstance(value, str) or not _ALIAS.fullmatch(value):
        raise BadRequest("a provider alias must be 1-64 letters, digits, '.', '_' or '-'")
    return value


def _check_catalog_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("a catalog id must be a non-empty string")
    return value.strip()


PROVIDER_CHECKS: Mapping[str, Callable[[Any], Any]] = MappingProxyType(
    {
        "catalog": _check_catalog_id,
        "proxy": check_proxy,
        "limits": check_limits,
        "headers": _check_headers,
        "alias": _check_alias,
        "capabilities": check_capabilities,
    }
)
ACCOUNT_CHECKS: Mapping[str, Callable[[Any], Any]] = MappingProxyType(
    {"proxy": check_proxy, "limits": check_limits}
)


def _number(key: str, name: str, value: Any, *, minimum: float, whole: bool) -> int | float:
    ok = not isinstance(value, bool) and isinstance(value, int if whole else int | float)
    if not ok or not value >= minimum:
        kind = "a whole number" if whole else "a number"
        raise BadRequest(f"setting {key}.{name} must be {kind} >= {minimum:g}")
    return int(value) if whole else float(value)


def _group(fields: Mapping[str, tuple[float, bool]]) -> Callable[[str, Any], dict[str, Any]]:
    """A check for an object setting: per field (minimum, whole number?)."""

    def check(key: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise BadRequest(f"setting {key!r} must be an object with {', '.join(fields)}")
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise BadRequest(f"setting {key!r}: unknown fields {', '.join(unknown)}")
        return {
            name: _number(key, name, v, minimum=fields[name][0], whole=fields[name][1])
            for name, v in value.items()
        }

    return check


# The running components refuse values below these minimums, so they are
# refused here, where the user can still be told.
_cooldown_fields = _group({"base": (0.001, False), "factor": (1, False), "cap": (0.001, False)})


def _cooldown_setting(key: str, value: Any) -> dict[str, Any]:
    checked = _cooldown_fields(key, value)
    base, cap = checked.get("base", _cooldown.DEFAULT_BASE), checked.get("cap")
    if cap is not None and cap < base:
        raise BadRequest(f"setting cooldown.cap ({cap:g}) must not be below cooldown.base")
    return checked


def _prompt_setting(key: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) > _MAX_PROMPT:
        raise BadRequest(
            f"setting 'system_prompt' must be text of at most {_MAX_PROMPT} characters"
        )
    return value


def _days(key: str, value: Any) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= _MAX_RETENTION_DAYS
    ):
        raise BadRequest(
            f"setting {key!r} must be a whole number of days from 1 to {_MAX_RETENTION_DAYS}"
        )
    return value


def _host_list(key: str, value: Any) -> list[str]:
    """Host names (optionally with a port), lower-cased."""
    names = _text_list(key, value)
    for name in names:
        if not _HOST_NAME.fullmatch(name):
            raise BadRequest(f"setting {key!r}: {name!r} is not a host name")
    return [name.lower() for name in names]


def _network_list(key: str, value: Any) -> list[str]:
    """IP networks in CIDR form (a bare address is a /32 or /128)."""
    out = []
    for text in _text_list(key, value):
        try:
            out.append(str(ipaddress.ip_network(text, strict=False)))
        except ValueError:
            raise BadRequest(f"setting {key!r}: {text!r} is not an IP address or network") from None
    return out


def _ip_rpm(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_IP_RPM:
        raise BadRequest(f"setting {key!r} must be a whole number from 1 to {MAX_IP_RPM}")
    return value


def _injection_mode(key: str, value: Any) -> str:
    if value not in INJECTION_MODES:
        raise BadRequest(f"setting {key!r} must be one of: {', '.join(INJECTION_MODES)}")
    return str(value)


def _text_list(key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v for v in (part.strip() for part in value.split(",")) if v]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise BadRequest(f"setting {key!r} must be a list of names")
    if len(value) > _MAX_LIST:
        raise BadRequest(f"setting {key!r} takes at most {_MAX_LIST} entries")
    return [v.strip() for v in value]


def _retention(key: str, value: Any) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= _MAX_BACKUP_RETENTION
    ):
        raise BadRequest(
            f"setting {key!r} must be a whole number from 1 to {_MAX_BACKUP_RETENTION}"
        )
    return value


def _hours(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 8760:
        raise BadRequest(f"setting {key!r} must be a number of hours from 0 (off) to 8760")
    return float(value)


_ON = frozenset({"on", "true", "yes", "1"})
_OFF = frozenset({"off", "false", "no", "0"})


def _flag(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text in _ON or text in _OFF:
        return text in _ON
    raise BadRequest(f"setting {key!r} must be on or off")


def _quota_setting(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or set(value) - {"skip_at"}:
        raise BadRequest(f"setting {key!r} must be an object with skip_at")
    skip_at = value.get("skip_at", DEFAULT_SKIP_AT)
    if isinstance(skip_at, bool) or not isinstance(skip_at, int | float) or not 0 < skip_at <= 1:
        raise BadRequest("setting quota.skip-at must be a share above 0 and at most 1 (0.95: 95 %)")
    return {"skip_at": float(skip_at)}


def _log_setting(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise BadRequest(f"setting {key!r} must be an object with file, max_bytes, backups")
    unknown = sorted(set(value) - {"file", "max_bytes", "backups"})
    if unknown:
        raise BadRequest(f"setting {key!r}: unknown fields {', '.join(unknown)}")
    out: dict[str, Any] = {}
    if value.get("file") is not None:
        path = value["file"]
        if not isinstance(path, str) or not path.strip() or len(path) > _MAX_PATH:
            raise BadRequest(f"setting {key}.file must be a file path")
        if "\x00" in path:
            raise BadRequest(f"setting {key}.file must be a file path")
        out["file"] = path.strip()
    if value.get("max_bytes") is not None:
        out["max_bytes"] = _number(key, "max_bytes", value["max_bytes"], minimum=4096, whole=True)
    if value.get("backups") is not None:
        backups = _number(key, "backups", value["backups"], minimum=0, whole=True)
        if backups > _MAX_LOG_BACKUPS:
            raise BadRequest(f"setting {key}.backups must be at most {_MAX_LOG_BACKUPS}")
        out["backups"] = backups
    return out


_request_log_numbers = _group(
    {
        "max_rows": (1, True),
        "capture_max_bytes": (256, True),
        "capture_retention_hours": (0.01, False),
    }
)


def _request_log_setting(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise BadRequest(f"setting {key!r} must be an object")
    flag = value.get("capture_bodies")
    numbers = _request_log_numbers(key, {k: v for k, v in value.items() if k != "capture_bodies"})
    if numbers.get("capture_max_bytes", 0) > _MAX_CAPTURE_BYTES:
        raise BadRequest(f"setting {key}.capture_max_bytes must be at most {_MAX_CAPTURE_BYTES}")
    if numbers.get("capture_retention_hours", 0) > _MAX_CAPTURE_HOURS:
        raise BadRequest(
            f"setting {key}.capture_retention_hours must be at most {_MAX_CAPTURE_HOURS:g}"
        )
    if flag is not None:
        numbers["capture_bodies"] = _flag(f"{key}.capture_bodies", flag)
    return numbers


def _cache_setting(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise BadRequest(f"setting {key!r} must be an object")
    fields = ("enabled", "ttl", "max_bytes", "tools", "combos", "skip_combos")
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise BadRequest(f"setting {key!r}: unknown fields {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for name in ("enabled", "tools"):
        if value.get(name) is not None:
            out[name] = _flag(f"{key}.{name}", value[name])
    if value.get("ttl") is not None:
        out["ttl"] = _number(key, "ttl", value["ttl"], minimum=1, whole=False)
        if out["ttl"] > _MAX_CACHE_TTL:
            raise BadRequest(f"setting {key}.ttl must be at most {_MAX_CACHE_TTL:g} seconds")
    if value.get("max_bytes") is not None:
        out["max_bytes"] = _number(key, "max_bytes", value["max_bytes"], minimum=0, whole=True)
    for name in ("combos", "skip_combos"):
        if value.get(name) is not None:
            out[name] = _text_list(f"{key}.{name}", value[name])
    return out


SETTING_CHECKS: Mapping[str, Callable[[str, Any], Any]] = MappingProxyType(
    {
        "proxy": lambda key, value: check_proxy(value),
        "public_hosts": _host_list,
        "trusted_proxies": _network_list,
        "client_allow": _network_list,
        "client_deny": _network_list,
        "admin_allow": _network_list,
        "admin_deny": _network_list,
        "ip_rpm": _ip_rpm,
        "injection_guard": _injection_mode,
        "system_prompt": _prompt_setting,
        "account_strategy": lambda key, value: check_strategy(value),
        "breaker": _group(
            {"failure_threshold": (1, True), "window": (0.001, False), "cooldown": (0, False)}
        ),
        "cooldown": _cooldown_setting,
        "fallback": _group({"max_attempts": (1, True), "max_seconds": (0.001, False)}),
        AUDIT_RETENTION_SETTING: _days,
        "backup_retention": _retention,
        "backup_interval_hours": _hours,
        "allow_link_local_base_urls": _flag,
        "log": _log_setting,
        "request_log": _request_log_setting,
        "cache": _cache_setting,
        "quota": _quota_setting,
        spending.PRICES: spending.check_prices,
        spending.BUDGETS: spending.check_budgets,
    }
)


def _same(value: Any) -> Any:
    return value


def _prompt(value: str) -> str | None:
    return value.strip() or None


def _networks(value: list[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(n) for n in value)


def _cache_options(value: dict[str, Any]) -> CacheOptions:
    fields: dict[str, Any] = dict(value)
    for name in ("combos", "skip_combos"):
        if name in fields:
            fields[name] = tuple(fields[name])
    return CacheOptions(**fields)


_TYPED: Mapping[str, Callable[[Any], Any]] = MappingProxyType(
    {
        "system_prompt": _prompt,
        "breaker": lambda v: BreakerOptions(**v),
        "cooldown": lambda v: CooldownOptions(**v),
        "fallback": lambda v: FallbackOptions(**v),
        "log": lambda v: LogOptions(**v),
        "request_log": lambda v: RequestLogOptions(**v),
        "cache": _cache_options,
        "quota": lambda v: QuotaOptions(**v),
        "public_hosts": tuple,
        "trusted_proxies": _networks,
        "client_allow": _networks,
        "client_deny": _networks,
        "admin_allow": _networks,
        "admin_deny": _networks,
        spending.PRICES: spending.typed_prices,
        spending.BUDGETS: spending.typed_budgets,
    }
)
