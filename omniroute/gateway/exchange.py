"""One attempt: build the upstream request, send it, and shape the answer.

The JSON lane reads the whole answer; the stream lane reads until the model
starts answering (so an error before the first token can still fail over)
and then hands the rest to the client as it comes. When the client's format
is the upstream's, the body passes through with only the model changed and
the stream bytes pass through unchanged; otherwise both go through the IR.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from omniroute import errors
from omniroute.formats import ir
from omniroute.formats.common import dump_json, estimate_request_tokens, tokens_for_chars
from omniroute.gateway import usage_patch
from omniroute.gateway.dialects import format_module, new_answer_id
from omniroute.gateway.registry import ProviderInfo
from omniroute.gateway.relay import StreamRelay
from omniroute.http.message import GuardedStream, Response, StreamResponse
from omniroute.providers.upstream_request import endpoint_url, request_headers
from omniroute.routing.cooldown import parse_retry_after
from omniroute.routing.resolve import Target
from omniroute.store.records import AccountRecord
from omniroute.upstream import Timeouts, UpstreamClient, UpstreamResponse

log = logging.getLogger("omniroute.pipeline")

_ERROR_BODY_CAP = 64 * 1024


def dumps(obj: Any) -> bytes:
    return dump_json(obj).encode()


class Call:
    """One client request on its way through the gateway."""

    __slots__ = (
        "request_id",
        "client_key_id",
        "dialect",
        "body",
        "model",
        "stream",
        "include_usage",
        "client_headers",
        "started",
        "translate_only",
        "idempotency_key",
        "session_id",
        "pinned_account",
        "echo",
        "recorded",
        "_ir",
    )

    def __init__(
        self,
        *,
        request_id: str,
        client_key_id: int | None,
        dialect: str,
        body: dict[str, Any],
        model: str,
        stream: bool,
        client_headers: dict[str, str],
        include_usage: bool = False,
    ) -> None:
        self.request_id = request_id
        self.client_key_id = client_key_id
        self.dialect = dialect
        self.body = body
        self.model = model
        self.stream = stream
        self.include_usage = include_usage
        self.client_headers = client_headers
        self.started = time.monotonic()
        # True when the request was changed in the IR (e.g. a conversation put
        # in front of it), so the client's body can no longer pass through.
        self.translate_only = False
        self.idempotency_key = client_headers.get("idempotency-key") or None
        self.session_id = client_headers.get("x-session-id") or None
        pinned = client_headers.get("x-omniroute-pin-account", "")
        self.pinned_account = int(pinned) if pinned.isdigit() else None
        # Request fields a translated Responses answer repeats (previous_response_id).
        self.echo: dict[str, Any] | None = None
        self.recorded = False  # a request-log row was written for it
        self._ir: ir.Request | None = None

    def ir_request(self) -> ir.Request:
        """The request in our IR (parsed once, on first need)."""
        if self._ir is None:
            self._ir = format_module(self.dialect).parse_request(self.body)
            self._ir.stream = self.stream
        return self._ir

    def body_digest(self) -> str:
        return json.dumps(self.body, sort_keys=True, separators=(",", ":"))


@dataclass(slots=True)
class Attempt:
    """One try at one account of one target."""

    target: Target
    provider: ProviderInfo
    account: AccountRecord
    number: int
    proxy: str | None = None
    system_prompt: str | None = None  # prepended to the request's system text

    @property
    def upstream_format(self) -> str:
        return self.provider.format

    def headers(self) -> list[tuple[str, str]]:
        """Response headers naming what served the request (A-10)."""
        out = [
            ("x-omniroute-provider", self.provider.name),
            ("x-omniroute-account", str(self.account.id)),
            ("x-omniroute-model", _header_text(self.target.model)),
            ("x-omniroute-attempts", str(self.number)),
        ]
        if self.target.combo is not None:
            out.append(("x-omniroute-combo", _header_text(self.target.combo)))
            out.append(("x-omniroute-combo-step", str(self.target.step)))
        return out


def _header_text(value: str) -> str:
    """A client-chosen name made safe for a header value: ASCII, no controls."""
    text = value.encode("ascii", "backslashreplace").decode("ascii")
    return "".join(ch if " " <= ch < "\x7f" else "?" for ch in text)


# Called when an exchange is over: (status, usage, error kind, time to first byte).
Finish = Callable[[int, ir.Usage | None, str | None, float | None], None]


class Exchange:
    """Talks to the upstream for one attempt."""

    def __init__(self, upstream: UpstreamClient, timeouts: Timeouts) -> None:
        self._upstream = upstream
        self._timeouts = timeouts

    async def run(
        self,
        call: Call,
        attempt: Attempt,
        finish: Finish,
        release: Callable[[], Awaitable[None]],
        timeouts: Timeouts | None = None,
    ) -> tuple[Response | StreamResponse, UpstreamResponse]:
        """Send the attempt; returns the client's response and the upstream's
        (whose headers the caller may read). ``release`` is awaited when the
        exchange is over (at once for JSON, at the stream's end otherwise)."""
        provider, account = attempt.provider, attempt.account
        upstream_fmt = format_module(attempt.upstream_format)
        passthrough = (
            attempt.upstream_format == call.dialect
            and not call.translate_only
            and attempt.system_prompt is None
        )
        body = self._upstream_body(call, attempt, passthrough, upstream_fmt)
        url = endpoint_url(
            attempt.upstream_format, provider.record.base_url, attempt.target.model, call.stream
        )
        headers = request_headers(
            attempt.upstream_format,
            account.api_key,
            stream=call.stream,
            client_headers=call.client_headers,
            auth_header=provider.auth_header,
            extra=provider.headers,
        )
        resp = await self._upstream.send(
            "POST", url, headers, body, proxy=attempt.proxy, timeouts=timeouts or self._timeouts
        )
        try:
            if resp.status >= 400:
                raise await _status_error(resp, upstream_fmt, account)
            if call.stream:
                stream = await self._open_stream(
                    call, attempt, resp, upstream_fmt, passthrough, finish, release
                )
                return stream, resp
            raw = await resp.read()
        except BaseException:
            await resp.aclose()
            raise
        await resp.aclose()
        answer = self._json_answer(call, attempt, raw, upstream_fmt, passthrough, finish)
        await release()
        return answer, resp

    def _upstream_body(
        self, call: Call, attempt: Attempt, passthrough: bool, upstream_fmt: ModuleType
    ) -> bytes:
        if passthrough:
            body = dict(call.body)
            if attempt.upstream_format != "gemini":  # gemini names the model in the URL
                body["model"] = attempt.target.model
            return dumps(body)
        req = dataclasses.replace(call.ir_request(), model=attempt.target.model)
        if attempt.system_prompt:
            req.system = [ir.TextPart(attempt.system_prompt), *req.system]
        return dumps(upstream_fmt.render_request(req))

    def _json_answer(
        self,
        call: Call,
        attempt: Attempt,
        raw: bytes,
        upstream_fmt: ModuleType,
        passthrough: bool,
        finish: Finish,
    ) -> Response:
        try:
            parsed = upstream_fmt.parse_response(json.loads(raw))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise errors.UpstreamProtocolError(
                f"{attempt.provider.name} sent an answer that is not valid "
                f"{attempt.upstream_format} JSON ({type(exc).__name__})."
            )
        if parsed.usage.input_tokens == 0 or parsed.usage.output_tokens == 0:
            parsed.usage = _completed_usage(call, parsed)  # B-08: never silently zero
        if passthrough and _has_think_tags(raw, parsed):
            passthrough = False  # the client must get the <think> text as reasoning
        if passthrough:
            out = raw
            if parsed.usage.estimated:
                out = dumps(usage_patch.patch_json(call.dialect, json.loads(raw), parsed.usage))
        else:
            parsed.id = new_answer_id(call.dialect)
            if call.echo:
                parsed.vendor.setdefault(call.dialect, {})["echo"] = call.echo
            out = dumps(format_module(call.dialect).render_response(parsed))
        finish(200, parsed.usage, None, None)
        headers = attempt.headers()
        headers.append(("x-omniroute-tokens-in", str(parsed.usage.input_tokens)))
        headers.append(("x-omniroute-tokens-out", str(parsed.usage.output_tokens)))
        headers.append(
            ("x-omniroute-latency-ms", str(round((time.monotonic() - call.started) * 1000)))
        )
        return Response(200, out, headers, content_type="application/json")

    @staticmethod
    def _encoder_factory(call: Call, attempt: Attempt) -> Callable[[], Any]:
        """Makes the client format's stream encoder for this call."""

        def make() -> Any:
            options: dict[str, Any] = {"include_usage": call.include_usage}
            if call.echo:
                options["echo"] = call.echo
            return format_module(call.dialect).StreamEncoder(attempt.target.model, **options)

        return make

    async def _open_stream(
        self,
        call: Call,
        attempt: Attempt,
        resp: UpstreamResponse,
        upstream_fmt: ModuleType,
        passthrough: bool,
        finish: Finish,
        release: Callable[[], Awaitable[None]],
    ) -> StreamResponse:
        encoder = None if passthrough else self._encoder_factory(call, attempt)()
        relay = StreamRelay(
            upstream_fmt,
            encoder,
            lambda: _input_estimate(call),
            None if passthrough else new_answer_id(call.dialect),
            include_usage=call.include_usage,
            switch=self._encoder_factory(call, attempt) if passthrough else None,
        )
        chunks = resp.iter_raw()
        head = bytearray()
        ended = False
        async for chunk in chunks:
            head += relay.feed(chunk)
            if relay.error is not None and not relay.started:
                raise errors.UpstreamStreamError(
                    _scrub(relay.error.message, attempt.account),
                    status=errors.client_status_for_upstream(relay.error.status),
                    kind=relay.error.kind,
                    retry_after=relay.error.retry_after,
                )
            if relay.started:
                break
        else:
            ended = True
            head += relay.close()
        ttfb = time.monotonic() - call.started
        outcome = _Outcome()

        async def cleanup() -> None:
            try:
                await resp.aclose()
                await release()
            finally:
                finish(outcome.status, relay.usage, outcome.kind, ttfb)

        rest = _stream_rest(call, chunks, relay, bytes(head), ended, outcome)
        return StreamResponse(GuardedStream(rest, cleanup), headers=attempt.headers())


class _Outcome:
    """How a relayed stream ended, for the request log."""

    __slots__ = ("status", "kind")

    def __init__(self) -> None:
        # Until the stream completes, assume the client left (nginx's 499).
        self.status = 499
        self.kind: str | None = "client_closed"


async def _stream_rest(
    call: Call,
    chunks: AsyncIterator[bytes],
    relay: StreamRelay,
    head: bytes,
    ended: bool,
    outcome: _Outcome,
) -> AsyncIterator[bytes]:
    if head:
        yield head
    status, kind = 200, None
    if not ended:
        try:
            async for chunk in chunks:
                out = relay.feed(chunk)
                if out:
                    yield out
            tail = relay.close()
            if tail:
                yield tail
        except errors.UpstreamError as err:
            status, kind = err.status, err.kind
            log.warning("request %s: upstream stream broke: %s", call.request_id, err.message)
            info = ir.ErrorInfo(
                err.status, err.kind, "The upstream stream was interrupted: " + err.message
            )
            yield relay.error_bytes(info)
    if relay.error is not None:
        status, kind = relay.error.status, relay.error.kind
    outcome.status, outcome.kind = status, kind


async def _status_error(
    resp: UpstreamResponse, upstream_fmt: ModuleType, account: AccountRecord
) -> errors.UpstreamStatusError:
    try:
        raw = await resp.read()
    except errors.UpstreamError:
        raw = b""
    info: ir.ErrorInfo = upstream_fmt.parse_error(resp.status, raw[:_ERROR_BODY_CAP])
    return errors.UpstreamStatusError(
        _scrub(info.message, account),
        upstream_status=resp.status,
        kind=info.kind,
        retry_after=info.retry_after
        if info.retry_after is not None
        else parse_retry_after(resp.headers),
        headers=resp.headers,
    )


def _scrub(message: str, account: AccountRecord) -> str:
    """Upstream messages sometimes quote the credential they refused."""
    key = account.api_key
    if key and key in message:
        message = message.replace(key, "***")
    return message


def _has_think_tags(raw: bytes, answer: ir.Response) -> bool:
    return b"<think>" in raw and any(isinstance(p, ir.ThinkingPart) for p in answer.parts)


def _input_estimate(call: Call) -> int:
    try:
        return estimate_request_tokens(call.ir_request())
    except errors.OmniError:
        return 0


def _completed_usage(call: Call, answer: ir.Response) -> ir.Usage:
    """The answer's usage with what the upstream left out estimated."""
    usage = answer.usage
    if usage.output_tokens == 0:
        chars = 0
        for part in answer.parts:
            chars += len(part.arguments) if isinstance(part, ir.ToolCallPart) else len(part.text)
        usage = dataclasses.replace(usage, output_tokens=tokens_for_chars(chars))
    if usage.input_tokens == 0:
        usage = dataclasses.replace(usage, input_tokens=_input_estimate(call))
    return dataclasses.replace(usage, estimated=True)
