"""Client traffic through the gateway for the Logs and Usage pages: a
provider served by the mock, answered requests and one refused request,
written to the request log before the page reads it."""

from __future__ import annotations

import httpx

from tests.browser.harness import Served

PROVIDER = "mockco"
MODEL = "mock-small"
UNKNOWN = "nobody/x"


def make_traffic(served: Served, answered: int = 2) -> None:
    served.run(
        served.harness.add_provider(
            PROVIDER, "openai", served.mock_url + "/v1", "sk-mockco-account-0123456789", [MODEL]
        )
    )
    auth = {"authorization": f"Bearer {served.client_key}"}
    with httpx.Client(base_url=served.harness.base_url, headers=auth, timeout=15) as http:
        for model in [f"{PROVIDER}/{MODEL}"] * answered + [UNKNOWN]:
            body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
            answer = http.post("/v1/chat/completions", json=body)
            assert answer.status_code == (404 if model == UNKNOWN else 200), answer.text
    served.run(served.harness.gateway.store.flush_logs())
