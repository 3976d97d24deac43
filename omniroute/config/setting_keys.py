"""The global settings by the names people use: ``breaker.window``,
``public-hosts``, ``audit-retention-days``… (``omniroute config set`` and
``PATCH /api/settings`` take the same names), each with its stored value and
the default the gateway uses while it is not set.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from omniroute.config.options import SETTING_DEFAULTS
from omniroute.config.redact import shown_proxy
from omniroute.errors import BadRequest
from omniroute.store.admin import AUDIT_RETENTION_SETTING

# name -> (setting, field inside it or None, value type).
SETTING_KEYS: Mapping[str, tuple[str, str | None, type]] = MappingProxyType(
    {
        "proxy": ("proxy", None, str),
        "system-prompt": ("system_prompt", None, str),
        "account-strategy": ("account_strategy", None, str),
        "breaker.failure-threshold": ("breaker", "failure_threshold", int),
        "breaker.window": ("breaker", "window", float),
        "breaker.cooldown": ("breaker", "cooldown", float),
        "cooldown.base": ("cooldown", "base", float),
        "cooldown.factor": ("cooldown", "factor", float),
        "cooldown.cap": ("cooldown", "cap", float),
        "fallback.max-attempts": ("fallback", "max_attempts", int),
        "fallback.max-seconds": ("fallback", "max_seconds", float),
        "public-hosts": ("public_hosts", None, list),
        "trusted-proxies": ("trusted_proxies", None, list),
        "audit-retention-days": (AUDIT_RETENTION_SETTING, None, int),
        "client-allow": ("client_allow", None, list),
        "client-deny": ("client_deny", None, list),
        "admin-allow": ("admin_allow", None, list),
        "admin-deny": ("admin_deny", None, list),
        "ip-rpm": ("ip_rpm", None, int),
        "injection-guard": ("injection_guard", None, str),
        "backup-retention": ("backup_retention", None, int),
        "backup-interval-hours": ("backup_interval_hours", None, float),
        "allow-link-local-base-urls": ("allow_link_local_base_urls", None, str),
        "log.file": ("log", "file", str),
        "log.max-bytes": ("log", "max_bytes", int),
        "log.backups": ("log", "backups", int),
        "request-log.max-rows": ("request_log", "max_rows", int),
        "request-log.capture-bodies": ("request_log", "capture_bodies", str),
        "request-log.capture-max-bytes": ("request_log", "capture_max_bytes", int),
        "request-log.capture-retention-hours": ("request_log", "capture_retention_hours", float),
        "cache.enabled": ("cache", "enabled", str),
        "cache.ttl": ("cache", "ttl", float),
        "cache.max-bytes": ("cache", "max_bytes", int),
        "cache.tools": ("cache", "tools", str),
        "cache.combos": ("cache", "combos", list),
        "cache.skip-combos": ("cache", "skip_combos", list),
        "quota.skip-at": ("quota", "skip_at", float),
    }
)


class SettingError(BadRequest):
    """A setting refused; ``key`` is its name as the caller gave it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def stored_value(settings: Mapping[str, Any], key: str) -> Any:
    """What is stored for ``key`` (None when it is not set), secrets masked."""
    setting, field, _kind = SETTING_KEYS[key]
    value = settings.get(setting)
    if field is not None:
        value = value.get(field) if isinstance(value, Mapping) else None
    return shown_proxy(value) if setting == "proxy" else _plain(value)


def default_value(key: str) -> Any:
    setting, field, _kind = SETTING_KEYS[key]
    value = SETTING_DEFAULTS[setting]
    return _plain(value[field] if field is not None else value)


def settings_json(settings: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every setting by name: ``{"value": stored or None, "default": …}``."""
    return {
        key: {"value": stored_value(settings, key), "default": default_value(key)}
        for key in SETTING_KEYS
    }


def split_changes(
    changes: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, list[str]]]:
    """Changes by name -> (whole settings, fields of object settings, the
    names behind each setting). None restores a default."""
    values: dict[str, Any] = {}
    fields: dict[str, dict[str, Any]] = {}
    names: dict[str, list[str]] = {}
    for key, value in changes.items():
        known = SETTING_KEYS.get(key)
        if known is None:
            raise SettingError(key, f"unknown setting {key!r}; known: {', '.join(SETTING_KEYS)}")
        setting, field, _kind = known
        names.setdefault(setting, []).append(key)
        if field is None:
            values[setting] = value
        else:
            fields.setdefault(setting, {})[field] = value
    return values, fields, names


def _plain(value: Any) -> Any:
    """Stored and default values as JSON (tuples as lists)."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value
