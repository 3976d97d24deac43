"""Where and how a request reaches a provider: URL and headers per wire format.

A provider's base URL includes its version segment (``https://api.x.com/v1``);
the wire format adds its fixed path:

    openai            {base}/chat/completions
    openai-responses  {base}/responses
    anthropic         {base}/messages
    gemini            {base}/models/{model}:generateContent
                      {base}/models/{model}:streamGenerateContent?alt=sse
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


def models_url(fmt: str, base_url: str) -> str:
    return base_url.rstrip("/") + "/models"


def auth_headers(auth_header: str, api_key: str) -> list[tuple[str, str]]:
    if not api_key:
        return []
    if auth_header == "x-api-key":
        return [("x-api-key", api_key)]
    if auth_header == "x-goog-api-key":
        return [("x-goog-api-key", api_key)]
    return [("authorization", "Bearer " + api_key)]


def request_headers(
    fmt: str,
    api_key: str,
    *,
    stream: bool,
    client_headers: Mapping[str, str] | None = None,
    auth_header: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """Headers for one upstream call. ``client_headers`` are the caller's,
    lower-cased; only the few that an upstream of the same family understands
    are forwarded (never the caller's own credentials)."""
    headers = [
        ("content-type", "application/json"),
        ("accept", "text/event-stream" if stream else "application/json"),
    ]
    headers += auth_headers(auth_header or DEFAULT_AUTH_HEADER.get(fmt, "bearer"), api_key)
    if fmt == "anthropic":
        given = client_headers or {}
        headers.append(("anthropic-version", given.get("anthropic-version") or ANTHROPIC_VERSION))
        if given.get("anthropic-beta"):
            headers.append(("anthropic-beta", given["anthropic-beta"]))
    for name, value in (extra or {}).items():
        headers.append((name.lower(), value))
    return headers
