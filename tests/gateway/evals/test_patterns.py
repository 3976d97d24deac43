"""Eval patterns: the same answers as Python's ``re`` on the subset they
take, the constructs they refuse, and no runaway on patterns that make a
backtracking matcher explode."""

from __future__ import annotations

import re

import pytest

from omniroute.gateway.evals.patterns import MAX_PATTERN, Pattern, PatternError

SAME_AS_RE = [
    (r"abc", "xxabcxx"),
    (r"abc", "ab c"),
    (r"^abc$", "abc"),
    (r"^abc$", "abc\n"),
    (r"^abc$", "abcd"),
    (r"a.c", "a\nc"),
    (r"(?s)a.c", "a\nc"),
    (r"\d+\.\d+", "pi is 3.14"),
    (r"[^a-z]", "abc"),
    (r"[^a-z]", "abC"),
    (r"(?i)HELLO", "hello"),
    (r"(?i)[^a]", "A"),
    (r"(?i)[a-c]+x", "ABCX"),
    (r"\bcat\b", "a cat."),
    (r"\bcat\b", "concat"),
    (r"\Bcat", "concat"),
    (r"colou?r", "color"),
    (r"a{2,3}", "ca a"),
    (r"a{2,3}", "caaa"),
    (r"a{3}", "aa"),
    (r"(foo|bar)+baz", "xbarfoobaz"),
    (r"(foo|bar)+baz", "xbaz"),
    (r"(?m)^b$", "a\nb\nc"),
    (r"^b$", "a\nb\nc"),
    (r"\Aab\Z", "ab"),
    (r"\Aab\Z", "ab\n"),
    (r"x*", ""),
    (r"[\w-]+@", "a-b@"),
    (r"(?i:A)b", "aB"),
    (r"(?i:A)b", "ab"),
    (r"a|", "zzz"),
    (r"\s\S", " x"),
    (r"[\d.]+%", "grew 4.5% today"),
    (r"^\s*[-*+]\s+\S", "  - item"),
    (r"(?x) a \s b  # spaced out", "a b"),
    (r"a+?b", "aaab"),
]


@pytest.mark.parametrize(("pattern", "text"), SAME_AS_RE)
def test_patterns_answer_as_re_does(pattern: str, text: str) -> None:
    assert Pattern(pattern).search(text) == bool(re.search(pattern, text))


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        (r"(a)\1", "back-reference"),
        (r"(?P<x>a)(?P=x)", "back-reference"),
        (r"(?=a)", "look-around"),
        (r"(?!a)", "look-around"),
        (r"(?<=a)b", "look-around"),
        (r"(?<!a)b", "look-around"),
        (r"(?>a+)", "atomic group"),
        (r"a++", "possessive repeat"),
        (r"(", "not a valid regular expression"),
        (r"[z-a]", "not a valid regular expression"),
        ("a" * (MAX_PATTERN + 1), "at most"),
        (r"(a{100}){100}", "too large"),
        (r"((a{20}){20}){20}", "too large"),
    ],
)
def test_what_patterns_refuse(pattern: str, words: str) -> None:
    with pytest.raises(PatternError, match=re.escape(words)):
        Pattern(pattern)


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"(a+)+b", "a" * 20_000),
        (r"(a|a)*b", "a" * 20_000),
        (r"(a*)*b", "a" * 20_000),
        (r".*a.*b.*c.*d", "abc" * 7_000),
        (r"(\w+\s?)+$", "word " * 3000 + "!"),
    ],
)
def test_patterns_that_explode_in_a_backtracking_matcher_end(pattern: str, text: str) -> None:
    # Each of these takes practically forever with ``re``; here the work is
    # bounded by the text's length times the pattern's size.
    assert Pattern(pattern).search(text) is False


def test_only_the_first_part_of_a_long_text_is_searched() -> None:
    assert Pattern("needle").search("x" * 19_000 + "needle")
    assert not Pattern("needle").search("x" * 30_000 + "needle")
