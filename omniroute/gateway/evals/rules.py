"""Custom eval rules: a small expression language of our own.

A rule is one expression over the model's answer, true when the case
passes::

    contains(lower(output), "paris") and length < 200
    json_valid(output) and json["answer"] == 42
    number(output) == 391 or matches("\\b391\\b", output)

The text is read with ``ast.parse(mode="eval")`` only for its tree; the tree
is checked against an allow-list and then walked by our own evaluator here.
Nothing is compiled or handed to ``eval``, and no Python object is reachable:
there is no attribute access, no call but the functions listed below, no
comprehension, lambda, f-string, assignment, starred argument, slice, dict or
set display, and no ``**``. The size of the text, the number and depth of
nodes, numbers, and every string or list a rule builds are bounded, so a
rule cannot use much time or memory either.

Names: ``output`` (the answer), ``length`` (its characters), ``lines`` and
``words`` (lists of its non-empty lines and of its words), ``json`` (the
answer read as JSON, or None). Values: strings, numbers, True/False/None,
lists ``[...]`` and tuples. Operators: ``and or not``, comparisons (``==``,
``!=``, ``<``, ``<=``, ``>``, ``>=``, ``in``, ``not in``), ``+ - * / // %``
on numbers and ``+`` on strings and lists, ``x[i]`` on strings, lists and
JSON objects, ``a if cond else b``.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omniroute.gateway.evals.patterns import Pattern, PatternError

MAX_RULE = 1000  # characters of a rule
MAX_NODES = 200
MAX_DEPTH = 24
MAX_NUMBER = 10**15  # largest number a rule may write or compute
MAX_STRING = 100_000  # characters of a string a rule builds
MAX_LIST = 10_000  # items of a list a rule builds
MAX_DISPLAY = 50  # items written in one [...] display

NAMES = ("output", "length", "lines", "words", "json")


class RuleError(ValueError):
    """A rule that cannot be read (refused when saved), or one that failed
    on an answer (the case fails with this message)."""


def _number(value: Any) -> float | None:
    """The first number written in a string (``"The answer is 3,912.5"`` ->
    3912.5); a number as itself; None when there is none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    found = re.search(r"-?\d[\d,]*(?:\.\d+)?", _text(value, "number"))
    if found is None:
        return None
    try:
        return float(found.group().replace(",", ""))
    except ValueError:
        return None


def _json_valid(value: Any) -> bool:
    return _parse_json(_text(value, "json_valid")) is not None


def _length(value: Any) -> int:
    if isinstance(value, str | list | tuple | dict):
        return len(value)
    raise RuleError(f"len() needs a string or a list, not {_kind(value)}")


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return _text(item, "contains") in container
    if isinstance(container, list | tuple | dict):
        return item in container
    raise RuleError(f"contains() needs a string or a list, not {_kind(container)}")


def _count(text: Any, part: Any) -> int:
    return _text(text, "count").count(_text(part, "count"))


def _abs(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(f"abs() needs a number, not {_kind(value)}")
    return abs(value)


# name -> (function, number of arguments). ``matches`` is handled apart: its
# pattern must be written in the rule, so it is checked when the rule is saved.
FUNCTIONS: dict[str, tuple[Callable[..., Any], int]] = {
    "contains": (_contains, 2),
    "startswith": (lambda s, p: _text(s, "startswith").startswith(_text(p, "startswith")), 2),
    "endswith": (lambda s, p: _text(s, "endswith").endswith(_text(p, "endswith")), 2),
    "lower": (lambda s: _text(s, "lower").lower(), 1),
    "upper": (lambda s: _text(s, "upper").upper(), 1),
    "strip": (lambda s: _text(s, "strip").strip(), 1),
    "len": (_length, 1),
    "count": (_count, 2),
    "number": (_number, 1),
    "abs": (_abs, 1),
    "json_valid": (_json_valid, 1),
}
MATCHES = "matches"

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: bool(a == b),
    ast.NotEq: lambda a, b: bool(a != b),
    ast.Lt: lambda a, b: bool(a < b),
    ast.LtE: lambda a, b: bool(a <= b),
    ast.Gt: lambda a, b: bool(a > b),
    ast.GtE: lambda a, b: bool(a >= b),
    ast.In: lambda a, b: _contains(b, a),
    ast.NotIn: lambda a, b: not _contains(b, a),
}
_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod)
_UNARY = (ast.Not, ast.USub, ast.UAdd)
# Nodes that hold others without meaning anything themselves.
_CONTEXT: tuple[type[ast.AST], ...] = (ast.Load, ast.And, ast.Or, *_ARITHMETIC, *_UNARY, *_COMPARE)


