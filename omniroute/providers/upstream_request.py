"""Where and how a request reaches a provider: URL and headers per wire format.

A provider's base URL includes its version segment (``https://api.x.com/v1``);
the wire format adds its fixed path:

    openai            {base}/chat/completions
    openai-responses  {base}/responses
    anthropic         {base}/messages
    gemini            {base}/models/{model}:generateContent
                      {base}/models/{model}:streamGenerateContent?alt=sse

Token counting: anthropic {base}/messages/count_tokens, gemini
{base}/models/{model}:countTokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

# Default Anthropic API version when the client sent none (docs: "Versions").
ANTHROPIC_VERSION = "2023-06-01"

# How each format authenticates unless the provider says otherwise.
DEFAULT_AUTH_HEADER = {
    "openai": "bearer",
    "openai-responses": "bearer",
    "anthropic": "x-api-key",
    "gemini": "x-goog-api-key",
}

# Client headers forwarded to an upstream of the same family.
ANTHROPIC_PASS_HEADERS = ("anthropic-version", "anthropic-beta")

WIRE_FORMATS = tuple(DEFAULT_AUTH_HEADER)


def endpoint_url(fmt: str, base_url: str, model: str, stream: bool) -> str:
    base = base_url.rstrip("/")
    if fmt == "openai":
        return base + "/chat/completions"
    if fmt == "openai-responses":
        return base + "/responses"
    if fmt == "anthropic":
        return base + "/messages"
    if fmt == "gemini":
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{base}/models/{quote(model, safe='/-._~')}:{action}"
    raise ValueError(f"unknown wire format {fmt!r}")


def count_tokens_url(fmt: str, base_url: str, model: str) -> str | None:
    """Where an upstream counts a request's input tokens; None if it cannot."""
    base = base_url.rstrip("/")
    if fmt == "anthropic":
        return base + "/messages/count_tokens"
    if fmt == "gemini":
        return f"{base}/models/{quote(model, safe='/-._~')}:countTokens"
    return None


def models_url(fmt: str, base_url: str) -> str:
    return base_url.rstrip("/") + "/models"


def auth_headers(auth_header: str, api_key: str) -> dict[str, str]:
    if not api_key:
        return {}
    if auth_header == "x-api-key":
        return {"x-api-key": api_key}
    if auth_header == "x-goog-api-key":
        return {"x-goog-api-key": api_key}
    return {"authorization": "Bearer " + api_key}


def request_headers(
    fmt: str,
    api_key: str,
    *,
    stream: bool,
    client_headers: Mapping[str, str] | None = None,
    auth_header: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """Headers for one upstream call, each name once. ``client_headers`` are
    the caller's, lower-cased; only the few that an upstream of the same
    family understands are forwarded (never the caller's own credentials).
    Precedence: what the client asked for, then the provider's own headers,
    then our defaults."""
    headers: dict[str, str] = {
        "content-type": "application/json",
        "accept": "text/event-stream" if stream else "application/json",
    }
    if fmt == "anthropic":
        headers["anthropic-version"] = ANTHROPIC_VERSION
    for name, value in (extra or {}).items():
        headers[name.lower()] = value
    if fmt == "anthropic":
        given = client_headers or {}
        for name in ANTHROPIC_PASS_HEADERS:
            if given.get(name):
                headers[name] = given[name]
    headers.update(auth_headers(auth_header or DEFAULT_AUTH_HEADER.get(fmt, "bearer"), api_key))
    return list(headers.items())
