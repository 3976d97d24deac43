"""Wire formats: one module per format, pure functions, no I/O.

Each format module (``openai_chat``, ``openai_responses``, ``anthropic``,
``gemini``) offers the same surface, so the pipeline can pick any pair:

    NAME: str                                   # "openai" | "openai-responses" | "anthropic" | "gemini"
    parse_request(body: dict) -> ir.Request     # a client's request body -> IR   (raises errors.BadRequest)
    render_request(req: ir.Request) -> dict     # IR -> an upstream request body (uses req.model as is)
    parse_response(body: dict) -> ir.Response   # an upstream's JSON answer -> IR
    render_response(resp: ir.Response) -> dict  # IR -> the client's JSON answer
    class StreamDecoder:                         # upstream SSE -> IR events (stateful, one per stream)
        feed(event: str | None, data: str) -> list[ir.Event]
        close() -> list[ir.Event]                #   end of input: close what is open
    class StreamEncoder:                         # IR events -> client SSE bytes (stateful)
        __init__(model: str, *, include_usage: bool = False)
        encode(ev: ir.Event) -> bytes
    render_error(err: ir.ErrorInfo) -> dict      # the dialect's error body
    error_event(err: ir.ErrorInfo) -> bytes      # the dialect's mid-stream error (SSE bytes)
    parse_error(status: int, body: bytes) -> ir.ErrorInfo   # an upstream error body -> IR

SSE framing (bytes <-> (event, data)) lives in ``omniroute.http.sse``.
"""