@dataclass(frozen=True, slots=True)
class Answer:
    """What a rule sees of one answer."""

    output: str

    def names(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "length": len(self.output),
            "lines": [line for line in self.output.splitlines() if line.strip()],
            "words": self.output.split(),
            "json": _parse_json(self.output),
        }


class Rule:
    """A checked rule; ``passes(output)`` evaluates it on one answer."""

    __slots__ = ("source", "_tree", "_patterns")

    def __init__(self, source: str) -> None:
        if not isinstance(source, str) or not source.strip():
            raise RuleError("a rule must be a non-empty string")
        if len(source) > MAX_RULE:
            raise RuleError(f"a rule may have at most {MAX_RULE} characters")
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError as exc:
            raise RuleError(f"not a valid rule: {exc.msg}") from None
        except (ValueError, RecursionError, MemoryError):
            raise RuleError("not a valid rule: it is nested too deeply") from None
        self.source = source
        self._patterns: dict[int, Pattern] = {}
        _check_shape(tree.body)
        self._check(tree.body)
        self._tree = tree.body

    def passes(self, output: str) -> bool:
        """True when the rule holds for ``output``; RuleError when it cannot
        be evaluated on it (a wrong type, an index out of range...)."""
        return _truth(self.evaluate(output))

    def evaluate(self, output: str) -> Any:
        try:
            return _Evaluator(Answer(output).names(), self._patterns).value(self._tree)
        except RuleError:
            raise
        except RecursionError:  # comparing JSON nested hundreds of levels deep
            raise RuleError("the rule failed on this answer: its JSON nests too deeply") from None
        except (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError, OverflowError) as e:
            raise RuleError(f"the rule failed on this answer: {_plain(e)}") from None

    # ------------------------------------------------------------ checking

    def _check(self, node: ast.AST) -> None:
        """Refuse every node outside the allow-list (depth-first; the depth
        is already bounded, so the recursion is too)."""
        if isinstance(node, ast.Constant):
            _check_constant(node.value)
        elif isinstance(node, ast.Name):
            if node.id not in NAMES:
                raise RuleError(f"unknown name {node.id!r}; names: {', '.join(NAMES)}")
        elif isinstance(node, ast.Call):
            self._check_call(node)
            return
        elif isinstance(node, ast.BinOp):
            if not isinstance(node.op, _ARITHMETIC):
                raise RuleError(f"the operator {_op(node.op)} is not allowed")
            if isinstance(node.op, ast.Mult) and (_is_text(node.left) or _is_text(node.right)):
                raise RuleError("strings cannot be repeated with *")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, _UNARY):
                raise RuleError(f"the operator {_op(node.op)} is not allowed")
        elif isinstance(node, ast.Compare):
            for cmp in node.ops:
                if type(cmp) not in _COMPARE:
                    raise RuleError(f"the comparison {_op(cmp)} is not allowed")
        elif isinstance(node, ast.Subscript):
            if isinstance(node.slice, ast.Slice):
                raise RuleError("slices are not allowed; use an index")
        elif isinstance(node, ast.List | ast.Tuple):
            if len(node.elts) > MAX_DISPLAY:
                raise RuleError(f"a list may have at most {MAX_DISPLAY} items written out")
        elif not isinstance(node, (ast.BoolOp, ast.IfExp, *_CONTEXT)):
            raise RuleError(f"{_describe(node)} is not allowed in a rule")
        for child in ast.iter_child_nodes(node):
            self._check(child)

    def _check_call(self, node: ast.Call) -> None:
        if not isinstance(node.func, ast.Name):
            raise RuleError("only the rule functions can be called, by their name")
        name = node.func.id
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise RuleError(f"{name}() takes plain arguments only")
        if name == MATCHES:
            pattern = node.args[0] if node.args else None
            if len(node.args) != 2 or not (
                isinstance(pattern, ast.Constant) and isinstance(pattern.value, str)
            ):
                raise RuleError('matches() takes a pattern written as a string, then a text: '
                                'matches("\\\\d+", output)')  # fmt: skip
            try:
                self._patterns[id(node)] = Pattern(pattern.value)
            except PatternError as exc:
                raise RuleError(f"matches(): {exc}") from None
            self._check(node.args[1])
            return
        known = FUNCTIONS.get(name)
        if known is None:
            allowed = ", ".join(sorted([*FUNCTIONS, MATCHES]))
            raise RuleError(f"unknown function {name!r}; functions: {allowed}")
        if len(node.args) != known[1]:
            raise RuleError(f"{name}() takes {known[1]} argument(s)")
        for arg in node.args:
            self._check(arg)


