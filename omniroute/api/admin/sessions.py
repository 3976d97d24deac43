"""Who may use the management side: the password, login sessions, CSRF, and
the throttle on wrong passwords.

There is no default password. Until an owner sets one (from a loopback
browser, with ``INITIAL_PASSWORD`` at first start, or ``omniroute admin
password``) every management route is refused. A login gives a session
cookie (``omniroute_session``: random, HttpOnly, SameSite=Strict, kept
server-side only as a hash, sliding expiry) and a CSRF token that every
state-changing request must echo in ``X-CSRF-Token``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from omniroute.api.admin.passwords import check_strength, hash_password, verify_password
from omniroute.errors import Forbidden, OmniError, RateLimited, Unauthorized
from omniroute.http.message import Request
from omniroute.store.admin import AdminRows, SessionRecord

COOKIE = "omniroute_session"
CSRF_HEADER = "x-csrf-token"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Wrong passwords: per address and in all, within these windows.
_PER_ADDRESS = (10, 15 * 60.0)
_OVERALL = (20, 3600.0)
# A session's sliding expiry is written at most this often (each write is a
# commit on the single writer).
_TOUCH_EVERY = 60.0


class SetupRequired(OmniError):
    """No admin password exists yet: nobody can be authenticated."""

    status = 401
    kind = "setup_required"


@dataclass(frozen=True, slots=True)
class Session:
    token_hash: str
    csrf: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class Throttle:
    """Wrong passwords counted per address and in all; refuses once a
    window is full, with the seconds until the oldest failure leaves it."""

    __slots__ = ("_clock", "_by_address", "_all")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._by_address: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def check(self, address: str) -> None:
        now = self._clock()
        for times, (limit, window) in (
            (self._by_address.get(address), _PER_ADDRESS),
            (self._all, _OVERALL),
        ):
            if times is None:
                continue
            while times and now - times[0] >= window:
                times.popleft()
            if len(times) >= limit:
                raise RateLimited(
                    "Too many wrong passwords; try again later.",
                    retry_after=window - (now - times[0]),
                )

    def failed(self, address: str) -> None:
        now = self._clock()
        self._by_address.setdefault(address, deque()).append(now)
        self._all.append(now)
        if len(self._by_address) > 10_000:  # a flood of addresses: forget the oldest
            self._by_address.pop(next(iter(self._by_address)))

    def succeeded(self, address: str) -> None:
        self._by_address.pop(address, None)


class AdminAuth:
    __slots__ = ("_rows", "_ttl", "_clock", "throttle")

    def __init__(
        self, rows: AdminRows, session_ttl: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._rows = rows
        self._ttl = session_ttl
        self._clock = clock
        self.throttle = Throttle()

    @property
    def session_ttl(self) -> float:
        return self._ttl

    async def has_password(self) -> bool:
        return await self._rows.password() is not None

    async def verify(self, password: str) -> bool:
        """Whether ``password`` is the admin password (False when none is set)."""
        stored = await self._rows.password()
        if stored is None or not isinstance(password, str):
            return False
        return await asyncio.to_thread(verify_password, password, stored)

    async def set_password(self, password: str, *, actor: str, address: str | None) -> None:
        """Set (or replace) the password; every session ends."""
        check_strength(password)
        hashed = await asyncio.to_thread(hash_password, password)
        await self._rows.set_password(hashed, self._clock())
        await self._rows.audit(self._clock(), actor, "admin.password", address=address)

    async def login(self, password: str, address: str) -> tuple[str, Session]:
        """A new session's token (for the cookie) and its record; raises
        Unauthorized, RateLimited or SetupRequired."""
        self.throttle.check(address)
        if not await self.has_password():
            raise SetupRequired("No admin password is set yet.")
        if not await self.verify(password):
            self.throttle.failed(address)
            await self._rows.audit(self._clock(), "anonymous", "login.failed", address=address)
            raise Unauthorized("Wrong password.")
        self.throttle.succeeded(address)
        token = secrets.token_urlsafe(32)
        now = self._clock()
        record = SessionRecord(
            token_hash(token), secrets.token_urlsafe(24), now, now, now + self._ttl, address
        )
        await self._rows.create_session(record)
        await self._rows.audit(now, "session", "login", address=address)
        return token, Session(record.token_hash, record.csrf)

    async def session(self, request: Request) -> Session | None:
        """The request's live session (its expiry slides forward), or None."""
        token = cookie(request, COOKIE)
        if not token:
            return None
        now = self._clock()
        found = await self._rows.session(token_hash(token), now)
        if found is None:
            return None
        if now - found.seen_at >= _TOUCH_EVERY:
            await self._rows.touch_session(found.token_hash, now, now + self._ttl)
        return Session(found.token_hash, found.csrf)

    async def require(self, request: Request) -> Session:
        """The request's session, with its CSRF token checked when the
        request changes state. Raises SetupRequired, Unauthorized, Forbidden."""
        session = await self.session(request)
        if session is None:
            if not await self.has_password():
                raise SetupRequired("No admin password is set yet: set one first.")
            raise Unauthorized("Log in first.")
        if request.method in STATE_CHANGING:
            given = request.headers.get(CSRF_HEADER) or ""
            if not hmac.compare_digest(given.encode("latin-1", "replace"), session.csrf.encode()):
                raise Forbidden("Missing or wrong X-CSRF-Token header.")
        return session

    async def logout(self, session: Session) -> None:
        await self._rows.end_session(session.token_hash)

    async def logout_all(self, *, actor: str, address: str | None) -> int:
        ended = await self._rows.end_all_sessions()
        await self._rows.audit(
            self._clock(), actor, "admin.logout_all", detail={"sessions": ended}, address=address
        )
        return ended


def cookie(request: Request, name: str) -> str | None:
    """A cookie's value from the request's Cookie headers (RFC 6265 section 5.4)."""
    for header in request.headers.get_all("cookie"):
        for pair in header.split(";"):
            key, eq, value = pair.strip().partition("=")
            if eq and key == name:
                return value.strip().strip('"') or None
    return None
