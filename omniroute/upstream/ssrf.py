"""Fetching a URL on someone else's behalf without letting them aim the
gateway at itself or its neighbours (server-side request forgery).

    guard = UrlGuard()                   # resolver and exceptions injectable
    target = await guard.check(url)      # parsed, resolved, every address public
    fetched = await fetch_public(url)    # GET; each redirect re-checked; size and time capped

What is refused:

* schemes other than http and https, credentials in the URL, backslashes,
  spaces and control characters anywhere in it;
* ``localhost`` and every ``*.localhost`` name (RFC 6761), and the names
  cloud metadata services answer on (``metadata.google.internal``…), with
  or without the trailing dot, before anything is resolved;
* IPv4 addresses in any spelling the C library would accept (``2130706433``,
  ``0177.0.0.1``, ``0x7f.1``, ``127.1``): a host whose last label is a number
  is read as an address, the way browsers read it, never as a name;
* every address that is not plainly public: loopback, private, link-local
  (the cloud metadata address among them), shared (CGNAT, 100.64.0.0/10),
  multicast, unspecified, reserved, documentation and benchmarking ranges,
  IPv6 unique-local and site-local, and the IPv4-mapped, IPv4-compatible,
  6to4 and NAT64 forms of the IPv4 ones;
* a name that resolves to any such address (all of its addresses must pass).

The connection goes to an address that was checked, never to the name, so a
second DNS answer (rebinding) cannot change where it lands. TLS still
verifies the certificate against the name. Redirects are followed by hand,
each hop checked like the first, at most three. The body is capped in size
and the whole fetch, redirects included, in time. No proxy is used: a proxy
would resolve the name itself, after our check.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from omniroute.errors import BadRequest
from omniroute.upstream.http11 import END, NEED_DATA, Head, ProtocolError, ResponseParser

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host name, port) -> the addresses it resolves to, as text.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
# An operator's explicit exception: may this (address, port) be reached anyway?
Exempt = Callable[[IPAddress, int], bool]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_TIMEOUT = 30.0
MAX_REDIRECTS = 3
_MAX_URL = 8192
_MAX_HEAD = 64 * 1024
_READ = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMBER = re.compile(r"(0x[0-9a-f]*|[0-9]+)")
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\]")

_V4_BLOCKED: tuple[tuple[ipaddress.IPv4Network, str], ...] = tuple(
    (ipaddress.IPv4Network(net), why)
    for net, why in (
        ("0.0.0.0/8", "an unspecified address"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a shared (CGNAT) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "a reserved address"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a reserved address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
    )
)
_V6_BLOCKED: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(net), why)
    for net, why in (
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        # IPv4-compatible addresses are deprecated (RFC 4291 section 2.5.5.1):
        # nothing public uses them, so all of them go.
        ("::/96", "an IPv4-compatible address"),
        ("100::/64", "a discard address"),
        ("2001::/23", "a reserved address"),
        ("2001:db8::/32", "a documentation address"),
        ("3fff::/20", "a documentation address"),
        ("fc00::/7", "a unique-local (private) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
    )
)
# Prefixes that carry an IPv4 address in their last 32 bits (NAT64, RFC 6052
# and RFC 8215): the IPv4 address inside is what gets reached.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


# Where cloud metadata services answer besides 169.254.169.254: AWS's IPv6
# address, and the names Google Cloud and AWS give them.
_METADATA_V6 = ipaddress.IPv6Address("fd00:ec2::254")
_METADATA_NAMES = frozenset(
    {"metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"}
)


class UrlRefused(BadRequest):
    """The URL may not be fetched: it points somewhere private, or is not a
    plain http(s) URL. The message names the host at most, never the query."""


class FetchFailed(BadRequest):
    """The URL was allowed but the fetch did not give a usable answer (could
    not connect, too large, too slow, an error status, too many redirects)."""


def address_problem(address: IPAddress) -> str | None:
    """Why ``address`` must not be reached ("a loopback address"…), or None
    when it is a plain public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_v4(address)
        if embedded is not None:
            inner = address_problem(embedded)
            return None if inner is None else f"{inner} (in IPv6 form)"
        for network, why in _V6_BLOCKED:
            if address in network:
                return why
        return None
    for network4, why in _V4_BLOCKED:
        if address in network4:
            return why
    return None


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address a host spells when its last label is a number, read the
    way inet_aton and browsers read it: one to four parts, each decimal,
    octal (leading 0) or hex (0x); the last part fills the remaining bytes.
    None when the host is a name. UrlRefused when it looks like an address
    but is not a valid one (such a host is never looked up as a name)."""
    labels = host.split(".")
    if labels and labels[-1] == "":
        labels = labels[:-1]
    if not labels or not _NUMBER.fullmatch(labels[-1]):
        return None
    if len(labels) > 4 or not all(_NUMBER.fullmatch(label) for label in labels):
        raise UrlRefused("the URL's host is neither a valid address nor a name")
    numbers = [_part(label) for label in labels]
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise UrlRefused("the URL's host is neither a valid address nor a name")
    value = last
    for index, part in enumerate(head):
        value |= part << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _part(label: str) -> int:
    if label.startswith("0x"):
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        if any(ch in "89" for ch in label):
            raise UrlRefused("the URL's host is neither a valid address nor a name")
        return int(label, 8)
    return int(label)


def metadata_problem(url: str) -> str | None:
    """Why an admin-set base URL needs an explicit allowance: its host is a
    link-local address (in any spelling) or a cloud metadata name. None for
    everything else, loopback and private hosts included: a local model
    server is a feature. The URL's other checks are the caller's."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        address: IPAddress | None = (
            ipaddress.IPv6Address(host.partition("%")[0])
            if parts.netloc.rpartition("@")[2].startswith("[")
            else legacy_ipv4(host)
        )
    except (ValueError, UrlRefused):
        return None  # not an address: judged as a name below
    if address is None:
        return "a cloud metadata host" if host in _METADATA_NAMES else None
    if address == _METADATA_V6:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_v4(address)
        if inner is not None:
            address = inner
    if address.is_link_local:
        return "a link-local address"
    return None