class _Evaluator:
    """Walks a checked tree. Every value it makes is a str, int, float,
    bool, None, list, tuple or dict (JSON), bounded in size."""

    def __init__(self, names: dict[str, Any], patterns: dict[int, Pattern]) -> None:
        self._names = names
        self._patterns = patterns

    def value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self._names[node.id]
        if isinstance(node, ast.BoolOp):
            return self._bool_op(node)
        if isinstance(node, ast.UnaryOp):
            operand = self.value(node.operand)
            if isinstance(node.op, ast.Not):
                return not _truth(operand)
            number = _need_number(operand, _op(node.op))
            return -number if isinstance(node.op, ast.USub) else number
        if isinstance(node, ast.BinOp):
            return _arithmetic(node.op, self.value(node.left), self.value(node.right))
        if isinstance(node, ast.Compare):
            left = self.value(node.left)
            for cmp, right_node in zip(node.ops, node.comparators, strict=True):
                right = self.value(right_node)
                if not _COMPARE[type(cmp)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            chosen = node.body if _truth(self.value(node.test)) else node.orelse
            return self.value(chosen)
        if isinstance(node, ast.Subscript):
            return _index(self.value(node.value), self.value(node.slice))
        if isinstance(node, ast.List):
            return [self.value(item) for item in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.value(item) for item in node.elts)
        if isinstance(node, ast.Call):
            return self._call(node)
        # Unreachable: the check when the rule was read refused anything else.
        raise RuleError(f"{_describe(node)} is not allowed in a rule")

    def _bool_op(self, node: ast.BoolOp) -> Any:
        want = isinstance(node.op, ast.Or)
        result: Any = not want
        for item in node.values:
            result = self.value(item)
            if _truth(result) == want:
                return result
        return result

    def _call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)
        if node.func.id == MATCHES:
            text = _text(self.value(node.args[1]), MATCHES)
            return self._patterns[id(node)].search(text)
        function, _ = FUNCTIONS[node.func.id]
        return function(*(self.value(arg) for arg in node.args))


# ---------------------------------------------------------------- helpers


