"""Talking to the upstream for one attempt: the only place that sends a
request to an upstream and waits for its answer to begin.

``open`` builds the URL and headers from the provider's family, sends the
body through the attempt's egress route, and returns the response once its
head arrived; a status >= 400 comes back as ``UpstreamStatusError`` with the
upstream's own message (read in its wire format) and no secret of the
account in it. What to send and what to make of the answer is up to the
operation (``chat``, ``count_tokens``).
"""

from __future__ import annotations

from omniroute import errors
from omniroute.formats.wire import wire_format
from omniroute.gateway.call import Attempt, Call
from omniroute.routing.cooldown import parse_retry_after
from omniroute.upstream import Timeouts, UpstreamClient, UpstreamResponse

_ERROR_BODY_CAP = 64 * 1024


class Exchange:
    __slots__ = ("_upstream", "timeouts")

    def __init__(self, upstream: UpstreamClient, timeouts: Timeouts) -> None:
        self._upstream = upstream
        self.timeouts = timeouts  # the configured ones; a call may get shorter

    async def open(
        self, call: Call, attempt: Attempt, body: bytes, *, stream: bool, timeouts: Timeouts
    ) -> UpstreamResponse:
        provider, account = attempt.provider, attempt.account
        url = provider.family.url(
            call.operation, provider.record.base_url, attempt.target.model, stream=stream
        )
        if url is None:  # the pipeline only picks providers that can do the operation
            raise errors.InternalError(f"{provider.name} cannot do {call.operation.value}")
        headers = provider.family.headers(
            account.api_key,
            stream=stream,
            auth_header=provider.auth_header,
            extra=provider.headers,
            client_headers=call.client_headers,
        )
        resp = await self._upstream.send(
            "POST", url, headers, body, proxy=attempt.proxy, timeouts=timeouts
        )
        attempt.upstream_headers = resp.headers
        if resp.status >= 400:
            try:
                raise await _status_error(resp, attempt)
            finally:
                await resp.aclose()
        return resp

    @staticmethod
    async def read(resp: UpstreamResponse) -> bytes:
        """The whole body; the connection goes back to the pool (or closes)."""
        try:
            return await resp.read()
        finally:
            await resp.aclose()


async def _status_error(resp: UpstreamResponse, attempt: Attempt) -> errors.UpstreamStatusError:
    try:
        raw = await resp.read()
    except errors.UpstreamError:
        raw = b""
    info = wire_format(attempt.upstream_format).parse_error(resp.status, raw[:_ERROR_BODY_CAP])
    return errors.UpstreamStatusError(
        scrub(info.message, attempt),
        upstream_status=resp.status,
        kind=info.kind,
        retry_after=info.retry_after
        if info.retry_after is not None
        else parse_retry_after(resp.headers),
        headers=resp.headers,
    )


def scrub(message: str, attempt: Attempt) -> str:
    """Upstream messages sometimes quote the credential they refused."""
    key = attempt.account.api_key
    if key and key in message:
        message = message.replace(key, "***")
    return message
