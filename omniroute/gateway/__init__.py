"""The request's way through the gateway: from a client's call, through the
live configuration and the failover loop, to an upstream and back.

    call          Call (one client request), Attempt (one try at one
                  account), AttemptEnd (how an attempt ended)
    pipeline      the failover loop over any operation
    exchange      one attempt: the only place that awaits the upstream
    relay         upstream stream bytes -> client stream bytes
    registry      the live configuration, swapped whole on change
    resilience    breakers, cooldowns, limits, health, sticky sessions
    replay        one answer shared by identical requests (idempotency)
    conversations Responses conversations kept for previous_response_id
    auth          client keys
    evals/        eval suites run against models through the pipeline
"""
