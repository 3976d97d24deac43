"""What a client key's scope lets a request use.

A target (a provider and the model id sent to it) is the key's to use when

- its provider is one of the key's ``providers`` (when it lists any), and
- one of the key's ``models`` patterns (when it lists any) matches either
  the model the client asked for, or the ``provider/model`` the request
  resolved to, or the name of the combo that lists the target.

So a combo or an alias can be granted by its own name, and ``openai/*``
also covers a bare ``gpt-4o`` or an alias that resolves to OpenAI. Patterns
match as alias patterns do (``*`` is any text, case is ignored); provider
names are the configured ones.

Within a combo, targets the key may not use are skipped, never tried; a
request none of whose targets the key may use is refused with 403, before
anything is sent upstream.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from omniroute.errors import Forbidden, NotFound
from omniroute.gateway.registry import Registry
from omniroute.routing.model import Target
from omniroute.routing.resolve import Resolution, wildcard_match
from omniroute.store.key_scope import KeyScope

TargetCheck = Callable[[Target], bool]


def target_check(scope: KeyScope, requested: str) -> TargetCheck:
    """Whether the key may use a target of a request for ``requested``."""
    providers = {p.casefold() for p in scope.providers}
    patterns = scope.models
    by_name = any(wildcard_match(p, requested) for p in patterns)

    def allowed(target: Target) -> bool:
        if providers and target.provider.casefold() not in providers:
            return False
        if not patterns or by_name:
            return True
        return any(
            wildcard_match(p, target.ref)
            or (target.combo is not None and wildcard_match(p, target.combo))
            for p in patterns
        )

    return allowed


def permitted(scope: KeyScope, requested: str, resolution: Resolution) -> TargetCheck:
    """The check for this request's targets; Forbidden when it passes none."""
    allowed = target_check(scope, requested)
    if not any(allowed(t) for t in resolution.targets):
        raise Forbidden(
            f"This API key may not use model {requested!r}; GET /v1/models lists what it may use."
        )
    return allowed


def visible(scope: KeyScope, registry: Registry, model_ids: Sequence[str]) -> list[str]:
    """The model ids (combos, ``provider/model``) the key may use."""
    shown = []
    for model_id in model_ids:
        try:
            resolution = registry.resolve(model_id)
        except NotFound:
            continue
        allowed = target_check(scope, model_id)
        if any(allowed(t) for t in resolution.targets):
            shown.append(model_id)
    return shown
