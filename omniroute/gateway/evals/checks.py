"""How an eval case decides pass or fail: four matchers.

    exact     the answer, trimmed, is the expected text (``ignore_case`` optional)
    contains  the answer holds the expected text somewhere (``ignore_case`` optional)
    regex     the pattern occurs in the answer (see ``patterns``: linear time)
    rule      a rule of our expression language holds (see ``rules``)

A check is read and validated once, when its suite is saved or loaded; a
pattern or rule that cannot be read is refused then, not at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omniroute.gateway.evals.patterns import MAX_TEXT, Pattern, PatternError
from omniroute.gateway.evals.rules import Rule, RuleError

KINDS = ("exact", "contains", "regex", "rule")
MAX_VALUE = 2000  # characters of an expected text


class CheckError(ValueError):
    """A check that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    error: str | None = None  # why the check could not be applied to this answer


class Check:
    __slots__ = ("kind", "value", "ignore_case", "_pattern", "_rule")

    def __init__(self, kind: str, value: str, *, ignore_case: bool = False) -> None:
        if kind not in KINDS:
            raise CheckError(f"unknown matcher {kind!r}; matchers: {', '.join(KINDS)}")
        if not isinstance(value, str) or not value:
            raise CheckError(f"the {kind} matcher needs a non-empty 'value' string")
        if len(value) > MAX_VALUE:
            raise CheckError(f"a matcher's 'value' may have at most {MAX_VALUE} characters")
        self.kind = kind
        self.value = value
        self.ignore_case = ignore_case
        self._pattern: Pattern | None = None
        self._rule: Rule | None = None
        try:
            if kind == "regex":
                self._pattern = Pattern(value)
            elif kind == "rule":
                self._rule = Rule(value)
        except (PatternError, RuleError) as exc:
            raise CheckError(str(exc)) from None

    @classmethod
    def from_json(cls, data: Any) -> Check:
        if not isinstance(data, dict):
            raise CheckError('a check is an object: {"kind": "contains", "value": "…"}')
        unknown = sorted(set(data) - {"kind", "value", "ignore_case"})
        if unknown:
            raise CheckError(f"unknown field {unknown[0]!r} in a check")
        kind, ignore_case = data.get("kind"), data.get("ignore_case", False)
        if not isinstance(kind, str):
            raise CheckError(f"a check needs a 'kind': one of {', '.join(KINDS)}")
        if not isinstance(ignore_case, bool):
            raise CheckError("'ignore_case' must be true or false")
        if ignore_case and kind not in ("exact", "contains"):
            raise CheckError("'ignore_case' applies to exact and contains; use (?i) in a regex")
        return cls(kind, data.get("value"), ignore_case=ignore_case)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "value": self.value}
        if self.ignore_case:
            out["ignore_case"] = True
        return out

    def judge(self, output: str) -> Verdict:
        text = output[:MAX_TEXT]
        if self._pattern is not None:
            return Verdict(self._pattern.search(text))
        if self._rule is not None:
            try:
                return Verdict(self._rule.passes(text))
            except RuleError as exc:
                return Verdict(False, str(exc))
        expected = self.value
        if self.ignore_case:
            text, expected = text.casefold(), expected.casefold()
        if self.kind == "exact":
            return Verdict(text.strip() == expected.strip())
        return Verdict(expected in text)
