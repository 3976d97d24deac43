"""HTTP endpoints, thin: each handler reads the request, calls the gateway
or the store, and shapes the answer.

    client   the LLM API that OpenAI, Anthropic and Gemini clients call
    dialect  errors told in the caller's own API dialect
    status   the detailed health view (admin token)
"""
