"""One relationship's messages read per subject: the same messages as walking the stream.

The oracle is the stream walked with the wildcard filter (what the reader did before it read
per subject), and, for one moment of the log, the sequences published before it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from events.subjects import proposals_filter, relationship_filter
from services.nats import log_reader
from services.nats.log_reader import DirectReader
from tests.factories import event
from tests.publishing import publish, publish_all

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from nats.aio.client import Client as NATS

    from events.reading import StoredMessage

PROPOSAL = {"proposal_id": "p1", "title": "Pilot", "kind": "pilot"}


async def mixed_log(nc: NATS) -> None:
    """`ada`'s events of five types (one under a made-up type), among other relationships'."""
    envelopes = [event("connection.made", "ada"), event("connection.made", "bob")]
    for number in range(12):
        envelopes.append(event("interaction.recorded", "ada", days=1 + number))
        envelopes.append(event("interaction.recorded", f"other-{number % 3}", days=number))
        if number % 4 == 0:
            envelopes.append(event("purpose.set", "ada", {"purpose": f"aim {number}"}, days=2))
    envelopes.append(event("proposal.drafted", "ada", PROPOSAL, days=20))
    envelopes.append(event("proposal.drafted", "adam", PROPOSAL, days=20))
    await publish_all(nc, envelopes)
    # stored around the ingest: a subject of no contract type, still one of ada's
    await nc.jetstream().publish("rapport.ev.ada.made.up", b"{}")
    await publish_all(nc, [event("interaction.recorded", "ada", days=30)])


@pytest.fixture
async def reader(nc: NATS) -> AsyncIterator[DirectReader]:
    """A reader of the mixed log."""
    await mixed_log(nc)
    direct = DirectReader(nc)
    try:
        yield direct
    finally:
        await direct.close()


def seqs(messages: list[StoredMessage]) -> list[tuple[int, str]]:
    return [(message.seq, message.subject) for message in messages]


async def pages(
    reader: DirectReader, subject_filter: str, batch: int, *, per_subject: bool
) -> list[StoredMessage]:
    """Every message of a filter, read a page at a time."""
    found: list[StoredMessage] = []
    start = 1
    for _ in range(100):  # bounded: 20 messages, a page of at least one
        page, more = await reader.read_page(subject_filter, start, batch, per_subject=per_subject)
        found += page
        if not more or not page:
            return found
        start = page[-1].seq + 1
    raise AssertionError("paging did not end")


async def test_reading_per_subject_gives_what_the_walk_gives(reader: DirectReader) -> None:
    for subject_filter in (relationship_filter("ada"), proposals_filter("ada")):
        walked = await reader.read(subject_filter)
        for start in (1, 5, walked[len(walked) // 2].seq, walked[-1].seq + 1):
            expected = [m for m in walked if m.seq >= start]
            got = await reader.read(subject_filter, start, per_subject=True)
            assert seqs(got) == seqs(expected), (subject_filter, start)
            assert [m.data for m in got] == [m.data for m in expected]
        for batch in (1, 3, 7, 100):
            paged = await pages(reader, subject_filter, batch, per_subject=True)
            assert seqs(paged) == seqs(walked), (subject_filter, batch)
    ada = await reader.read(relationship_filter("ada"), per_subject=True)
    assert len(ada) == 1 + 12 + 3 + 1 + 1 + 1
    assert "rapport.ev.ada.made.up" in {m.subject for m in ada}
    assert not {m.subject for m in ada} & {"rapport.ev.adam.proposal.drafted"}
    assert await reader.read(relationship_filter("nobody"), per_subject=True) == []
    assert await reader.read_page(relationship_filter("nobody"), 1, 5, per_subject=True) == (
        [],
        False,
    )


async def test_a_filter_of_many_subjects_walks_the_stream(
    reader: DirectReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    walked = await reader.read(relationship_filter("ada"))
    monkeypatch.setattr(log_reader, "PER_SUBJECT_LIMIT", 2)
    assert await reader.subjects(relationship_filter("ada")) is None
    got = await reader.read(relationship_filter("ada"), per_subject=True)
    assert seqs(got) == seqs(walked)
    paged = await pages(reader, relationship_filter("ada"), 4, per_subject=True)
    assert seqs(paged) == seqs(walked)


async def test_a_read_per_subject_is_one_moment_of_the_log(
    nc: NATS, reader: DirectReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What is stored after the stream listed the subjects is not read, of any subject."""
    listed = DirectReader.subjects
    later: list[int] = []

    async def subjects_then_more(self: DirectReader, subject_filter: str) -> object:
        found = await listed(self, subject_filter)
        if not later:  # stored between the listing and the reads
            later.append(await publish(nc, event("interaction.recorded", "ada", days=40)))
        return found

    before = await reader.read(relationship_filter("ada"))
    monkeypatch.setattr(DirectReader, "subjects", subjects_then_more)
    got = await reader.read(relationship_filter("ada"), per_subject=True)
    assert seqs(got) == seqs(before)
    assert later
    assert later[0] > before[-1].seq
    again = await reader.read(relationship_filter("ada"), per_subject=True)
    assert [m.seq for m in again] == [*(m.seq for m in before), later[0]]
