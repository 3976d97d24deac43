"""Routing: pure decisions about where a request goes.

No sockets, no database, no wire formats here: time comes from an injected
clock, randomness from an injected ``random.Random``; the pipeline wires these
pieces into the request's way. Keys passed to these components name things
(``provider``, ``provider:account-id``, ``combo/step``) and are shown in error
messages and on the health page: never use a credential as a key.

    resolve       model string -> combo and/or ordered targets; combo validation
    strategies    order candidates: fill-first, round-robin, p2c, random,
                  least-used, cost-optimized, weighted
    health        per-key latency EWMA, success ratio, in-flight and total counts
    cooldown      per-account cooldowns; Retry-After and rate-limit header parsing
    breaker       circuit breakers as a transition table, with persistence
    singleflight  one call in flight per key (idempotency, token refresh)
    ratelimit     rpm / min gap / max concurrent with a bounded FIFO queue
    idempotency   Idempotency-Key: one execution shared for a few seconds
    retry         backoff with full jitter and per-request retry budgets
"""
