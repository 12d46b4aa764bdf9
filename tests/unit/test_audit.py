"""The audit fold: verdicts by the stage rules, and flags that say more than the rules."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from events import parse_event
from projections.audit import audit
from tests.factories import event


def run(*envelopes: dict[str, Any]) -> list[dict[str, Any]]:
    events = [(seq, parse_event(orjson.dumps(e))) for seq, e in enumerate(envelopes, start=1)]
    return [change.reply() for change in audit("r", events).changes]


def change(to: str, reason: str | None = None, from_: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"to": to}
    if reason:
        data["reason"] = reason
    if from_:
        data["from"] = from_
    return event("stage.changed", "r", data, actor="maria@example.com")


INBOUND = event("interaction.recorded", "r", {"kind": "call", "direction": "inbound"})
OUTBOUND = event("interaction.recorded", "r", {"kind": "email", "direction": "outbound"})
PURPOSE = event("purpose.set", "r")
DRAFT = event("proposal.drafted", "r", {"proposal_id": "p", "title": "T"})
SUBMIT = event("proposal.submitted", "r", {"proposal_id": "p"})
ACCEPT = event("proposal.accepted", "r", {"proposal_id": "p"})

CASES: list[tuple[str, list[dict[str, Any]], list[tuple[bool, list[str]]]]] = [
    ("a step forward", [change("awareness")], [(True, [])]),
    ("a skip without reason", [change("engagement")], [(False, ["skipped:awareness", "missing-reason", "no-inbound-interaction"])]),
    ("a skip with reason", [INBOUND, change("engagement", "warm intro")], [(True, ["skipped:awareness"])]),
    ("backward", [change("awareness"), change("connection")], [(True, []), (False, ["backward", "missing-reason"])]),
    ("backward with reason", [change("awareness"), change("connection", "restart")], [(True, []), (True, ["backward"])]),
    ("close and reopen", [change("closed", "gone quiet"), change("awareness")], [(True, []), (True, ["reopened"])]),
    ("close without reason", [change("closed")], [(False, ["missing-reason"])]),
    ("no change", [change("awareness"), change("awareness")], [(True, []), (False, ["no-change"])]),
    ("stale from", [change("awareness"), change("engagement", from_="connection")], [(True, []), (False, ["from-mismatch", "no-inbound-interaction"])]),
    ("engagement after outbound only", [OUTBOUND, change("awareness"), change("engagement")], [(True, []), (True, ["no-inbound-interaction"])]),
    ("engagement after inbound", [INBOUND, change("awareness"), change("engagement")], [(True, []), (True, [])]),
    ("conversion without purpose", [INBOUND, change("awareness"), change("engagement"), change("conversion")], [(True, []), (True, []), (True, ["no-purpose"])]),
    ("conversion with purpose", [INBOUND, PURPOSE, change("awareness"), change("engagement"), change("conversion")], [(True, []), (True, []), (True, [])]),
    ("partnership without accepted proposal", [INBOUND, PURPOSE, change("awareness"), change("engagement"), change("conversion"), DRAFT, change("partnership")], [(True, [])] * 3 + [(True, ["no-accepted-proposal"])]),
    ("partnership after acceptance", [INBOUND, PURPOSE, change("awareness"), change("engagement"), change("conversion"), DRAFT, SUBMIT, ACCEPT, change("partnership")], [(True, [])] * 4),
    ("evidence counts only before the change", [change("awareness"), change("engagement"), INBOUND], [(True, []), (True, ["no-inbound-interaction"])]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "envelopes", "expected"), CASES, ids=[c[0] for c in CASES])
def test_audit_flags(
    case: str, envelopes: list[dict[str, Any]], expected: list[tuple[bool, list[str]]]
) -> None:
    changes = run(*envelopes)
    assert [(c["accepted"], c["flags"]) for c in changes] == expected, case


def test_change_fields() -> None:
    [first, second] = run(change("awareness"), change("engagement", from_="connection"))
    assert first["from"] == "connection"
    assert first["to"] == "awareness"
    assert first["actor"] == "maria@example.com"
    assert first["source"] == "tests"
    assert first["seq"] == 1
    assert first["rejected_because"] is None
    assert second["from"] == "awareness"  # where it really stood
    assert second["claimed_from"] == "connection"  # what the writer believed
    assert second["rejected_because"].startswith("conflict: the change says from connection")


def test_stage_is_the_fold_of_accepted_changes() -> None:
    events = [
        (n, parse_event(orjson.dumps(e)))
        for n, e in enumerate([change("awareness"), change("partnership")])
    ]
    assert audit("r", events).stage == "awareness"
