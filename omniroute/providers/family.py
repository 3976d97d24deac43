"""What differs between kinds of upstream, owned by one object per family.

A provider family knows, for the wire format its upstreams speak: the URL of
each operation, how credentials and headers are sent, what to adjust in a
request before it is rendered (a model that refuses reasoning settings),
what a failure means for the account and the request, and how models are
listed. The gateway asks the family and never branches on format names.

``ProviderFamily`` is the protocol; ``BaseFamily`` holds the behaviour most
families share, and each family module (``openai``, ``responses``,
``anthropic``, ``gemini``) overrides what is its own.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from omniroute.errors import BadRequest
from omniroute.formats import ir


class Operation(enum.Enum):
    """What the gateway asks an upstream to do."""

    CHAT = "chat"
    COUNT_TOKENS = "count_tokens"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    MODERATION = "moderation"
    RERANK = "rerank"
    SPEECH = "speech"
    TRANSCRIPTION = "transcription"
    TRANSLATION = "translation"
    IMAGES = "images"
    IMAGE_EDITS = "image_edits"

    @property
    def capability(self) -> str:
        """The capability a provider and model need for this operation."""
        return _CAPABILITY_OF.get(self, self.value)


# What a provider or a model can be asked to do, as the catalog, the
# ``--capabilities`` option and ``/v1/models?capability=`` name it.
CAPABILITIES = (
    "chat",
    "embeddings",
    "images",
    "transcription",
    "speech",
    "moderation",
    "rerank",
    "completions",
)
_CAPABILITY_OF = {
    Operation.COUNT_TOKENS: "chat",  # counting is part of what a chat upstream offers
    Operation.TRANSLATION: "transcription",  # the same speech-to-text models
    Operation.IMAGE_EDITS: "images",
}


def capabilities_of(operations: frozenset[Operation]) -> frozenset[str]:
    """The capabilities a set of operations gives."""
    return frozenset(op.capability for op in operations)


def check_capabilities(value: Any) -> list[str]:
    """A list of capability names (or one comma-separated string), checked,
    without repeats, in the canonical order."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not value:
        raise BadRequest(f"capabilities must be a non-empty list of: {', '.join(CAPABILITIES)}")
    unknown = sorted({str(v) for v in value} - set(CAPABILITIES))
    if unknown:
        raise BadRequest(
            f"unknown capabilities {', '.join(unknown)}; known: {', '.join(CAPABILITIES)}"
        )
    return [c for c in CAPABILITIES if c in value]


class Action(enum.Enum):
    """Where a request goes after an attempt failed."""

    NEXT_ACCOUNT = "account"  # another account (of this provider, then the next target)
    NEXT_TARGET = "target"  # this provider cannot serve the model: the next target
    STOP = "stop"  # the request itself is wrong: tell the client now


@dataclass(frozen=True, slots=True)
class Failure:
    """What one failed attempt means."""

    action: Action
    cool_account: str | None = None  # why the account rests for a while, if it should
    # Whether the rest is for this model on the account (a model's rate limit)
    # or for the whole account (its key, plan or billing).
    cool_scope: Literal["model", "account"] = "account"
    breaker_failure: bool = False  # counts against the breakers on the way
    upstream_alive: bool = False  # the upstream answered: closes the breakers


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a model accepts."""

    reasoning: bool = True  # reasoning settings (effort, thinking budget)


@dataclass(frozen=True, slots=True)
class ModelPage:
    """One page of an upstream's model listing."""

    ids: tuple[str, ...]
    next_query: Mapping[str, str]  # empty: no more pages


class ProviderFamily(Protocol):
    wire: str  # the wire format its upstreams speak
    default_auth_header: str  # bearer | x-api-key | x-goog-api-key
    operations: frozenset[Operation]  # what its upstreams can do
    # Whether an image given by URL must reach it as inline data (it cannot
    # fetch a web address itself).
    inline_image_urls: bool
    # Whether it answers chat only as a stream (a whole answer is then
    # assembled from the stream for clients that asked for one).
    stream_only: bool

    def url(self, operation: Operation, base_url: str, model: str, *, stream: bool) -> str | None:
        """Where ``operation`` is sent; None when this family cannot do it."""
        ...

    def headers(
        self,
        api_key: str,
        *,
        stream: bool,
        auth_header: str | None,
        extra: Mapping[str, str],
        client_headers: Mapping[str, str],
    ) -> list[tuple[str, str]]:
        """The headers of one upstream call, each name once."""
        ...

    def capabilities(self, model: str) -> Capabilities: ...

    def prepare(self, req: ir.Request) -> ir.Request:
        """The request (already carrying the upstream model id) adjusted to
        what the model accepts, before it is rendered."""
        ...

    def passthrough_body(self, body: dict[str, Any], model: str) -> dict[str, Any]:
        """A client's body forwarded unchanged but for the model."""
        ...

    def finish(self, body: dict[str, Any]) -> dict[str, Any]:
        """A chat request body as the upstream will take it (passed through
        or rendered from the IR), fit to what it accepts."""
        ...

    def count_body(self, rendered: dict[str, Any]) -> dict[str, Any]:
        """The token-count request made from a rendered chat request."""
        ...

    def operation_body(
        self, operation: Operation, body: dict[str, Any], model: str
    ) -> dict[str, Any]:
        """The upstream's JSON request for an operation other than chat,
        made from the client's (OpenAI-shaped) body; BadRequest when this
        family cannot carry something in it."""
        ...

    def operation_answer(
        self, operation: Operation, answer: Any, body: dict[str, Any], model: str
    ) -> Any:
        """The upstream's JSON answer to such an operation in OpenAI's shape
        (ValueError when it is not what the operation answers)."""
        ...

    def classify(self, status: int | None, kind: str) -> Failure:
        """What a failure means: the upstream's HTTP status (None when no
        status arrived: timeouts, resets) and the error kind."""
        ...

    def models_url(self, base_url: str) -> str: ...

    def first_models_query(self) -> Mapping[str, str]: ...

    def parse_models(self, body: bytes) -> ModelPage:
        """One page of the model listing (BadRequest when unreadable)."""
        ...

    def probe_body(self, model: str) -> dict[str, Any]:
        """The smallest generation request, to check a key without a listing."""
        ...


