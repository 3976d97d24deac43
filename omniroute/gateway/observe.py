"""Where a request's life is reported for live observation: the telemetry
windows and the live monitor. Called on the request path, so everything
here only appends to in-memory structures and never raises."""

from __future__ import annotations

import logging
import time
from typing import Any

from omniroute.gateway.capture import BodyCapture
from omniroute.gateway.monitor import Monitor
from omniroute.gateway.telemetry import Telemetry
from omniroute.store.records import RequestLogRow

log = logging.getLogger("omniroute.observe")


class Observers:
    __slots__ = ("telemetry", "monitor", "capture")

    def __init__(self, telemetry: Telemetry | None = None, monitor: Monitor | None = None) -> None:
        self.telemetry = telemetry or Telemetry()
        self.monitor = monitor or Monitor()
        self.capture = BodyCapture()

    def started(self, request_id: str, model: str, stream: bool, dialect: str) -> None:
        self._publish(
            {
                "event": "start",
                "ts": time.time(),
                "request_id": request_id,
                "model": model,
                "stream": stream,
                "client_format": dialect,
            }
        )

    def first_token(
        self, request_id: str, model: str, provider: str, account_id: int, ttft_ms: float
    ) -> None:
        self._publish(
            {
                "event": "first_token",
                "ts": time.time(),
                "request_id": request_id,
                "model": model,
                "provider": provider,
                "account_id": account_id,
                "ttft_ms": round(ttft_ms, 1),
            }
        )

    def ended(self, row: RequestLogRow) -> None:
        """A request's row was produced: count it and tell the watchers."""
        self.telemetry.record(row)
        self._publish(
            {
                "event": "end",
                "ts": row.ts,
                "request_id": row.request_id,
                "model": row.model,
                "resolved_model": row.resolved_model,
                "provider": row.provider,
                "account_id": row.account_id,
                "status": row.status,
                "error_kind": row.error_kind,
                "latency_ms": round(row.latency_ms, 1),
                "ttft_ms": None if row.ttft_ms is None else round(row.ttft_ms, 1),
                "input_tokens": row.input_tokens,
                "output_tokens": row.output_tokens,
            }
        )

    def _publish(self, event: dict[str, Any]) -> None:
        try:
            self.monitor.publish(event)
        except Exception:  # never let watching break a request
            log.debug("monitor event not published", exc_info=True)
