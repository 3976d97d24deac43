"""The count-tokens operation: how many input tokens a request has.

Upstreams that can count (Anthropic ``/messages/count_tokens``, Gemini
``:countTokens``) are asked through the same failover loop as chat; when
none of the targets can, or all fail, the client gets our estimate instead
of an error (clients such as Claude Code ask often and only need a number).
"""

from __future__ import annotations

import dataclasses
import json

from omniroute import errors
from omniroute.formats import ir
from omniroute.formats.wire import wire_format
from omniroute.gateway.call import Attempt, AttemptEnd, Call, Outcome
from omniroute.gateway.chat import dumps
from omniroute.gateway.exchange import Exchange
from omniroute.gateway.registry import ProviderInfo
from omniroute.http.message import Response
from omniroute.providers.family import Operation
from omniroute.upstream import Timeouts


class CountTokensOperation:
    operation = Operation.COUNT_TOKENS

    def serves(self, call: Call, provider: ProviderInfo, model: str) -> bool:
        return Operation.COUNT_TOKENS in provider.family.operations and provider.offers(
            "chat", model
        )

    def unserved(self, call: Call, error: errors.OmniError, tried: bool) -> Response:
        return _answer(call, call.wire.count_tokens_estimate(call.ir_request()), [])

    async def run(
        self, exchange: Exchange, call: Call, attempt: Attempt, timeouts: Timeouts
    ) -> Response:
        family = attempt.provider.family
        req = dataclasses.replace(call.ir_request(), model=attempt.target.model, stream=False)
        rendered = wire_format(attempt.upstream_format).render_request(family.prepare(req))
        body = dumps(family.count_body(rendered))
        resp = await exchange.open(call, attempt, body, stream=False, timeouts=timeouts)
        raw = await exchange.read(call, attempt, resp)
        try:
            answer = json.loads(raw)
            counted = answer.get("input_tokens", answer.get("totalTokens"))
        except (ValueError, AttributeError):
            counted = None
        if not isinstance(counted, int) or isinstance(counted, bool):
            raise errors.UpstreamProtocolError(
                f"{attempt.provider.name} answered the token count without a number"
            )
        attempt.end(AttemptEnd(Outcome.ANSWERED, 200, ir.Usage(input_tokens=counted)))
        return _answer(call, counted, attempt.headers())


def _answer(call: Call, counted: int, headers: list[tuple[str, str]]) -> Response:
    return Response.json(call.wire.render_token_count(counted), headers=headers)
