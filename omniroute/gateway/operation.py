"""What the failover loop needs of an operation (chat, count tokens,
completions, embeddings and the other endpoints), so one loop serves them all."""

from __future__ import annotations

from typing import Protocol

from omniroute import errors
from omniroute.gateway.call import Attempt, Call
from omniroute.gateway.exchange import Exchange
from omniroute.gateway.registry import ProviderInfo
from omniroute.http.message import Response, StreamResponse
from omniroute.providers.family import Operation
from omniroute.upstream import Timeouts


class OperationHandler(Protocol):
    operation: Operation

    def serves(self, call: Call, provider: ProviderInfo, model: str) -> bool:
        """Whether this provider (and the model on it) can do the operation
        for this call: its format carries it, its capabilities include it,
        and it can take what the request holds."""
        ...

    async def run(
        self, exchange: Exchange, call: Call, attempt: Attempt, timeouts: Timeouts
    ) -> Response | StreamResponse:
        """One attempt. Raises UpstreamError (the loop may go on); reports
        its end on the attempt when it answered."""
        ...

    def unserved(self, call: Call, error: errors.OmniError, tried: bool) -> Response | None:
        """The answer when no upstream could serve the call (None: the error;
        ``tried``: whether any upstream was tried at all). May raise a
        clearer error."""
        ...
