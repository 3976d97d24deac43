"""The chat operation: one attempt at a generation, JSON or streamed.

The JSON lane reads the whole answer; the stream lane reads until the model
starts answering (so an error before the first token can still fail over)
and then hands the rest to the client as it comes. When the client's format
is the upstream's, the body passes through with only the model changed and
the stream bytes pass through unchanged; otherwise both go through the IR.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from omniroute import errors
from omniroute.formats import ir
from omniroute.formats.accumulate import encoded_whole
from omniroute.formats.common import (
    drop_fields,
    dump_json,
    estimate_request_tokens,
    tokens_for_chars,
)
from omniroute.formats.wire import StreamEncoder, WireFormat, wire_format
from omniroute.gateway.call import Attempt, AttemptEnd, Call, Outcome
from omniroute.gateway.costs import cost_headers
from omniroute.gateway.exchange import Exchange, public, scrub
from omniroute.gateway.images import ImageFetcher, has_web_images
from omniroute.gateway.registry import ProviderInfo
from omniroute.gateway.relay import StreamRelay
from omniroute.http.message import GuardedStream, Response, StreamResponse
from omniroute.providers.family import Operation
from omniroute.upstream import Timeouts, UpstreamResponse

log = logging.getLogger("omniroute.pipeline")


def dumps(obj: Any) -> bytes:
    return dump_json(obj).encode()


class ChatOperation:
    operation = Operation.CHAT

    def __init__(self, images: ImageFetcher | None = None) -> None:
        self._images = images or ImageFetcher()

    def serves(self, call: Call, provider: ProviderInfo, model: str) -> bool:
        return Operation.CHAT in provider.family.operations and provider.offers("chat", model)

    def unserved(self, call: Call, error: errors.OmniError, tried: bool) -> Response | None:
        return None  # nothing stands in for an answer

    async def run(
        self, exchange: Exchange, call: Call, attempt: Attempt, timeouts: Timeouts
    ) -> Response | StreamResponse:
        upstream = wire_format(attempt.upstream_format)
        family = attempt.provider.family
        # An upstream that only streams is asked for a stream even when the
        # client wants one JSON answer, which is then assembled from it.
        collect = family.stream_only and not call.stream
        passthrough = (
            attempt.upstream_format == call.dialect
            and not call.translate_only
            and attempt.system_prompt is None
            and not collect
        )
        if (
            not passthrough
            and attempt.provider.family.inline_image_urls
            and has_web_images(call.ir_request())
        ):
            # Fetched once: later attempts, to any upstream, send the data.
            await self._images.inline(call.ir_request())
        body = _upstream_body(call, attempt, passthrough, upstream)
        stream = call.stream or collect
        resp = await exchange.open(call, attempt, body, stream=stream, timeouts=timeouts)
        if collect and _is_event_stream(resp):
            try:
                return await _collected(call, attempt, resp, upstream)
            finally:
                await resp.aclose()
        if call.stream and _is_event_stream(resp):
            try:
                return await _open_stream(call, attempt, resp, upstream, passthrough)
            except errors.UpstreamError as err:
                await resp.aclose()
                raise public(call, attempt, err) from None
            except BaseException:
                await resp.aclose()
                raise
        raw = await exchange.read(call, attempt, resp)
        if call.stream:  # asked for a stream, answered with one JSON body
            return _json_as_stream(call, attempt, raw, upstream)
        return _json_answer(call, attempt, raw, upstream, passthrough)


def _upstream_body(call: Call, attempt: Attempt, passthrough: bool, upstream: WireFormat) -> bytes:
    family = attempt.provider.family
    if passthrough:
        return dumps(family.finish(family.passthrough_body(call.body, attempt.target.model)))
    req = dataclasses.replace(call.ir_request(), model=attempt.target.model)
    if attempt.system_prompt:
        req.system = [ir.TextPart(attempt.system_prompt), *req.system]
    return dumps(family.finish(upstream.render_request(family.prepare(req))))


class _Discard:
    """A stream encoder that writes nothing: the relay only assembles."""

    def encode(self, ev: ir.Event) -> bytes:
        return b""


async def _collected(
    call: Call, attempt: Attempt, resp: UpstreamResponse, upstream: WireFormat
) -> Response:
    """The whole answer of a streamed exchange, for a client that asked for
    JSON. Nothing reached the client yet, so any failure can still go to the
    next account or target."""
    relay = StreamRelay(
        upstream, _Discard(), lambda: _input_estimate(call), scrubber=attempt.scrubber
    )
    try:
        async for chunk in resp.iter_raw():
            relay.feed(chunk)
            if relay.error is not None:
                break
        else:
            relay.close()
    except errors.UpstreamError as err:
        raise public(call, attempt, err) from None
    if relay.error is not None or relay.truncated:
        info = relay.error or ir.ErrorInfo(502, "api_error", "the upstream stream was cut short")
        raise errors.UpstreamStreamError(
            scrub(info.message, attempt),
            status=errors.client_status_for_upstream(info.status),
            kind=info.kind,
            retry_after=info.retry_after,
        )
    answer = relay.answer.response()
    answer.usage = relay.usage
    answer.model = answer.model or attempt.target.model
    answer.id = call.new_answer_id()
    if call.echo:
        answer.vendor.setdefault(call.dialect, {})["echo"] = call.echo
    return _answered(call, attempt, dumps(call.wire.render_response(answer)), answer.usage)


def _json_answer(
    call: Call, attempt: Attempt, raw: bytes, upstream: WireFormat, passthrough: bool
) -> Response:
    try:
        answer = json.loads(raw)
    except ValueError:
        raise _not_json(attempt, "ValueError") from None
    strip = attempt.provider.strip
    if passthrough and strip and drop_fields(answer, strip):
        raw = dumps(answer)  # fields this provider adds that strict SDKs refuse
    if passthrough and b"<think>" not in raw:
        usage = _reported_usage(upstream, answer)
        if usage is not None:
            # The common case: the upstream's own bytes, nothing to add.
            return _answered(call, attempt, raw, usage)
    try:
        parsed = upstream.parse_response(answer)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _not_json(attempt, type(exc).__name__) from None
    if parsed.usage.input_tokens == 0 or parsed.usage.output_tokens == 0:
        parsed.usage = _completed_usage(call, parsed)  # never silently zero
    parsed.model = parsed.model or attempt.target.model  # Gemini may not name it
    if passthrough and _has_think_tags(raw, parsed):
        passthrough = False  # the client must get the <think> text as reasoning
    if passthrough:
        out = raw
        if parsed.usage.estimated:
            out = dumps(upstream.with_usage(answer, parsed.usage))
    else:
        parsed.id = call.new_answer_id()
        if call.echo:
            parsed.vendor.setdefault(call.dialect, {})["echo"] = call.echo
        out = dumps(call.wire.render_response(parsed))
    return _answered(call, attempt, out, parsed.usage)


def _json_as_stream(
    call: Call, attempt: Attempt, raw: bytes, upstream: WireFormat
) -> StreamResponse:
    """Some upstreams answer a streamed request with one JSON body: the
    client still gets a stream, in its own dialect, of that whole answer."""
    try:
        parsed = upstream.parse_response(json.loads(raw))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _not_json(attempt, type(exc).__name__) from None
    if parsed.usage.input_tokens == 0 or parsed.usage.output_tokens == 0:
        parsed.usage = _completed_usage(call, parsed)
    parsed.model = parsed.model or attempt.target.model
    parsed.id = call.new_answer_id()
    encoder = _encoder_factory(call, attempt)()
    attempt.end(
        AttemptEnd(Outcome.ANSWERED, 200, parsed.usage, ttfb=time.monotonic() - call.started)
    )
    return StreamResponse(encoded_whole(encoder, parsed), headers=attempt.headers())


def _is_event_stream(resp: UpstreamResponse) -> bool:
    kind = resp.header("content-type") or "text/event-stream"
    return not kind.split(";", 1)[0].strip().lower().endswith("json")


def _reported_usage(upstream: WireFormat, answer: Any) -> ir.Usage | None:
    """The answer's own usage when it is complete (both counts given)."""
    try:
        usage = upstream.answer_usage(answer)
    except (ValueError, TypeError):
        return None
    if usage is None or not usage.input_tokens or not usage.output_tokens:
        return None
    return usage


