"""Thinking from another format reaches only OpenAI models that can reason:
the OpenAI families know which models refuse it and take it out before the
request is rendered."""

from __future__ import annotations

import dataclasses

import pytest

from omniroute.formats import anthropic, ir, openai_chat, openai_responses
from omniroute.providers import family_for
from omniroute.providers.openai import reasons


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
    body = openai_chat.render_request(_for("openai", req, "gpt-4o-mini"))
    assert "reasoning_effort" not in body
    assert body["max_tokens"] == 32000
    body = openai_chat.render_request(_for("openai", req, "gpt-5"))
    assert body["reasoning_effort"] == "high"
    assert body["max_completion_tokens"] == 32000


def test_a_responses_upstream_without_reasoning_gets_none_either() -> None:
    req = anthropic.parse_request(
        {
            "model": "claude-x",
            "max_tokens": 1024,
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "messages": [{"role": "user", "content": "hi"}],
        }
    )
    body = openai_responses.render_request(_for("openai-responses", req, "gpt-4.1-mini"))
    assert "reasoning" not in body and "reasoning.encrypted_content" not in body.get("include", [])
    body = openai_responses.render_request(_for("openai-responses", req, "o4-mini"))
    assert body["reasoning"]["effort"] == "minimal"


def test_the_formats_themselves_do_not_judge_models() -> None:
    """Rendering is model-agnostic: what a model accepts is the family's call."""
    req = anthropic.parse_request(
        {
            "model": "claude-x",
            "max_tokens": 1024,
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "messages": [{"role": "user", "content": "hi"}],
        }
    )
    req.model = "gpt-4o-mini"
    assert openai_chat.render_request(req)["reasoning_effort"] == "low"
    assert family_for("anthropic").prepare(req).reasoning is not None


def _for(wire: str, req: ir.Request, model: str) -> ir.Request:
    copy = dataclasses.replace(req, model=model)
    return family_for(wire).prepare(copy)
