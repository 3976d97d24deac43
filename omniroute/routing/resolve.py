"""Model resolution: from the model string a client sent to targets.

``resolve(model, view)`` reads a read-only ``RoutingView`` of the configuration
and returns a ``Resolution``: the combo that matched (if any) and the ordered
``Target``s (provider + upstream model id) to try. Rules, first match wins:

1. **Combo name**, exactly as configured. A disabled combo is NotFound.
2. **User alias**: ``(pattern, destination)`` pairs, in order. ``*`` in a
   pattern matches any text (case-insensitive); each ``*`` in the destination is
   replaced by the text the matching ``*`` of the pattern captured, so
   ``("gpt-*", "or/openai/gpt-*")`` routes every GPT id through OpenRouter. The
   destination is a combo name or a model string; it is not itself looked up as
   an alias again (no alias loops).
3. **``provider/model``**: the part before the first ``/`` is matched against
   provider names, then aliases (case-insensitive); the rest is the model and may
   contain more slashes (``openrouter/meta-llama/llama-3-70b``). If the provider
   lists the model (exactly or by spelling, see 4) that listed id is used. If it
   does not list it and some other provider lists the *whole* string exactly
   (``openai/gpt-oss-120b`` on Groq), rule 4 applies to the whole string.
   Otherwise the model passes through unchanged: explicit addressing is trusted,
   so a model released after our catalog still works. If the named provider is
   disabled or has no account, only providers listing the whole string may
   stand in; otherwise the error says why.
4. **Bare model id**, among enabled providers that have an account, in four
   stages; the first stage with any match wins:
   a. providers listing it **exactly** (case-insensitive) or by **spelling**:
      dates (``-20250929``), ``-latest`` and ``.``/``-`` differences ignored,
      so ``claude-sonnet-4-5-20250929`` finds Kiro's ``claude-sonnet-4.5`` and
      ``claude-3-5-haiku-latest`` finds ``claude-3-5-haiku-20241022``;
   b. for the **Claude, GPT and Gemini families** that CLIs send, every provider
      serving the family, each with its closest model (same variant word such as
      opus/sonnet/haiku, pro/flash, mini first, then text similarity) — so a bare
      CLI id never fails while any provider can serve its family;
   c. **wildcard** providers (they accept any id, e.g. OpenRouter), id
      unchanged — unless a disabled or unconnected provider lists the id, in
      which case the error says so instead of guessing.
   Within a stage, providers are ordered by tier (subscription, api, cheap,
   free, local — the fallback story) and then by name: deterministic, never
   "ambiguous".
5. Otherwise ``errors.NotFound``, listing up to five close matches.

Combos are ordered lists of ``ComboTarget``s (a model string or another combo's
name). ``expand(combo, view, order)`` flattens nested combos **lazily**: each
combo's enabled targets are ordered by ``order`` (e.g.
``StrategyState.combo_order``) only when the iteration reaches it, and targets
that cannot be served right now (provider disabled, no account) are skipped.
Each yielded target carries the name of the combo that lists it and its index
there (``step``). ``validate_combos`` refuses cycles, unknown strategies and
unknown references when the configuration is saved.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from omniroute.errors import BadRequest, NotFound
from omniroute.routing.model import (
    TIERS,
    Combo,
    ComboTarget,
    ProviderView,
    RoutingView,
    Target,
)
from omniroute.routing.strategies import STRATEGIES

ComboOrder = Callable[[Combo, Sequence[ComboTarget]], Sequence[ComboTarget]]

_DATE_SUFFIX = re.compile(r"-(?:20\d{2}-?\d{2}-?\d{2})$")
_VARIANTS = frozenset(
    {"opus", "sonnet", "haiku", "pro", "flash", "lite", "mini", "nano", "max", "codex", "turbo"}
)
_MAX_SUGGESTIONS = 5


@dataclass(frozen=True, slots=True)
class Resolution:
    requested: str
    # Direct match: every candidate in preference order. Combo: its targets
    # flattened in fill-first order (use ``plan`` to apply the combo strategy).
    targets: tuple[Target, ...]
    combo: Combo | None = None
    alias: str | None = None  # the user alias pattern that matched
    view: RoutingView | None = field(default=None, repr=False, compare=False, hash=False)

    def plan(self, order: ComboOrder | None = None) -> Iterator[Target]:
        """Targets to try, lazily; a combo's strategy decides its order."""
        if self.combo is None or self.view is None:
            return iter(self.targets)
        return expand(self.combo, self.view, order)


