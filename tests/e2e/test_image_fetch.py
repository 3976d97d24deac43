"""Image URLs in a chat request for a Gemini upstream: fetched through the
SSRF guard and sent inline. The tests cannot reach the internet, so the
inlining path runs against a loopback image server that a test-only guard
lets through (its own resolver, one exempt port); every refusal runs against
the gateway's default, strict guard."""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import openai
import pytest

from omniroute.upstream.ssrf import IPAddress, UrlGuard
from tests.support.harness import Harness, running_gateway
from tests.support.mock_upstream import Json, MockUpstream, Status, gemini_json

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
GENERATE = "/gem/v1beta/models/g:generateContent"


@pytest.fixture
async def images() -> AsyncIterator[MockUpstream]:
    async with MockUpstream() as server:
        server.route("GET", "/cat.png", Status(200, PNG, {"content-type": "image/png"}))
        yield server


@pytest.fixture
async def gw(tmp_path: Path, mock: MockUpstream) -> AsyncIterator[Harness]:
    async with running_gateway(tmp_path) as harness:
        await harness.add_provider("gem", "gemini", mock.url + "/gem/v1beta", "AIza-test", ["g"])
        mock.route("POST", GENERATE, Json(gemini_json("A cat.", "g")))
        yield harness


def allow_only(port: int) -> UrlGuard:
    """The guard with a resolver for ``images.test`` and loopback allowed on
    ``port`` alone: everything else is refused as in production."""

    async def resolve(host: str, _port: int) -> Sequence[str]:
        if host == "images.test":
            return ["127.0.0.1"]
        raise OSError("unknown host")

    def exempt(address: IPAddress, to: int) -> bool:
        return address == ipaddress.ip_address("127.0.0.1") and to == port

    return UrlGuard(resolver=resolve, exempt=exempt)


async def ask(gw: Harness, url: str) -> Any:
    client = gw.track(
        openai.AsyncOpenAI(base_url=gw.base_url + "/v1", api_key=gw.client_key, max_retries=0)
    )
    return await client.chat.completions.create(
        model="gem/g",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": url}},
                ],
            }
        ],
    )


def sent_parts(mock: MockUpstream) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = mock.requests[-1].json()["contents"][-1]["parts"]
    return parts


async def test_an_image_url_is_fetched_and_sent_inline(
    gw: Harness, mock: MockUpstream, images: MockUpstream
) -> None:
    gw.gateway.pipeline.images.guard = allow_only(images.port)
    answer = await ask(gw, f"http://images.test:{images.port}/cat.png")
    assert answer.choices[0].message.content == "A cat."
    inline = [p["inlineData"] for p in sent_parts(mock) if "inlineData" in p]
    assert inline == [{"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}]
    assert [r.path for r in images.requests] == ["/cat.png"]


async def test_a_data_url_is_passed_as_it_is(gw: Harness, mock: MockUpstream) -> None:
    data = base64.b64encode(PNG).decode()
    await ask(gw, f"data:image/png;base64,{data}")
    assert {"inlineData": {"mimeType": "image/png", "data": data}} in sent_parts(mock)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/cat.png",
        "http://localhost:{port}/cat.png",
        "http://[::1]:{port}/cat.png",
        "http://2130706433:{port}/cat.png",  # 127.0.0.1 as one number
        "http://0x7f.1:{port}/cat.png",
        "http://10.0.0.7/cat.png",
        "http://192.168.1.1/cat.png",
        "http://169.254.169.254/latest/meta-data/?token=s3cr3t",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[::ffff:127.0.0.1]:{port}/cat.png",
        "file:///etc/passwd",
    ],
)
async def test_private_and_loopback_urls_are_refused(
    gw: Harness, mock: MockUpstream, images: MockUpstream, url: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await ask(gw, url.format(port=images.port))
    assert "s3cr3t" not in caught.value.message  # the URL's query is never repeated
    assert not mock.requests and not images.requests


@pytest.mark.parametrize("where", ["other-port", "metadata"])
async def test_a_redirect_to_a_private_address_is_refused(
    gw: Harness, mock: MockUpstream, images: MockUpstream, where: str
) -> None:
    async with MockUpstream() as other:
        other.route("GET", "/cat.png", Status(200, PNG, {"content-type": "image/png"}))
        target = (
            f"http://127.0.0.1:{other.port}/cat.png"
            if where == "other-port"
            else "http://169.254.169.254/latest/meta-data/"
        )
        images.route("GET", "/hop.png", Status(302, b"", {"location": target}))
        gw.gateway.pipeline.images.guard = allow_only(images.port)
        with pytest.raises(openai.BadRequestError):
            await ask(gw, f"http://images.test:{images.port}/hop.png")
        assert [r.path for r in images.requests] == ["/hop.png"]
        assert not other.requests and not mock.requests


async def test_an_image_that_cannot_be_fetched_stays_a_reference(
    gw: Harness, mock: MockUpstream, images: MockUpstream
) -> None:
    gw.gateway.pipeline.images.guard = allow_only(images.port)
    url = f"http://images.test:{images.port}/missing.png"
    await ask(gw, url)  # the image server answers 404: Gemini gets the URL to try
    files = [p["fileData"] for p in sent_parts(mock) if "fileData" in p]
    assert files == [{"fileUri": url, "mimeType": "image/png"}]
