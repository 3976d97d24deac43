"""The SSRF guard: which URLs may be fetched on a client's behalf, and the
fetch itself (connect to the checked address, redirects re-checked, caps).

Names are resolved by an injected resolver, so no test touches real DNS.
The fetch tests talk to loopback servers; loopback is refused by the guard,
so those tests exempt exactly one (address, port): the server the first hop
is meant to reach. Every other loopback address and port stays refused,
which is what the redirect tests rely on.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path

import pytest

from omniroute.upstream.ssrf import (
    FetchFailed,
    IPAddress,
    UrlGuard,
    UrlRefused,
    address_problem,
    fetch_public,
    legacy_ipv4,
)
from tests.upstream.servers import Handler, Peer, Server, make_self_signed

pytestmark = pytest.mark.anyio

PUBLIC = "93.184.215.14"  # example.com's address: any public one would do
NAMES: dict[str, list[str]] = {
    "inside.example": ["10.0.0.7"],
    "metadata.example": ["169.254.169.254"],
    "loop.example": ["127.0.0.1"],
    "v6loop.example": ["::1"],
    "mapped.example": ["::ffff:192.168.1.1"],
    "cgnat.example": ["100.64.3.4"],
    "half.example": [PUBLIC, "127.0.0.1"],  # one bad address is enough
    "ula.example": ["fd12:3456::1"],
    "img.example.com": ["127.0.0.1"],
    "nowhere.example": [],
}


class Resolver:
    """A fake DNS: names from NAMES, anything else public; remembers lookups."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        return NAMES.get(host, [PUBLIC])


REFUSED = [
    # loopback in every spelling
    ("http://127.0.0.1/", "loopback"),
    ("http://127.0.0.1:8080/admin", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://2130706433/", "loopback"),
    ("http://0177.0.0.1/", "loopback"),
    ("http://0x7f.1/", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://0x7f.0x0.0x0.0x1/", "loopback"),
    ("http://017700000001/", "loopback"),
    ("http://127.000.000.001/", "loopback"),
    ("http://localhost/", "loopback"),
    ("http://localhost./", "loopback"),
    ("http://LOCALHOST:80/", "loopback"),
    ("http://api.localhost/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[0:0:0:0:0:0:0:1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[::ffff:7f00:1]/", "loopback"),
    ("http://[::127.0.0.1]/", "IPv4-compatible"),
    ("http://[2002:7f00:1::]/", "loopback"),
    ("http://[64:ff9b::7f00:1]/", "loopback"),
    # cloud metadata and link-local
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fd00:ec2::254]/", "unique-local"),
    ("http://[::ffff:a9fe:a9fe]/", "link-local"),
    ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fe80::1%25eth0]/", "zone"),
    # private, shared, unspecified, multicast, reserved
    ("http://10.0.0.1/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://100.64.0.1/", "CGNAT"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "reserved"),
    ("http://198.18.0.1/", "benchmarking"),
    ("http://192.0.0.170/", "reserved"),
    ("http://[fc00::1]/", "unique-local"),
    ("http://[2002:c0a8:101::]/", "private"),
    # names that resolve somewhere private
    ("http://inside.example/", "private"),
    ("https://metadata.example/", "link-local"),
    ("http://loop.example/", "loopback"),
    ("http://v6loop.example/", "loopback"),
    ("http://mapped.example/", "private"),
    ("http://cgnat.example/", "CGNAT"),
    ("http://half.example/", "loopback"),
    ("http://ula.example/", "unique-local"),
    # not a plain http(s) URL
    ("http://user:pass@example.com/", "credentials"),
    ("http://user@example.com/", "credentials"),
    ("https://example.com@127.0.0.1/", "credentials"),
    ("http://127.0.0.1\\@example.com/", "spaces"),
    ("ftp://example.com/cat.png", "only http"),
    ("file:///etc/passwd", "only http"),
    ("gopher://example.com/", "only http"),
    ("data:image/png;base64,AAAA", "only http"),
    ("javascript:alert(1)", "only http"),
    ("http:///cat.png", "no host"),
    ("http://example.com:0/", "port 0"),
    ("http://example.com:99999/", "cannot be parsed"),
    ("http://%6c%6fcalhost/", "not a valid name"),
    ("http://exa mple.com/", "spaces"),
    ("http://example.com/\r\nHost: evil", "spaces"),
    ("http://1.2.3.4.5/", "neither"),
    ("http://example.0x7f/", "neither"),
    ("http://08.0.0.1/", "neither"),
    ("http://256.0.0.1/", "neither"),
    ("", "empty"),
]


