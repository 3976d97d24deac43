"""The OpenAI endpoints beside chat: legacy completions, embeddings,
moderations, rerank (Cohere/Jina shape), speech, transcriptions and
translations, image generation and edits.

Each handler checks what the request must hold (a 400 in OpenAI's error
shape says what is wrong) and hands a call to the pipeline, so routing,
fallback, limits and the request log work as they do for chat. Uploads
(audio, image edits) are read by our multipart reader; their routes take
larger bodies (``body_limit``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omniroute.api.bodies import field, read_json
from omniroute.errors import BadRequest
from omniroute.formats import embeddings
from omniroute.formats.openai_endpoints import check_completion
from omniroute.gateway.call import Call
from omniroute.gateway.pipeline import Pipeline
from omniroute.http.message import Handler, Request, Response, StreamResponse
from omniroute.http.multipart import Form, FormLimits, read_form
from omniroute.providers.family import Operation
from omniroute.settings import Settings

MakeCall = Callable[[Request, dict[str, Any], str, bool, bool, Operation], Call]

# Paths whose bodies are uploads, and the room a form needs around its file.
UPLOAD_PATHS = frozenset({"/v1/audio/transcriptions", "/v1/audio/translations", "/v1/images/edits"})
_FORM_ROOM = 1024 * 1024
_DEFAULT_MODERATION_MODEL = "omni-moderation-latest"  # what OpenAI uses when none is named
_TRANSCRIPT_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required and must be a string.")
    return model


class Endpoints:
    def __init__(self, settings: Settings, pipeline: Pipeline, make_call: MakeCall) -> None:
        self._pipeline = pipeline
        self._make_call = make_call
        self._upload_cap = settings.max_upload_bytes
        self._limits = FormLimits(max_file_bytes=settings.max_upload_bytes)

    def routes(self) -> tuple[tuple[str, Handler], ...]:
        return (
            ("/v1/completions", self.completions),
            ("/v1/embeddings", self.embeddings),
            ("/v1/moderations", self.moderations),
            ("/v1/rerank", self.rerank),
            ("/v1/audio/speech", self.speech),
            ("/v1/audio/transcriptions", self.transcriptions),
            ("/v1/audio/translations", self.translations),
            ("/v1/images/generations", self.images),
            ("/v1/images/edits", self.image_edits),
        )

    def body_limit(self, path: str) -> int | None:
        """An upload route's body cap: the file's, with room for the form."""
        return self._upload_cap + _FORM_ROOM if path in UPLOAD_PATHS else None

    async def _run(
        self,
        request: Request,
        body: dict[str, Any],
        operation: Operation,
        *,
        stream: bool = False,
        include_usage: bool = False,
        form: Form | None = None,
    ) -> Response | StreamResponse:
        call = self._make_call(request, body, _model(body), stream, include_usage, operation)
        call.upload = form
        return await self._pipeline.run(call)

    # -- JSON endpoints

    async def completions(self, request: Request) -> Response | StreamResponse:
        body = read_json(request)
        _model(body)
        check_completion(body)
        options = body.get("stream_options")
        return await self._run(
            request,
            body,
            Operation.COMPLETIONS,
            stream=body.get("stream") is True,
            include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        )

    async def embeddings(self, request: Request) -> Response | StreamResponse:
        body = read_json(request)
        _model(body)
        embeddings.read_request(body)
        return await self._run(request, body, Operation.EMBEDDINGS)

    async def moderations(self, request: Request) -> Response | StreamResponse:
        body = read_json(request)
        given = body.get("input")
        if not (isinstance(given, str) or (isinstance(given, list) and given)):
            raise BadRequest("'input' must be a string or a non-empty list.")
        body.setdefault("model", _DEFAULT_MODERATION_MODEL)
        return await self._run(request, body, Operation.MODERATION)

    async def rerank(self, request: Request) -> Response | StreamResponse:
        body = read_json(request)
        _model(body)
        field(body, "query", str)
        documents = field(body, "documents", list)
        if not documents or not all(
            isinstance(d, str) or (isinstance(d, dict) and isinstance(d.get("text"), str))
            for d in documents
        ):
            raise BadRequest("'documents' must be a non-empty list of strings or {text} objects.")
        top_n = field(body, "top_n", int, required=False)
        if top_n is not None and top_n < 1:
            raise BadRequest("'top_n' must be at least 1.")
        return await self._run(request, body, Operation.RERANK)

    async def speech(self, request: Request) -> Response | StreamResponse:
        body = read_json(request)
        _model(body)
        field(body, "input", str)
        field(body, "voice", (str, dict))
        return await self._run(request, body, Operation.SPEECH, stream=True)

    async def images(self, request: Request) -> Response | StreamResponse:
        body = read_json(request)
        _model(body)
        field(body, "prompt", str)
        return await self._run(request, body, Operation.IMAGES)

    # -- uploads

    async def transcriptions(self, request: Request) -> Response | StreamResponse:
        return await self._audio(request, Operation.TRANSCRIPTION)

    async def translations(self, request: Request) -> Response | StreamResponse:
        return await self._audio(request, Operation.TRANSLATION)

    async def _audio(self, request: Request, operation: Operation) -> Response | StreamResponse:
        form = self._form(request, "file")
        fields = _fields(form)
        fmt = fields.get("response_format", "json")
        if fmt not in _TRANSCRIPT_FORMATS:
            raise BadRequest(f"'response_format' must be one of: {', '.join(_TRANSCRIPT_FORMATS)}.")
        return await self._run(request, fields, operation, form=form)

    async def image_edits(self, request: Request) -> Response | StreamResponse:
        form = self._form(request, "image", "image[]")
        fields = _fields(form)
        if not fields.get("prompt"):
            raise BadRequest("'prompt' is required.")
        return await self._run(request, fields, Operation.IMAGE_EDITS, form=form)

    def _form(self, request: Request, *files: str) -> Form:
        form = read_form(request.body, request.headers.get("content-type"), self._limits)
        if not any(form.file(name) is not None for name in files):
            raise BadRequest(f"The form has no '{files[0]}' file.")
        return form


def _fields(form: Form) -> dict[str, Any]:
    """The form's text fields (the first of each name), as a JSON-like body."""
    found: dict[str, Any] = {}
    for part in form.parts:
        if not part.is_file:
            found.setdefault(part.name, part.text())
    return found