class ModelNotFound(NotFound):
    """NotFound for a model string, with the close matches it suggests."""

    def __init__(self, message: str, *, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.suggestions = suggestions


# --- entry points ------------------------------------------------------------------


def resolve(model: str, view: RoutingView) -> Resolution:
    name = model.strip()
    if not name:
        raise BadRequest("model is required")
    combo = view.combos.get(name)
    if combo is not None:
        return _combo_resolution(name, combo, view, alias=None)
    for pattern, destination in view.aliases:
        captured = _match_alias(pattern, name)
        if captured is None:
            continue
        dest = _substitute(destination, captured)
        combo = view.combos.get(dest)
        if combo is not None:
            return _combo_resolution(name, combo, view, alias=pattern)
        try:
            targets = resolve_model(dest, view)
        except NotFound as exc:
            raise ModelNotFound(
                f"model {name!r} is routed to {dest!r} by alias {pattern!r}: {exc.message}"
            ) from None
        return Resolution(name, targets, alias=pattern, view=view)
    return Resolution(name, resolve_model(name, view), view=view)


def resolve_model(model: str, view: RoutingView) -> tuple[Target, ...]:
    """Rules 3–5 only: a model string (no combos, no aliases) to direct targets."""
    prefix, slash, rest = model.partition("/")
    provider = view.provider(prefix) if slash and rest else None
    usable = _usable(view)
    if provider is not None and provider.usable:
        listed = _listed(provider, rest)
        if listed is not None or provider.wildcard:
            return (Target(provider.name, listed or rest),)
        return _listed_by(model, usable, exact=True) or (Target(provider.name, rest),)
    if provider is not None:
        # Only a provider that lists the whole string may stand in; a wildcard
        # aggregator would receive "deepseek/…" meant for a provider we know.
        found = _listed_by(model, usable)
        if found:
            return found
        state = "disabled" if not provider.enabled else "not connected (it has no account)"
        raise ModelNotFound(f"model {model!r}: provider {provider.name!r} is {state}")
    found = _bare(model, view, usable)
    if found:
        return found
    raise _not_found(model, view)


def expand(combo: Combo, view: RoutingView, order: ComboOrder | None = None) -> Iterator[Target]:
    """The combo's targets, nested combos flattened lazily (see module docstring)."""
    return _expand(combo, view, order or _as_given, (combo.name,))


def validate_combos(
    combos: Mapping[str, Combo], providers: Sequence[ProviderView] | None = None
) -> None:
    """Raise BadRequest naming every problem: cycles, unknown strategies or refs.

    With ``providers``, a ref that is not a combo must resolve as a model string
    against them (ignoring whether they are enabled or have accounts, which can
    change later); without, only combo-to-combo references are checked.
    """
    problems: list[str] = []
    known = None
    if providers is not None:
        every = tuple(dataclasses.replace(p, enabled=True, has_account=True) for p in providers)
        known = RoutingView(every)
    for name, combo in combos.items():
        problems.extend(_combo_problems(name, combo, combos, known))
    problems.extend(_cycles(combos))
    if problems:
        raise BadRequest("invalid combos: " + "; ".join(problems))


# --- combos ----------------------------------------------------------------------


def _combo_resolution(name: str, combo: Combo, view: RoutingView, alias: str | None) -> Resolution:
    if not combo.enabled:
        raise ModelNotFound(f"combo {combo.name!r} is disabled")
    targets = tuple(expand(combo, view))
    if not targets:
        raise ModelNotFound(
            f"combo {combo.name!r} has no target that can be served now "
            "(its providers are disabled or have no account)"
        )
    return Resolution(name, targets, combo=combo, alias=alias, view=view)


def _as_given(_combo: Combo, targets: Sequence[ComboTarget]) -> Sequence[ComboTarget]:
    return targets


def _expand(
    combo: Combo, view: RoutingView, order: ComboOrder, stack: tuple[str, ...]
) -> Iterator[Target]:
    enabled = [(i, t) for i, t in enumerate(combo.targets) if t.enabled]
    step_of = {id(t): i for i, t in enabled}
    for target in order(combo, tuple(t for _, t in enabled)):
        step = step_of[id(target)]
        nested = view.combos.get(target.ref)
        if nested is not None:
            # A cycle is refused on save; here it is skipped so a bad view can
            # never loop forever.
            if nested.enabled and nested.name not in stack:
                yield from _expand(nested, view, order, (*stack, nested.name))
            continue
        try:
            direct = resolve_model(target.ref, view)
        except NotFound:
            continue  # provider disabled or without account now: next target
        for t in direct:
            yield Target(t.provider, t.model, combo.name, step)


def _combo_problems(
    name: str, combo: Combo, combos: Mapping[str, Combo], known: RoutingView | None
) -> Iterator[str]:
    if name != combo.name:
        yield f"combo stored as {name!r} is named {combo.name!r}"
    if combo.strategy not in STRATEGIES:
        yield f"combo {name!r}: unknown strategy {combo.strategy!r}"
    if not combo.targets:
        yield f"combo {name!r} has no targets"
    for target in combo.targets:
        if target.weight < 0:
            yield f"combo {name!r}: target {target.ref!r} has a negative weight"
        if target.ref in combos:
            continue
        if not target.ref.strip():
            yield f"combo {name!r} has an empty target"
        elif known is not None and not _resolvable(target.ref, known):
            yield f"combo {name!r}: unknown target {target.ref!r}"


def _resolvable(ref: str, view: RoutingView) -> bool:
    try:
        resolve_model(ref, view)
    except NotFound:
        return False
    return True


def _cycles(combos: Mapping[str, Combo]) -> list[str]:
    """Each cycle once, as ``a → b → a``."""
    found: list[str] = []
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            found.append("cycle " + " → ".join(cycle))
            return
        if name in done:
            return
        combo = combos[name]
        for target in combo.targets:
            if target.ref in combos:
                visit(target.ref, [*path, name])
        done.add(name)

    for name in combos:
        visit(name, [])
    return found


# --- bare ids ----------------------------------------------------------------------


def _usable(view: RoutingView) -> list[ProviderView]:
    def rank(p: ProviderView) -> tuple[int, str]:
        tier = TIERS.index(p.tier) if p.tier in TIERS else len(TIERS)
        return (tier, p.name)

    return sorted((p for p in view.providers if p.usable), key=rank)


def _bare(model: str, view: RoutingView, usable: list[ProviderView]) -> tuple[Target, ...]:
    listed = _listed_by(model, usable)
    if listed:
        return listed
    family = _family(model)
    if family is not None:
        by_family = tuple(
            Target(p.name, hit)
            for p in usable
            if (hit := _closest_in_family(p, model, family)) is not None
        )
        if by_family:
            return by_family
    if any(_listed(p, model) is not None for p in view.providers):
        return ()  # a model we know belongs to an idle provider: explain, do not guess
    return tuple(Target(p.name, model) for p in usable if p.wildcard)


def _listed_by(
    model: str, providers: Sequence[ProviderView], *, exact: bool = False
) -> tuple[Target, ...]:
    """Providers listing ``model`` exactly (or, unless ``exact``, by spelling).
    Within a tier, a provider listing the very id comes before one that only
    spells it alike (``google/gemini-2.5-pro`` on an aggregator)."""
    find = _exact if exact else _listed
    found = [(p, hit) for p in providers if (hit := find(p, model)) is not None]
    wanted = model.casefold()

    def rank(item: tuple[ProviderView, str]) -> tuple[int, bool]:
        tier = TIERS.index(item[0].tier) if item[0].tier in TIERS else len(TIERS)
        return (tier, item[1].casefold() != wanted)

    return tuple(Target(p.name, hit) for p, hit in sorted(found, key=rank))


def _exact(provider: ProviderView, model: str) -> str | None:
    wanted = model.casefold()
    return next((m for m in provider.models if m.casefold() == wanted), None)


def _listed(provider: ProviderView, model: str) -> str | None:
    """The provider's own spelling of ``model``: exact, else same normalized form."""
    exact = _exact(provider, model)
    if exact is not None:
        return exact
    key = _normalize(model)
    bare = "/" not in model
    for m in provider.models:
        if _normalize(m.rsplit("/", 1)[-1] if bare else m) == key:
            return m
    return None


def _normalize(model: str) -> str:
    """``claude-sonnet-4.5`` and ``claude-sonnet-4-5-20250929`` → ``claude-sonnet-4-5``."""
    text = model.casefold()
    text = _DATE_SUFFIX.sub("", text)
    text = text.removesuffix("-latest")
    return text.replace(".", "-").replace("_", "-")


def _family(model: str) -> str | None:
    """Families whose bare ids CLIs send: claude, gpt (incl. o-series), gemini."""
    base = model.rsplit("/", 1)[-1].casefold()
    if base.startswith("claude"):
        return "claude"
    if base.startswith("gemini"):
        return "gemini"
    if base.startswith("gpt-oss"):
        return None  # open-weight models, a different thing from the GPT API family
    if base.startswith(("gpt", "chatgpt")) or re.match(r"o\d", base):
        return "gpt"
    return None


def _closest_in_family(provider: ProviderView, model: str, family: str) -> str | None:
    candidates = [m for m in provider.models if _family(m) == family]
    if not candidates:
        return None
    wanted = _normalize(model.rsplit("/", 1)[-1])
    wanted_variants = _VARIANTS.intersection(re.split(r"[-:]", wanted))

    def closeness(m: str) -> tuple[int, float]:
        norm = _normalize(m.rsplit("/", 1)[-1])
        shared = len(wanted_variants.intersection(re.split(r"[-:]", norm)))
        return (shared, _similarity(wanted, norm))

    # max() keeps the first of equals, i.e. the provider's own list order.
    return max(candidates, key=closeness)


# --- aliases -----------------------------------------------------------------------


def wildcard_match(pattern: str, text: str) -> bool:
    """Whether ``text`` matches ``pattern`` the way alias patterns match:
    ``*`` is any text, case is ignored."""
    return _match_alias(pattern, text) is not None


def _match_alias(pattern: str, model: str) -> tuple[str, ...] | None:
    regex = "(.*)".join(re.escape(part) for part in pattern.split("*"))
    found = re.fullmatch(regex, model, flags=re.IGNORECASE | re.DOTALL)
    return None if found is None else found.groups()


def _substitute(destination: str, captured: tuple[str, ...]) -> str:
    if "*" not in destination:
        return destination
    parts = destination.split("*")
    out = [parts[0]]
    for index, part in enumerate(parts[1:]):
        out.append(captured[index] if index < len(captured) else "")
        out.append(part)
    return "".join(out)


# --- errors --------------------------------------------------------------------------


def _not_found(model: str, view: RoutingView) -> ModelNotFound:
    idle = [p.name for p in view.providers if not p.usable and _listed(p, model) is not None]
    if idle:
        return ModelNotFound(
            f"model {model!r} is offered only by providers that are disabled or have no "
            f"account: {', '.join(idle)}"
        )
    suggestions = _suggestions(model, view)
    hint = f"; did you mean: {', '.join(suggestions)}?" if suggestions else ""
    return ModelNotFound(f"model {model!r} not found{hint}", suggestions=suggestions)


def _suggestions(model: str, view: RoutingView) -> tuple[str, ...]:
    pool: dict[str, None] = {}
    for name, combo in view.combos.items():
        if combo.enabled:
            pool[name] = None
    for p in _usable(view):
        for m in p.models:
            pool[m] = None
            pool[f"{p.alias or p.name}/{m}"] = None
    for pattern, _dest in view.aliases:
        if "*" not in pattern:
            pool[pattern] = None
    import difflib  # only when a model is not found

    matches = difflib.get_close_matches(model, list(pool), n=_MAX_SUGGESTIONS, cutoff=0.6)
    return tuple(matches)


def _similarity(a: str, b: str) -> float:
    import difflib  # bare ids are resolved once per configuration; not at start

    return difflib.SequenceMatcher(None, a, b).ratio()
