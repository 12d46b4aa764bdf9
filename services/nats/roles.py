"""Who may do what on NATS: one role per kind of client, each with only what it needs.

- `producer` (other systems that write): publish events, ask `rapport.ingest`.
- `reader` (other systems that read): ask the queries, read the logs (direct gets, stream info),
  follow the notices as they are published.
- one role per service (`stage`, `health`, `proposals`, `ingest`, `gateway`, `webhooks`): its
  own subscriptions, consumers of its own names, its control subjects, what it asks of others;
  a projection publishes only the notices of its own kinds.
- `admin`: everything, and the only role that creates, changes or deletes a stream.

No role but `admin` may touch a stream's configuration, purge it or delete a message; none but
the services may use the control subjects (`rapport.ctl.>`). Each role reads only the replies
sent to it (`_INBOX.<role>.>`; clients set that inbox prefix, as every Rapport command does).
The embedded server of `rapport up` and the cluster configuration in `deploy/nats/` are both
written from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from events.notices import kinds_of
from events.subjects import (
    AUDIT_SUBJECT,
    CONTROL_PREFIX,
    DLQ_PREFIX,
    DLQ_STREAM,
    EVENTS_FILTER,
    EVENTS_STREAM,
    IDENTITY_SUBJECT,
    INGEST_SUBJECT,
    NOTICES_FILTER,
    NOTICES_STREAM,
    QUERY_PREFIX,
    inbox_prefix,
    notice_filter,
    webhooks_subject,
)
from services.config.roster import PROJECTIONS

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

JS = "$JS.API"
PEOPLE = ("producer", "reader", "admin")


@dataclass(frozen=True)
class Role:
    """A NATS user's permissions: subjects it may publish to and subscribe to."""

    name: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    responds: bool = False  # may answer requests (publish to the reply subject it was given)


def _inbox(role: str) -> str:
    """A role reads only the replies sent to it (another's replies may hold what it may not see)."""
    return f"{inbox_prefix(role)}.>"


def _read_logs() -> tuple[str, ...]:
    """Reading the streams without a consumer: direct gets and stream info."""
    return tuple(
        f"{JS}.{api}.{stream}{suffix}"
        for stream in (EVENTS_STREAM, DLQ_STREAM, NOTICES_STREAM)
        for api, suffix in (("DIRECT.GET", ""), ("DIRECT.GET", ".>"), ("STREAM.INFO", ""))
    )


def _consumers(names: Iterable[str], stream: str = EVENTS_STREAM) -> tuple[str, ...]:
    """Creating, reading from, acknowledging and deleting consumers of these names only."""
    allowed: list[str] = []
    for name in names:
        allowed += [
            f"{JS}.CONSUMER.CREATE.{stream}.{name}",
            f"{JS}.CONSUMER.CREATE.{stream}.{name}.>",
            f"{JS}.CONSUMER.DURABLE.CREATE.{stream}.{name}",
            f"{JS}.CONSUMER.INFO.{stream}.{name}",
            f"{JS}.CONSUMER.DELETE.{stream}.{name}",
            f"{JS}.CONSUMER.MSG.NEXT.{stream}.{name}",
            f"$JS.ACK.{stream}.{name}.>",
        ]
    return tuple(allowed)


WEBHOOKS_CONSUMER = "rapport-webhooks"  # the webhooks service's durable on RAPPORT_NOTICES


def consumer_names(projection: str, instance: str) -> tuple[str, ...]:
    """The consumers a projection's instance uses: live, catching a swap up, replaying."""
    durable = f"rapport-{projection}-{instance}"
    return (durable, f"{durable}-swap", f"{durable}-replay")


def _projection(name: str, instances: Iterable[str]) -> Role:
    consumers = [c for instance in instances for c in consumer_names(name, instance)]
    subscribe = [
        _inbox(name),
        f"{QUERY_PREFIX}.{name}.>",
        IDENTITY_SUBJECT,
        f"{CONTROL_PREFIX}.{name}.>",
    ]
    if name == "stage":
        subscribe.append(AUDIT_SUBJECT)
    publish = [
        f"{JS}.INFO",
        *_read_logs(),
        *_consumers(consumers),
        f"{DLQ_PREFIX}.{name}.>",  # its dead letters
        *(notice_filter(None, kind) for kind in kinds_of(name)),  # its notices, no other's
        f"{QUERY_PREFIX}.{name}.>",  # partitions ask each other
    ]
    return Role(name, tuple(publish), tuple(subscribe), responds=True)


def roles(instances: Mapping[str, Iterable[str]] | None = None) -> dict[str, Role]:
    """Every role, the projections' consumers named for their instances (default: `1`)."""
    instances = instances or {}
    found: dict[str, Role] = {
        "producer": Role("producer", (EVENTS_FILTER, INGEST_SUBJECT), (_inbox("producer"),)),
        "reader": Role(
            "reader",
            (f"{QUERY_PREFIX}.>", *_read_logs()),
            (_inbox("reader"), NOTICES_FILTER),  # notices, as they are published
        ),
        "admin": Role("admin", (">",), (">",), responds=True),
    }
    for name in PROJECTIONS:
        found[name] = _projection(name, instances.get(name, ("1",)))
    found["ingest"] = Role(
        "ingest",
        (f"{JS}.INFO", EVENTS_FILTER, IDENTITY_SUBJECT, *_read_logs()),
        (_inbox("ingest"), INGEST_SUBJECT, f"{CONTROL_PREFIX}.ingest.>"),
        responds=True,
    )
    found["gateway"] = Role(
        "gateway",
        (
            f"{JS}.INFO",
            f"{QUERY_PREFIX}.>",
            INGEST_SUBJECT,
            f"{CONTROL_PREFIX}.*.ping",  # /healthz and /metrics ask every service
            webhooks_subject(">"),  # administrators manage webhooks over HTTP
            *_read_logs(),
        ),
        # GET /v1/notices: woken by notices as they are published, reads them by direct gets
        (_inbox("gateway"), f"{CONTROL_PREFIX}.gateway.>", NOTICES_FILTER),
        responds=True,
    )
    found["webhooks"] = Role(
        "webhooks",
        (f"{JS}.INFO", *_read_logs(), *_consumers([WEBHOOKS_CONSUMER], NOTICES_STREAM)),
        (_inbox("webhooks"), f"{CONTROL_PREFIX}.webhooks.>"),
        responds=True,
    )
    return found


def render(users: Mapping[str, str], instances: Mapping[str, Iterable[str]] | None = None) -> str:
    """An `authorization` block for nats-server: every role, with its password as given.

    `users` maps a role to its password as the configuration writes it: a quoted literal for
    the embedded server, or an environment reference (`$RAPPORT_STAGE_PASSWORD`) for a cluster.
    """
    lines = ["authorization {", "  users = ["]
    for name, role in roles(instances).items():
        lines += [
            f"    {{user: {quote(name)}, password: {users[name]}, permissions: {{",
            *_allow("publish", role.publish),
            *_allow("subscribe", role.subscribe),
        ]
        if role.responds:
            lines.append("      allow_responses: true")
        lines.append("    }}")
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def _allow(what: str, subjects: tuple[str, ...]) -> list[str]:
    """One subject a line: the file is read by people deciding what a role may do."""
    return [
        f"      {what}: {{allow: [",
        *(f"        {quote(subject)}," for subject in subjects),
        "      ]}",
    ]


def quote(value: str) -> str:
    """A string as nats-server's configuration writes it."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
