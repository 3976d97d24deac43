"""The pooled HTTP/1.1 client that carries every request to an upstream.

``UpstreamClient.send`` returns an ``UpstreamResponse`` once the head has
arrived; its body is then read whole (``read``) or chunk by chunk as it
arrives (``iter_raw``), and ``aclose`` (or ``async with``) hands the
connection back to the pool.
"""

from __future__ import annotations

from omniroute.upstream.client import Timeouts, UpstreamClient
from omniroute.upstream.response import UpstreamResponse

__all__ = ["Timeouts", "UpstreamClient", "UpstreamResponse"]
