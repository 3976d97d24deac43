"""Wire formats: one module per format, pure functions, no I/O.

Each format module (``openai_chat``, ``openai_responses``, ``anthropic``,
``gemini``) offers the same surface, so the pipeline can pick any pair:

- ``NAME``: "openai" | "openai-responses" | "anthropic" | "gemini"
- ``parse_request(body) -> ir.Request``: a client's request body to the IR
  (raises errors.BadRequest)
- ``render_request(req) -> dict``: the IR to an upstream request body (uses
  ``req.model`` as is)
- ``parse_response(body) -> ir.Response``: an upstream's JSON answer to the IR
- ``render_response(resp) -> dict``: the IR to the client's JSON answer
- ``StreamDecoder``: upstream SSE to IR events, one per stream;
  ``feed(event, data) -> list[ir.Event]`` and ``close() -> list[ir.Event]``
  (end of input: close what is open)
- ``StreamEncoder(model, *, include_usage=False)``: IR events to client SSE
  bytes; ``encode(ev) -> bytes``
- ``render_error(err) -> dict``: the dialect's error body
- ``error_event(err) -> bytes``: the dialect's mid-stream error (SSE bytes)
- ``parse_error(status, body) -> ir.ErrorInfo``: an upstream error body

SSE framing (bytes <-> (event, data)) lives in ``omniroute.formats.sse``.
"""
