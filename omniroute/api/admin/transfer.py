"""Export, import, backups and restore over HTTP: thin handlers over the
functions the CLI uses (``omniroute.config.transfer``, ``.backups``).

    GET  /api/export?secrets=0|1          the configuration as a file;
                                          secrets=1 needs X-Export-Passphrase
    POST /api/import                      body: an export; X-Export-Passphrase
                                          when its secrets are encrypted
    GET  /api/backups                     {"backups": [{name, kind, size, created_at}]}
    POST /api/backups                     a backup now: {"backup": {…}}
    GET  /api/backups/{name}              that backup's file, as a download
    POST /api/backups/{name}/restore      {"restored", "previous", "revision"}

The passphrase travels in a header, never in the URL (URLs end up in logs,
histories and proxies' records).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import BinaryIO

from omniroute.api.admin.access import ADMIN_SESSION, ADMIN_TOKEN, AppliedRoutes
from omniroute.api.bodies import read_json
from omniroute.config.backups import make_backup, restore_backup
from omniroute.config.transfer import export_config, import_config
from omniroute.errors import BadRequest, NotFound
from omniroute.http.message import GuardedStream, Request, Response, StreamResponse
from omniroute.http.routing import Router
from omniroute.store.admin import AdminRows
from omniroute.store.backups import backup_path

PASSPHRASE_HEADER = "X-Export-Passphrase"  # noqa: S105 (a header name, not a secret)
_CHUNK = 256 * 1024


def passphrase(request: Request) -> str | None:
    """The passphrase header as the client meant it: header values arrive as
    latin-1, and a client sends a non-ASCII passphrase as UTF-8 bytes."""
    raw = request.headers.get(PASSPHRASE_HEADER)
    if raw is None:
        return None
    try:
        return raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return raw


class TransferRoutes(AppliedRoutes):
    __slots__ = ()

    def install(self, router: Router) -> None:
        session, token = self._guards.session, self._guards.token_or_session
        router.add("GET", "/api/export", session(self.export), label=ADMIN_SESSION)
        router.add("POST", "/api/import", session(self.import_), label=ADMIN_SESSION)
        router.add("GET", "/api/backups", token(self.backups), label=ADMIN_TOKEN)
        router.add("POST", "/api/backups", session(self.backup), label=ADMIN_SESSION)
        router.add("GET", "/api/backups/{name}", session(self.download), label=ADMIN_SESSION)
        restore = session(self.restore)
        router.add("POST", "/api/backups/{name}/restore", restore, label=ADMIN_SESSION)

    async def export(self, request: Request) -> Response:
        if "passphrase" in request.query:
            raise BadRequest(
                f"Never put the passphrase in the URL; send it in the {PASSPHRASE_HEADER} header."
            )
        flag = request.query.get("secrets", "0")
        if flag not in ("0", "1"):
            raise BadRequest("'secrets' must be 0 or 1.")
        secrets = flag == "1"
        given = passphrase(request)
        if secrets and not given:
            raise BadRequest(f"secrets=1 needs the passphrase in the {PASSPHRASE_HEADER} header.")
        document = await export_config(
            self._store,
            secrets=secrets,
            passphrase=given if secrets else None,
            **self._who(request),
        )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"omniroute-config-{stamp}{'-secrets' if secrets else ''}.json"
        headers = [
            ("content-disposition", f'attachment; filename="{name}"'),
            ("cache-control", "no-store"),
        ]
        return Response.json(document, headers=headers)

    async def import_(self, request: Request) -> Response:
        summary = await import_config(
            self._store,
            read_json(request),
            passphrase=passphrase(request),
            **self._who(request),
        )
        await self._applied()
        return Response.json({"ok": True, **summary.to_json()})

    async def backups(self, request: Request) -> Response:
        listed = await self._store.list_backups()
        return Response.json({"backups": [b.to_json() for b in listed]})

    async def backup(self, request: Request) -> Response:
        made = await make_backup(self._store, **self._who(request))
        return Response.json({"backup": made.to_json()}, status=201)

    async def restore(self, request: Request) -> Response:
        result = await restore_backup(
            self._store,
            request.path_params["name"],
            **self._who(request),
        )
        await self._applied()
        return Response.json(
            {"restored": result.restored, "previous": result.previous, "revision": result.revision}
        )

    async def download(self, request: Request) -> StreamResponse:
        name = request.path_params["name"]
        # Only a name the list gives: anything else (a path, a look-alike of
        # a backup name that does not exist) is simply not a backup.
        info = next((b for b in await self._store.list_backups() if b.name == name), None)
        if info is None:
            raise NotFound(f"there is no backup named {name[:100]!r}")
        path = backup_path(self._store.backup_dir, name)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:  # pruned since it was listed
            raise NotFound(f"there is no backup named {name!r}") from None
        try:
            # The file holds the whole configuration (its secrets sealed with
            # this server's key): taking a copy away is recorded like an export.
            who = self._who(request)
            detail = {"size": info.size}
            await AdminRows(self._store).audit(
                time.time(), who["actor"], "backup.download", name, detail, who["address"]
            )
        except BaseException:
            handle.close()
            raise
        headers = [
            ("content-disposition", f'attachment; filename="{name}"'),
            ("cache-control", "no-store"),
        ]
        chunks = GuardedStream(_read(handle), lambda: asyncio.to_thread(handle.close))
        return StreamResponse(chunks, headers=headers, content_type="application/octet-stream")


async def _read(handle: BinaryIO) -> AsyncIterator[bytes]:
    """The file in pieces, each read off the event loop (a backup can be large)."""
    while chunk := await asyncio.to_thread(handle.read, _CHUNK):
        yield chunk