@dataclass(frozen=True, slots=True)
class Target:
    """A URL that passed: where to connect and what to ask for."""

    scheme: str
    host: str  # the name (ASCII) or the address as text, no brackets
    port: int
    path: str  # path and query, as sent on the request line
    addresses: tuple[IPAddress, ...]  # checked; connect to these only

    @property
    def authority(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return shown if self.port == default else f"{shown}:{self.port}"

    @property
    def label(self) -> str:
        """``scheme://host:port``: what error messages may name."""
        return f"{self.scheme}://{self.authority}"


@dataclass(frozen=True, slots=True)
class _Parsed:
    scheme: str
    host: str
    port: int
    path: str
    literal: IPAddress | None


def parse_url(url: str) -> _Parsed:
    """Split and check a URL's form (scheme, credentials, host spelling);
    addresses are judged by the caller."""
    if not isinstance(url, str) or not url or len(url) > _MAX_URL:
        raise UrlRefused("the URL is empty or too long")
    if _UNSAFE_CHARS.search(url):
        raise UrlRefused("the URL contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused("the URL cannot be parsed (check the host and port)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlRefused("only http and https URLs can be fetched")
    if "@" in parts.netloc:
        raise UrlRefused("URLs with credentials (user@ or user:password@) are not fetched")
    if port == 0:
        raise UrlRefused("the URL has port 0")
    port = port or (443 if scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    if parts.netloc.startswith("["):
        literal = _bracketed(parts.hostname or "")
        return _Parsed(scheme, str(literal), port, path, literal)
    host = _ascii_name(parts.hostname or "")
    literal4 = legacy_ipv4(host)
    if literal4 is not None:
        return _Parsed(scheme, str(literal4), port, path, literal4)
    name = host.removesuffix(".")
    if name == "localhost" or name.endswith(".localhost"):
        raise UrlRefused("the URL's host is a loopback name")
    return _Parsed(scheme, name, port, path, None)


def _bracketed(text: str) -> ipaddress.IPv6Address:
    if "%" in text:
        raise UrlRefused("IPv6 addresses with a zone (%…) are not fetched")
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        raise UrlRefused("the URL's host is not a valid IPv6 address") from None


def _ascii_name(host: str) -> str:
    if not host:
        raise UrlRefused("the URL has no host")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise UrlRefused("the URL's host is not a valid name") from None
    labels = host.removesuffix(".").split(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise UrlRefused("the URL's host is not a valid name")
    return host


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host``."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class UrlGuard:
    """Checks URLs: their form, then every address their host resolves to."""

    __slots__ = ("_resolve", "_exempt")

    def __init__(self, resolver: Resolver | None = None, exempt: Exempt | None = None) -> None:
        self._resolve = resolver or system_resolver
        self._exempt = exempt

    async def check(self, url: str) -> Target:
        parsed = parse_url(url)
        if parsed.literal is None and parsed.host.rstrip(".") in _METADATA_NAMES:
            # Refused by name too: where it does not resolve to a link-local
            # address, it may still be answered by something that should not be.
            raise UrlRefused(f"the URL's host {parsed.host} is a cloud metadata host")
        if parsed.literal is not None:
            addresses: tuple[IPAddress, ...] = (parsed.literal,)
        else:
            addresses = await self._lookup(parsed.host, parsed.port)
        for address in addresses:
            if self._exempt is not None and self._exempt(address, parsed.port):
                continue
            why = address_problem(address)
            if why is not None:
                what = "is" if parsed.literal is not None else "resolves to"
                raise UrlRefused(f"the URL's host {parsed.host} {what} {why}")
        return Target(parsed.scheme, parsed.host, parsed.port, parsed.path, addresses)

    async def _lookup(self, host: str, port: int) -> tuple[IPAddress, ...]:
        try:
            found = await self._resolve(host, port)
        except (OSError, UnicodeError):
            raise FetchFailed(f"the URL's host {host} could not be resolved") from None
        addresses: list[IPAddress] = []
        for text in found:
            try:
                # A scope (fe80::1%eth0) is dropped: the address itself decides.
                addresses.append(ipaddress.ip_address(str(text).partition("%")[0]))
            except ValueError:
                raise UrlRefused(f"the URL's host {host} resolved to something odd") from None
        if not addresses:
            raise FetchFailed(f"the URL's host {host} has no address")
        return tuple(addresses)


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # the last hop's URL
    status: int
    content_type: str | None
    body: bytes


async def fetch_public(
    url: str,
    *,
    guard: UrlGuard | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    max_redirects: int = MAX_REDIRECTS,
    accept: str = "*/*",
    ssl_context: ssl.SSLContext | None = None,
) -> Fetched:
    """GET a public URL's body. UrlRefused when a hop points somewhere it
    must not; FetchFailed when it cannot be fetched within the caps."""
    guard = guard or UrlGuard()
    current = url
    try:
        async with asyncio.timeout(timeout):
            for hop in range(max_redirects + 1):
                target = await guard.check(current)
                head, body = await _get(target, accept, max_bytes, ssl_context)
                location = _header(head, "location")
                if head.status in _REDIRECTS and location:
                    if hop == max_redirects:
                        raise FetchFailed(
                            f"more than {max_redirects} redirects from {url_label(url)}"
                        )
                    current = urljoin(current, location)
                    continue
                if not 200 <= head.status < 300:
                    raise FetchFailed(f"{target.label} answered HTTP {head.status}")
                return Fetched(current, head.status, _header(head, "content-type"), body)
    except TimeoutError:
        raise FetchFailed(f"{url_label(current)} did not answer within {timeout:g} s") from None
    raise AssertionError("unreachable: the loop returns or raises")


def url_label(url: str) -> str:
    """``scheme://host[:port]`` of a URL, for messages (no path, query or
    credentials: an image URL may carry a token)."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    except ValueError:
        return "the URL"


def _header(head: Head, name: str) -> str | None:
    for key, value in head.headers:
        if key == name:
            return value
    return None


async def _get(
    target: Target, accept: str, max_bytes: int, ssl_context: ssl.SSLContext | None
) -> tuple[Head, bytes]:
    reader, writer = await _connect(target, ssl_context)
    try:
        request = (
            f"GET {target.path} HTTP/1.1\r\nHost: {target.authority}\r\n"
            f"User-Agent: omniroute\r\nAccept: {accept}\r\nAccept-Encoding: identity\r\n"
            "Connection: close\r\n\r\n"
        )
        writer.write(request.encode("ascii"))
        await writer.drain()
        return await _read(reader, target, max_bytes)
    except (OSError, ProtocolError, UnicodeEncodeError):
        raise FetchFailed(f"no valid answer from {target.label}") from None
    finally:
        writer.close()


async def _connect(
    target: Target, ssl_context: ssl.SSLContext | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to the first checked address that accepts one."""
    tls = None
    if target.scheme == "https":
        tls = ssl_context or _default_tls()
    for address in target.addresses:
        try:
            return await asyncio.open_connection(
                str(address),
                target.port,
                ssl=tls,
                server_hostname=target.host if tls is not None else None,
            )
        except OSError:
            continue
    raise FetchFailed(f"could not connect to {target.label}")


def _default_tls() -> ssl.SSLContext:
    import certifi

    context = ssl.create_default_context(cafile=certifi.where())
    context.set_alpn_protocols(["http/1.1"])
    return context


async def _read(reader: asyncio.StreamReader, target: Target, max_bytes: int) -> tuple[Head, bytes]:
    parser = ResponseParser(max_head=_MAX_HEAD)
    head: Head | None = None
    body = bytearray()
    while True:
        event = parser.next_event()
        if event is NEED_DATA:
            parser.feed(await reader.read(_READ))
        elif isinstance(event, Head):
            head = event
            if head.status in _REDIRECTS:
                return head, b""  # a redirect's own body is of no use
            length = _header(head, "content-length")
            if length is not None and length.strip().isdigit() and int(length) > max_bytes:
                raise FetchFailed(f"{target.label} sent more than {max_bytes} bytes")
        elif event is END:
            assert head is not None
            return head, bytes(body)
        elif isinstance(event, bytes):
            body += event
            if len(body) > max_bytes:
                raise FetchFailed(f"{target.label} sent more than {max_bytes} bytes")
