"""Legacy text completions (``/v1/completions``), JSON or streamed.

An upstream with the completions endpoint gets the request as it came (but
for the model) and its answer passes through. Any other chat upstream gets
the same request as chat, the prompt as one user message, through the chat
operation (so every wire format can serve it), and its answer comes back as
a text completion. What chat cannot carry (``suffix``, ``echo``,
``logprobs``, ``best_of``, several prompts or token ids) goes to upstreams
with the endpoint only; when none is among the targets, the client hears so
(400).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from omniroute import errors
from omniroute.formats import ir
from omniroute.formats.openai_endpoints import (
    answer_usage,
    chat_request,
    completion_answer,
    completion_chunk,
    estimated_usage,
    native_only,
    text_of,
)
from omniroute.formats.sse import SSEDecoder
from omniroute.gateway.call import Attempt, Call
from omniroute.gateway.chat import ChatOperation, dumps
from omniroute.gateway.exchange import Exchange
from omniroute.gateway.forward import JsonOperation, offered, stream_through
from omniroute.gateway.registry import ProviderInfo
from omniroute.http.message import GuardedStream, Response, StreamResponse
from omniroute.providers.family import Operation
from omniroute.upstream import Timeouts


class CompletionsOperation:
    operation = Operation.COMPLETIONS

    def __init__(self, chat: ChatOperation) -> None:
        self._chat = chat
        self._native = JsonOperation(Operation.COMPLETIONS)

    def serves(self, call: Call, provider: ProviderInfo, model: str) -> bool:
        if offered(self.operation, provider, model):
            return True
        return not native_only(call.body) and self._chat.serves(call, provider, model)

    def unserved(self, call: Call, error: errors.OmniError, tried: bool) -> Response | None:
        needs = native_only(call.body)
        if needs and not tried:
            raise errors.BadRequest(
                f"{', '.join(needs)}: only an upstream with the completions endpoint can do "
                f"this, and none serves {call.model!r}; ask without it, or use a model whose "
                "provider has the endpoint."
            )
        return None

    async def run(
        self, exchange: Exchange, call: Call, attempt: Attempt, timeouts: Timeouts
    ) -> Response | StreamResponse:
        if offered(self.operation, attempt.provider, attempt.target.model):
            if not call.stream:
                return await self._native.run(exchange, call, attempt, timeouts)
            return await self._native_stream(exchange, call, attempt, timeouts)
        answer = await self._chat.run(exchange, _as_chat(call), attempt, timeouts)
        if isinstance(answer, StreamResponse):
            answer.chunks = _completion_stream(answer.chunks)
            return answer
        return Response(
            answer.status,
            dumps(completion_answer(json.loads(answer.body))),
            [h for h in answer.headers if h[0].lower() != "content-type"],
            content_type="application/json",
        )

    async def _native_stream(
        self, exchange: Exchange, call: Call, attempt: Attempt, timeouts: Timeouts
    ) -> StreamResponse:
        family, model = attempt.provider.family, attempt.target.model
        body = dumps(family.operation_body(self.operation, call.body, model))
        resp = await exchange.open(call, attempt, body, stream=True, timeouts=timeouts)
        sse = SSEDecoder()
        seen: list[ir.Usage] = []

        def watch(chunk: bytes) -> None:
            for event in sse.feed(chunk):
                if event.data.startswith("{") and '"usage"' in event.data:
                    try:
                        found = answer_usage(json.loads(event.data))
                    except ValueError:
                        continue
                    if found is not None:
                        seen.append(found)

        def usage() -> ir.Usage:
            return seen[-1] if seen else estimated_usage(text_of(call.body.get("prompt")))

        kind = resp.header("content-type") or "text/event-stream"
        return stream_through(call, attempt, resp, kind, usage, watch)


def _as_chat(call: Call) -> Call:
    """The same request as a chat call (its attempt still reports to the
    completions call's row)."""
    chat = Call(
        request_id=call.request_id,
        client_key_id=call.client_key_id,
        dialect="openai",
        body=chat_request(call.body),
        model=call.model,
        stream=call.stream,
        client_headers=call.client_headers,
        include_usage=call.include_usage,
        client_address=call.client_address,
    )
    chat.started = call.started
    return chat


def _completion_stream(chunks: AsyncIterator[bytes]) -> GuardedStream:
    """Chat chunks rewritten as text completion chunks; ``[DONE]`` and error
    events pass as they are."""

    async def rewrite() -> AsyncIterator[bytes]:
        sse = SSEDecoder()
        async for chunk in chunks:
            out = bytearray()
            for event in sse.feed(chunk):
                data = event.data
                if data.startswith("{"):
                    try:
                        parsed = json.loads(data)
                    except ValueError:
                        parsed = None
                    if isinstance(parsed, dict) and "choices" in parsed:
                        data = json.dumps(completion_chunk(parsed), separators=(",", ":"))
                out += b"data: " + data.encode() + b"\n\n"
            if out:
                yield bytes(out)

    async def close_source() -> None:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()

    return GuardedStream(rewrite(), close_source)
