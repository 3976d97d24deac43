"""The detailed health view for the admin, and how the local CLI
reaches it.

At start the server writes ``<data dir>/admin.json`` (mode 0600): its URL and
a fresh random token. ``omniroute status`` reads that file and asks
``GET /api/status`` with the token. Whoever can read the data directory can
already read the database, so the file adds no exposure; the token changes on
every start and the file is removed at shutdown.
"""

from __future__ import annotations

import hmac
import json
import os
import resource
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omniroute import __version__, errors
from omniroute.http.message import Request, Response
from omniroute.settings import Settings

ADMIN_FILE = "admin.json"


def rss_bytes() -> int:
    """Resident memory now (Linux /proc), else the peak from getrusage."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class AdminAccess:
    """The per-start admin token and its file."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / ADMIN_FILE
        self.token = secrets.token_urlsafe(32)

    def publish(self, url: str) -> None:
        # Written beside, then renamed into place: a reader (the CLI, a
        # script waiting for the start) never sees a half-written file.
        staging = self._path.with_name(f".{ADMIN_FILE}.{os.getpid()}")
        staging.unlink(missing_ok=True)
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"url": url, "token": self.token, "pid": os.getpid()}, out)
        os.replace(staging, self._path)

    def withdraw(self) -> None:
        self._path.unlink(missing_ok=True)

    def presented(self, request: Request) -> bool:
        """Whether the request carries this start's admin token."""
        given = request.headers.get("authorization") or ""
        scheme, _, token = given.partition(" ")
        # Bytes, not text: compare_digest refuses non-ASCII str, and header
        # values are whatever the client sent (latin-1 decoded).
        presented = token.strip().encode("latin-1", "replace")
        return scheme.lower() == "bearer" and hmac.compare_digest(presented, self.token.encode())


def read_admin_file(data_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((data_dir / ADMIN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def call_running_gateway(
    settings: Settings, path: str, *, method: str = "GET", body: Any = None, timeout: float = 10
) -> tuple[str, Any] | None:
    """Call ``path`` of the gateway running on this data dir with its local
    admin token: its URL and the JSON answer; None when none is running.
    An error answer becomes a BadRequest carrying the gateway's message."""
    admin = read_admin_file(settings.data_dir)
    if admin is None:
        return None
    url = str(admin.get("url", ""))
    if not url.startswith("http://"):
        raise errors.BadRequest("the admin file is damaged; restart the gateway")
    headers = {"Authorization": f"Bearer {admin.get('token', '')}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    import urllib.error  # only when the gateway is asked
    import urllib.request

    request = urllib.request.Request(url + path, data, headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (http only)
            return url, json.load(answer)
    except urllib.error.HTTPError as exc:
        raise errors.BadRequest(_error_message(exc)) from None
    except (OSError, ValueError) as exc:
        raise errors.BadRequest(
            f"the gateway at {url} did not answer ({exc.__class__.__name__})"
        ) from None


def _error_message(exc: Any) -> str:
    try:
        return str(json.load(exc)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"the gateway answered HTTP {exc.code}"


class StatusView:
    """The detailed health view; its guard (the admin token or a session) is
    put in front of it where the route is added."""

    def __init__(self, describe: Callable[[], dict[str, Any]]) -> None:
        self._describe = describe
        self._started = time.time()

    async def __call__(self, request: Request) -> Response:
        return Response.json(
            {
                "status": "ok",
                "version": __version__,
                "python": sys.version.split()[0],
                "uptime_s": round(time.time() - self._started, 1),
                "memory_rss_mb": round(rss_bytes() / 1e6, 1),
                **self._describe(),
            }
        )
