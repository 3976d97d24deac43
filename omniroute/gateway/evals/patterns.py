"""Regular expressions that cannot run away.

Python's ``re`` backtracks: a pattern such as ``(a+)+b`` or ``.*x.*y.*z`` can
take exponential or high-polynomial time on an unlucky answer, and a match
cannot be interrupted. So eval patterns are read with the standard parser
(the same syntax users know) and run here on a small automaton that keeps
every possible position at once: the time is at most the answer's length
times the pattern's size, whatever either holds.

The price is a subset: literals, ``.``, classes (``[a-z]``, ``\\d``, ``\\w``,
``\\s`` and their negations), groups, alternation, repeats (``*``, ``+``,
``?``, ``{m,n}``), anchors (``^``, ``$``, ``\\A``, ``\\Z``, ``\\b``, ``\\B``)
and the flags ``i``, ``m``, ``s``. Back-references, look-arounds and
conditionals have no linear-time matcher and are refused when the pattern
is read. Only whether the pattern occurs anywhere is answered.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

MAX_PATTERN = 500  # characters of one pattern
MAX_PROGRAM = 2000  # automaton steps of one pattern (a {m,n} repeat copies its body)
MAX_TEXT = 20_000  # characters of text searched (the rest is not looked at)

# The standard library's pattern parser (what ``re.compile`` reads with);
# private, so imported by name and used only for its parse tree.
_parser: Any = importlib.import_module("re._parser")
_MAXREPEAT: int = _parser.MAXREPEAT

Pred = Callable[[str], bool]
# One automaton step: ("char", pred) | ("split", a, b) | ("jmp", a)
# | ("at", kind, multiline) | ("match",)
Step = tuple[Any, ...]


class PatternError(ValueError):
    """A pattern that is not valid, too big, or outside the supported subset."""


class Pattern:
    """A compiled pattern: ``search(text)`` says whether it occurs in text."""

    __slots__ = ("source", "_prog")

    def __init__(self, source: str) -> None:
        if not isinstance(source, str):
            raise PatternError("a pattern must be a string")
        if len(source) > MAX_PATTERN:
            raise PatternError(f"a pattern may have at most {MAX_PATTERN} characters")
        try:
            parsed = _parser.parse(source, 0)
        except (re.error, RecursionError, OverflowError) as exc:
            raise PatternError(f"not a valid regular expression: {exc}") from None
        self.source = source
        self._prog: list[Step] = []
        _Compiler(self._prog).emit(parsed, int(parsed.state.flags))
        self._prog.append(("match",))

    def search(self, text: str) -> bool:
        text = text[:MAX_TEXT]
        current: list[int] = []
        seen: set[int] = set()
        if self._add(0, 0, text, current, seen):
            return True
        for i, char in enumerate(text):
            following: list[int] = []
            seen = set()
            for pc in current:
                if self._prog[pc][1](char) and self._add(pc + 1, i + 1, text, following, seen):
                    return True
            if self._add(0, i + 1, text, following, seen):
                return True
            current = following
        return False

    def _add(self, start: int, pos: int, text: str, into: list[int], seen: set[int]) -> bool:
        """Follow the steps that read nothing from ``start``; collect the
        character steps reached in ``into``. True when a match is reached."""
        stack = [start]
        while stack:
            pc = stack.pop()
            if pc in seen:
                continue
            seen.add(pc)
            step = self._prog[pc]
            kind = step[0]
            if kind == "match":
                return True
            if kind == "char":
                into.append(pc)
            elif kind == "jmp":
                stack.append(step[1])
            elif kind == "split":
                stack.extend((step[2], step[1]))
            elif _at(step[1], step[2], text, pos):
                stack.append(pc + 1)
        return False


def _at(kind: str, multiline: bool, text: str, pos: int) -> bool:
    n = len(text)
    if kind == "AT_BEGINNING_STRING":
        return pos == 0
    if kind == "AT_END_STRING":
        return pos == n
    if kind in ("AT_BEGINNING", "AT_BEGINNING_LINE"):
        return pos == 0 or (multiline and text[pos - 1] == "\n")
    if kind in ("AT_END", "AT_END_LINE"):
        if multiline:
            return pos == n or text[pos] == "\n"
        return pos == n or (pos == n - 1 and text[pos] == "\n")
    before = pos > 0 and _word(text[pos - 1])
    after = pos < n and _word(text[pos])
    return (before != after) if kind == "AT_BOUNDARY" else (before == after)


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


_CATEGORIES: dict[str, Pred] = {
    "CATEGORY_DIGIT": str.isdecimal,
    "CATEGORY_NOT_DIGIT": lambda c: not c.isdecimal(),
    "CATEGORY_SPACE": str.isspace,
    "CATEGORY_NOT_SPACE": lambda c: not c.isspace(),
    "CATEGORY_WORD": _word,
    "CATEGORY_NOT_WORD": lambda c: not _word(c),
}


class _Compiler:
    def __init__(self, prog: list[Step]) -> None:
        self.prog = prog

    def add(self, step: Step) -> int:
        if len(self.prog) >= MAX_PROGRAM:
            raise PatternError("the pattern is too large (its repeats expand too far)")
        self.prog.append(step)
        return len(self.prog) - 1

    def emit(self, items: Any, flags: int) -> None:
        for op, av in items:
            self.item(str(op), av, flags)

    def item(self, op: str, av: Any, flags: int) -> None:
        fold = bool(flags & re.IGNORECASE)
        if op in ("LITERAL", "NOT_LITERAL"):
            same = _literal(av, fold)
            self.add(("char", same if op == "LITERAL" else (lambda c: not same(c))))
        elif op == "ANY":
            dotall = bool(flags & re.DOTALL)
            self.add(("char", (lambda c: True) if dotall else (lambda c: c != "\n")))
        elif op == "IN":
            self.add(("char", _klass(av, fold)))
        elif op == "AT":
            self.add(("at", str(av), bool(flags & re.MULTILINE)))
        elif op == "SUBPATTERN":
            _group, add_flags, del_flags, body = av
            self.emit(body, (flags | add_flags) & ~del_flags)
        elif op == "BRANCH":
            self.branch(av[1], flags)
        elif op in ("MAX_REPEAT", "MIN_REPEAT"):
            low, high, body = av
            self.repeat(int(low), int(high), body, flags)
        else:
            raise PatternError(f"{_NAMES.get(op, op.lower())} cannot be used in eval patterns")

    def branch(self, options: list[Any], flags: int) -> None:
        ends: list[int] = []
        for index, option in enumerate(options):
            last = index == len(options) - 1
            split = -1 if last else self.add(("split", 0, 0))
            start = len(self.prog)
            self.emit(option, flags)
            if not last:
                ends.append(self.add(("jmp", 0)))
                self.prog[split] = ("split", start, len(self.prog))
        for end in ends:
            self.prog[end] = ("jmp", len(self.prog))

    def repeat(self, low: int, high: int, body: Any, flags: int) -> None:
        for _ in range(low):
            self.emit(body, flags)
        if high == _MAXREPEAT:
            split = self.add(("split", 0, 0))
            self.emit(body, flags)
            self.add(("jmp", split))
            self.prog[split] = ("split", split + 1, len(self.prog))
            return
        splits = []
        for _ in range(high - low):
            splits.append(self.add(("split", 0, 0)))
            self.emit(body, flags)
        for split in splits:
            self.prog[split] = ("split", split + 1, len(self.prog))


_NAMES = {
    "GROUPREF": "a back-reference",
    "GROUPREF_EXISTS": "a conditional group",
    "ASSERT": "a look-around",
    "ASSERT_NOT": "a look-around",
    "ATOMIC_GROUP": "an atomic group",
    "POSSESSIVE_REPEAT": "a possessive repeat",
}


def _literal(code: int, fold: bool) -> Pred:
    char = chr(code)
    if not fold:
        return lambda c: c == char
    low = char.lower()
    return lambda c: c.lower() == low


def _range(low: str, high: str) -> Pred:
    return lambda c: low <= c <= high


def _klass(items: list[tuple[Any, Any]], fold: bool) -> Pred:
    negate = False
    preds: list[Pred] = []
    for op, av in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            preds.append(_literal(av, False))
        elif name == "RANGE":
            preds.append(_range(chr(av[0]), chr(av[1])))
        elif name == "CATEGORY":
            preds.append(_CATEGORIES[str(av)])
        else:
            raise PatternError(f"{name.lower()} cannot be used inside [...] in eval patterns")

    def positive(c: str) -> bool:
        return any(p(c) for p in preds)

    def test(c: str) -> bool:
        hit = positive(c) or (fold and (positive(c.lower()) or positive(c.upper())))
        return hit != negate

    return test
