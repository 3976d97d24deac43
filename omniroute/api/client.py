"""The client API: the endpoints OpenAI, Anthropic and Gemini clients call."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from omniroute.api.bodies import read_json
from omniroute.api.endpoints import Endpoints
from omniroute.errors import BadRequest, Forbidden, NotFound, OmniError
from omniroute.formats.sse import SSEDecoder
from omniroute.gateway.admission import Admission
from omniroute.gateway.call import Call
from omniroute.gateway.conversations import ConversationMemory
from omniroute.gateway.pipeline import Pipeline
from omniroute.gateway.registry import Registry
from omniroute.gateway.scope import visible
from omniroute.http.message import GuardedStream, Handler, Request, Response, StreamResponse
from omniroute.http.routing import Router
from omniroute.providers.family import CAPABILITIES, Operation
from omniroute.settings import Settings
from omniroute.store.records import ClientKeyRecord

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

# Client paths that clients often send without /v1.
_UNVERSIONED = (
    "/chat/completions",
    "/completions",
    "/responses",
    "/models",
    "/messages",
    "/embeddings",
    "/moderations",
    "/rerank",
    "/audio/speech",
    "/audio/transcriptions",
    "/audio/translations",
    "/images/generations",
    "/images/edits",
)

# Gemini actions on /v1beta/models/{model}:{action}.
_GEMINI_ACTIONS = ("generateContent", "streamGenerateContent", "countTokens")

# What a local compaction asks the model (Codex's /responses/compact).
COMPACT_PROMPT = (
    "Summarise the conversation so far for a continuation of the same task: the goal, "
    "decisions made, work done (files, commands, results), open questions and next steps. "
    "Be complete but concise; this summary replaces the history."
)
COMPACT_PREFIX = "Summary of the conversation so far:\n"


def normalise_path(path: str) -> str:
    """Map the paths clients get wrong onto ours: /v1/v1/x -> /v1/x and
    /chat/completions -> /v1/chat/completions."""
    while path.startswith("/v1/v1/") or path == "/v1/v1":
        path = path[3:]
    if path.startswith(_UNVERSIONED) and not path.startswith("/v1"):
        path = "/v1" + path
    return path


def request_id(request: Request) -> str:
    given = request.headers.get("x-request-id")
    if given and _REQUEST_ID.match(given):
        return given
    return secrets.token_hex(16)


def _key_id(key: object) -> int | None:
    return key.id if isinstance(key, ClientKeyRecord) else None


def _async(release: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        release()

    return run


def _key_of(request: Request) -> ClientKeyRecord | None:
    """The key the door let in (None: a key-less local caller)."""
    key = request.state.get("client_key")
    return key if isinstance(key, ClientKeyRecord) else None


def _model_of(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required and must be a string.")
    return model


class ClientApi:
    def __init__(
        self,
        settings: Settings,
        registry: Callable[[], Registry],
        pipeline: Pipeline,
        memory: ConversationMemory,
        started: float,
    ) -> None:
        self._registry = registry
        self._pipeline = pipeline
        self._memory = memory
        self._started = started
        self._admission = Admission(settings, registry)
        self._endpoints = Endpoints(settings, pipeline, self._endpoint_call)

    def install(self, router: Router, *, label: str, public: str) -> None:
        """Add the LLM API's routes, labelled ``label`` (each passes the
        client API's own door: addresses, rates, the client key); /health
        is ``public``."""
        door = self._door
        routes = (
            ("POST", "/v1/chat/completions", door(self.chat_completions, "openai")),
            ("POST", "/v1/messages", door(self.messages, "anthropic")),
            ("POST", "/v1/messages/count_tokens", door(self.count_tokens, "anthropic")),
            ("POST", "/v1/responses", door(self.responses, "openai-responses")),
            ("POST", "/v1/responses/compact", door(self.responses_compact, "openai-responses")),
            ("GET", "/v1/models", door(self.models)),
            ("GET", "/v1beta/models", door(self.gemini_models)),
            ("GET", "/v1beta/models/{name:path}", door(self.gemini_model)),
            # google-genai calls /v1beta by default and /v1 when asked; Gemini CLI /v1beta.
            ("POST", "/v1beta/models/{target:path}", door(self.gemini, "gemini")),
            ("POST", "/v1/models/{target:path}", door(self.gemini, "gemini")),
        )
        for method, pattern, handler in routes:
            router.add(method, pattern, handler, label=label)
        for path, handler in self._endpoints.routes():
            router.add("POST", path, door(handler, "openai"), label=label)
        router.add("GET", "/health", self.health, label=public)

    def _door(self, handler: Handler, dialect: str | None = None) -> Handler:
        """Admission (see ``gateway.admission``) before ``handler``. A model
        call (``dialect`` given) gets a request-log row for its refusals
        too: once a call is made the pipeline writes its row; before that
        (refused at the door, bad JSON, no model) this does."""

        async def handle(request: Request) -> Response | StreamResponse:
            try:
                key = request.state["client_key"] = self._admission.admit(request)
                release = self._admission.hold(key) if dialect is not None else None
            except OmniError as err:
                if dialect is not None:
                    self._refused(request, dialect, err)
                raise
            try:
                response = await handler(request)
            except BaseException as err:
                if release is not None:
                    release()
                if isinstance(err, OmniError) and dialect is not None:
                    self._refused(request, dialect, err)
                raise
            if release is not None:
                # A stream holds the key's place until its last byte (or the client leaves).
                if isinstance(response, StreamResponse):
                    response.chunks = GuardedStream(response.chunks, _async(release))
                else:
                    release()
            return response

        return handle

    def _refused(self, request: Request, dialect: str, err: OmniError) -> None:
        if "call" not in request.state:
            self._pipeline.record_refused(
                str(request.state["request_id"]),
                dialect,
                err,
                client_key_id=_key_id(request.state.get("client_key")),
            )

    # ------------------------------------------------------------- helpers

    def _call(
        self,
        request: Request,
        key: ClientKeyRecord | None,
        dialect: str,
        body: dict[str, Any],
        model: str,
        stream: bool,
        include_usage: bool = False,
        operation: Operation = Operation.CHAT,
    ) -> Call:
        address = request.state.get("client_address")
        call = request.state["call"] = Call(
            request_id=str(request.state["request_id"]),
            client_key_id=key.id if key else None,
            dialect=dialect,
            body=body,
            model=model,
            stream=stream,
            include_usage=include_usage,
            client_headers=dict(request.headers.items()),
            operation=operation,
            scope=key.scope if key else None,
            client_address=address if isinstance(address, str) else None,
        )
        return call

    def body_limit(self, path: str) -> int | None:
        """The body cap of the route at ``path`` (None: the general one)."""
        return self._endpoints.body_limit(path)

    def _endpoint_call(
        self,
        request: Request,
        body: dict[str, Any],
        model: str,
        stream: bool,
        include_usage: bool,
        operation: Operation,
    ) -> Call:
        return self._call(
            request, _key_of(request), "openai", body, model, stream, include_usage, operation
        )

    def _model_ids(self, request: Request, capability: str | None = None) -> list[str]:
        """What the model listings show: everything served, or for a key
        with a scope, what it may use; with ``capability``, only what serves it."""
        registry = self._registry()
        ids = registry.model_ids(capability)
        key = _key_of(request)
        if key is None or not key.scope.restricted:
            return ids
        return visible(key.scope, registry, ids)

    # -------------------------------------------------------------- OpenAI

    async def chat_completions(self, request: Request) -> Response | StreamResponse:
        key = _key_of(request)
        body = read_json(request)
        options = body.get("stream_options")
        call = self._call(
            request,
            key,
            "openai",
            body,
            _model_of(body),
            stream=body.get("stream") is True,  # absent means false (OpenAI API reference)
            include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        )
        return await self._pipeline.run(call)

    async def models(self, request: Request) -> Response:
        capability = request.query.get("capability")
        if capability is not None and capability not in CAPABILITIES:
            raise BadRequest(
                f"Unknown capability {capability!r}; known: {', '.join(CAPABILITIES)}."
            )
        created = int(self._started)
        data = [
            {
                "id": model_id,
                "object": "model",
                "created": created,
                "owned_by": model_id.split("/")[0],
            }
            for model_id in self._model_ids(request, capability)
        ]
        return Response.json({"object": "list", "data": data})

    # ----------------------------------------------------------- Responses

    async def responses(self, request: Request) -> Response | StreamResponse:
        key = _key_of(request)
        body = read_json(request)
        call = await self._responses_call(request, key, body, stream=body.get("stream") is True)
        from omniroute.formats import openai_responses

        history = openai_responses.input_items_from_request(call.ir_request())
        response = await self._pipeline.run(call)
        if isinstance(response, StreamResponse):
            response.chunks = self._remember_stream(response.chunks, history)
        elif response.status == 200:
            answer = json.loads(response.body)
            self._remember(answer, history)
        return response

    async def _responses_call(
        self, request: Request, key: ClientKeyRecord | None, body: dict[str, Any], *, stream: bool
    ) -> Call:
        """A Responses call, with the conversation a previous_response_id names
        put in front of its input."""
        from omniroute.formats import openai_responses as responses

        call = self._call(request, key, "openai-responses", body, _model_of(body), stream=stream)
        req = call.ir_request()
        call.echo = responses.request_echo(body) or None
        previous = responses.previous_response_id(req)
        if previous is not None:
            responses.apply_history(req, await self._memory.load(previous))
            call.translate_only = True  # the body changed: the upstream gets the IR rendering
            call.echo = {**(call.echo or {}), "previous_response_id": previous}
        # Which tools the answer must give back as custom or namespaced calls.
        call.echo = responses.answer_echo(req, call.echo)
        return call

    def _remember(self, answer: dict[str, Any], history: list[dict[str, Any]]) -> None:
        rid, output = answer.get("id"), answer.get("output")
        if isinstance(rid, str) and isinstance(output, list):
            self._memory.remember(
                rid, history + [item for item in output if isinstance(item, dict)]
            )

    def _remember_stream(
        self, chunks: AsyncIterator[bytes], history: list[dict[str, Any]]
    ) -> GuardedStream:
        """Pass the client's stream on unchanged, noting the final response."""

        async def watch() -> AsyncIterator[bytes]:
            sse = SSEDecoder()
            final: dict[str, Any] | None = None
            async for chunk in chunks:
                yield chunk
                for event in sse.feed(chunk):
                    if event.event in ("response.completed", "response.incomplete"):
                        final = json.loads(event.data).get("response")
            if final is not None:
                self._remember(final, history)

        async def close_source() -> None:
            # Closing this wrapper (the client left) must close the upstream too.
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()

        return GuardedStream(watch(), close_source)

    async def responses_compact(self, request: Request) -> Response:
        """Codex's remote compaction, served by any upstream: the model writes a
        summary, and the compacted history is the user's own messages plus it."""
        key = _key_of(request)
        body = read_json(request)
        model = _model_of(body)
        raw_input = body.get("input") or []
        items = (
            [{"role": "user", "content": raw_input}] if isinstance(raw_input, str) else raw_input
        )
        if not isinstance(items, list):
            raise BadRequest("'input' must be a string or a list of items.")
        # The summary is text: the conversation's tools are left out of the ask.
        history = [
            i for i in items if not (isinstance(i, dict) and i.get("type") == "additional_tools")
        ]
        ask: dict[str, Any] = {
            "model": model,
            "input": [*history, {"role": "user", "content": COMPACT_PROMPT}],
            "stream": False,
        }
        for field in ("instructions", "previous_response_id"):
            if field in body:
                ask[field] = body[field]
        summary_response = await self._pipeline.run(
            await self._responses_call(request, key, ask, stream=False)
        )
        assert isinstance(summary_response, Response)
        summary = json.loads(summary_response.body)
        text = "".join(
            part.get("text", "")
            for item in summary.get("output", [])
            if item.get("type") == "message"
            for part in item.get("content", [])
        )
        kept = [
            item
            for item in items
            if isinstance(item, dict)
            and item.get("role") == "user"
            and item.get("type", "message") == "message"
        ]
        output = [
            *kept,
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": COMPACT_PREFIX + text}],
            },
        ]
        return Response.json(
            {
                "id": summary.get("id", "resp_" + secrets.token_hex(16)),
                "object": "response.compaction",
                "created_at": int(time.time()),
                "output": output,
                "usage": summary.get("usage"),
            },
            headers=[h for h in summary_response.headers if h[0].startswith("x-omniroute-")],
        )

    # ----------------------------------------------------------- Anthropic

    async def messages(self, request: Request) -> Response | StreamResponse:
        key = _key_of(request)
        body = read_json(request)
        call = self._call(
            request, key, "anthropic", body, _model_of(body), stream=body.get("stream") is True
        )
        return await self._pipeline.run(call)

    async def count_tokens(self, request: Request) -> Response | StreamResponse:
        key = _key_of(request)
        body = read_json(request)
        call = self._call(
            request,
            key,
            "anthropic",
            body,
            _model_of(body),
            stream=False,
            operation=Operation.COUNT_TOKENS,
        )
        return await self._pipeline.run(call)

    # -------------------------------------------------------------- Gemini

    async def gemini(self, request: Request) -> Response | StreamResponse:
        key = _key_of(request)
        model, sep, action = request.path_params["target"].rpartition(":")
        if not sep or not model or action not in _GEMINI_ACTIONS:
            raise NotFound(
                f"Unknown Gemini method {request.path_params['target']!r}; expected "
                f"models/{{model}}:{{{'|'.join(_GEMINI_ACTIONS)}}}."
            )
        model = model.removeprefix("models/")
        body = read_json(request)
        call = self._call(
            request,
            key,
            "gemini",
            body,
            model,
            stream=action == "streamGenerateContent",
            operation=Operation.COUNT_TOKENS if action == "countTokens" else Operation.CHAT,
        )
        return await self._pipeline.run(call)

    async def gemini_models(self, request: Request) -> Response:
        from omniroute.formats import gemini

        return Response.json(
            {"models": [gemini.model_list_entry(m) for m in self._model_ids(request)]}
        )

    async def gemini_model(self, request: Request) -> Response:
        name = request.path_params["name"].removeprefix("models/")
        if name not in self._registry().model_ids():
            raise NotFound(f"Model {name!r} is not served by this gateway.")
        if name not in self._model_ids(request):
            raise Forbidden(f"This API key may not use model {name!r}.")
        from omniroute.formats import gemini

        return Response.json(gemini.model_list_entry(name))

    # -------------------------------------------------------------- public

    async def health(self, request: Request) -> Response:
        # Public and minimal on purpose: the detailed view is for the admin.
        return Response.json({"status": "ok"})
