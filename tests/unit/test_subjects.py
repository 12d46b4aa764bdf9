"""Subjects of the contract, built and parsed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events import EVENT_TYPES
from events.subjects import SubjectError, event_subject, parse_event_subject, relationship_filter


def test_contract_example() -> None:
    assert event_subject("rel-42", "rapport.interaction.recorded") == (
        "rapport.ev.rel-42.interaction.recorded"
    )
    assert relationship_filter("rel-42") == "rapport.ev.rel-42.>"


@given(rel=st.from_regex(r"\A[A-Za-z0-9_-]{1,128}\Z"), event_type=st.sampled_from(EVENT_TYPES))
def test_build_and_parse_round_trip(rel: str, event_type: str) -> None:
    assert parse_event_subject(event_subject(rel, event_type)) == (rel, event_type)


@pytest.mark.parametrize(
    "subject",
    [
        "rapport.ev.rel-1",
        "rapport.ev.rel-1.a.b.c",
        "rapport.dlq.rel.a.b",
        "other.ev.r.a.b",
        "rapport.ev..a.b",
    ],
)
def test_malformed_subjects(subject: str) -> None:
    with pytest.raises(SubjectError, match=r"rapport\.ev\.<relationship_id>"):
        parse_event_subject(subject)
