"""The TOML edit Codex's setup makes: only our keys and our table change;
every other line of the user's file stays byte for byte where it was."""

from __future__ import annotations

import tomllib

import pytest

from omniroute.errors import BadRequest
from omniroute.tools.toml_edit import set_values
from tests.tools.realistic import CODEX

TOP = {"model": "coder", "model_provider": "omniroute"}
OURS = {"name": "OmniRoute", "base_url": "http://h:1/v1", "wire_api": "responses"}
TABLE = "model_providers.omniroute"


def test_other_lines_are_kept_in_order() -> None:
    out = set_values(CODEX, TOP, TABLE, OURS)
    before = CODEX.splitlines()
    after = out.splitlines()
    kept = [line for line in before if not line.startswith("model = ")]
    # Every untouched line is there, in the same order, byte for byte.
    it = iter(after)
    assert all(any(line == other for other in it) for line in kept)
    assert 'model = "coder"' in after
    assert after[-4:] == [
        "[model_providers.omniroute]",
        'name = "OmniRoute"',
        'base_url = "http://h:1/v1"',
        'wire_api = "responses"',
    ]
    assert tomllib.loads(out)["profiles"]["fast"]["model"] == "gpt-5-mini"


def test_our_table_is_updated_in_place_keeping_the_users_extra_keys() -> None:
    text = (
        'model = "x"\n\n[model_providers.omniroute]\nname = "Old"\n'
        'base_url = "http://old/v1"\nrequest_max_retries = 2\n\n[tui]\nnotifications = true\n'
    )
    out = set_values(text, TOP, TABLE, OURS)
    doc = tomllib.loads(out)
    assert doc["model_providers"]["omniroute"] == {**OURS, "request_max_retries": 2}
    assert doc["tui"] == {"notifications": True}
    assert out.count("[model_providers.omniroute]") == 1
    assert out.endswith("[tui]\nnotifications = true\n")


def test_a_file_without_tables_or_content() -> None:
    assert tomllib.loads(set_values("", TOP, TABLE, OURS)) == {
        **TOP,
        "model_providers": {"omniroute": OURS},
    }


def test_an_inline_table_is_refused_not_guessed_at() -> None:
    text = 'model_providers = { omniroute = { name = "x" } }\n'
    with pytest.raises(BadRequest, match="edit it by hand|not TOML"):
        set_values(text, TOP, TABLE, OURS)


def test_a_broken_file_is_refused() -> None:
    with pytest.raises(BadRequest, match="not TOML"):
        set_values("model = \n[[[", TOP, TABLE, OURS)


def test_crlf_line_ends_are_kept() -> None:
    out = set_values("a = 1\r\n[t]\r\nb = 2\r\n", TOP, TABLE, OURS)
    assert "\r\n" in out and "\n" not in out.replace("\r\n", "")
