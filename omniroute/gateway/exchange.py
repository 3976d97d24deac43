"""Talking to the upstream for one attempt: the only place that sends a
request to an upstream and waits for its answer to begin.

``open`` builds the URL and headers from the provider's family, sends the
body through the attempt's egress route, and returns the response once its
head arrived; a status >= 400 comes back as ``UpstreamStatusError`` with the
upstream's own message (read in its wire format) and no secret of the
account in it. What to send and what to make of the answer is up to the
operation (``chat``, ``count_tokens``).

A transport failure (no connection, a timeout, a broken answer) names
internal addresses: upstream and proxy URLs. The client hears the provider
and the request id (``public``); the details go to the server log.
"""

from __future__ import annotations

import logging

from omniroute import errors
from omniroute.formats.wire import wire_format
from omniroute.gateway.call import Attempt, Call
from omniroute.routing.cooldown import parse_retry_after
from omniroute.upstream import Timeouts, UpstreamClient, UpstreamResponse
from omniroute.upstream.client import Body

_ERROR_BODY_CAP = 64 * 1024

log = logging.getLogger("omniroute.pipeline")


class Exchange:
    __slots__ = ("_upstream", "timeouts")

    def __init__(self, upstream: UpstreamClient, timeouts: Timeouts) -> None:
        self._upstream = upstream
        self.timeouts = timeouts  # the configured ones; a call may get shorter

    async def open(
        self,
        call: Call,
        attempt: Attempt,
        body: Body,
        *,
        stream: bool,
        timeouts: Timeouts,
        content_type: str | None = None,
    ) -> UpstreamResponse:
        provider = attempt.provider
        url = provider.family.url(
            call.operation, provider.record.base_url, attempt.target.model, stream=stream
        )
        if url is None:  # the pipeline only picks providers that can do the operation
            raise errors.InternalError(f"{provider.name} cannot do {call.operation.value}")
        credential = attempt.credential
        headers = provider.family.headers(
            credential.secret,
            stream=stream,
            auth_header=credential.scheme or provider.auth_header,
            # A pass-through call carries the client's own headers over the
            # provider's defaults.
            extra={**provider.headers, **credential.headers}
            if credential.headers
            else provider.headers,
            client_headers=call.client_headers,
        )
        if content_type is not None:  # an upload: its own multipart boundary
            headers = [(k, content_type if k == "content-type" else v) for k, v in headers]
        try:
            resp = await self._upstream.send(
                "POST", url, headers, body, proxy=attempt.proxy, timeouts=timeouts
            )
        except errors.UpstreamError as err:
            raise public(call, attempt, err) from None
        attempt.upstream_headers = resp.headers
        if resp.status >= 400:
            try:
                raise await _status_error(resp, attempt)
            finally:
                await resp.aclose()
        return resp

    @staticmethod
    async def read(call: Call, attempt: Attempt, resp: UpstreamResponse) -> bytes:
        """The whole body; the connection goes back to the pool (or closes)."""
        try:
            return await resp.read()
        except errors.UpstreamError as err:
            raise public(call, attempt, err) from None
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
        body=raw[:_ERROR_BODY_CAP],
    )


def scrub(message: str, attempt: Attempt) -> str:
    """Upstream messages sometimes quote the credential they refused."""
    return attempt.scrubber.text(message)


_TIMEOUT_PHRASES = {
    "connect": "could not connect to the upstream in time",
    "first_byte": "the upstream did not answer in time",
    "idle": "the upstream stopped sending in the middle of its answer",
    "total": "the upstream took longer than allowed",
}


def public(call: Call, attempt: Attempt, err: errors.UpstreamError) -> errors.UpstreamError:
    """What a client may hear of a transport failure; the detail is logged.
    An upstream's own answer (a status or an error event) passes as it is:
    its message was scrubbed already and helps the client."""
    if isinstance(err, errors.UpstreamStatusError | errors.UpstreamStreamError):
        return err
    log.warning(
        "request %s: %s account %d: %s",
        call.request_id,
        attempt.provider.name,
        attempt.account.id,
        attempt.scrubber.text(err.message),
    )
    where = f"{attempt.provider.name}: "
    # Whether a proxy was on the way helps the operator; which one stays in the log.
    tail = f"{' (through its proxy)' if attempt.proxy else ''} (request {call.request_id})"
    if isinstance(err, errors.UpstreamTimeout):
        phrase = _TIMEOUT_PHRASES.get(err.phase, "the upstream timed out")
        return errors.UpstreamTimeout(where + phrase + tail, phase=err.phase)
    if isinstance(err, errors.UpstreamConnectError):
        return errors.UpstreamConnectError(where + "could not connect to the upstream" + tail)
    return errors.UpstreamProtocolError(
        where + "the upstream's answer was malformed or cut off" + tail
    )
