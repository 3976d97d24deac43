"""Wire formats: one codec per format, pure functions, no I/O.

``ir`` is the hub every format parses into and renders out of; ``wire``
holds the typed ``WireFormat`` each codec module builds (``FORMAT``) and
``wire_format(name)``, the way everything above reaches a codec. ``sse`` is
the event-stream framing (bytes <-> events) the stream codecs share, and
``common`` the helpers they share (ids, JSON, token estimates, schemas).

    openai_chat*        OpenAI Chat Completions ("openai")
    openai_responses*   OpenAI Responses ("openai-responses")
    anthropic*          Anthropic Messages ("anthropic")
    gemini*             Gemini generateContent ("gemini")
    accumulate          assembles a whole answer from stream events
"""
