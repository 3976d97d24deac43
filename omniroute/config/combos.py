"""A combo's targets as callers give them: model strings with weights side
by side (``combo add A B --weights 3,1``), or objects ``{"ref", "weight",
"enabled"}`` in a JSON body. Whether they route anywhere is checked when the
combo is saved (``routing.combo_check``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omniroute.config.naming import Naming
from omniroute.errors import BadRequest
from omniroute.store import ComboTargetRecord

MAX_WEIGHT = 1_000_000


def weighted_targets(
    refs: Sequence[str], weights: Sequence[int] | None, naming: Naming
) -> list[ComboTargetRecord]:
    """Targets from refs and their weights (all 1 when not given)."""
    given = [1] * len(refs) if weights is None else list(weights)
    if len(given) != len(refs):
        raise BadRequest(
            f"{naming.field('weights')} has {len(given)} value(s) for {len(refs)} target(s)"
        )
    for weight in given:
        check_weight(weight, naming.field("weights"))
    return [ComboTargetRecord(ref, weight) for ref, weight in zip(refs, given, strict=True)]


def targets_from_json(items: Any, weights: Any, naming: Naming) -> list[ComboTargetRecord]:
    """``targets`` of a JSON body: model strings (weighted by ``weights``
    when given) or objects with ``ref`` and optional ``weight``, ``enabled``."""
    name = naming.field("targets")
    if not isinstance(items, list) or not items:
        raise BadRequest(f"{name} must be a non-empty list")
    if all(isinstance(item, str) for item in items):
        if weights is not None and not isinstance(weights, list):
            raise BadRequest(f"{naming.field('weights')} must be a list of whole numbers")
        return weighted_targets(items, weights, naming)
    if weights is not None:
        raise BadRequest(f"{naming.field('weights')} goes with targets given as strings")
    targets = []
    for i, item in enumerate(items):
        where = f"targets[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("ref"), str):
            raise BadRequest(
                f"{naming.field(where)} must be a model string or an object with 'ref'"
            )
        unknown = sorted(set(item) - {"ref", "weight", "enabled"})
        if unknown:
            raise BadRequest(f"{naming.field(where)}: unknown fields {', '.join(unknown)}")
        weight = check_weight(item.get("weight", 1), naming.field(f"{where}.weight"))
        enabled = item.get("enabled", True)
        if not isinstance(enabled, bool):
            raise BadRequest(f"{naming.field(where + '.enabled')} must be true or false")
        targets.append(ComboTargetRecord(item["ref"], weight, enabled))
    return targets


def check_weight(weight: Any, where: str) -> int:
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
        raise BadRequest(f"{where} must hold whole numbers from 0 to {MAX_WEIGHT}")
    return weight
