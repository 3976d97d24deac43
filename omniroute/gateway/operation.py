"""What the failover loop needs of an operation (chat, count tokens, and the
endpoints still to come), so one loop serves them all."""

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

    def serves(self, provider: ProviderInfo) -> bool:
        """Whether this provider's upstreams can do the operation at all."""
        ...

    async def run(
        self, exchange: Exchange, call: Call, attempt: Attempt, timeouts: Timeouts
    ) -> Response | StreamResponse:
        """One attempt. Raises UpstreamError (the loop may go on); reports
        its end on the attempt when it answered."""
        ...

    def unserved(self, call: Call, error: errors.OmniError) -> Response | None:
        """The answer when no upstream could serve the call (None: the error)."""
        ...
