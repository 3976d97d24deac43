"""A client for the cold paths (model listings, key checks; later OAuth and
quota reads): one request at a time through a chosen egress route.

httpx carries direct and HTTP-proxy routes; it reaches SOCKS proxies only
with an extra package we do not ship, so SOCKS routes go through the hot-path
client, which speaks them natively. httpx is imported here only (it costs
memory and start time the request path does not need).

Errors never name a proxy URL (it may hold a password), only the upstream's
``scheme://host/path``.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from omniroute import errors
from omniroute.settings import Settings
from omniroute.upstream.client import Timeouts, UpstreamClient


class ColdClient:
    __slots__ = ("_settings", "_proxy", "_timeout", "_httpx", "_upstream")

    def __init__(self, settings: Settings, proxy: str | None, *, timeout: float = 20.0) -> None:
        self._settings = settings
        self._proxy = proxy
        self._timeout = timeout
        self._httpx: Any = None
        self._upstream: UpstreamClient | None = None

    async def __aenter__(self) -> ColdClient:
        if self._proxy is not None and self._proxy.lower().startswith("socks"):
            self._upstream = UpstreamClient(self._settings)
        else:
            import httpx

            # Request lines and URLs only; never headers. Quiet all the same.
            logging.getLogger("httpx").setLevel(logging.WARNING)
            self._httpx = httpx.AsyncClient(
                proxy=self._proxy, timeout=self._timeout, follow_redirects=False, trust_env=False
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._httpx is not None:
            await self._httpx.aclose()
        if self._upstream is not None:
            await self._upstream.aclose()

    async def request(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes = b""
    ) -> tuple[int, bytes]:
        """(status, body); BadRequest naming the upstream when it cannot be reached."""
        if self._upstream is not None:
            return await self._via_upstream(self._upstream, method, url, headers, body)
        import httpx

        try:
            response = await self._httpx.request(method, url, headers=headers, content=body)
        except httpx.HTTPError as exc:
            # The exception text may name the proxy URL: only its kind is shown.
            raise errors.BadRequest(
                f"could not reach {origin_path(url)} ({type(exc).__name__})"
            ) from None
        return response.status_code, response.content

    async def _via_upstream(
        self,
        client: UpstreamClient,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> tuple[int, bytes]:
        limit = Timeouts(
            connect=self._timeout,
            first_byte=self._timeout,
            idle=self._timeout,
            total=self._timeout * 2,
        )
        try:
            response = await client.send(
                method, url, headers, body, proxy=self._proxy, timeouts=limit
            )
            async with response:
                return response.status, await response.read()
        except errors.UpstreamError as exc:
            raise errors.BadRequest(f"could not reach {origin_path(url)}: {exc.message}") from None


def origin_path(url: str) -> str:
    """``scheme://host[:port]/path`` of a URL: no userinfo, no query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
