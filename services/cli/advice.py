"""What to do next, read from the reasons the projections give: one action, or nothing.

The health projection names the weightiest shortfall first and says the same for machines in
`flags`; proposal readiness lists a reason for every part, strengths included. Here a reason
becomes one thing a person can do, and a strength never becomes something "to fix".
"""

from __future__ import annotations

import re
from typing import Any

READY = 80  # readiness at or above it: the proposal is ready, whatever its weakest part

# The first health reason, by how it begins, and the one action that answers it.
ACTIONS: tuple[tuple[str, str], ...] = (
    ("no interactions recorded yet", "reach out: log a first touch"),
    ("no contact for", "get in touch: log a call"),
    ("no touches", "get in touch more often"),
    ("only ", "get in touch more often"),
    ("mostly one-way", "ask them something they answer"),
    ("recent interactions were negative", "meet and listen"),
    ("contact has been shallow", "book a meeting or a call"),
    ("no purpose set", "set a purpose"),
    ("in good shape", "touch base before it is due"),
    ("the relationship is closed", "nothing: it is closed"),
)
STALLED = re.compile(r"^in [a-z]+ for \d+ days")
STALLED_ACTION = "move it on a stage, or close it"
FLAG_ACTIONS = {
    "no-contact": "reach out: log a first touch",
    "overdue": "get in touch: log a call",
    "one-way": "ask them something they answer",
    "negative": "meet and listen",
    "shallow": "book a meeting or a call",
    "stalled": STALLED_ACTION,
    "no-purpose": "set a purpose",
}
DEFAULT_ACTION = "look at it: rapport show ID"

# Readiness reasons that name a strength (the part scores full or nearly): never "to fix".
STRENGTHS = (
    "in conversion:",
    "already partners:",
    "they have high capacity",
    "they have been available since",
    "aligned with their goals",
)
AVAILABLE_BEFORE = re.compile(r"^they are available from \S+, before your start")
HEALTH = re.compile(r"^relationship health is (\d+)")
HEALTHY = 60  # readiness appends the health reason's cause below it: a shortfall


def why(item: dict[str, Any]) -> str:
    """The first reason of a health item (or a dash)."""
    reasons = item.get("reasons") or []
    return str(reasons[0]) if reasons else "-"


def action_for(item: dict[str, Any]) -> str:
    """The one action that answers a health item's first reason (its flags when unknown)."""
    first = why(item)
    for start, action in ACTIONS:
        if first.startswith(start):
            return action
    if STALLED.match(first):
        return STALLED_ACTION
    for flag in item.get("flags") or []:
        if flag in FLAG_ACTIONS:
            return FLAG_ACTIONS[flag]
    return DEFAULT_ACTION


def is_shortfall(reason: str) -> bool:
    """True when a readiness reason names something to fix, not a strength."""
    health = HEALTH.match(reason)
    if health:
        return int(health.group(1)) < HEALTHY
    if AVAILABLE_BEFORE.match(reason):
        return False
    return not reason.startswith(STRENGTHS)


def first_to_fix(readiness: dict[str, Any]) -> str | None:
    """The weightiest shortfall of a proposal's readiness, or None when nothing needs fixing.

    Reasons come weightiest shortfall first, but every part has one: a ready proposal's first
    reason can be a strength ("relationship health is 93 (thriving)"), which is no problem.
    """
    reasons = [str(reason) for reason in readiness.get("reasons") or []]
    shortfalls = [reason for reason in reasons if is_shortfall(reason)]
    if shortfalls:
        return shortfalls[0]
    if reasons and readiness.get("score", 0) < READY:  # not ready: its weakest part it is
        return reasons[0]
    return None
