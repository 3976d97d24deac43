"""Drives the sans-IO HTTPConnection the way the server does, with a fake clock."""

from __future__ import annotations

from collections.abc import Callable

from omniroute.http import ErrorFactory, Request, Response, default_error_factory
from omniroute.http.protocol import (
    CLOSE,
    NEED_DATA,
    Config,
    Event,
    HTTPConnection,
    Interim,
    Rejected,
    RequestReceived,
)
from omniroute.settings import Settings
from tests.http.wire import RawResponse, split_response

CLIENT = ("127.0.0.1", 50000)


class Driver:
    """One connection: bytes in, events and written bytes out, time by hand."""

    def __init__(
        self,
        settings: Settings | None = None,
        error_factory: ErrorFactory | None = None,
        body_limit: Callable[[Request], int | None] | None = None,
    ) -> None:
        self.now = 100.0
        config = Config(settings or Settings(), error_factory or default_error_factory, body_limit)
        self.conn = HTTPConnection(config, CLIENT, self.now)
        self.written = bytearray()
        self.closed = False
        self.rejected: list[int] = []

    def events(self) -> list[Event]:
        """Events until the connection waits (NEED_DATA), has a request or closes;
        interim answers and refusals are "written" on the way."""
        seen: list[Event] = []
        for _ in range(100):
            event = self.conn.next_event(self.now)
            seen.append(event)
            if isinstance(event, Interim | Rejected):
                self.written += event.data
                if isinstance(event, Rejected):
                    self.rejected.append(event.status)
                continue
            if event is CLOSE:
                self.closed = True
            return seen
        raise AssertionError("no settled event in 100 steps")

    def feed(self, data: bytes) -> list[Event]:
        self.conn.receive_data(data, self.now)
        return self.events()

    def eof(self) -> list[Event]:
        self.conn.receive_eof()
        return self.events()

    def wait(self, seconds: float) -> list[Event]:
        """Let the clock run, then act on it as the server's timer would."""
        self.now += seconds
        return self.events()

    def request(self, data: bytes) -> Request:
        """Feed ``data``; it must complete a request."""
        events = self.feed(data)
        assert isinstance(events[-1], RequestReceived), events
        return events[-1].request

    def next_request(self) -> Request:
        """The next pipelined request, already received."""
        events = self.events()
        assert isinstance(events[-1], RequestReceived), events
        return events[-1].request

    def respond(self, response: Response) -> None:
        self.written += self.conn.respond(response, self.now)

    def take(self) -> bytes:
        data = bytes(self.written)
        self.written.clear()
        return data

    def answer(self, *, method: str = "GET") -> RawResponse:
        """The one response written so far (nothing may follow it)."""
        response, rest = split_response(self.take(), method=method)
        assert rest == b"", rest
        return response

    def waiting(self) -> bool:
        return self.events() == [NEED_DATA]


def refused(driver: Driver, data: bytes) -> RawResponse:
    """Feed ``data``: it must be refused (Connection: close), the refusal
    written before the connection lingers."""
    events = driver.feed(data)
    assert driver.rejected, events
    response = driver.answer()
    assert response.status == driver.rejected[-1]
    assert response.header("connection") == "close"
    return response
