"""One error tree for the whole gateway.

Every error we raise on purpose carries an HTTP ``status`` and a dialect-neutral
``kind``; the client-facing layer renders it in the caller's dialect (OpenAI,
Anthropic or Gemini), never as a traceback.

    OmniError                       status  kind
    ├── ClientError                 4xx     (the caller's request is at fault)
    │   ├── BadRequest              400     invalid_request
    │   ├── Unauthorized            401     authentication
    │   ├── Forbidden               403     permission
    │   ├── NotFound                404     not_found
    │   ├── Conflict                409     conflict          (it exists already)
    │   ├── MethodNotAllowed        405     invalid_request   (.allow)
    │   ├── PayloadTooLarge         413     request_too_large
    │   └── RateLimited             429     rate_limit        (gateway-side limits)
    ├── UpstreamError               5xx/4xx (the provider side failed)
    │   ├── UpstreamStatusError     mapped  from the upstream's status (.upstream_status)
    │   ├── UpstreamConnectError    502     api_error         (refused, DNS, TLS, proxy)
    │   ├── UpstreamTimeout         504     timeout           (.phase)
    │   ├── UpstreamProtocolError   502     api_error         (bad HTTP, reset mid-body)
    │   └── UpstreamStreamError     mapped  an error event inside an upstream stream
    ├── ConfigError                 500     api_error         (bad settings or stored data)
    │   └── SecretKeyError          500     api_error         (missing/wrong encryption key)
    └── InternalError               500     api_error

``kind`` values are the vocabulary shared by the format modules when they
render errors: invalid_request, authentication, permission, not_found,
request_too_large, rate_limit, overloaded, timeout, api_error.
"""

from __future__ import annotations


class OmniError(Exception):
    status: int = 500
    kind: str = "api_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        kind: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if kind is not None:
            self.kind = kind
        self.retry_after = retry_after


class ClientError(OmniError):
    status = 400
    kind = "invalid_request"


class BadRequest(ClientError):
    status = 400
    kind = "invalid_request"


class Unauthorized(ClientError):
    status = 401
    kind = "authentication"


class Forbidden(ClientError):
    status = 403
    kind = "permission"


class NotFound(ClientError):
    status = 404
    kind = "not_found"


class Conflict(ClientError):
    """What a request would create exists already."""

    status = 409
    kind = "conflict"


class MethodNotAllowed(ClientError):
    status = 405
    kind = "invalid_request"

    def __init__(self, message: str, *, allow: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.allow = allow


class PayloadTooLarge(ClientError):
    status = 413
    kind = "request_too_large"


class RateLimited(ClientError):
    status = 429
    kind = "rate_limit"


class UpstreamError(OmniError):
    status = 502
    kind = "api_error"


class UpstreamStatusError(UpstreamError):
    """The upstream answered with a non-2xx status."""

    def __init__(
        self,
        message: str,
        *,
        upstream_status: int,
        kind: str | None = None,
        retry_after: float | None = None,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(
            message,
            status=client_status_for_upstream(upstream_status),
            kind=kind or kind_for_status(upstream_status),
            retry_after=retry_after,
        )
        self.upstream_status = upstream_status
        self.headers = headers or []
        # The upstream's own error body (capped), read for what it says about
        # the account (a spent plan); never shown: it may quote a credential.
        self.body = body


class UpstreamConnectError(UpstreamError):
    status = 502
    kind = "api_error"


class UpstreamTimeout(UpstreamError):
    status = 504
    kind = "timeout"

    def __init__(self, message: str, *, phase: str) -> None:
        super().__init__(message)
        self.phase = phase  # connect | first_byte | idle | total


class UpstreamProtocolError(UpstreamError):
    status = 502
    kind = "api_error"


class UpstreamStreamError(UpstreamError):
    """An error event arrived inside an upstream stream."""


class ConfigError(OmniError):
    status = 500
    kind = "api_error"


class SecretKeyError(ConfigError):
    pass


class InternalError(OmniError):
    status = 500
    kind = "api_error"


def kind_for_status(status: int) -> str:
    return {
        400: "invalid_request",
        401: "authentication",
        402: "permission",
        403: "permission",
        404: "not_found",
        408: "timeout",
        413: "request_too_large",
        422: "invalid_request",
        429: "rate_limit",
        503: "overloaded",
        529: "overloaded",
        504: "timeout",
    }.get(status, "invalid_request" if 400 <= status < 500 else "api_error")


def client_status_for_upstream(upstream_status: int) -> int:
    """The status we give our client when the upstream failed with this one.

    Client-side faults keep their status (the request itself is wrong);
    upstream-side faults become 502 unless they have a meaning the client can
    act on (429 rate limit, 503/529 overloaded, 504 timeout).
    """
    if upstream_status in (400, 404, 408, 413, 422, 429):
        return upstream_status
    if upstream_status in (401, 402, 403):
        # The gateway's own credentials for the provider were refused: not the
        # caller's fault, so not a 401 the caller would misread as its own key.
        return 502
    if upstream_status in (503, 529):
        return 503
    if upstream_status == 504:
        return 504
    return 502
