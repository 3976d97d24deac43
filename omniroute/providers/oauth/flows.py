"""Sign-in flows in progress: started, then completed by the browser's
redirect to our loopback address or by the user pasting where it ended.

A sign-in from a remote server's dashboard, or over SSH, cannot rely on the
loopback redirect: the browser runs on another machine and shows a
connection error on ``http://127.0.0.1:…/auth/callback?code=…``. That
address is what the user pastes (or forwards the port with ``ssh -L``).
Either way the ``state`` must match the flow it was made for.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import h11

from omniroute.providers.oauth.errors import OAuthError

log = logging.getLogger("omniroute.oauth")

FLOW_LIFETIME = 600.0  # seconds a started sign-in waits for its redirect
MAX_FLOWS = 16  # sign-ins waiting at once; the oldest is dropped beyond
_REQUEST_LIMIT = 16 * 1024
_READ_TIMEOUT = 10.0

PENDING = "pending"
DONE = "done"
FAILED = "failed"
EXPIRED = "expired"


@dataclass(slots=True)
class LoginFlow:
    id: str
    provider: str
    url: str
    redirect_uri: str
    state: str = field(repr=False)
    nonce: str = field(repr=False)
    verifier: str = field(repr=False)
    client_id: str | None  # None: the first sign-in, which registers the app
    name: str | None
    proxy: str | None = field(repr=False)
    expires_at: float
    status: str = PENDING
    account_id: int | None = None
    created: bool = False
    email: str | None = None
    error: str | None = None
    warning: str | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def public(self, now: float | None = None) -> dict[str, object]:
        """What the API and the CLI show of it: never a code or a verifier."""
        now = time.time() if now is None else now
        if self.status == PENDING and now >= self.expires_at:
            self.status, self.error = EXPIRED, "the sign-in took too long; start it again"
        return {
            "flow_id": self.id,
            "provider": self.provider,
            "status": self.status,
            "url": self.url,
            "redirect_uri": self.redirect_uri,
            "expires_at": self.expires_at,
            "account_id": self.account_id,
            "created": self.created,
            "email": self.email,
            "error": self.error,
            "warning": self.warning,
        }


def new_flow_id() -> str:
    return secrets.token_hex(12)


@dataclass(frozen=True, slots=True)
class Redirect:
    code: str = field(repr=False)
    client_id: str | None  # the issued client id, on a first sign-in


def read_redirect(pasted: str, state: str) -> Redirect:
    """The code of a pasted redirect address (or its query alone), checked
    against the flow's state first, as the issuer's errors come after it."""
    text = pasted.strip()
    if not text:
        raise OAuthError("paste the whole address the browser ended on")
    query = urlsplit(text).query if "://" in text or text.startswith("/") else text.lstrip("?")
    values = parse_qs(query, keep_blank_values=True)

    def one(name: str) -> str | None:
        got = values.get(name) or []
        if len(got) > 1:
            raise OAuthError(f"the address holds {name} twice")
        return got[0] if got else None

    given = one("state")
    if given is None:
        raise OAuthError("that address holds no sign-in answer (no state)")
    if not secrets.compare_digest(given.encode(), state.encode()):
        raise OAuthError("that address belongs to another sign-in (state does not match)")
    error = one("error")
    if error == "access_denied":
        raise OAuthError("the sign-in was declined in the browser")
    if error:
        raise OAuthError(f"the sign-in failed in the browser ({error[:80]})")
    code = one("code")
    if not code:
        raise OAuthError("that address holds no authorization code")
    return Redirect(code, one("client_id"))


Handler = Callable[[str], Awaitable[tuple[int, str]]]


class CallbackListener:
    """The loopback HTTP listener a browser is redirected to. It answers
    one small GET per connection and nothing else."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._server: asyncio.Server | None = None
        self.port: int | None = None

    async def start(self, port: int) -> int:
        """Listen on 127.0.0.1:``port`` (any free port when it is taken)."""
        if self._server is not None and self.port is not None:
            return self.port
        try:
            server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        except OSError:
            server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self._server = server
        self.port = int(server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server, self.port = None, None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_REQUEST_LIMIT)
        try:
            target = await asyncio.wait_for(_request_target(conn, reader), _READ_TIMEOUT)
            if target is None:
                return
            status, text = await self._handler(target)
            body = _page(text)
            out = (
                conn.send(
                    h11.Response(
                        status_code=status,
                        headers=[
                            ("content-type", "text/html; charset=utf-8"),
                            ("content-length", str(len(body))),
                            ("cache-control", "no-store"),
                            ("referrer-policy", "no-referrer"),
                            ("connection", "close"),
                        ],
                    )
                )
                or b""
            )
            out += conn.send(h11.Data(data=body)) or b""
            out += conn.send(h11.EndOfMessage()) or b""
            writer.write(out)
            await writer.drain()
        except (TimeoutError, h11.ProtocolError, ConnectionError):
            pass
        except Exception:  # a listener must never take the gateway down
            log.exception("sign-in listener: the callback could not be handled")
        finally:
            writer.close()


async def _request_target(conn: h11.Connection, reader: asyncio.StreamReader) -> str | None:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(4096)
            conn.receive_data(data)
            if not data:
                return None
            continue
        if isinstance(event, h11.Request):
            return event.target.decode("latin-1")
        return None


def _page(text: str) -> bytes:
    safe = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        "<!doctype html><meta charset=utf-8><title>OmniRoute sign-in</title>"
        f"<p style='font:16px system-ui;margin:3em'>{safe}</p>"
    ).encode()
