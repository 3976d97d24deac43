"""One frozen Settings object: every limit and default is a named field.

Values come from (lowest to highest precedence): the defaults below, the
environment (``OMNIROUTE_<FIELD>`` upper-cased, plus ``DATA_DIR``), and explicit
overrides (command-line flags).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_PORT = 20128


def local_url(host: str | None, port: int | None) -> str:
    """Where a program on this machine reaches a server bound to ``host``."""
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '', None) else host}:{port}"


def default_data_dir() -> Path:
    return Path(os.environ.get("DATA_DIR") or Path.home() / ".omniroute")


@dataclass(frozen=True, slots=True)
class Settings:
    # where and what
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path = field(default_factory=default_data_dir)
    # The dashboard and /api on a port of their own (the client API then
    # stays on ``port`` alone); the admin host defaults to ``host``.
    admin_port: int | None = None
    admin_host: str | None = None

    # HTTP server limits
    max_header_bytes: int = 16 * 1024  # larger -> 431
    max_body_bytes: int = 10 * 1024 * 1024  # larger -> 413
    # Routes that take uploads (audio, image edits) allow this for the file
    # and the form around it instead.
    max_upload_bytes: int = 25 * 1024 * 1024
    header_timeout: float = 10.0  # whole request head must arrive within this (slowloris)
    body_timeout: float = 60.0  # whole request body must arrive within this
    keepalive_timeout: float = 15.0  # idle keep-alive connection is closed after this
    max_connections: int = 2048  # further connections are refused (closed at once)
    shutdown_grace: float = 10.0  # in-flight requests get this long on SIGTERM
    pipeline_buffer_bytes: int = 256 * 1024  # unread pipelined bytes kept per connection

    # upstream client
    upstream_connect_timeout: float = 10.0
    upstream_first_byte_timeout: float = 300.0  # until response headers arrive
    upstream_idle_timeout: float = 120.0  # between two reads of a streamed body
    upstream_total_timeout: float = 1800.0  # whole exchange
    upstream_max_response_bytes: int = 64 * 1024 * 1024  # non-streamed body cap
    upstream_pool_max_idle: int = 128  # idle keep-alive connections kept per origin
    upstream_pool_idle_ttl: float = 60.0  # an idle pooled connection is dropped after this

    # store
    log_flush_interval: float = 1.0  # request-log rows reach disk at least this often
    log_queue_max: int = 50_000  # queued log rows beyond this are dropped (and counted)
    log_retention_days: float = 30.0  # request-log rows older than this are deleted; 0 keeps all
    config_poll_interval: float = 0.5  # how often the server looks for config changes
    secret_key: str | None = field(default=None, repr=False)  # base64 key; else key file
    # How often the server looks whether an automatic backup is due (the
    # interval itself is the backup-interval-hours setting).
    backup_check_interval: float = 60.0
    responses_memory_ttl: float = (
        6 * 3600.0
    )  # Responses conversations kept for previous_response_id

    # security
    require_key_on_loopback: bool = True
    admin_session_ttl: float = 7 * 86_400.0  # an idle login session ends after this
    # The admin password to set at the first start (env INITIAL_PASSWORD);
    # ignored once a password exists.
    initial_password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Checked here, not at bind time, so a bad OMNIROUTE_PORT is one clear
        # line instead of an OverflowError from deep inside asyncio.
        _check_port("port", self.port)
        if self.admin_port is not None:
            _check_port("admin port", self.admin_port)
            if self.admin_port == self.port != 0:
                raise ValueError("the admin port must differ from the main port")

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get("OMNIROUTE_" + f.name.upper())
            if raw is not None:
                values[f.name] = _coerce(f.name, f.type, raw)
        if "data_dir" not in values and env.get("DATA_DIR"):
            values["data_dir"] = Path(env["DATA_DIR"])
        if "initial_password" not in values and env.get("INITIAL_PASSWORD"):
            values["initial_password"] = env["INITIAL_PASSWORD"]
        for key, value in (overrides or {}).items():
            if value is not None:
                values[key] = Path(value) if key == "data_dir" else value
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _check_port(what: str, port: object) -> None:
    if isinstance(port, bool) or not isinstance(port, int):
        raise ValueError(f"{what} must be a whole number, got {port!r}")
    if not 0 <= port <= 65535:
        raise ValueError(f"{what} must be from 0 to 65535 (0: any free port), got {port}")


def _coerce(name: str, type_name: Any, raw: str) -> Any:
    kind = str(type_name)
    try:
        if kind.startswith("bool"):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if kind.startswith("Path"):
            return Path(raw).expanduser()
    except ValueError:
        raise ValueError(f"OMNIROUTE_{name.upper()}: cannot read {raw!r} as {kind}") from None
    return raw
