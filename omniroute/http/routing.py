"""Method + path routing.

Patterns are literal text with placeholders:

- ``{name}`` matches one non-empty run of characters without ``/``;
- ``{name:path}`` matches the rest of the path, slashes included, and may be
  empty (``/static/{p:path}`` matches ``/static/`` with ``p == ""``). It must
  be the last placeholder in the pattern.

Placeholders may share a segment with literal text, e.g.
``/v1beta/models/{model}:generateContent``. Matching runs on the
percent-decoded path. Routes without placeholders are looked up in a dict;
the others are tried in the order they were added. A ``GET`` route also
answers ``HEAD`` (the server drops the body), unless a ``HEAD`` route for the
same path was added. Methods are case-sensitive (RFC 9110 section 9.1): a
route added for ``GET`` matches ``GET`` only, never ``get``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from omniroute import errors
from omniroute.http.message import Handler, Request, Response, StreamResponse

__all__ = ["Router"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z]+))?\}")


class _Route:
    __slots__ = ("handlers", "labels", "pattern", "regex")

    def __init__(self, pattern: str, regex: re.Pattern[str] | None) -> None:
        self.pattern = pattern
        self.regex = regex
        self.handlers: dict[str, Handler] = {}
        self.labels: dict[str, str] = {}


class Router:
    """Maps (method, path) to a handler; also usable directly as a Handler."""

    __slots__ = ("_dynamic", "_static")

    def __init__(self) -> None:
        self._static: dict[str, _Route] = {}
        self._dynamic: list[_Route] = []

    def add(
        self, methods: str | Iterable[str], pattern: str, handler: Handler, *, label: str = ""
    ) -> None:
        """Route ``methods`` on ``pattern`` to ``handler``. ``label`` is kept
        for :meth:`routes` and means nothing here (the application uses it
        to say who may call the route)."""
        names = [methods] if isinstance(methods, str) else list(methods)
        if not names:
            raise ValueError("a route needs at least one method")
        if not pattern.startswith("/"):
            raise ValueError(f"route pattern must start with '/': {pattern!r}")
        route = self._route_for(pattern)
        for method in names:
            if method in route.handlers:
                raise ValueError(f"duplicate route: {method} {pattern}")
            route.handlers[method] = handler
            route.labels[method] = label

    def routes(self) -> list[tuple[str, str, str]]:
        """Every (method, pattern, label), in the order the patterns were added."""
        every = [*self._static.values(), *self._dynamic]
        return [(m, r.pattern, r.labels[m]) for r in every for m in r.handlers]

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        """The handler for ``method`` on ``path`` and the placeholder values.

        Raises errors.NotFound when no route has this path, and
        errors.MethodNotAllowed (``allow`` = sorted methods) when some do but
        not for this method.
        """
        allowed: set[str] = set()
        route = self._static.get(path)
        if route is not None:
            handler = _pick(route.handlers, method)
            if handler is not None:
                return handler, {}
            allowed.update(route.handlers)
        for route in self._dynamic:
            assert route.regex is not None
            found = route.regex.fullmatch(path)
            if found is None:
                continue
            handler = _pick(route.handlers, method)
            if handler is not None:
                return handler, found.groupdict()
            allowed.update(route.handlers)
        if not allowed:
            raise errors.NotFound("no route for this path")
        if "GET" in allowed:
            allowed.add("HEAD")
        raise errors.MethodNotAllowed(
            f"method {method} is not allowed here", allow=tuple(sorted(allowed))
        )

    async def __call__(self, request: Request) -> Response | StreamResponse:
        handler, params = self.match(request.method, request.path)
        request.path_params = params
        return await handler(request)

    def _route_for(self, pattern: str) -> _Route:
        regex = _compile(pattern)
        if regex is None:
            route = self._static.get(pattern)
            if route is None:
                route = self._static[pattern] = _Route(pattern, None)
            return route
        for route in self._dynamic:
            if route.pattern == pattern:
                return route
        route = _Route(pattern, regex)
        self._dynamic.append(route)
        return route


def _pick(handlers: dict[str, Handler], method: str) -> Handler | None:
    handler = handlers.get(method)
    if handler is None and method == "HEAD":
        handler = handlers.get("GET")
    return handler


def _compile(pattern: str) -> re.Pattern[str] | None:
    """A regex for a pattern with placeholders, or None for a literal path."""
    parts: list[str] = []
    names: set[str] = set()
    position = 0
    saw_path = False
    for found in _PLACEHOLDER.finditer(pattern):
        if saw_path:
            raise ValueError(f"{{name:path}} must be the last placeholder: {pattern!r}")
        name, kind = found.group(1), found.group(2)
        if name in names:
            raise ValueError(f"placeholder {name!r} used twice in {pattern!r}")
        names.add(name)
        parts.append(_literal(pattern[position : found.start()], pattern))
        if kind is None:
            parts.append(f"(?P<{name}>[^/]+)")
        elif kind == "path":
            parts.append(f"(?P<{name}>.*)")
            saw_path = True
        else:
            raise ValueError(f"unknown placeholder kind {kind!r} in {pattern!r}")
        position = found.end()
    tail = _literal(pattern[position:], pattern)
    if not parts:
        return None
    parts.append(tail)
    return re.compile("".join(parts), re.DOTALL)


def _literal(text: str, pattern: str) -> str:
    if "{" in text or "}" in text:
        raise ValueError(f"malformed placeholder in {pattern!r}")
    return re.escape(text)
