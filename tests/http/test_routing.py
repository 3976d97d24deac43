from __future__ import annotations

import pytest

from omniroute import errors
from omniroute.http import Handler, Request, Response, Router


def named(name: str) -> Handler:
    async def handler(request: Request) -> Response:
        return Response(200, name.encode())

    handler.__name__ = name
    return handler


def build() -> tuple[Router, dict[str, Handler]]:
    handlers = {
        name: named(name)
        for name in ("models", "chat", "gemini", "item_get", "item_put", "static", "act", "head")
    }
    router = Router()
    router.add("GET", "/v1/models", handlers["models"])
    router.add("POST", "/v1/chat/completions", handlers["chat"])
    router.add(["GET", "POST"], "/v1beta/models/{rest:path}", handlers["gemini"])
    router.add("GET", "/items/{id}", handlers["item_get"])
    router.add("PUT", "/items/{id}", handlers["item_put"])
    router.add("GET", "/ui/{path:path}", handlers["static"])
    router.add("POST", "/v1/models/{model}:{action}", handlers["act"])
    router.add("HEAD", "/v1/models", handlers["head"])
    return router, handlers


def test_literal_routes() -> None:
    router, h = build()
    assert router.match("GET", "/v1/models") == (h["models"], {})
    assert router.match("POST", "/v1/chat/completions") == (h["chat"], {})


def test_path_placeholder_takes_slashes_and_colons() -> None:
    router, h = build()
    handler, params = router.match("POST", "/v1beta/models/gemini-2.5-pro:streamGenerateContent")
    assert handler is h["gemini"]
    assert params == {"rest": "gemini-2.5-pro:streamGenerateContent"}
    _, params = router.match("GET", "/v1beta/models/tunedModels/a/b:generate")
    assert params == {"rest": "tunedModels/a/b:generate"}


def test_path_placeholder_may_be_empty_but_needs_its_slash() -> None:
    router, h = build()
    assert router.match("GET", "/ui/") == (h["static"], {"path": ""})
    assert router.match("GET", "/ui/assets/app.js") == (h["static"], {"path": "assets/app.js"})
    with pytest.raises(errors.NotFound):
        router.match("GET", "/ui")


def test_segment_placeholder_is_one_non_empty_segment() -> None:
    router, h = build()
    assert router.match("GET", "/items/42") == (h["item_get"], {"id": "42"})
    assert router.match("PUT", "/items/a:b") == (h["item_put"], {"id": "a:b"})
    for path in ("/items/", "/items/1/2"):
        with pytest.raises(errors.NotFound):
            router.match("GET", path)


def test_placeholders_inside_a_segment() -> None:
    router, h = build()
    handler, params = router.match("POST", "/v1/models/gpt-4o:countTokens")
    assert handler is h["act"]
    assert params == {"model": "gpt-4o", "action": "countTokens"}


def test_head_falls_back_to_get_unless_a_head_route_exists() -> None:
    router, h = build()
    assert router.match("HEAD", "/items/1")[0] is h["item_get"]
    assert router.match("HEAD", "/v1/models")[0] is h["head"]


def test_method_not_allowed_lists_sorted_methods() -> None:
    router, _ = build()
    with pytest.raises(errors.MethodNotAllowed) as caught:
        router.match("DELETE", "/items/9")
    assert caught.value.allow == ("GET", "HEAD", "PUT")
    assert caught.value.status == 405
    with pytest.raises(errors.MethodNotAllowed) as caught:
        router.match("GET", "/v1/chat/completions")
    assert caught.value.allow == ("POST",)


def test_not_found() -> None:
    router, _ = build()
    with pytest.raises(errors.NotFound):
        router.match("GET", "/v2/models")
    with pytest.raises(errors.NotFound):
        router.match("GET", "/v1/models/")


def test_static_route_beats_placeholder_route() -> None:
    router = Router()
    literal, dynamic = named("literal"), named("dynamic")
    router.add("GET", "/a/{x}", dynamic)
    router.add("GET", "/a/b", literal)
    assert router.match("GET", "/a/b")[0] is literal
    assert router.match("GET", "/a/c") == (dynamic, {"x": "c"})


def test_regex_characters_in_literals_are_literal() -> None:
    router = Router()
    handler = named("dot")
    router.add("GET", "/file.{ext}", handler)
    assert router.match("GET", "/file.json") == (handler, {"ext": "json"})
    with pytest.raises(errors.NotFound):
        router.match("GET", "/fileXjson")


@pytest.mark.parametrize(
    "pattern",
    ["no-slash", "/a/{x", "/a/x}", "/a/{x:int}", "/{x}/{x}", "/{p:path}/{x}", "/{}"],
)
def test_bad_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        Router().add("GET", pattern, named("x"))


def test_duplicate_route_is_refused() -> None:
    router = Router()
    router.add("GET", "/x/{a}", named("one"))
    with pytest.raises(ValueError):
        router.add("GET", "/x/{a}", named("two"))


def test_methods_are_case_sensitive() -> None:
    router, h = build()
    assert router.match("GET", "/v1/models")[0] is h["models"]
    for method in ("get", "Get", "head"):
        with pytest.raises(errors.MethodNotAllowed) as caught:
            router.match(method, "/v1/models")
        assert caught.value.allow == ("GET", "HEAD")
    lower = Router()
    lower.add("get", "/x", named("lower"))  # a route for the method "get", not GET
    with pytest.raises(errors.MethodNotAllowed):
        lower.match("GET", "/x")


@pytest.mark.anyio
async def test_router_as_handler_fills_path_params() -> None:
    router = Router()

    async def show(request: Request) -> Response:
        return Response.json(request.path_params)

    router.add("GET", "/v1beta/models/{rest:path}", show)
    request = Request("GET", "/v1beta/models/a%2Fb:gen?alt=sse")
    response = await router(request)
    assert isinstance(response, Response)
    assert response.body == b'{"rest":"a/b:gen"}'
