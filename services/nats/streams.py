"""The JetStream streams of the contract, created idempotently and never silently changed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from events.subjects import (
    DLQ_FILTER,
    DLQ_STREAM,
    EVENTS_FILTER,
    EVENTS_STREAM,
    NOTICES_FILTER,
    NOTICES_STREAM,
)
from services.config.failures import Failure

if TYPE_CHECKING:
    from nats.js import JetStreamContext
    from nats.js.api import StreamInfo

log = logging.getLogger("rapport.nats")


STREAM_WAIT = 60.0  # seconds a service waits for an administrator to create the streams


NO_ROOM = 10023  # JetStream's error code: insufficient resources (a full disk, or limits reached)


class StreamConflict(Failure):
    """An existing stream whose configuration differs from what Rapport needs."""


@dataclass(frozen=True, slots=True)
class StreamReport:
    """What ensure_streams did with one stream."""

    name: str
    created: bool


def _kept_forever(
    name: str, description: str, subject: str, replicas: int, duplicate_window: float
) -> StreamConfig:
    return StreamConfig(
        name=name,
        description=description,
        subjects=[subject],
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        max_age=0,
        max_msgs=-1,
        max_bytes=-1,
        num_replicas=replicas,
        duplicate_window=duplicate_window,
        # direct gets read one relationship's subjects without a consumer (ingest, audit)
        allow_direct=True,
    )


def events_stream(replicas: int = 1, duplicate_window: float = 120.0) -> StreamConfig:
    """RAPPORT_EVENTS: the system of record; file storage, kept forever, no delete or purge."""
    config = _kept_forever(
        EVENTS_STREAM,
        "Rapport: every relationship event, the system of record",
        EVENTS_FILTER,
        replicas,
        duplicate_window,
    )
    config.deny_delete = config.deny_purge = True
    return config


def dlq_stream(replicas: int = 1, duplicate_window: float = 120.0) -> StreamConfig:
    """RAPPORT_DLQ: what could not be applied, with why; file storage, kept forever.

    Delete and purge stay allowed: operators may remove a dead letter once it is handled.
    """
    return _kept_forever(
        DLQ_STREAM,
        "Rapport: events that could not be applied, with the reason",
        DLQ_FILTER,
        replicas,
        duplicate_window,
    )


DAY = 86_400.0
NOTICE_DAYS = 7.0  # how long RAPPORT_NOTICES keeps a notice unless RAPPORT_NOTICE_DAYS says
# Publishers of notices resend what a crash left unacknowledged (their outbox) when they
# start again, seconds or minutes later: an hour of ids is remembered to drop those copies.
NOTICE_DEDUPE = 3600.0


def notices_stream(replicas: int = 1, days: float = NOTICE_DAYS) -> StreamConfig:
    """RAPPORT_NOTICES: what changed that people act on, kept `days` (then dropped, oldest first).

    Not a record: delete and purge are allowed; the projections can say everything again.
    """
    max_age = days * DAY
    return StreamConfig(
        name=NOTICES_STREAM,
        description="Rapport: notices of what changed (stage, health band, touch due, decisions)",
        subjects=[NOTICES_FILTER],
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        max_age=max_age,
        max_msgs=-1,
        max_bytes=-1,
        num_replicas=replicas,
        duplicate_window=min(NOTICE_DEDUPE, max_age),
        allow_direct=True,  # GET /v1/notices reads with direct gets, no consumer per client
    )


# The settings that make the streams what the contract says; others (limits the server
# fills in, placement) may differ without harm.
_CHECKED = (
    "subjects",
    "storage",
    "retention",
    "max_age",
    "max_msgs",
    "max_bytes",
    "num_replicas",
    "duplicate_window",
    "deny_delete",
    "deny_purge",
    "allow_direct",
)


def differences(wanted: StreamConfig, actual: StreamConfig) -> list[str]:
    """Name every checked setting where the existing stream differs from the wanted one."""
    found = []
    for name in _CHECKED:
        want, have = _norm(getattr(wanted, name)), _norm(getattr(actual, name))
        if want != have:
            found.append(f"{name}: the stream has {have!r}, Rapport needs {want!r}")
    return found


def _norm(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return False if value is None else value  # the server omits false flags


async def ensure_streams(
    js: JetStreamContext,
    replicas: int = 1,
    duplicate_window: float = 120.0,
    *,
    create: bool = True,
    wait: float = 0.0,
    notice_days: float | None = None,
) -> list[StreamReport]:
    """Create the streams if missing; refuse, naming the differences, if they conflict.

    Only an administrator may create a stream: a service (`create=False`) waits up to `wait`
    seconds for it to appear instead, then says who makes it. Without `notice_days` (a caller
    that neither publishes nor reads notices) how long notices are kept is not checked.
    """
    reports = []
    wanted_streams = (
        events_stream(replicas, duplicate_window),
        dlq_stream(replicas, duplicate_window),
        notices_stream(replicas, NOTICE_DAYS if notice_days is None else notice_days),
    )
    for wanted in wanted_streams:
        assert wanted.name is not None
        try:
            info = await js.stream_info(wanted.name)
        except NotFoundError:
            if not create:
                info = await _appearing(js, wanted.name, wait)
            else:
                await js.add_stream(wanted)
                reports.append(StreamReport(wanted.name, created=True))
                continue
        problems = differences(wanted, info.config)
        if wanted.name == NOTICES_STREAM and notice_days is None:
            problems = [p for p in problems if not p.startswith(("max_age", "duplicate_window"))]
        if problems:
            raise StreamConflict(
                f"stream {wanted.name} exists with a configuration Rapport cannot use:\n  - "
                + "\n  - ".join(problems)
                + "\nRapport never changes an existing stream: edit it deliberately "
                "(e.g. `nats stream edit`) or change Rapport's settings to match."
            )
        reports.append(StreamReport(wanted.name, created=False))
    return reports


class StreamMissing(Failure):
    """A stream the service needs does not exist, and it may not create it."""


async def _appearing(js: JetStreamContext, name: str, wait: float) -> StreamInfo:
    """The stream's info once an administrator has created it (within `wait` seconds)."""
    deadline = time.monotonic() + wait
    said = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() - said > 10:
            log.warning("waiting for stream %s: an administrator creates it", name)
            said = time.monotonic()
        await asyncio.sleep(1)
        with contextlib.suppress(NotFoundError):
            return await js.stream_info(name)
    raise StreamMissing(
        f"stream {name} does not exist, and only an administrator may create it: "
        "`rapport up` does, or `rapport streams` with admin credentials"
    )