def _check_shape(root: ast.AST) -> None:
    """Bound the number of nodes and their depth before anything recurses."""
    count = 0
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise RuleError(f"the rule is too long (more than {MAX_NODES} parts)")
        if depth > MAX_DEPTH:
            raise RuleError(f"the rule is nested too deeply (more than {MAX_DEPTH} levels)")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _check_constant(value: Any) -> None:
    if value is None or isinstance(value, bool | str):
        if isinstance(value, str) and len(value) > MAX_STRING:
            raise RuleError("a string in the rule is too long")
        return
    if isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > MAX_NUMBER:
            raise RuleError(f"numbers in a rule must be within ±{MAX_NUMBER}")
        return
    raise RuleError(f"a {type(value).__name__} value is not allowed in a rule")


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _arithmetic(op: ast.operator, left: Any, right: Any) -> Any:
    if isinstance(op, ast.Add) and isinstance(left, str) and isinstance(right, str):
        return _bounded(left + right)
    if isinstance(op, ast.Add) and isinstance(left, list) and isinstance(right, list):
        return _bounded(left + right)
    a, b = _need_number(left, _op(op)), _need_number(right, _op(op))
    if isinstance(op, ast.Add):
        result = a + b
    elif isinstance(op, ast.Sub):
        result = a - b
    elif isinstance(op, ast.Mult):
        result = a * b
    elif isinstance(op, ast.Div):
        result = a / b
    elif isinstance(op, ast.FloorDiv):
        result = a // b
    else:
        result = a % b
    if abs(result) > MAX_NUMBER:
        raise RuleError(f"a number grew beyond ±{MAX_NUMBER}")
    return result


def _bounded(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_STRING:
        raise RuleError(f"a string grew beyond {MAX_STRING} characters")
    if isinstance(value, list) and len(value) > MAX_LIST:
        raise RuleError(f"a list grew beyond {MAX_LIST} items")
    return value


def _index(container: Any, key: Any) -> Any:
    if isinstance(container, dict):
        if not isinstance(key, str):
            raise RuleError("a JSON object is indexed by a string")
        if key not in container:
            raise RuleError(f"the JSON object has no key {key[:100]!r}")
        return container[key]
    if isinstance(container, str | list | tuple):
        if isinstance(key, bool) or not isinstance(key, int):
            raise RuleError("a string or list is indexed by a whole number")
        return container[key]
    raise RuleError(f"{_kind(container)} cannot be indexed")


def _need_number(value: Any, op: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(f"{op} needs numbers, not {_kind(value)}")
    return value


def _text(value: Any, function: str) -> str:
    if not isinstance(value, str):
        raise RuleError(f"{function}() needs a string, not {_kind(value)}")
    return value


def _truth(value: Any) -> bool:
    return bool(value)


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text.strip())
    except (ValueError, RecursionError):
        return None


def _kind(value: Any) -> str:
    if value is None:
        return "None"
    kinds = {str: "a string", bool: "True/False", int: "a number", float: "a number",
             list: "a list", tuple: "a list", dict: "a JSON object"}  # fmt: skip
    return kinds.get(type(value), "a value")


def _op(op: ast.AST) -> str:
    return {
        ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<",
        ast.RShift: ">>", ast.MatMult: "@", ast.Invert: "~", ast.Is: "is", ast.IsNot: "is not",
        ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
        ast.USub: "-", ast.UAdd: "+", ast.Not: "not",
    }.get(type(op), type(op).__name__)  # fmt: skip


def _describe(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access (a.b)",
        ast.Lambda: "lambda",
        ast.ListComp: "a comprehension",
        ast.SetComp: "a comprehension",
        ast.DictComp: "a comprehension",
        ast.GeneratorExp: "a generator expression",
        ast.NamedExpr: "assignment (:=)",
        ast.JoinedStr: "an f-string",
        ast.FormattedValue: "an f-string",
        ast.Starred: "unpacking (*)",
        ast.Dict: "a {…} dict",
        ast.Set: "a {…} set",
        ast.Slice: "a slice",
        ast.Await: "await",
        ast.Yield: "yield",
        ast.YieldFrom: "yield",
    }
    return names.get(type(node), type(node).__name__)


def _plain(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"
