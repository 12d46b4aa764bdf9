"""NATS subjects and stream names of the contract, built and parsed in one place."""

from __future__ import annotations

EVENTS_STREAM = "RAPPORT_EVENTS"
DLQ_STREAM = "RAPPORT_DLQ"
EVENTS_PREFIX = "rapport.ev"
EVENTS_FILTER = "rapport.ev.>"
DLQ_PREFIX = "rapport.dlq"
DLQ_FILTER = "rapport.dlq.>"
NOTICES_STREAM = "RAPPORT_NOTICES"
NOTICES_PREFIX = "rapport.notice"
NOTICES_FILTER = "rapport.notice.>"
INGEST_SUBJECT = "rapport.ingest"
AUDIT_SUBJECT = "rapport.q.audit"  # the contract's subject: the stage service answers it
IDENTITY_SUBJECT = "rapport.q.identity.lookup"  # every projection answers it (one queue group)
QUERY_PREFIX = "rapport.q"
CONTROL_PREFIX = "rapport.ctl"
TYPE_PREFIX = "rapport."
INBOX_PREFIX = "_INBOX"  # replies come back under `_INBOX.<user>.…`: a role reads only its own


class SubjectError(ValueError):
    """A subject that is not `rapport.ev.<relationship_id>.<noun>.<verb>`."""


def event_subject(relationship_id: str, event_type: str) -> str:
    """Subject an event is stored under: `rapport.ev.<id>.<noun>.<verb>`."""
    return f"{EVENTS_PREFIX}.{relationship_id}.{event_type.removeprefix(TYPE_PREFIX)}"


def parse_event_subject(subject: str) -> tuple[str, str]:
    """Split an event subject into (relationship id, event type)."""
    parts = subject.split(".")
    if len(parts) != 5 or parts[0] != "rapport" or parts[1] != "ev" or not all(parts):
        raise SubjectError(f"subject {subject!r} is not rapport.ev.<relationship_id>.<noun>.<verb>")
    return parts[2], f"{TYPE_PREFIX}{parts[3]}.{parts[4]}"


def stored_under(subject: str, relationship_id: str, event_type: str) -> bool:
    """True when an event with this id and type belongs under `subject` (the contract's rule)."""
    try:
        return parse_event_subject(subject) == (relationship_id, event_type)
    except SubjectError:
        return False


def relationship_filter(relationship_id: str) -> str:
    """Subject filter for every event of one relationship."""
    return f"{EVENTS_PREFIX}.{relationship_id}.>"


def stage_subject(relationship_id: str) -> str:
    """Subject of a relationship's stage changes (guarded by expected-last-sequence)."""
    return event_subject(relationship_id, "rapport.stage.changed")


def proposals_filter(relationship_id: str) -> str:
    """Subject filter of a relationship's proposal events (guarded as one sequence)."""
    return f"{EVENTS_PREFIX}.{relationship_id}.proposal.*"


def dlq_subject(origin: str, seq: int) -> str:
    """Subject of the dead letter `origin` (a projection) keeps for the message at `seq`.

    One subject per (projection, sequence): whether a dead letter is already kept is one
    direct read, so a rebuild never adds a second copy.
    """
    return f"{DLQ_PREFIX}.{origin}.{seq}"


def dlq_filter(origin: str) -> str:
    """Subject filter of every dead letter of `origin`."""
    return f"{DLQ_PREFIX}.{origin}.>"


def notice_subject(relationship_id: str, kind: str) -> str:
    """Subject a notice is published under: `rapport.notice.<relationship_id>.<kind>`."""
    return f"{NOTICES_PREFIX}.{relationship_id}.{kind}"


def notice_filter(relationship_id: str | None = None, kind: str | None = None) -> str:
    """Subject filter of the notices of one relationship, one kind, both, or all."""
    if kind is None:
        return f"{NOTICES_PREFIX}.{relationship_id}.>" if relationship_id else NOTICES_FILTER
    return notice_subject(relationship_id or "*", kind)


def webhooks_subject(verb: str) -> str:
    """Subject the webhooks service answers a request on: `rapport.ctl.webhooks.<verb>`."""
    return f"{CONTROL_PREFIX}.webhooks.{verb}"


def ping_subject(service: str) -> str:
    """Subject every instance of a service answers with its status."""
    return f"{CONTROL_PREFIX}.{service}.ping"


def swap_subject(projection: str, instance: str) -> str:
    """Subject a running projection instance takes a rebuilt store on (`rapport replay`)."""
    return f"{CONTROL_PREFIX}.{projection}.{instance}.swap"


def query_subject(projection: str, query: str) -> str:
    """Subject of a query, e.g. `rapport.q.stage.get`."""
    return f"{QUERY_PREFIX}.{projection}.{query}"


def inbox_prefix(user: str | None) -> str:
    """Where a NATS user's replies arrive: `_INBOX.<user>`, the only inbox its role may read."""
    return f"{INBOX_PREFIX}.{user}" if user else INBOX_PREFIX
