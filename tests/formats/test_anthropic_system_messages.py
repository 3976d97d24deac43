"""System messages inside `messages`, as Claude Code sends them to new models."""

from __future__ import annotations

import pytest

from omniroute import errors
from omniroute.formats import anthropic, openai_chat


def test_system_messages_join_the_system_text_in_order() -> None:
    req = anthropic.parse_request(
        {
            "model": "claude-x",
            "max_tokens": 64,
            "system": [{"type": "text", "text": "top"}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "say ping"}]},
                {"role": "system", "content": "Available agent types: none"},
                {"role": "system", "content": [{"type": "text", "text": "second"}]},
            ],
        }
    )
    assert [p.text for p in req.system] == ["top", "Available agent types: none", "second"]
    assert [m.role for m in req.messages] == ["user"]
    upstream = openai_chat.render_request(req)
    assert upstream["messages"][0]["role"] == "system"
    assert "Available agent types: none" in str(upstream["messages"][0]["content"])
    assert upstream["messages"][-1]["role"] == "user"


def test_other_roles_are_still_refused_with_the_field_named() -> None:
    with pytest.raises(errors.BadRequest, match=r"messages\[0\]\.role"):
        anthropic.parse_request(
            {"model": "m", "max_tokens": 1, "messages": [{"role": "tool", "content": "x"}]}
        )
    with pytest.raises(errors.BadRequest, match=r"messages\[1\]\.content\[0\]"):
        anthropic.parse_request(
            {
                "model": "m",
                "max_tokens": 1,
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "system", "content": [{"type": "image", "source": {}}]},
                ],
            }
        )