def _answered(call: Call, attempt: Attempt, body: bytes, usage: ir.Usage) -> Response:
    attempt.end(AttemptEnd(Outcome.ANSWERED, 200, usage))
    headers = attempt.headers()
    headers.append(("x-omniroute-tokens-in", str(usage.input_tokens)))
    headers.append(("x-omniroute-tokens-out", str(usage.output_tokens)))
    headers.append(("x-omniroute-latency-ms", str(round((time.monotonic() - call.started) * 1000))))
    headers += cost_headers(attempt.cost, usage)
    return Response(200, body, headers, content_type="application/json")


def _not_json(attempt: Attempt, why: str) -> errors.UpstreamProtocolError:
    return errors.UpstreamProtocolError(
        f"{attempt.provider.name} sent an answer that is not valid "
        f"{attempt.upstream_format} JSON ({why})."
    )


def _encoder_factory(call: Call, attempt: Attempt) -> Callable[[], StreamEncoder]:
    """Makes the client format's stream encoder for this call."""
    wire, model = call.wire, attempt.target.model

    def make() -> StreamEncoder:
        return wire.stream_encoder(model, call.include_usage, call.echo)

    return make


async def _open_stream(
    call: Call, attempt: Attempt, resp: UpstreamResponse, upstream: WireFormat, passthrough: bool
) -> StreamResponse:
    make_encoder = _encoder_factory(call, attempt)
    relay = StreamRelay(
        upstream,
        None if passthrough else make_encoder(),
        lambda: _input_estimate(call),
        None if passthrough else call.new_answer_id(),
        include_usage=call.include_usage,
        switch=make_encoder if passthrough else None,
        scrubber=attempt.scrubber,
        strip=attempt.provider.strip,
    )
    chunks = resp.iter_raw()
    head = bytearray()
    ended = False
    async for chunk in chunks:
        head += relay.feed(chunk)
        if relay.started or relay.error is not None:
            break
    else:
        ended = True
        head += relay.close()
    if relay.error is not None and not relay.started:
        # An error before the first token, or a stream that ended with none:
        # nothing reached the client, so the request can go elsewhere.
        raise errors.UpstreamStreamError(
            scrub(relay.error.message, attempt),
            status=errors.client_status_for_upstream(relay.error.status),
            kind=relay.error.kind,
            retry_after=relay.error.retry_after,
        )
    ttfb = time.monotonic() - call.started
    end = _StreamEnd()

    async def cleanup() -> None:
        try:
            await resp.aclose()
        finally:
            attempt.end(AttemptEnd(Outcome.ANSWERED, end.status, relay.usage, end.kind, ttfb))

    rest = _stream_rest(call, attempt, chunks, relay, bytes(head), ended, end)

    def shutting_down() -> bytes:
        """The server stops before the stream ended: the client is told so in
        its dialect, and the row says the server ended it."""
        end.status, end.kind = 503, "server_shutdown"
        log.warning("request %s: stream ended by the server shutting down", call.request_id)
        return relay.error_bytes(_SHUTTING_DOWN)

    return StreamResponse(
        GuardedStream(rest, cleanup), headers=attempt.headers(), on_shutdown=shutting_down
    )


