"""The operations beside chat whose answer is one JSON body (embeddings,
moderations, rerank, image generation, audio transcription) or a stream of
bytes (speech): one attempt sends the client's request, with the target's
model, to the family's URL for the operation, and gives the answer back in
OpenAI's shape with the usage it reports (or our estimate, marked so).

A family that speaks another shape (Gemini's embed API) translates the
request and the answer (``operation_body``, ``operation_answer``); a
multipart upload is forwarded as it came, only its model part changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable

from omniroute import errors
from omniroute.formats import ir
from omniroute.formats.openai_endpoints import (
    answer_usage,
    estimated_usage,
    text_of,
    with_usage,
)
from omniroute.gateway.call import Attempt, AttemptEnd, Call, Outcome
from omniroute.gateway.chat import dumps
from omniroute.gateway.costs import cost_headers
from omniroute.gateway.exchange import Exchange, public
from omniroute.gateway.registry import ProviderInfo
from omniroute.http.message import GuardedStream, Response, StreamResponse
from omniroute.providers.family import Operation
from omniroute.upstream import Timeouts, UpstreamResponse
from omniroute.upstream.client import Body

# Request fields whose text the upstream reads, for a usage estimate when
# the answer reports none.
_INPUT_FIELDS = {
    Operation.EMBEDDINGS: ("input",),
    Operation.MODERATION: ("input",),
    Operation.RERANK: ("query", "documents"),
    Operation.IMAGES: ("prompt",),
    Operation.SPEECH: ("input",),
}


def offered(operation: Operation, provider: ProviderInfo, model: str) -> bool:
    """The provider's format can carry the operation and the provider (and
    the model on it) serves it."""
    return operation in provider.family.operations and provider.offers(operation.capability, model)


class _Forwarded:
    """What every forwarded operation shares: who serves it, and no answer
    of its own when nobody does."""

    operation: Operation

    def serves(self, call: Call, provider: ProviderInfo, model: str) -> bool:
        return offered(self.operation, provider, model)

    def unserved(self, call: Call, error: errors.OmniError, tried: bool) -> Response | None:
        return None


class JsonOperation(_Forwarded):
    """An operation answered with one JSON body."""

    def __init__(self, operation: Operation) -> None:
        self.operation = operation

    async def run(
        self, exchange: Exchange, call: Call, attempt: Attempt, timeouts: Timeouts
    ) -> Response:
        family, model = attempt.provider.family, attempt.target.model
        body: Body
        if call.upload is not None:
            body, content_type = call.upload.replaced("model", model), call.upload.content_type
        else:
            body = dumps(family.operation_body(self.operation, call.body, model))
            content_type = None
        resp = await exchange.open(
            call, attempt, body, stream=False, timeouts=timeouts, content_type=content_type
        )
        raw = await exchange.read(call, attempt, resp)
        kind = (resp.header("content-type") or "application/json").split(";", 1)[0].strip()
        if not kind.endswith("json"):
            # Transcripts asked for as text, srt or vtt come back as they are.
            return _answered(call, attempt, raw, kind, ir.Usage())
        try:
            given = json.loads(raw)
            answer = family.operation_answer(self.operation, given, call.body, model)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise errors.UpstreamProtocolError(
                f"{attempt.provider.name} sent an answer that is not the JSON of "
                f"{self.operation.value} ({type(exc).__name__})."
            ) from None
        usage = answer_usage(answer)
        if usage is None:
            usage = self._estimate(call)
            if self.operation is Operation.EMBEDDINGS and isinstance(answer, dict):
                answer = with_usage(answer, usage)  # clients read it; never left out
        if answer is not given:
            raw = dumps(answer)
        return _answered(call, attempt, raw, "application/json", usage)

    def _estimate(self, call: Call) -> ir.Usage:
        fields = _INPUT_FIELDS.get(self.operation, ())
        return estimated_usage("".join(text_of(call.body.get(f)) for f in fields))


def _answered(
    call: Call, attempt: Attempt, body: bytes, content_type: str, usage: ir.Usage
) -> Response:
    attempt.end(AttemptEnd(Outcome.ANSWERED, 200, usage))
    headers = attempt.headers()
    headers.append(("x-omniroute-tokens-in", str(usage.input_tokens)))
    headers.append(("x-omniroute-latency-ms", str(round((time.monotonic() - call.started) * 1000))))
    headers += cost_headers(attempt.cost, usage)
    return Response(200, body, headers, content_type=content_type)


class SpeechOperation(_Forwarded):
    """Text to speech: the audio goes to the client as it arrives, with the
    upstream's content type, so playback can start before the upstream ends."""

    operation = Operation.SPEECH

    async def run(
        self, exchange: Exchange, call: Call, attempt: Attempt, timeouts: Timeouts
    ) -> StreamResponse:
        family, model = attempt.provider.family, attempt.target.model
        body = dumps(family.operation_body(self.operation, call.body, model))
        resp = await exchange.open(call, attempt, body, stream=False, timeouts=timeouts)
        usage = estimated_usage(text_of(call.body.get("input")))
        kind = resp.header("content-type") or "application/octet-stream"
        return stream_through(call, attempt, resp, kind, lambda: usage)


def stream_through(
    call: Call,
    attempt: Attempt,
    resp: UpstreamResponse,
    content_type: str,
    usage: Callable[[], ir.Usage],
    watch: Callable[[bytes], None] | None = None,
) -> StreamResponse:
    """The upstream's body to the client as it arrives, unchanged (``watch``
    sees each piece); the attempt ends with the last byte, or when the
    client leaves (499), with ``usage()`` as it is then."""
    ttfb = time.monotonic() - call.started
    end: list[tuple[int, str | None]] = [(499, "client_closed")]  # until the last byte

    async def cleanup() -> None:
        try:
            await resp.aclose()
        finally:
            status, kind = end[-1]
            attempt.end(AttemptEnd(Outcome.ANSWERED, status, usage(), kind, ttfb))

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in resp.iter_raw():
                if watch is not None:
                    watch(chunk)
                yield chunk
        except errors.UpstreamError as err:
            # The answer has begun: it ends short, and the row says why.
            told = public(call, attempt, err)
            end.append((told.status, told.kind))
            return
        end.append((200, None))

    return StreamResponse(
        GuardedStream(relay(), cleanup), headers=attempt.headers(), content_type=content_type
    )


def json_operations() -> tuple[JsonOperation, ...]:
    return tuple(
        JsonOperation(op)
        for op in (
            Operation.EMBEDDINGS,
            Operation.MODERATION,
            Operation.RERANK,
            Operation.IMAGES,
            Operation.IMAGE_EDITS,
            Operation.TRANSCRIPTION,
            Operation.TRANSLATION,
        )
    )