@pytest.mark.parametrize(("url", "why"), REFUSED)
async def test_refused(url: str, why: str) -> None:
    with pytest.raises(UrlRefused) as caught:
        await UrlGuard(Resolver()).check(url)
    assert why in caught.value.message  # refused, and for the right reason


def test_the_table_is_large() -> None:
    assert len(REFUSED) >= 25


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("https://example.com/cat.png", [PUBLIC]),
        ("http://8.8.8.8/", ["8.8.8.8"]),
        ("https://[2606:4700::1111]/x", ["2606:4700::1111"]),
        ("http://134744072/", ["8.8.8.8"]),  # a public address in decimal is still public
        ("https://bücher.example/", [PUBLIC]),
        ("https://cdn.example.com:8443/a?b=c", [PUBLIC]),
    ],
)
async def test_allowed(url: str, addresses: list[str]) -> None:
    target = await UrlGuard(Resolver()).check(url)
    assert [str(a) for a in target.addresses] == addresses


async def test_a_loopback_name_is_refused_before_any_lookup() -> None:
    resolver = Resolver()
    with pytest.raises(UrlRefused, match="loopback name"):
        await UrlGuard(resolver).check("http://localhost./x")
    assert resolver.asked == []


async def test_a_public_looking_name_resolving_to_a_private_address_is_refused() -> None:
    resolver = Resolver()
    with pytest.raises(UrlRefused, match="resolves to a private address") as caught:
        await UrlGuard(resolver).check("https://inside.example/cat.png?token=abc123")
    assert resolver.asked == ["inside.example"]
    assert "abc123" not in caught.value.message  # the query (a token, maybe) is never repeated


async def test_a_name_with_no_address_fails() -> None:
    with pytest.raises(FetchFailed, match="no address"):
        await UrlGuard(Resolver()).check("http://nowhere.example/")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("192.168.257", "192.168.1.1"),
        ("1.2.3.4.", "1.2.3.4"),
        ("example.com", None),
        ("1.2.3.example", None),
    ],
)
def test_legacy_ipv4_spellings(text: str, expected: str | None) -> None:
    found = legacy_ipv4(text)
    assert (None if found is None else str(found)) == expected


@pytest.mark.parametrize(
    "address",
    ["::ffff:10.0.0.1", "2002:a00:1::", "64:ff9b::a00:1", "64:ff9b:1::a00:1", "::10.0.0.1"],
)
def test_ipv4_inside_ipv6_is_judged_by_the_ipv4_address(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is not None


def test_public_addresses_inside_ipv6_pass() -> None:
    assert address_problem(ipaddress.ip_address("::ffff:8.8.8.8")) is None
    assert address_problem(ipaddress.ip_address("64:ff9b::808:808")) is None


# -- fetching --------------------------------------------------------------------


def guard_lookups(guard: UrlGuard) -> list[str]:
    resolver = guard._resolve
    assert isinstance(resolver, Resolver)
    return resolver.asked


def only(server: Server) -> UrlGuard:
    """A guard that lets exactly this loopback server through (and resolves
    img.example.com to it); every other loopback port stays refused."""

    def exempt(address: IPAddress, port: int) -> bool:
        return str(address) == "127.0.0.1" and port == server.port

    return UrlGuard(Resolver(), exempt)


def answer(status: int, body: bytes = b"", headers: tuple[tuple[str, str], ...] = ()) -> Handler:
    async def handler(peer: Peer) -> None:
        if await peer.read_request() is not None:
            peer.respond(status, body, headers)

    return handler


async def test_a_fetch_connects_to_the_checked_address_and_reads_the_body() -> None:
    # img.example.com exists only in the fake resolver: reaching the server
    # proves the connection went to the address that was checked, and the
    # single lookup that nothing resolved the name a second time.
    async with Server(answer(200, b"PNGDATA", (("Content-Type", "image/png"),))) as server:
        guard = only(server)
        fetched = await fetch_public(f"http://img.example.com:{server.port}/cat.png", guard=guard)
    assert fetched.body == b"PNGDATA" and fetched.content_type == "image/png"
    assert guard_lookups(guard) == ["img.example.com"]
    (request,) = server.requests
    assert request.target == "/cat.png"
    assert request.header("host") == f"img.example.com:{server.port}"


async def test_without_the_exemption_the_same_server_is_refused() -> None:
    async with Server(answer(200, b"secret")) as server:
        with pytest.raises(UrlRefused):
            await fetch_public(f"http://img.example.com:{server.port}/", guard=UrlGuard(Resolver()))
    assert server.connections == 0


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1:{inner}/secret",
        "http://img.example.com:{inner}/secret",  # the same name, another port
        "http://0x7f.1:{inner}/secret",
        "http://[::ffff:127.0.0.1]:{inner}/secret",
        "http://inside.example/secret",
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
    ],
)
async def test_a_redirect_to_a_private_address_is_refused(location: str) -> None:
    async with Server(answer(200, b"internal secret")) as inner:
        target = location.format(inner=inner.port)
        redirect = answer(302, b"", (("Location", target),))
        async with Server(redirect) as outer:
            with pytest.raises(UrlRefused):
                await fetch_public(f"http://img.example.com:{outer.port}/cat", guard=only(outer))
            assert outer.connections == 1
    assert inner.connections == 0  # never reached


