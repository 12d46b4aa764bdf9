"""A proposal's readiness ceiling: from the relationship's latest event on, no readiness exceeds it.

The oracle is `readiness` itself, judged at many later instants; the ceiling is computed once.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from projections.proposals.readiness import ceilings, readiness, readiness_score
from tests.factories import event, partner_life
from tests.folding import fold_context as fold


def test_no_later_readiness_exceeds_the_ceiling() -> None:
    rnd = random.Random(5)
    reached = judged = 0
    for number in range(200):
        context = fold(*partner_life(rnd, f"rel-{number}"))
        start, ceiling = ceilings(context)
        assert start == context.health.latest_at
        assert set(ceiling) == {p.proposal_id for p in context.proposals}
        first = datetime.fromtimestamp(start, UTC)
        later = [first, *(first + timedelta(days=rnd.expovariate(1 / 60)) for _ in range(12))]
        later.append(first + timedelta(days=4000))
        for proposal in context.proposals:
            scores = [readiness(context, proposal, moment).score for moment in later]
            assert max(scores) <= ceiling[proposal.proposal_id], (context, proposal)
            reached += max(scores) == ceiling[proposal.proposal_id]
            judged += 1
    # most ceilings are met (the rest wait for an availability date, by when health decayed):
    # a ceiling is the best a proposal will be, not a loose bound
    assert reached > judged * 0.75


def test_a_relationship_without_proposals_has_no_ceilings() -> None:
    context = fold(event("connection.made", "r"))
    assert ceilings(context) == (context.health.latest_at, {})


def test_the_ranking_score_is_the_readiness_score() -> None:
    """Proposals are ranked by `readiness_score` and listed with `readiness`: one score."""
    rnd = random.Random(11)
    compared = 0
    for number in range(200):
        context = fold(*partner_life(rnd, f"rel-{number}"))
        latest = datetime.fromtimestamp(context.health.latest_at, UTC)
        moments = [latest - timedelta(days=rnd.uniform(0, 400)) for _ in range(3)]
        moments += [latest + timedelta(days=rnd.expovariate(1 / 60)) for _ in range(5)]
        for proposal in context.proposals:
            for moment in moments:
                expected = readiness(context, proposal, moment).score
                assert readiness_score(context, proposal, moment) == expected, (context, moment)
                compared += 1
    assert compared > 500
