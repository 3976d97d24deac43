"""Serve files below one directory (the dashboard's assets).

Mount with a ``{path:path}`` route, e.g. ``router.add("GET", "/ui/{path:path}",
StaticFiles(root))``. Anything that could name a file outside ``root``
answers 404, never 403, so probing reveals nothing.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from omniroute import errors
from omniroute.http.message import Request, Response

__all__ = ["StaticFiles"]

# Extension -> media type. A fixed table: the system mime.types differs
# between hosts, and a wrong type for .js breaks module loading in browsers.
_TYPES: dict[str, str] = {
    ".html": "text/html",
    ".htm": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".csv": "text/csv",
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".wasm": "application/wasm",
    ".pdf": "application/pdf",
}
_UTF8_TYPES = frozenset(
    {"application/json", "application/manifest+json", "application/xml", "image/svg+xml"}
)
_DEFAULT_TYPE = "application/octet-stream"
# Text worth compressing: below this size gzip's header costs more than it saves.
_GZIP_MIN_BYTES = 512

# Files up to this size are read on the loop (a page-cache hit costs
# microseconds); larger ones in a worker thread.
_INLINE_READ_MAX = 256 * 1024
# The in-memory cache holds at most this many bytes of file content.
_CACHE_MAX_BYTES = 16 * 1024 * 1024


def content_type_for(name: str) -> str:
    media = _TYPES.get(PurePosixPath(name).suffix.lower(), _DEFAULT_TYPE)
    if media.startswith("text/") or media in _UTF8_TYPES:
        return media + "; charset=utf-8"
    return media


def _compressible(media: str) -> bool:
    return media.startswith("text/") or media in _UTF8_TYPES or media.endswith("javascript")


@dataclass(frozen=True, slots=True)
class _Cached:
    size: int
    mtime_ns: int
    body: bytes
    etag: str
    content_type: str
    # Compressed once when the file is loaded, then served from memory.
    gzipped: bytes | None

    @property
    def stamp(self) -> tuple[int, int]:
        return self.size, self.mtime_ns


class StaticFiles:
    """A handler serving ``root``; reads ``request.path_params["path"]``.

    ``headers`` are added to every answer (the dashboard's security headers).
    Text files go out gzipped to clients that accept it.
    """

    __slots__ = ("_cache", "_cached_bytes", "_headers", "_index", "_root")

    def __init__(
        self,
        root: Path,
        *,
        index: str = "index.html",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self._root = Path(root).resolve()
        self._index = index
        self._headers = headers
        self._cache: dict[Path, _Cached] = {}
        self._cached_bytes = 0

    async def __call__(self, request: Request) -> Response:
        relative = request.path_params.get("path", "")
        target = self._locate(relative)
        entry = await self._load(target)
        body, etag = entry.body, entry.etag
        headers = [("cache-control", "no-cache"), *self._headers]
        if entry.gzipped is not None:
            headers.append(("vary", "accept-encoding"))
            if _accepts_gzip(request.headers.get("accept-encoding")):
                # Each encoding is its own representation, so its own tag.
                body, etag = entry.gzipped, entry.etag[:-1] + '-gz"'
                headers.append(("content-encoding", "gzip"))
        headers.append(("etag", etag))
        if _etag_matches(request.headers.get("if-none-match"), etag):
            return Response(304, b"", headers)
        return Response(200, body, headers, entry.content_type)

    def _locate(self, relative: str) -> Path:
        """The regular file ``relative`` names inside root, or NotFound."""
        if "\\" in relative or "\0" in relative or relative.startswith("/"):
            raise errors.NotFound("file not found")
        parts = [part for part in relative.split("/") if part]
        if any(part in (".", "..") or ":" in part for part in parts):
            raise errors.NotFound("file not found")
        candidate = self._root.joinpath(*parts)
        try:
            resolved = candidate.resolve(strict=True)
            if resolved.is_dir():
                resolved = (resolved / self._index).resolve(strict=True)
            mode = resolved.stat().st_mode
        except (OSError, RuntimeError, ValueError):
            raise errors.NotFound("file not found")
        # resolve() followed symlinks: the real file must still be below root.
        if not resolved.is_relative_to(self._root) or not stat.S_ISREG(mode):
            raise errors.NotFound("file not found")
        return resolved

    async def _load(self, path: Path) -> _Cached:
        try:
            info = os.stat(path)
        except OSError:
            raise errors.NotFound("file not found")
        cached = self._cache.get(path)
        if cached is not None and cached.stamp == (info.st_size, info.st_mtime_ns):
            return cached
        try:
            if info.st_size <= _INLINE_READ_MAX:
                body = path.read_bytes()
            else:
                body = await asyncio.get_running_loop().run_in_executor(None, path.read_bytes)
        except OSError:
            raise errors.NotFound("file not found")
        # The tag comes from the stat taken before reading; if the file
        # changed meanwhile, the next request sees a new mtime and reloads.
        content_type = content_type_for(path.name)
        zipped = None
        if len(body) >= _GZIP_MIN_BYTES and _compressible(content_type.split(";")[0]):
            # mtime=0: the same bytes give the same output, run after run.
            zipped = gzip.compress(body, compresslevel=9, mtime=0)
            if len(zipped) >= len(body):
                zipped = None
        entry = _Cached(
            size=info.st_size,
            mtime_ns=info.st_mtime_ns,
            body=body,
            etag=f'"{info.st_size:x}-{info.st_mtime_ns:x}"',
            content_type=content_type,
            gzipped=zipped,
        )
        self._remember(path, entry)
        return entry

    def _remember(self, path: Path, entry: _Cached) -> None:
        old = self._cache.pop(path, None)
        if old is not None:
            self._cached_bytes -= _footprint(old)
        size = _footprint(entry)
        if size > _CACHE_MAX_BYTES // 4:
            return
        while self._cache and self._cached_bytes + size > _CACHE_MAX_BYTES:
            _, evicted = self._cache.popitem()
            self._cached_bytes -= _footprint(evicted)
        self._cache[path] = entry
        self._cached_bytes += size


def _footprint(entry: _Cached) -> int:
    return len(entry.body) + len(entry.gzipped or b"")


def _accepts_gzip(header: str | None) -> bool:
    """True when the client names gzip (or ``*``) with a non-zero quality;
    an explicit gzip entry wins over ``*``."""
    if not header:
        return False
    qualities: dict[str, float] = {}
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        quality = 1.0
        params = params.strip().lower()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        qualities.setdefault(coding.strip().lower(), quality)
    return qualities.get("gzip", qualities.get("*", 0.0)) > 0


def _etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 section 13.1.2)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))
