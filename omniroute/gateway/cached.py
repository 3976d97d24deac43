"""A cache hit answered in the client's dialect, and a miss's answer kept.

A hit is rendered from the stored whole answer: a JSON body, or for a
streamed request the stream that answer could have been, made by the
dialect's own encoder, so the same entry serves every client format. A miss
is kept once its answer has been sent whole and well: a JSON answer at once,
a stream at its last byte (it is read back from the bytes the client got).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator

from omniroute.formats import ir
from omniroute.formats.accumulate import Accumulator, encoded_whole
from omniroute.formats.common import dump_json
from omniroute.formats.ir_json import response_from_json, response_to_json
from omniroute.formats.sse import SSEDecoder
from omniroute.gateway.call import Call
from omniroute.gateway.costs import cost_headers
from omniroute.gateway.response_cache import CACHE_HEADER, Entry, ResponseCache
from omniroute.http.message import GuardedStream, Response, StreamResponse

PROVIDER = "cache"  # the provider named in a hit's headers and request-log row


def hit_answer(call: Call, entry: Entry) -> Response | StreamResponse:
    answer = response_from_json(json.loads(entry.answer))
    answer.id = call.new_answer_id()
    headers = [
        (CACHE_HEADER, "hit"),
        ("x-omniroute-provider", PROVIDER),
        ("x-omniroute-tokens-in", str(answer.usage.input_tokens)),
        ("x-omniroute-tokens-out", str(answer.usage.output_tokens)),
        ("x-omniroute-latency-ms", str(round((time.monotonic() - call.started) * 1000))),
    ]
    if call.stream:
        encoder = call.wire.stream_encoder(answer.model, call.include_usage, call.echo)
        return StreamResponse(encoded_whole(encoder, answer), headers=headers)
    if call.echo:
        answer.vendor.setdefault(call.dialect, {})["echo"] = call.echo
    headers += cost_headers(0.0, ir.Usage())  # served from memory: no upstream was paid
    rendered = dump_json(call.wire.render_response(answer)).encode()
    return Response(200, rendered, headers, content_type="application/json")


def keep_answer(
    cache: ResponseCache, call: Call, key: str, response: Response | StreamResponse
) -> Response | StreamResponse:
    """Mark the upstream's answer a miss and keep it once it is whole."""
    if response.status != 200:
        return response
    response.headers.append((CACHE_HEADER, "miss"))
    if isinstance(response, StreamResponse):
        response.chunks = _watched(cache, call, key, response.chunks)
        return response
    try:
        answer = call.wire.parse_response(json.loads(response.body))
    except (ValueError, TypeError, KeyError, AttributeError):
        return response  # not an answer the cache can read again: served, not kept
    if _whole(answer):
        cost = call.logged.cost if call.logged is not None else None
        cache.put(key, call.client_key_id, call.model, response_to_json(answer), cost)
    return response


def _whole(answer: ir.Response) -> bool:
    return answer.stop_reason != "error" and bool(answer.parts)


def _watched(
    cache: ResponseCache, call: Call, key: str, chunks: AsyncIterator[bytes]
) -> GuardedStream:
    """The client's stream unchanged, read along; kept when it ended well."""

    async def watch() -> AsyncIterator[bytes]:
        sse = SSEDecoder()
        decoder = call.wire.stream_decoder()
        acc = Accumulator()
        failed = False
        async for chunk in chunks:
            yield chunk
            if failed:
                continue
            try:
                for event in sse.feed(chunk):
                    for ev in decoder.feed(event.event, event.data):
                        if isinstance(ev, ir.StreamError):
                            failed = True
                        acc.feed(ev)
            except (ValueError, TypeError, KeyError, AttributeError):
                failed = True
        # The pipeline logged the request as the stream ended: its row says
        # how it went and what it cost.
        if failed or not decoder.complete or call.logged is None or call.logged.status != 200:
            return
        answer = acc.response()
        row = call.logged
        if answer.usage.input_tokens == 0 or answer.usage.output_tokens == 0:
            answer.usage = dataclasses.replace(
                answer.usage,
                input_tokens=row.input_tokens,
                output_tokens=row.output_tokens,
                cached_input_tokens=row.cached_tokens,
                reasoning_tokens=row.reasoning_tokens,
            )
        if _whole(answer):
            cache.put(key, call.client_key_id, call.model, response_to_json(answer), row.cost)

    async def close_source() -> None:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()

    return GuardedStream(watch(), close_source)
