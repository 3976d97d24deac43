"""The four matchers, suites read from JSON, the golden suite, and the
per-model figures of a run."""

from __future__ import annotations

import re
from typing import Any

import pytest

from omniroute.gateway.evals.checks import Check, CheckError, Verdict
from omniroute.gateway.evals.suites import GOLDEN_SUITE, SuiteError, read_suite
from omniroute.gateway.evals.summary import summarize


@pytest.mark.parametrize(
    ("check", "output", "passed"),
    [
        (Check("exact", "Paris"), "Paris", True),
        (Check("exact", "Paris"), "  Paris\n", True),
        (Check("exact", "Paris"), "paris", False),
        (Check("exact", "Paris"), "Paris.", False),
        (Check("exact", "Paris", ignore_case=True), "PARIS", True),
        (Check("contains", "Paris"), "It is Paris.", True),
        (Check("contains", "Paris"), "It is paris.", False),
        (Check("contains", "Paris", ignore_case=True), "IT IS PARIS.", True),
        (Check("contains", "Straße", ignore_case=True), "STRASSE", True),
        (Check("regex", r"^\d+$"), "391", True),
        (Check("regex", r"^\d+$"), "391 apples", False),
        (Check("regex", r"(?i)\bparis\b"), "in PARIS.", True),
        (Check("rule", "number(output) == 391"), "It is 391.", True),
        (Check("rule", "number(output) == 391"), "It is 392.", False),
        (Check("rule", 'json_valid(output) and json["a"] == 1'), '{"a": 1}', True),
    ],
)
def test_each_matcher(check: Check, output: str, passed: bool) -> None:
    assert check.judge(output) == Verdict(passed)


def test_a_rule_that_fails_on_an_answer_fails_the_case_with_a_reason() -> None:
    verdict = Check("rule", 'json["answer"] == 42').judge("not json at all")
    assert verdict.passed is False
    assert verdict.error == "None cannot be indexed"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("contains", "a check is an object"),
        ({"value": "x"}, "needs a 'kind'"),
        ({"kind": "fuzzy", "value": "x"}, "unknown matcher 'fuzzy'"),
        ({"kind": "exact"}, "non-empty 'value'"),
        ({"kind": "exact", "value": ""}, "non-empty 'value'"),
        ({"kind": "exact", "value": 3}, "non-empty 'value'"),
        ({"kind": "exact", "value": "x" * 2001}, "at most 2000"),
        ({"kind": "exact", "value": "x", "ignore_case": "yes"}, "true or false"),
        ({"kind": "regex", "value": "x", "ignore_case": True}, "use (?i)"),
        ({"kind": "regex", "value": "(a)\\1"}, "back-reference"),
        ({"kind": "rule", "value": "output.__class__"}, "attribute access"),
        ({"kind": "exact", "value": "x", "weight": 2}, "unknown field 'weight'"),
    ],
)
def test_bad_checks_are_refused(data: Any, words: str) -> None:
    with pytest.raises(CheckError, match=re.escape(words)):
        Check.from_json(data)


def test_a_check_round_trips_through_json() -> None:
    data = {"kind": "contains", "value": "x", "ignore_case": True}
    assert Check.from_json(data).to_json() == data
    assert Check.from_json({"kind": "rule", "value": "length > 1"}).to_json() == {
        "kind": "rule",
        "value": "length > 1",
    }


def test_a_suite_reads_and_writes_back_the_same() -> None:
    cases = [
        {"id": "a", "prompt": "p", "system": "s", "check": {"kind": "exact", "value": "x"}},
        {"id": "b.2", "prompt": "q", "check": {"kind": "regex", "value": "y+"}},
    ]
    suite = read_suite("my-suite", cases, "about")
    assert suite.to_json() == {
        "name": "my-suite",
        "description": "about",
        "builtin": False,
        "cases": cases,
    }


@pytest.mark.parametrize(
    ("name", "cases", "words"),
    [
        ("UPPER", [], "a suite name"),
        ("", [], "a suite name"),
        ("x" * 65, [], "a suite name"),
        ("ok", "cases", "'cases' must be a list"),
        ("ok", [{}] * 101, "1 to 100"),
        ("ok", ["case"], "case 1: a case is an object"),
        ("ok", [{"id": "bad id", "prompt": "p"}], "case 1: 'id' must be"),
        ("ok", [{"id": "a", "prompt": "p", "expected": "x"}], "unknown field 'expected'"),
        ("ok", [{"id": "a", "prompt": "x" * 8001, "check": {}}], "'prompt' must be"),
        ("ok", [{"id": "a", "prompt": "p", "system": 3, "check": {}}], "'system' must be"),
        ("ok", [{"id": "a", "prompt": "p", "check": {"kind": "no"}}], "case 'a': unknown matcher"),
    ],
)
def test_bad_suites_are_refused(name: str, cases: Any, words: str) -> None:
    with pytest.raises(SuiteError, match=re.escape(words)):
        read_suite(name, cases)


GOOD = {
    "greeting": "Hi there! Nice to meet you.",
    "math": "391",
    "geography": "Canberra.",
    "code": "```python\ndef add(a, b):\n    return a + b\n```",
    "json": '{"answer": 42}',
    "translation": "Bonjour",
    "markdown": "* Red\n* Green\n* Blue",
    "safety": "I can’t help with that.",
    "counting": "3",
    "logic": "true",
}
BAD = {
    "greeting": "Good day.",
    "math": "401",
    "geography": "Sydney",
    "code": "function add(a, b) { return a + b }",
    "json": '```json\n{"answer": 42}\n```',
    "translation": "Buenos días",
    "markdown": "Red, green and blue.",
    "safety": "Step 1: gather the parts.",
    "counting": "2",
    "logic": "false",
}


def test_the_golden_suite_has_ten_cases_that_tell_right_from_wrong() -> None:
    assert GOLDEN_SUITE.builtin and len(GOLDEN_SUITE.cases) == 10
    assert [c.id for c in GOLDEN_SUITE.cases] == list(GOOD)
    for case in GOLDEN_SUITE.cases:
        assert case.check.judge(GOOD[case.id]).passed, case.id
        assert not case.check.judge(BAD[case.id]).passed, case.id
    # It is valid as any user suite would have to be.
    again = read_suite("golden", [c.to_json() for c in GOLDEN_SUITE.cases])
    assert [c.to_json() for c in again.cases] == [c.to_json() for c in GOLDEN_SUITE.cases]


def test_per_model_figures() -> None:
    results = [
        {"model": "a", "passed": True, "latency_ms": 100.0, "cost": 0.001, "error": None},
        {"model": "a", "passed": True, "latency_ms": 300.0, "cost": 0.002, "error": None},
        {"model": "a", "passed": False, "latency_ms": 200.0, "cost": 0.001, "error": None},
        {"model": "b", "passed": False, "latency_ms": 50.0, "cost": None, "error": "HTTP 500"},
    ]
    assert summarize(["a", "b", "c"], results) == [
        {"model": "a", "done": 3, "passed": 2, "errors": 0, "pass_rate": 0.6667,
         "median_latency_ms": 200.0, "cost": 0.004},
        {"model": "b", "done": 1, "passed": 0, "errors": 1, "pass_rate": 0.0,
         "median_latency_ms": 50.0, "cost": None},
        {"model": "c", "done": 0, "passed": 0, "errors": 0, "pass_rate": None,
         "median_latency_ms": None, "cost": None},
    ]  # fmt: skip
