"""One client request (``Call``), one try at one account (``Attempt``), and
how an attempt ended (``AttemptEnd``).

An attempt reports its end exactly once, as a small frozen event, to the
listener the pipeline gave it: for a JSON answer when it is read, for a
stream at its last byte (or when it breaks, or the client leaves), for a
failure when it is raised. The pipeline turns that event into health
numbers, a released rate-limit slot and, when it ends the request, the
request-log row.
"""

from __future__ import annotations

import enum
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omniroute.formats import ir
from omniroute.formats.common import new_id
from omniroute.formats.wire import WireFormat, wire_format
from omniroute.gateway.credentials import Credential
from omniroute.gateway.registry import ProviderInfo
from omniroute.gateway.secrets import Scrubber
from omniroute.http.multipart import Form
from omniroute.providers.family import Operation
from omniroute.routing.model import Target
from omniroute.store.key_scope import KeyScope
from omniroute.store.records import AccountRecord, RequestLogRow


class Call:
    """One client request on its way through the gateway."""

    __slots__ = (
        "request_id",
        "client_key_id",
        "dialect",
        "body",
        "model",
        "stream",
        "include_usage",
        "client_headers",
        "operation",
        "scope",
        "client_address",
        "started",
        "translate_only",
        "idempotency_key",
        "session_id",
        "pinned_account",
        "echo",
        "recorded",
        "upload",
        "logged",
        "_ir",
    )

    def __init__(
        self,
        *,
        request_id: str,
        client_key_id: int | None,
        dialect: str,
        body: dict[str, Any],
        model: str,
        stream: bool,
        client_headers: dict[str, str],
        include_usage: bool = False,
        operation: Operation = Operation.CHAT,
        scope: KeyScope | None = None,
        client_address: str | None = None,
    ) -> None:
        self.request_id = request_id
        self.client_key_id = client_key_id
        self.dialect = dialect
        self.body = body
        self.model = model
        self.stream = stream
        self.include_usage = include_usage
        self.client_headers = client_headers
        self.operation = operation
        # What the client key may use; None when it may use everything.
        self.scope = scope if scope is not None and scope.restricted else None
        self.client_address = client_address  # behind trusted proxies: the real one
        self.started = time.monotonic()
        # True when the request was changed in the IR (e.g. a conversation put
        # in front of it), so the client's body can no longer pass through.
        self.translate_only = False
        self.idempotency_key = client_headers.get("idempotency-key") or None
        self.session_id = client_headers.get("x-session-id") or None
        pinned = client_headers.get("x-omniroute-pin-account", "")
        # isdecimal() alone admits other scripts' digits, which int() may refuse.
        self.pinned_account = int(pinned) if pinned.isascii() and pinned.isdigit() else None
        # Request fields a translated Responses answer repeats (previous_response_id).
        self.echo: dict[str, Any] | None = None
        self.recorded = False  # its request-log row was written
        self.logged: RequestLogRow | None = None  # that row (its cost, its tokens)
        # A multipart upload (audio, image edits), forwarded as it came but
        # for its model; ``body`` then holds its text fields.
        self.upload: Form | None = None
        self._ir: ir.Request | None = None

    @property
    def wire(self) -> WireFormat:
        """The client's own wire format."""
        return wire_format(self.dialect)

    def ir_request(self) -> ir.Request:
        """The request in our IR (parsed once, on first need)."""
        if self._ir is None:
            self._ir = self.wire.parse_request(self.body)
            self._ir.stream = self.stream
        return self._ir

    def body_digest(self) -> str:
        text = json.dumps(self.body, sort_keys=True, separators=(",", ":"))
        if self.upload is not None:
            # An upload's text fields are in ``body``; its files count too.
            files = hashlib.sha256()
            for part in self.upload.parts:
                for piece in part.pieces:
                    files.update(piece)
            text += files.hexdigest()
        return text

    def new_answer_id(self) -> str:
        """A fresh id for a translated answer, so ids a client may refer back
        to (Responses' previous_response_id) are unique."""
        return new_id(self.wire.answer_id_prefix)


class Outcome(enum.Enum):
    ANSWERED = "answered"  # the client got an answer (whole, or a stream that ended)
    FAILED = "failed"  # the upstream failed before answering: the request may go on
    ABANDONED = "abandoned"  # the client left before the answer began
    REFUSED = "refused"  # the request could not be sent as it is: the client's error


@dataclass(frozen=True, slots=True)
class AttemptEnd:
    outcome: Outcome
    status: int
    usage: ir.Usage | None = None
    error_kind: str | None = None
    ttfb: float | None = None  # seconds from the call's start to the answer's first byte


class Attempt:
    """One try at one account of one target."""

    __slots__ = (
        "target",
        "provider",
        "account",
        "number",
        "proxy",
        "system_prompt",
        "started",
        "ended",
        "upstream_headers",
        "slots",
        "scrubber",
        "credential",
        "cost",
        "_listener",
    )

    def __init__(
        self,
        target: Target,
        provider: ProviderInfo,
        account: AccountRecord,
        number: int,
        *,
        proxy: str | None = None,
        system_prompt: str | None = None,
        scrubber: Scrubber | None = None,
        listener: Callable[[Attempt, AttemptEnd], None] | None = None,
    ) -> None:
        self.target = target
        self.provider = provider
        self.account = account
        self.number = number
        self.proxy = proxy
        self.system_prompt = system_prompt  # put before the request's system text
        self.started = time.monotonic()
        self.ended: AttemptEnd | None = None
        self.upstream_headers: list[tuple[str, str]] = []  # once its answer began
        self.slots: list[str] = []  # rate-limit slots it holds until it ends
        self.cost: float | None = None  # USD, once its row is logged (None: no price known)
        # The account's secrets, kept out of every error relayed to the client.
        self.scrubber = scrubber or provider.scrubbers.get(account.id) or Scrubber(())
        # What it authenticates with (a signed-in account's token, a client's
        # own credential): set before the upstream is called.
        self.credential = Credential(account.api_key)
        self._listener = listener

    @property
    def upstream_format(self) -> str:
        return self.provider.format

    def use(self, credential: Credential) -> None:
        """Authenticate with ``credential``, kept out of errors like the rest."""
        self.credential = credential
        if credential.secret != self.account.api_key:
            self.scrubber = self.scrubber.adding(credential.secret)

    @property
    def who(self) -> str | None:
        """The client credential whose rests this attempt's failures are."""
        return self.credential.rest_key

    def end(self, event: AttemptEnd) -> None:
        """Report how the attempt ended; only the first report counts."""
        if self.ended is not None:
            return
        self.ended = event
        if self._listener is not None:
            self._listener(self, event)

    def headers(self) -> list[tuple[str, str]]:
        """Response headers naming what served the request."""
        out = [
            ("x-omniroute-provider", self.provider.name),
            ("x-omniroute-account", str(self.account.id)),
            ("x-omniroute-model", header_text(self.target.model)),
            ("x-omniroute-attempts", str(self.number)),
        ]
        if self.target.combo is not None:
            out.append(("x-omniroute-combo", header_text(self.target.combo)))
            out.append(("x-omniroute-combo-step", str(self.target.step)))
        return out


def header_text(value: str) -> str:
    """A client-chosen name made safe for a header value: ASCII, no controls."""
    text = value.encode("ascii", "backslashreplace").decode("ascii")
    return "".join(ch if " " <= ch < "\x7f" else "?" for ch in text)
