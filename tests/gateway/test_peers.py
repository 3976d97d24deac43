"""Who is on the other end: the real client address behind trusted proxies,
local callers, and address lists."""

from __future__ import annotations

import ipaddress

import pytest

from omniroute.config.options import Options
from omniroute.errors import Forbidden
from omniroute.gateway.admission import WINDOW, SlidingWindow
from omniroute.gateway.peers import check_address, client_address, local_caller
from omniroute.http.message import Request

PROXY = Options(trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),))
NONE = Options()


def req(peer: str | None, *headers: tuple[str, str]) -> Request:
    client = None if peer is None else (peer, 5000)
    return Request("GET", "/v1/models", list(headers), client=client)


def nets(*texts: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(t) for t in texts)


def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    forwarded = ("x-forwarded-for", "198.51.100.4")
    assert client_address(req("127.0.0.1", forwarded), NONE) == "127.0.0.1"
    assert client_address(req("203.0.113.9", forwarded), PROXY) == "203.0.113.9"
    assert client_address(req("127.0.0.1", forwarded), PROXY) == "198.51.100.4"


def test_the_nearest_untrusted_hop_is_the_client() -> None:
    # A client may write anything in front; only what trusted proxies add counts.
    chain = ("x-forwarded-for", "10.9.9.9, 198.51.100.4, 127.0.0.1")
    assert client_address(req("127.0.0.1", chain), PROXY) == "198.51.100.4"
    only_proxies = ("x-forwarded-for", "127.0.0.1")
    assert client_address(req("127.0.0.1", only_proxies), PROXY) == "127.0.0.1"


@pytest.mark.parametrize("peer", ["127.0.0.1", "127.8.0.1", "::1", "::ffff:127.0.0.1"])
def test_a_direct_loopback_peer_is_a_local_caller(peer: str) -> None:
    assert local_caller(req(peer), NONE)


@pytest.mark.parametrize(
    ("peer", "headers", "options"),
    [
        ("203.0.113.9", (), NONE),
        (None, (), NONE),
        # A reverse proxy on this machine: its requests come from loopback.
        ("127.0.0.1", (("x-forwarded-for", "203.0.113.9"),), NONE),
        ("127.0.0.1", (("x-forwarded-for", "127.0.0.1"),), NONE),
        ("127.0.0.1", (("forwarded", "for=203.0.113.9"),), NONE),
        ("127.0.0.1", (("x-real-ip", "203.0.113.9"),), NONE),
        # The peer is a configured proxy: whatever it sends, it relays.
        ("127.0.0.1", (), PROXY),
    ],
)
def test_relayed_or_remote_requests_are_not_local(
    peer: str | None, headers: tuple[tuple[str, str], ...], options: Options
) -> None:
    assert not local_caller(req(peer, *headers), options)


def test_a_denied_address_is_refused_even_when_allowed() -> None:
    with pytest.raises(Forbidden, match="may not use the API"):
        check_address("10.1.2.3", nets("10.0.0.0/8"), nets("10.1.0.0/16"), "the API")
    check_address("10.2.0.1", nets("10.0.0.0/8"), nets("10.1.0.0/16"), "the API")


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("192.0.2.7", True),
        ("::ffff:192.0.2.7", True),  # an IPv4 client on a dual-stack socket
        ("2001:db8:1::5", True),
        ("192.0.2.200", False),
        ("2001:db9::1", False),
        ("not-an-address", False),
        ("", False),
    ],
)
def test_an_allow_list_admits_only_its_networks(address: str, ok: bool) -> None:
    allow = nets("192.0.2.0/25", "2001:db8::/32")
    if ok:
        check_address(address, allow, (), "x")
    else:
        with pytest.raises(Forbidden):
            check_address(address, allow, (), "x")


def test_without_an_allow_list_only_the_deny_list_counts() -> None:
    check_address("not-an-address", (), nets("192.0.2.0/24"), "x")
    check_address("198.51.100.1", (), nets("192.0.2.0/24"), "x")
    with pytest.raises(Forbidden):
        check_address("::ffff:192.0.2.9", (), nets("192.0.2.0/24"), "x")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_refuses_with_the_wait_until_a_start_leaves_it() -> None:
    clock = Clock()
    window = SlidingWindow(clock=clock)
    assert window.take("a", 2) == 0.0
    clock.now += 10
    assert window.take("a", 2) == 0.0
    clock.now += 5
    assert window.take("a", 2) == pytest.approx(WINDOW - 15)
    assert window.take("b", 2) == 0.0  # another name has its own count
    clock.now += WINDOW - 15
    assert window.take("a", 2) == 0.0  # the first start has left the window
    assert window.take("a", 2) == pytest.approx(10.0)
    # A limit lowered below the starts already counted waits until enough
    # leave for one more to fit: here all of them, the newest just taken.
    assert window.take("a", 1) == pytest.approx(WINDOW)


def test_the_window_remembers_a_bounded_number_of_names() -> None:
    clock = Clock()
    window = SlidingWindow(max_names=3, clock=clock)
    for name in ("a", "b", "c"):
        assert window.take(name, 1) == 0.0
    assert window.take("d", 1) == 0.0  # room made by forgetting the first name
    assert window.take("a", 1) == 0.0
    clock.now += WINDOW
    for name in ("e", "f", "g"):  # idle names go first
        assert window.take(name, 1) == 0.0
    assert window.take("g", 1) > 0