_SHUTTING_DOWN = ir.ErrorInfo(
    503, "overloaded", "The server is shutting down; the answer was cut short."
)


class _StreamEnd:
    """How a relayed stream ended, filled in as it goes."""

    __slots__ = ("status", "kind")

    def __init__(self) -> None:
        # Until the stream completes, assume the client left (nginx's 499).
        self.status = 499
        self.kind: str | None = "client_closed"


async def _stream_rest(
    call: Call,
    attempt: Attempt,
    chunks: AsyncIterator[bytes],
    relay: StreamRelay,
    head: bytes,
    ended: bool,
    end: _StreamEnd,
) -> AsyncIterator[bytes]:
    if head:
        yield head
    status, kind = 200, None
    if not ended:
        try:
            async for chunk in chunks:
                out = relay.feed(chunk)
                if out:
                    yield out
            tail = relay.close()
            if tail:
                yield tail
        except errors.UpstreamError as err:
            told = public(call, attempt, err)
            status, kind = told.status, told.kind
            info = ir.ErrorInfo(
                told.status, told.kind, "The upstream stream was interrupted: " + told.message
            )
            yield relay.error_bytes(info)
    if relay.error is not None:
        status, kind = relay.error.status, relay.error.kind
        if relay.truncated:
            kind = "truncated"
            log.warning("request %s: the upstream stream was cut short", call.request_id)
    end.status, end.kind = status, kind


def _has_think_tags(raw: bytes, answer: ir.Response) -> bool:
    return b"<think>" in raw and any(isinstance(p, ir.ThinkingPart) for p in answer.parts)


def _input_estimate(call: Call) -> int:
    try:
        return estimate_request_tokens(call.ir_request())
    except errors.OmniError:
        return 0


def _completed_usage(call: Call, answer: ir.Response) -> ir.Usage:
    """The answer's usage with what the upstream left out estimated."""
    usage = answer.usage
    if usage.output_tokens == 0:
        chars = 0
        for part in answer.parts:
            chars += len(part.arguments) if isinstance(part, ir.ToolCallPart) else len(part.text)
        usage = dataclasses.replace(usage, output_tokens=tokens_for_chars(chars))
    if usage.input_tokens == 0:
        usage = dataclasses.replace(usage, input_tokens=_input_estimate(call))
    return dataclasses.replace(usage, estimated=True)
