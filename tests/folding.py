"""Fold envelopes as a projection would, for tests of the pure folds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from events.parsing import parse_event
from projections.proposals.fold import apply

if TYPE_CHECKING:
    from projections.proposals.fold import PartnerContext


def fold_context(*envelopes: dict[str, Any]) -> PartnerContext:
    """The proposals projection's context after these envelopes, in this (stream) order."""
    context = None
    for seq, envelope in enumerate(envelopes, start=1):
        context = apply(context, parse_event(orjson.dumps(envelope)), seq)
    assert context is not None
    return context
