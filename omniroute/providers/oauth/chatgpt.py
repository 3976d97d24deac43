"""Sign in with ChatGPT: the sign-in OpenAI documents for open-source and
locally hosted apps, whose tokens pay for Responses API calls out of the
user's ChatGPT plan (developers.openai.com/siwc, token-sharing-open-source).

The first sign-in on a host registers this app: it asks with the
registration client id, a stable host id and the app's name, and the
callback brings back the client id the issuer gave the registration, which
every later exchange, refresh and sign-in of that account uses. The
authorization code comes back to a ``127.0.0.1`` loopback address (or is
pasted: see ``flows``), is exchanged with its PKCE verifier, and the ID
token is checked against the issuer's published keys. Access tokens last an
hour; every refresh returns a new refresh token and the old one stops
working.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from omniroute import errors
from omniroute.providers.oauth import idtoken
from omniroute.providers.oauth.errors import OAuthError, TokenError
from omniroute.providers.oauth.http import Answer, OAuthHttp
from omniroute.store.sign_ins import Grant, ProviderShape, Tokens

ISSUER = "https://auth.openai.com"
# Another issuer for the sign-in (a test double of it, or a proxy in front).
ISSUER_ENV = "OMNIROUTE_CHATGPT_ISSUER"
RESOURCE = "https://api.openai.com/v1"
SCOPES = "openid profile email offline_access resource.invoke chatgpt.tokens.use.direct"
PLAN_SCOPE = "chatgpt.tokens.use.direct"  # without it the sign-in cannot pay for requests
REGISTER = "dynamic_agent_client"  # asks the issuer to register this app
APP_NAME = "OmniRoute"
CALLBACK_PATH = "/auth/callback"
PORT = 1455  # the usual port of this sign-in's loopback redirect
DEFAULT_LIFETIME = 3600.0

# Refresh refusals after which only a new sign-in helps.
TERMINAL = frozenset(
    {
        "invalid_grant",
        "invalid_refresh_token",
        "token_expired",
        "refresh_token_expired",
        "refresh_token_invalidated",
        "refresh_token_reused",
    }
)


@dataclass(frozen=True, slots=True)
class Discovery:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    revocation_endpoint: str | None


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str
    email: str | None
    tokens: Tokens
    plan: bool  # the plan scope was granted


class ChatGPTSignIn:
    kind = "chatgpt"
    title = "ChatGPT"
    provider = ProviderShape("chatgpt", "openai-responses", RESOURCE)

    def __init__(self, http: OAuthHttp, issuer: str | None = None) -> None:
        self._http = http
        self.issuer = (issuer or os.environ.get(ISSUER_ENV) or ISSUER).rstrip("/")
        self._discovery: Discovery | None = None
        self._jwks: dict[str, Any] | None = None

    async def discover(self, proxy: str | None = None) -> Discovery:
        if self._discovery is not None:
            return self._discovery
        answer = await self._http.get(
            self.issuer + "/.well-known/openid-configuration", proxy=proxy
        )
        doc = answer.body
        if answer.status != 200 or not isinstance(doc, dict):
            raise OAuthError(f"the ChatGPT sign-in server is not answering ({answer.status})")
        try:
            found = Discovery(
                issuer=str(doc["issuer"]),
                authorization_endpoint=str(doc["authorization_endpoint"]),
                token_endpoint=str(doc["token_endpoint"]),
                jwks_uri=str(doc["jwks_uri"]),
                revocation_endpoint=doc.get("revocation_endpoint"),
            )
        except KeyError as exc:
            raise OAuthError(f"the sign-in server's discovery document lacks {exc}") from None
        self._discovery = found
        return found

    async def _keys(self, d: Discovery, proxy: str | None, *, fresh: bool) -> dict[str, Any]:
        if self._jwks is None or fresh:
            answer = await self._http.get(d.jwks_uri, proxy=proxy)
            if answer.status != 200 or not isinstance(answer.body, dict):
                raise OAuthError("the sign-in server's signing keys cannot be read")
            self._jwks = answer.body
        return self._jwks

    def authorize_url(
        self,
        d: Discovery,
        *,
        client_id: str | None,
        redirect_uri: str,
        state: str,
        nonce: str,
        challenge: str,
        host_id: str,
    ) -> str:
        """Where the user's browser goes. ``client_id`` None: the first
        sign-in on this host, which registers the app."""
        params = {
            "client_id": client_id or REGISTER,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "scope": SCOPES,
            "resource": RESOURCE,
            "state": state,
            "nonce": nonce,
            "code_challenge_method": "S256",
            "code_challenge": challenge,
            "ext_agent_host_id": host_id,
        }
        if client_id is None:
            params["agent_name_hint"] = APP_NAME
        return d.authorization_endpoint + "?" + urlencode(params)

    async def exchange(
        self,
        *,
        client_id: str,
        code: str,
        verifier: str,
        redirect_uri: str,
        nonce: str,
        proxy: str | None = None,
    ) -> Identity:
        """The sign-in's tokens for an authorization code, its ID token checked."""
        d = await self.discover(proxy)
        answer = await self._http.post_form(
            d.token_endpoint,
            {
                "grant_type": "authorization_code",
                "client_id": client_id,
                "code": code,
                "code_verifier": verifier,
                "redirect_uri": redirect_uri,
                "resource": RESOURCE,
            },
            proxy=proxy,
        )
        if answer.status != 200 or not isinstance(answer.body, dict):
            code_name = _error_code(answer)
            raise OAuthError(
                "ChatGPT refused the sign-in code"
                + (f" ({code_name})" if code_name else f" ({answer.status})")
                + "; start the sign-in again"
            )
        tokens = _tokens(answer.body, time.time())
        id_token = tokens.id_token
        if not id_token:
            raise OAuthError("ChatGPT sent no ID token")
        claims: dict[str, Any] | None = None
        for fresh in (False, True):  # the issuer may have rotated its keys since
            keys = await self._keys(d, proxy, fresh=fresh)
            try:
                claims = idtoken.verify(
                    id_token, keys, issuer=d.issuer, audience=client_id, nonce=nonce
                )
                break
            except OAuthError:
                if fresh:
                    raise
        assert claims is not None
        email = claims.get("email")
        return Identity(
            subject=str(claims["sub"]),
            email=email if isinstance(email, str) else None,
            tokens=tokens,
            plan=PLAN_SCOPE in tokens.scopes.split(),
        )

    async def refresh(self, grant: Grant, proxy: str | None = None) -> Tokens:
        """New tokens for a grant (TokenError when refused or failed)."""
        refresh_token = grant.tokens.refresh_token
        if not refresh_token:
            raise TokenError("no refresh token is kept", code="no_refresh_token", terminal=True)
        try:
            d = await self.discover(proxy)
            answer = await self._http.post_form(
                d.token_endpoint,
                {
                    "grant_type": "refresh_token",
                    "client_id": grant.client_id,
                    "refresh_token": refresh_token,
                    "resource": RESOURCE,
                },
                proxy=proxy,
            )
        except (errors.UpstreamError, OAuthError) as exc:
            raise TokenError(f"the token endpoint could not be reached: {exc}") from None
        if answer.status == 200 and isinstance(answer.body, dict):
            try:
                return _tokens(answer.body, time.time())
            except OAuthError as exc:
                raise TokenError(exc.message) from None
        code = _error_code(answer)
        retry_after = _retry_after(answer)
        terminal = code in TERMINAL
        message = f"the token endpoint refused the refresh ({code or answer.status})"
        raise TokenError(message, code=code, terminal=terminal, retry_after=retry_after)

    async def revoke(self, grant: Grant, proxy: str | None = None) -> bool:
        """Revoke the grant's refresh token at the issuer; False when it could
        not be confirmed (the tokens are forgotten here either way)."""
        if not grant.tokens.refresh_token:
            return True
        try:
            d = await self.discover(proxy)
            if not d.revocation_endpoint:
                return False
            answer = await self._http.post_form(
                d.revocation_endpoint,
                {
                    "token": grant.tokens.refresh_token,
                    "token_type_hint": "refresh_token",
                    "client_id": grant.client_id,
                },
                proxy=proxy,
            )
        except (errors.UpstreamError, OAuthError):
            return False
        return answer.status == 200


def _tokens(body: dict[str, Any], now: float) -> Tokens:
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise OAuthError("the token endpoint sent no access token")
    lifetime = body.get("expires_in")
    if not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or lifetime <= 0:
        lifetime = DEFAULT_LIFETIME
    refresh = body.get("refresh_token")
    id_token = body.get("id_token")
    scopes = body.get("scope")
    return Tokens(
        access_token=access,
        expires_at=now + float(lifetime),
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        id_token=id_token if isinstance(id_token, str) and id_token else None,
        scopes=scopes if isinstance(scopes, str) else "",
    )


def _error_code(answer: Answer) -> str | None:
    body = answer.body
    if isinstance(body, dict):
        code = body.get("error")
        if isinstance(code, dict):
            code = code.get("code") or code.get("type")
        if isinstance(code, str) and code:
            return code[:80]
    return None


def _retry_after(answer: Answer) -> float | None:
    value = answer.header("retry-after")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
