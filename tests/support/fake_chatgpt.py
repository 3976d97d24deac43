"""A loopback stand-in for Sign in with ChatGPT and the plan-paid Responses API.

It plays the issuer (discovery, signing keys, authorization, token endpoint,
revocation) and the inference API with the rules the real ones document, so
the gateway is tested against them from the outside:

* first sign-in registers the app (``dynamic_agent_client`` + host id +
  app name) and the callback carries the issued client id;
* the code exchange checks the PKCE verifier, the redirect address and the
  client; the ID token is RS256-signed with a key made for this run;
* each refresh rotates the refresh token; a used one is refused as reused;
* ``/v1/responses`` takes only current access tokens and refuses what a
  plan-paid request may not carry (it answers as a stream only).

The user's consent in a browser is ``approve(url)``: it checks the
authorization address and returns the address the browser is sent back to.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support.mock_payloads import Usage, responses_sse
from tests.support.mock_upstream import Hang, Json, MockUpstream, RecordedRequest, Reply, Sse

SCOPES = "openid profile email offline_access resource.invoke chatgpt.tokens.use.direct"
RESOURCE = "https://api.openai.com/v1"
REFUSED = (
    "background",
    "conversation",
    "max_output_tokens",
    "max_tool_calls",
    "metadata",
    "moderation",
    "multi_agent",
    "prompt",
    "prompt_cache_retention",
    "safety_identifier",
    "temperature",
    "top_logprobs",
    "top_p",
    "truncation",
    "user",
    "previous_response_id",
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeChatGPT:
    def __init__(self, *, subject: str = "user-1", email: str = "dev@example.com") -> None:
        self.mock = MockUpstream()
        self.subject = subject
        self.email = email
        self.lifetime = 3600  # seconds an access token lasts
        self.grant_plan = True  # whether the plan scope is granted
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = "test-key"
        self._codes: dict[str, dict[str, Any]] = {}
        self.issued_clients: list[str] = []
        self._refresh: dict[str, dict[str, Any]] = {}  # refresh token -> grant, used
        self._access: dict[str, float] = {}  # access token -> expiry
        self.exchanges = 0
        self.refreshes = 0
        self.reused = 0
        self.revoked: list[str] = []
        self.inference: list[RecordedRequest] = []
        self.hang_inference = False  # the next inference call never answers
        self.last_refresh_token: str | None = None

    async def __aenter__(self) -> FakeChatGPT:
        await self.mock.start()
        self.mock.route("GET", "/.well-known/openid-configuration", self._discovery)
        self.mock.route("GET", "/.well-known/jwks.json", self._jwks)
        self.mock.route("POST", "/api/accounts/oauth/token", self._token)
        self.mock.route("POST", "/api/accounts/oauth/revoke", self._revoke)
        self.mock.route("GET", "/v1/models", self._models)
        self.mock.route("POST", "/v1/responses", self._responses)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.mock.stop()

    @property
    def issuer(self) -> str:
        return self.mock.url

    @property
    def api(self) -> str:
        return self.mock.url + "/v1"

    # ------------------------------------------------------------ the user

    def approve(self, url: str) -> str:
        """The user signs in and allows the app: where the browser goes next."""
        parts = urlsplit(url)
        assert parts.path == "/api/accounts/authorize", parts.path
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert q["response_type"] == "code"
        assert q["scope"] == SCOPES
        assert q["resource"] == RESOURCE
        assert q["code_challenge_method"] == "S256"
        assert q["ext_agent_host_id"].startswith("urn:uuid:")
        redirect = urlsplit(q["redirect_uri"])
        assert redirect.scheme == "http" and redirect.hostname == "127.0.0.1"
        assert redirect.path == "/auth/callback"
        back: dict[str, str] = {"state": q["state"], "scope": SCOPES}
        if q["client_id"] == "dynamic_agent_client":
            assert q["agent_name_hint"] == "OmniRoute"
            client_id = "oaiapp_" + secrets.token_hex(6)
            self.issued_clients.append(client_id)
            back["client_id"] = client_id
        else:
            client_id = q["client_id"]
            assert client_id in self.issued_clients, "an unknown client id"
            assert "agent_name_hint" not in q
        code = secrets.token_urlsafe(16)
        self._codes[code] = {
            "client_id": client_id,
            "challenge": q["code_challenge"],
            "redirect_uri": q["redirect_uri"],
            "nonce": q["nonce"],
        }
        back["code"] = code
        return q["redirect_uri"] + "?" + urlencode(back)

    # ------------------------------------------------------------ issuer

    def _discovery(self, request: RecordedRequest) -> Reply:
        base = self.issuer
        return Json(
            {
                "issuer": base,
                "authorization_endpoint": base + "/api/accounts/authorize",
                "token_endpoint": base + "/api/accounts/oauth/token",
                "jwks_uri": base + "/.well-known/jwks.json",
                "revocation_endpoint": base + "/api/accounts/oauth/revoke",
            }
        )

    def _jwks(self, request: RecordedRequest) -> Reply:
        numbers = self._key.public_key().public_numbers()
        n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        e = numbers.e.to_bytes(3, "big")
        key = {"kty": "RSA", "kid": self._kid, "alg": "RS256", "n": _b64(n), "e": _b64(e)}
        return Json({"keys": [key]})

    def id_token(self, client_id: str, nonce: str | None, **claims: Any) -> str:
        header = {"alg": "RS256", "kid": self._kid, "typ": "JWT"}
        now = int(time.time())
        body = {
            "iss": self.issuer,
            "aud": client_id,
            "sub": self.subject,
            "email": self.email,
            "iat": now,
            "exp": now + 3600,
            **({"nonce": nonce} if nonce is not None else {}),
            **claims,
        }
        signed = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}"
        signature = self._key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signed}.{_b64(signature)}"

    def _tokens(self, client_id: str, nonce: str | None) -> dict[str, Any]:
        access, refresh = "at-" + secrets.token_hex(12), "rt-" + secrets.token_hex(12)
        self._access[access] = time.time() + self.lifetime
        self._refresh[refresh] = {"client_id": client_id, "used": False}
        self.last_refresh_token = refresh
        scope = SCOPES if self.grant_plan else "openid profile email offline_access"
        out: dict[str, Any] = {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": self.lifetime,
            "scope": scope,
            "earliest_refresh_at": None,
        }
        if nonce is not None:
            out["id_token"] = self.id_token(client_id, nonce)
        return out

    def _token(self, request: RecordedRequest) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("resource") != RESOURCE:
            return _oauth_error("invalid_request", "resource missing")
        grant = form.get("grant_type")
        if grant == "authorization_code":
            found = self._codes.pop(form.get("code", ""), None)
            if found is None:
                return _oauth_error("invalid_grant", "unknown or used code")
            if form.get("client_id") != found["client_id"]:
                return _oauth_error("invalid_client", "wrong client")
            if form.get("redirect_uri") != found["redirect_uri"]:
                return _oauth_error("invalid_grant", "redirect_uri does not match")
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            if _b64(digest) != found["challenge"]:
                return _oauth_error("invalid_grant", "PKCE verifier does not match")
            self.exchanges += 1
            return Json(self._tokens(found["client_id"], found["nonce"]))
        if grant == "refresh_token":
            self.refreshes += 1
            held = self._refresh.get(form.get("refresh_token", ""))
            if held is None:
                return _oauth_error("invalid_grant", "unknown refresh token")
            if held["used"]:
                self.reused += 1
                return _oauth_error("refresh_token_reused", "refresh token already used")
            if form.get("client_id") != held["client_id"]:
                return _oauth_error("invalid_client", "wrong client")
            held["used"] = True
            return Json(self._tokens(held["client_id"], None))
        return _oauth_error("unsupported_grant_type", "no such grant")

    def _revoke(self, request: RecordedRequest) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        token = form.get("token", "")
        self.revoked.append(token)
        if token in self._refresh:
            self._refresh[token]["used"] = True
        return Json({})

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working now."""
        for token in self._access:
            self._access[token] = 0.0

    # ------------------------------------------------------------ inference

    def _authorized(self, request: RecordedRequest) -> bool:
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ")
        return self._access.get(token, 0.0) > time.time()

    def _models(self, request: RecordedRequest) -> Reply:
        if not self._authorized(request):
            return Json({"detail": "invalid token"}, status=401)
        models = [
            {"slug": "gpt-plan", "display_name": "GPT (plan)", "visibility": "list"},
            {"slug": "gpt-hidden", "display_name": "hidden", "visibility": "hide"},
        ]
        return Json({"models": models})

    def _responses(self, request: RecordedRequest) -> Reply:
        self.inference.append(request)
        if not self._authorized(request):
            return Json({"detail": "invalid or expired token"}, status=401)
        if self.hang_inference:
            self.hang_inference = False
            return Hang()
        body = request.json()
        problem = refused_by_plan(body)
        if problem is not None:
            return Json(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "subscription_sharing_unsupported_capability",
                        "param": problem,
                        "message": f"{problem} is not supported for ChatGPT plan requests",
                    }
                },
                status=400,
            )
        if not self.grant_plan:
            return Json(
                {"error": {"code": "chatpass_v2_scope_not_authorized", "message": "no plan"}},
                status=403,
            )
        usage = Usage(input=12, output=4)
        return Sse(responses_sse(["Hello ", "from the plan"], body["model"], usage=usage))


def refused_by_plan(body: Any) -> str | None:
    """What a plan-paid request may not carry (None: nothing)."""
    if not isinstance(body, dict):
        return "body"
    for name in REFUSED:
        if name in body:
            return name
    if body.get("store") is not False:
        return "store"
    if body.get("stream") is not True:
        return "stream"
    items = body.get("input")
    if not isinstance(items, list):
        return "input"
    for item in items:
        if isinstance(item, dict) and item.get("role") == "system":
            return "input.role"
    for tool in body.get("tools") or []:
        if isinstance(tool, dict) and tool.get("type") in ("function", "custom"):
            return "tools"
        namespace = isinstance(tool, dict) and tool.get("type") == "namespace"
        if namespace and not (tool.get("description") and tool.get("tools")):
            return "tools.namespace"
    return None


def _oauth_error(code: str, description: str) -> Reply:
    return Json({"error": code, "error_description": description}, status=400)
