"""Thinking from another format reaches only OpenAI models that can reason."""

from __future__ import annotations

import pytest

from omniroute.formats import anthropic, openai_chat
from omniroute.formats.openai_chat_request import reasons


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o-mini", False),
        ("gpt-4o", False),
        ("chatgpt-4o-latest", False),
        ("gpt-4.1", False),
        ("gpt-4-turbo", False),
        ("gpt-3.5-turbo", False),
        ("openai/gpt-4o-mini", False),  # an aggregator's prefixed id
        ("gpt-5", True),
        ("gpt-5-mini", True),
        ("o3", True),
        ("o4-mini", True),
        ("deepseek-reasoner", True),
        ("gpt-oss-120b", True),
        ("qwen3-32b", True),  # unknown to us: the upstream decides
    ],
)
def test_reasoning_families(model: str, expected: bool) -> None:
    assert reasons(model) is expected


def test_claude_code_thinking_is_not_sent_to_a_model_without_reasoning() -> None:
    req = anthropic.parse_request(
        {
            "model": "claude-x",
            "max_tokens": 32000,
            "thinking": {"type": "enabled", "budget_tokens": 31999},
            "messages": [{"role": "user", "content": "hi"}],
        }
    )
    req.model = "gpt-4o-mini"
    body = openai_chat.render_request(req)
    assert "reasoning_effort" not in body
    assert body["max_tokens"] == 32000
    req.model = "gpt-5"
    body = openai_chat.render_request(req)
    assert body["reasoning_effort"] == "high"
    assert body["max_completion_tokens"] == 32000


def test_a_responses_upstream_without_reasoning_gets_none_either() -> None:
    from omniroute.formats import openai_responses

    req = anthropic.parse_request(
        {
            "model": "claude-x",
            "max_tokens": 1024,
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "messages": [{"role": "user", "content": "hi"}],
        }
    )
    req.model = "gpt-4.1-mini"
    body = openai_responses.render_request(req)
    assert "reasoning" not in body and "reasoning.encrypted_content" not in body.get("include", [])
    req.model = "o4-mini"
    assert openai_responses.render_request(req)["reasoning"]["effort"] == "minimal"