_AUTH_FAILURES = frozenset({401, 402, 403})
# What a forwarded header value may hold: visible ASCII, spaces and tabs.
_BAD_FORWARDED = re.compile(r"[^\t\x20-\x7e]")
PROBE_TEXT = "ping"  # what a key check asks the model


class BaseFamily:
    """Defaults shared by the families."""

    wire = "openai"
    default_auth_header = "bearer"
    operations = frozenset({Operation.CHAT})
    inline_image_urls = False
    stream_only = False

    def url(self, operation: Operation, base_url: str, model: str, *, stream: bool) -> str | None:
        return None

    def headers(
        self,
        api_key: str,
        *,
        stream: bool,
        auth_header: str | None,
        extra: Mapping[str, str],
        client_headers: Mapping[str, str],
    ) -> list[tuple[str, str]]:
        """Precedence, lowest first: our defaults, the provider's own headers,
        what the client may forward (``forwarded``), then the credential.
        Never the client's own credentials."""
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
        }
        headers.update(self.default_headers())
        for name, value in extra.items():
            headers[name.lower()] = value
        for name in self.forwarded():
            given = client_headers.get(name)
            if given:
                if _BAD_FORWARDED.search(given):
                    # Refused here rather than sent: an upstream would answer
                    # a broken header with an error that is not its own fault.
                    raise BadRequest(f"the {name} header holds characters it may not hold")
                headers[name] = given
        if api_key:
            scheme = auth_header or self.default_auth_header
            if scheme in ("x-api-key", "x-goog-api-key"):
                headers[scheme] = api_key
            else:
                headers["authorization"] = "Bearer " + api_key
        return list(headers.items())

    def default_headers(self) -> Mapping[str, str]:
        return {}

    def forwarded(self) -> tuple[str, ...]:
        """Client headers an upstream of this family understands."""
        return ()

    def capabilities(self, model: str) -> Capabilities:
        return Capabilities()

    def prepare(self, req: ir.Request) -> ir.Request:
        if req.reasoning is not None and not self.capabilities(req.model).reasoning:
            # Thinking a client of another format asked for, which this
            # model would refuse with a 400: the request goes without it.
            req.reasoning = None
        return req

    def passthrough_body(self, body: dict[str, Any], model: str) -> dict[str, Any]:
        return {**body, "model": model}

    def finish(self, body: dict[str, Any]) -> dict[str, Any]:
        return body

    def count_body(self, rendered: dict[str, Any]) -> dict[str, Any]:
        return rendered

    def operation_body(
        self, operation: Operation, body: dict[str, Any], model: str
    ) -> dict[str, Any]:
        return {**body, "model": model}

    def operation_answer(
        self, operation: Operation, answer: Any, body: dict[str, Any], model: str
    ) -> Any:
        return answer

    def classify(self, status: int | None, kind: str) -> Failure:
        """The same everywhere unless a family knows better:

        429 / rate limit    rest this model on the account (limits are per model),
                            try the next account
        401 / 402 / 403     rest the whole account (its key or plan), the next one
        404                 this provider lacks the model: the next target
        other 4xx           the request is wrong: answer the client now
        5xx, no status      count against the breakers, the next account
        """
        alive = status is not None and status < 500
        if status == 429 or kind == "rate_limit":
            return Failure(
                Action.NEXT_ACCOUNT,
                cool_account="rate_limit",
                cool_scope="model",
                upstream_alive=alive,
            )
        if status in _AUTH_FAILURES:
            return Failure(
                Action.NEXT_ACCOUNT, cool_account=f"auth ({status})", upstream_alive=True
            )
        if status == 404:
            return Failure(Action.NEXT_TARGET, upstream_alive=True)
        if status is not None and 400 <= status < 500 and status not in (408, 409):
            return Failure(Action.STOP, upstream_alive=True)
        return Failure(Action.NEXT_ACCOUNT, breaker_failure=True, upstream_alive=alive)

    def models_url(self, base_url: str) -> str:
        return base_url.rstrip("/") + "/models"

    def first_models_query(self) -> Mapping[str, str]:
        return {}

    def parse_models(self, body: bytes) -> ModelPage:
        """``{"data": [{"id": …}]}``, the OpenAI shape most servers use."""
        data = listing_object(body)
        ids = [
            str(m["id"])
            for m in data.get("data") or []
            if isinstance(m, dict) and isinstance(m.get("id"), str)
        ]
        return ModelPage(tuple(ids), {})

    def probe_body(self, model: str) -> dict[str, Any]:
        return {
            "model": model,
            "messages": [{"role": "user", "content": PROBE_TEXT}],
            "max_tokens": 1,
        }


def listing_object(body: bytes) -> dict[str, Any]:
    """A model listing's JSON object (BadRequest when it is not one)."""
    try:
        data = json.loads(body)
    except ValueError:
        raise BadRequest("the model listing is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the model listing is not a JSON object")
    return data
