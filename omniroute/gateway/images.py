"""Image URLs in a chat request made into inline data, for upstreams that
cannot fetch a URL themselves (Gemini takes inline data or a file it
stores, not a web address).

The fetch goes through the SSRF guard (``upstream.ssrf``): the host must
resolve to public addresses only, every redirect is checked the same way,
and size and time are capped. A URL the guard refuses (loopback, private,
link-local, metadata…) is the client's error (400, naming the host at most);
one that is allowed but cannot be fetched (down, not an image, too large)
stays a file reference for the upstream to try. Data URLs are inline already.
"""

from __future__ import annotations

import base64
import logging

from omniroute.formats import ir
from omniroute.upstream.ssrf import FetchFailed, UrlGuard, fetch_public, url_label

log = logging.getLogger("omniroute.pipeline")

MAX_IMAGE_BYTES = 20 * 1024 * 1024  # Gemini's limit on a whole request with inline data
FETCH_SECONDS = 15.0


class ImageFetcher:
    """Fetches image URLs through ``guard`` (the strict default; tests may
    give one with their own resolver or exemptions)."""

    __slots__ = ("guard", "max_bytes", "timeout")

    def __init__(
        self,
        guard: UrlGuard | None = None,
        *,
        max_bytes: int = MAX_IMAGE_BYTES,
        timeout: float = FETCH_SECONDS,
    ) -> None:
        self.guard = guard or UrlGuard()
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def inline(self, req: ir.Request) -> None:
        """Replace each http(s) image URL in ``req`` by the image's bytes.
        Raises UrlRefused for a URL that must not be fetched."""
        for message in req.messages:
            for part in message.parts:
                if isinstance(part, ir.ImagePart) and _web_url(part):
                    await self._fetch_into(part)

    async def _fetch_into(self, part: ir.ImagePart) -> None:
        url = part.url or ""
        try:
            fetched = await fetch_public(
                url,
                guard=self.guard,
                max_bytes=self.max_bytes,
                timeout=self.timeout,
                accept="image/*",
            )
        except FetchFailed as exc:
            log.info("image %s not inlined: %s", url_label(url), exc.message)
            return
        kind = (fetched.content_type or "").split(";", 1)[0].strip().lower()
        if not kind.startswith("image/"):
            log.info("image %s not inlined: it is %s", url_label(url), kind or "untyped")
            return
        part.data = base64.b64encode(fetched.body).decode("ascii")
        part.media_type = kind
        part.url = None


def _web_url(part: ir.ImagePart) -> bool:
    url = (part.url or "").lower()
    return part.data is None and url.startswith(("http://", "https://"))


def has_web_images(req: ir.Request) -> bool:
    return any(
        isinstance(part, ir.ImagePart) and _web_url(part)
        for message in req.messages
        for part in message.parts
    )
