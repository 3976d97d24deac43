"""What can go wrong in a sign-in or a token refresh."""

from __future__ import annotations

from omniroute.errors import BadRequest


class OAuthError(BadRequest):
    """A sign-in cannot complete: the message says why, in plain words, and
    never holds a code, a token or a verifier."""

    kind = "oauth_error"


class TokenError(Exception):
    """The token endpoint refused or failed a refresh.

    ``terminal``: the grant is gone (revoked, expired, reused) and only a new
    sign-in helps; otherwise it may work later (network, 5xx, 429).
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        terminal: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.terminal = terminal
        self.retry_after = retry_after