async def test_redirects_are_followed_up_to_three() -> None:
    limit = {"redirects": 3}

    async def hops(peer: Peer) -> None:
        request = await peer.read_request()
        assert request is not None
        step = int(request.target.strip("/") or "0")
        if step < limit["redirects"]:
            peer.respond(302, b"", (("Location", f"/{step + 1}"),))
        else:
            peer.respond(200, f"arrived after {step}".encode())

    async with Server(hops) as server:
        url = f"http://img.example.com:{server.port}/"
        fetched = await fetch_public(url, guard=only(server))
        assert fetched.body == b"arrived after 3"
        assert fetched.url.endswith("/3")
        limit["redirects"] = 4
        with pytest.raises(FetchFailed, match="more than 3 redirects"):
            await fetch_public(url, guard=only(server))


async def test_the_size_cap_holds_with_and_without_a_length() -> None:
    async with Server(answer(200, b"x" * 5000)) as server:
        with pytest.raises(FetchFailed, match="more than 1000 bytes"):
            await fetch_public(
                f"http://127.0.0.1:{server.port}/", guard=only(server), max_bytes=1000
            )

    async def chunked(peer: Peer) -> None:
        if await peer.read_request() is None:
            return
        peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(10):
            peer.send(b"200\r\n" + b"y" * 0x200 + b"\r\n")
            await peer.writer.drain()
        peer.send(b"0\r\n\r\n")

    async with Server(chunked) as server:
        with pytest.raises(FetchFailed, match="more than 1000 bytes"):
            await fetch_public(
                f"http://127.0.0.1:{server.port}/", guard=only(server), max_bytes=1000
            )
        fetched = await fetch_public(
            f"http://127.0.0.1:{server.port}/", guard=only(server), max_bytes=10_000
        )
        assert fetched.body == b"y" * 0x200 * 10


async def test_the_time_cap_holds() -> None:
    async def stall(peer: Peer) -> None:
        if await peer.read_request() is None:
            return
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
        await peer.wait_eof()

    async with Server(stall) as server:
        with pytest.raises(FetchFailed, match="did not answer within"):
            await fetch_public(f"http://127.0.0.1:{server.port}/", guard=only(server), timeout=0.3)


async def test_an_error_status_is_a_failure() -> None:
    async with Server(answer(404, b"nope")) as server:
        with pytest.raises(FetchFailed, match="HTTP 404"):
            await fetch_public(f"http://127.0.0.1:{server.port}/", guard=only(server))


async def test_tls_is_verified_against_the_name_not_the_address(tmp_path: Path) -> None:
    cert = make_self_signed(tmp_path)  # valid for localhost and 127.0.0.1 only
    async with Server(answer(200, b"ok"), cert.server_context()) as server:
        by_address = await fetch_public(
            f"https://127.0.0.1:{server.port}/",
            guard=only(server),
            ssl_context=cert.client_context(),
        )
        assert by_address.body == b"ok"
        # img.example.com resolves to the same address, but the certificate
        # does not name it: the connection must fail.
        with pytest.raises(FetchFailed):
            await fetch_public(
                f"https://img.example.com:{server.port}/",
                guard=only(server),
                ssl_context=cert.client_context(),
            )
