"""The parts of a sign-in that need no network: PKCE, ID-token checks, the
pasted redirect, what we refuse, and the plan's request rules."""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from omniroute.providers import family_for
from omniroute.providers.chatgpt import REFUSED_FIELDS, ChatGPTPlanFamily
from omniroute.providers.oauth import idtoken, pkce
from omniroute.providers.oauth.errors import OAuthError
from omniroute.providers.oauth.flows import read_redirect
from omniroute.providers.oauth.refused import REFUSED, refusal
from tests.support.fake_chatgpt import refused_by_plan


def test_pkce_matches_the_rfc_example() -> None:
    # RFC 7636 appendix B.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce.challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    made = pkce.new_verifier()
    assert 43 <= len(made) <= 128 and made != pkce.new_verifier()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks(key: rsa.RSAPrivateKey, kid: str = "k1") -> dict[str, object]:
    nums = key.public_key().public_numbers()
    n = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
    return {"keys": [{"kty": "RSA", "kid": kid, "n": _b64(n), "e": _b64(b"\x01\x00\x01")}]}


def _token(key: rsa.RSAPrivateKey = KEY, alg: str = "RS256", **claims: object) -> str:
    now = int(time.time())
    body = {"iss": "https://issuer", "aud": "app", "sub": "u1", "nonce": "n1", "iat": now}
    body.update({"exp": now + 600, **claims})
    head = _b64(json.dumps({"alg": alg, "kid": "k1"}).encode())
    signed = f"{head}.{_b64(json.dumps(body).encode())}"
    sig = key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signed}.{_b64(sig)}"


def _verify(token: str, jwks: dict[str, object] | None = None, **expect: str) -> dict[str, object]:
    return idtoken.verify(
        token,
        jwks or _jwks(KEY),
        issuer=expect.get("issuer", "https://issuer"),
        audience=expect.get("audience", "app"),
        nonce=expect.get("nonce", "n1"),
    )


def test_a_good_id_token_verifies() -> None:
    claims = _verify(_token(email="a@b.c"))
    assert claims["sub"] == "u1" and claims["email"] == "a@b.c"
    assert _verify(_token(aud=["x", "app"]))["sub"] == "u1"  # a list of audiences


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (lambda: _token(key=OTHER), "does not verify"),
        (lambda: _token(alg="none"), "not RS256"),
        (lambda: _token(alg="HS256"), "not RS256"),
        (lambda: _token(iss="https://evil"), "another issuer"),
        (lambda: _token(aud="someone-else"), "another client"),
        (lambda: _token(exp=int(time.time()) - 3600), "expired"),
        (lambda: _token(iat=int(time.time()) + 3600), "future"),
        (lambda: _token(nonce="replayed"), "nonce"),
        (lambda: _token(sub=""), "subject"),
        (lambda: "not.a", "well-formed"),
        (lambda: _token()[:-8] + "AAAAAAAA", "does not verify"),
    ],
)
def test_bad_id_tokens_are_refused(token: object, why: str) -> None:
    with pytest.raises(OAuthError) as caught:
        _verify(token())  # type: ignore[operator]
    assert why in caught.value.message


def test_an_unknown_key_id_is_refused() -> None:
    with pytest.raises(OAuthError, match="no published key"):
        _verify(_token(), _jwks(KEY, kid="other"))


def test_a_pasted_redirect_is_read_after_its_state_is_checked() -> None:
    url = "http://127.0.0.1:1455/auth/callback?code=c1&state=s1&client_id=oaiapp_1&scope=x"
    got = read_redirect(url, "s1")
    assert got.code == "c1" and got.client_id == "oaiapp_1"
    assert read_redirect("  ?code=c2&state=s1\n", "s1").code == "c2"  # the query alone
    for pasted, why in [
        ("http://127.0.0.1:1455/auth/callback?code=c1&state=other", "another sign-in"),
        ("http://127.0.0.1:1455/auth/callback?code=c1", "no state"),
        ("http://127.0.0.1:1455/auth/callback?state=s1", "no authorization code"),
        ("http://127.0.0.1:1455/auth/callback?state=s1&error=access_denied", "declined"),
        ("http://127.0.0.1:1455/auth/callback?state=s1&error=server_error", "server_error"),
        ("http://127.0.0.1:1455/auth/callback?state=s1&state=s1&code=c", "twice"),
        ("", "paste the whole address"),
    ]:
        with pytest.raises(OAuthError) as caught:
            read_redirect(pasted, "s1")
        assert why in caught.value.message, pasted


def test_every_refused_sign_in_names_an_alternative() -> None:
    for name, why in REFUSED.items():
        assert "`omniroute " in why or "shut down" in why, name
        assert "\n" not in why
    assert refusal(" CC ") == REFUSED["cc"]
    assert refusal("chatgpt") is None


def test_the_plan_family_reshapes_any_request_to_its_rules() -> None:
    family = family_for("openai-responses", "chatgpt-plan")
    assert isinstance(family, ChatGPTPlanFamily) and family.stream_only
    body = {
        "model": "m",
        "input": "hello",
        "stream": False,
        "store": True,
        **dict.fromkeys(REFUSED_FIELDS, 1),
        "tools": [
            {"type": "function", "name": "f", "parameters": {}},
            {"type": "web_search"},
        ],
    }
    done = family.finish(body)
    assert refused_by_plan(done) is None
    assert done["input"] == [{"role": "user", "content": "hello"}]
    assert done["tools"][0]["type"] == "namespace" and done["tools"][0]["tools"][0]["name"] == "f"
    assert done["tools"][1] == {"type": "web_search"}
    system = family.finish({"model": "m", "input": [{"role": "system", "content": "be brief"}]})
    assert system["input"][0]["role"] == "developer"
    # Other Responses upstreams are left as they are.
    plain = family_for("openai-responses")
    assert plain.finish(body) is body and not plain.stream_only


def test_the_plan_model_listing_keeps_the_listed_models_in_order() -> None:
    family = family_for("openai-responses", "chatgpt-plan")
    listing = {
        "models": [
            {"slug": "b", "visibility": "list"},
            {"slug": "hidden", "visibility": "hide"},
            {"slug": "a", "visibility": "list"},
        ]
    }
    assert family.parse_models(json.dumps(listing).encode()).ids == ("b", "a")
