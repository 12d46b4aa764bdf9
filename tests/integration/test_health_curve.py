"""`health.curve`: every point is what `health.get` with that `as_of` answers."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from events.queries import MAX_CURVE_POINTS
from tests.factories import BASE_TIME, event
from tests.publishing import ask, publish

if TYPE_CHECKING:
    from datetime import datetime

    from nats.aio.client import Client as NATS


def touch(rel: str, days: float, kind: str, direction: str, sentiment: float) -> dict[str, object]:
    """An interaction envelope."""
    data = {"kind": kind, "direction": direction, "sentiment": sentiment}
    return event("interaction.recorded", rel, data, days=days)


def varied_history(rel: str) -> list[dict[str, object]]:
    """Touches of every kind and tone, stage moves forward, back, rejected, out of order,
    closed and reopened, a purpose, a second handshake, an event dated far ahead."""
    kinds = ("meeting", "call", "email", "message", "social")
    directions = ("inbound", "outbound", "mutual")
    history = [event("connection.made", rel, days=0)]
    history += [
        touch(rel, 3 + 9 * n, kinds[n % 5], directions[n % 3], round(-0.8 + 0.13 * n, 2))
        for n in range(14)
    ]
    history += [
        event("stage.changed", rel, {"to": "awareness"}, days=20),
        event("stage.changed", rel, {"to": "conversion"}, days=30),  # a skip without reason
        event("stage.changed", rel, {"to": "engagement"}, days=45),
        event("stage.changed", rel, {"to": "awareness", "reason": "new team"}, days=80),
        # stored after the changes above, in effect before some of them
        event("stage.changed", rel, {"to": "engagement"}, days=25),
        event("purpose.set", rel, days=50),
        event("stage.changed", rel, {"to": "closed", "reason": "they left"}, days=140),
        touch(rel, 150, "call", "inbound", 0.9),
        event("stage.changed", rel, {"to": "engagement", "reason": "back"}, days=170),
        # a later handshake names another owner
        event("connection.made", rel, {"owner": "li", "counterpart": {"name": "Ada"}}, days=160),
        touch(rel, 400, "meeting", "mutual", 0.7),  # dated ahead of everything else
        touch(rel, 1, "email", "outbound", 0.0),  # late, dated near the start
    ]
    return history


def instants() -> list[datetime]:
    """Before the first event, weekly over the history, at event instants, far after."""
    weekly = [BASE_TIME + timedelta(days=7 * n - 3) for n in range(70)]
    exact = [BASE_TIME + timedelta(days=days) for days in (0, 25, 30, 140, 170, 400)]
    return [*weekly, *exact, BASE_TIME + timedelta(days=900)]


@pytest.mark.usefixtures("services")
async def test_every_point_is_health_get_as_of_that_instant(nc: NATS) -> None:
    last = 0
    for envelope in varied_history("ada"):
        last = await publish(nc, envelope)
    asked = instants()
    isos = [moment.isoformat() for moment in asked]
    reply = await ask(nc, "health.curve", relationship_id="ada", instants=isos, min_seq=last)
    assert "error" not in reply, reply
    assert reply["relationship_id"] == "ada"
    assert len(reply["points"]) == len(asked)
    gaps, closed, bands = 0, 0, set()
    for moment, point in zip(asked, reply["points"], strict=True):
        assert point["as_of"] == moment.isoformat().replace("+00:00", "Z")
        one = await ask(nc, "health.get", relationship_id="ada", as_of=moment.isoformat())
        if "error" in one:
            assert one["error"]["code"] == "not_found"
            assert (point["score"], point["band"], point["stage"]) == (None, None, None)
            gaps += 1
            continue
        assert (point["score"], point["band"], point["stage"]) == (
            one["score"],
            one["band"],
            one["stage"],
        ), moment
        closed += point["stage"] == "closed"
        bands.add(point["band"])
    # the history is varied enough to say something: a gap, a closed spell, several bands
    assert gaps >= 1
    assert closed >= 1
    assert len(bands) >= 3


@pytest.mark.usefixtures("services")
async def test_instants_in_any_order_answer_in_the_order_asked(nc: NATS) -> None:
    last = 0
    for envelope in varied_history("bo"):
        last = await publish(nc, envelope)
    asked = instants()
    forward = await ask(
        nc, "health.curve", relationship_id="bo", instants=[m.isoformat() for m in asked],
        min_seq=last,
    )  # fmt: skip
    backward = await ask(
        nc, "health.curve", relationship_id="bo", instants=[m.isoformat() for m in asked[::-1]]
    )
    assert backward["points"] == forward["points"][::-1]


@pytest.mark.usefixtures("services")
async def test_bad_parameters_are_invalid_and_name_the_field(nc: NATS) -> None:
    last = await publish(nc, event("connection.made", "cy", days=0))
    when = BASE_TIME.isoformat()
    unknown = await ask(nc, "health.curve", relationship_id="nobody", instants=[when], min_seq=last)
    assert unknown["error"]["code"] == "not_found"
    cases = {
        "instants": {"relationship_id": "cy", "instants": []},
        "instants.0": {"relationship_id": "cy", "instants": ["yesterday"]},
        "relationship_id": {"relationship_id": "bad id", "instants": [when]},
    }
    too_many = [when] * (MAX_CURVE_POINTS + 1)
    cases["instants "] = {"relationship_id": "cy", "instants": too_many}
    for field, request in cases.items():
        reply = await ask(nc, "health.curve", **request)
        assert reply["error"]["code"] == "invalid", request
        assert reply["error"]["message"].startswith(field.strip()), reply
    missing = await ask(nc, "health.curve", relationship_id="cy")
    assert missing["error"]["code"] == "invalid"
    assert "instants" in missing["error"]["message"]


@pytest.mark.usefixtures("services")
async def test_a_curve_asked_again_after_new_events_shows_them(nc: NATS) -> None:
    last = 0
    for envelope in varied_history("di")[:6]:
        last = await publish(nc, envelope)
    asked = [(BASE_TIME + timedelta(days=days)).isoformat() for days in (10, 60, 120)]
    together = await asyncio.gather(  # asked at once: drawn once, the same for each
        *(ask(nc, "health.curve", relationship_id="di", instants=asked, min_seq=last)
          for _ in range(5))
    )  # fmt: skip
    before = together[0]
    assert all(reply["points"] == before["points"] for reply in together)
    again = await ask(nc, "health.curve", relationship_id="di", instants=asked)
    assert again["points"] == before["points"]
    last = await publish(nc, touch("di", 100, "meeting", "mutual", 1.0))
    after = await ask(nc, "health.curve", relationship_id="di", instants=asked, min_seq=last)
    assert after["points"][:2] == before["points"][:2]
    assert after["points"][2] != before["points"][2]
    one = await ask(nc, "health.get", relationship_id="di", as_of=asked[2])
    assert after["points"][2]["score"] == one["score"]
