"""Validated ingest: one implementation behind both doors (`rapport.ingest` and POST /v1/events).

Every event is validated against the contract before it is written. Stage changes are also
checked against the relationship's current stage, folded from its stored stage changes, and
appended with `Nats-Expected-Last-Subject-Sequence`: of two racing writers, one wins and the
other gets a conflict. Accepted events are published with `Nats-Msg-Id` = event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from nats.js.errors import APIError

from events import InvalidEvent, Stage, StageChanged, parse_event
from events.stage_rules import check
from events.subjects import event_subject, stage_subject
from services.log_reader import DirectReader, LogReadError

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS
    from nats.js.api import PubAck

    from events import Event


WRONG_LAST_SEQUENCE = 10071  # JetStream: Nats-Expected-Last-Subject-Sequence did not hold
# Every field has a bound, but extension attributes do not: cap the whole event instead.
MAX_EVENT_BYTES = 64 * 1024
LANES = 64  # relationships of one batch appended at the same time


class BodyError(ValueError):
    """A request body that cannot be read as events at all (HTTP 400 or 413)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


@dataclass(slots=True)
class StageLog:
    """A relationship's stored stage changes, folded: where it stands and what is stored."""

    last_seq: int = 0  # stream sequence of its last stored stage change (0: none yet)
    stage: Stage = Stage.CONNECTION
    ids: dict[str, int] = field(default_factory=dict)  # event id -> stream sequence


@dataclass(slots=True)
class IngestResult:
    """What happened to each event of a request, in request order."""

    batch: bool
    outcomes: list[dict[str, Any]]

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """`{id, seq}` (and `duplicate`) of each stored event."""
        return [entry for entry in self.outcomes if "seq" in entry]

    @property
    def rejected(self) -> list[dict[str, Any]]:
        """`{id, error, code}` (and `index` in a batch) of each refused event."""
        return [
            {key: value for key, value in entry.items() if key != "index" or self.batch}
            for entry in self.outcomes
            if "error" in entry
        ]

    def reply(self) -> dict[str, Any]:
        """The contract's ingest reply."""
        return {"accepted": self.accepted, "rejected": self.rejected}

    @property
    def codes(self) -> set[str]:
        """The rejection codes present."""
        return {entry["code"] for entry in self.outcomes if "error" in entry}


def split_body(body: bytes, max_batch: int) -> tuple[list[Any], bool]:
    """Decode a body into its envelopes; say whether it was a batch."""
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise BodyError(400, f"body: not valid UTF-8 (byte {bad.start})") from None
        raise BodyError(400, f"body: not valid JSON ({exc})") from None
    if isinstance(decoded, dict):
        return [decoded], False
    if isinstance(decoded, list):
        if len(decoded) > max_batch:
            raise BodyError(
                413, f"batch: {len(decoded)} events is more than the limit of {max_batch}"
            )
        return decoded, True
    raise BodyError(400, "body: must be a JSON object (one event) or an array of them (a batch)")


class Ingestor:
    """Validate, stage-check and append events to RAPPORT_EVENTS."""

    def __init__(
        self,
        nc: NATS,
        *,
        max_batch: int = 1000,
        publish_timeout: float = 5.0,
        cache_size: int = 50_000,
    ) -> None:
        self._js = nc.jetstream(timeout=publish_timeout, publish_async_max_pending=4000)
        self._reader = DirectReader(nc, timeout=publish_timeout)
        self._max_batch = max_batch
        self._publish_timeout = publish_timeout
        self._cache_size = cache_size
        self._stage_logs: OrderedDict[str, StageLog] = OrderedDict()

    async def close(self) -> None:
        """Release the reader's subscription."""
        await self._reader.close()

    async def ingest(self, body: bytes) -> IngestResult:
        """Take one envelope or a batch; keep the good events and name the bad ones."""
        items, batch = split_body(body, self._max_batch)
        outcomes: list[dict[str, Any]] = [{} for _ in items]
        # Valid events by relationship, in request order: each relationship's events are
        # appended in that order; different relationships go at the same time (a stage change
        # waits for its check and its ack, and should not hold up the rest of a batch).
        by_relationship: dict[str, list[tuple[int, Event, bytes]]] = {}
        for index, item in enumerate(items):
            checked = self._validate(index, item)
            if isinstance(checked, dict):
                outcomes[index] = checked
            else:
                by_relationship.setdefault(checked[0].subject, []).append((index, *checked))
        pending: list[tuple[int, str, asyncio.Future[PubAck]]] = []
        lanes = asyncio.Semaphore(LANES)

        async def append(events: list[tuple[int, Event, bytes]]) -> None:
            async with lanes:
                for index, event, raw in events:
                    if isinstance(event, StageChanged):
                        outcomes[index] = await self._append_stage_change(index, event, raw)
                        continue
                    try:
                        future = await self._js.publish_async(
                            event_subject(event.subject, event.type),
                            raw,
                            headers={"Nats-Msg-Id": event.id},
                            wait_stall=self._publish_timeout,
                        )
                    except Exception as exc:
                        outcomes[index] = _rejected(
                            index, event.id, "unavailable", _unavailable(exc)
                        )
                        continue
                    pending.append((index, event.id, future))

        await asyncio.gather(*(append(events) for events in by_relationship.values()))
        deadline = time.monotonic() + self._publish_timeout
        for index, event_id, future in pending:
            try:
                ack = await asyncio.wait_for(future, max(0.0, deadline - time.monotonic()))
            except Exception as exc:
                future.cancel()
                outcomes[index] = _rejected(index, event_id, "unavailable", _unavailable(exc))
                continue
            outcomes[index] = _accepted(event_id, ack.seq, ack.duplicate)
        return IngestResult(batch=batch, outcomes=outcomes)

    @staticmethod
    def _validate(index: int, item: Any) -> tuple[Event, bytes] | dict[str, Any]:
        """The event and its bytes, or the rejection naming what is wrong."""
        event_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(event_id, str):
            event_id = None
        try:
            raw = orjson.dumps(item)
        except TypeError as exc:  # orjson reads deeper nesting than it writes
            return _rejected(
                index, event_id, "invalid", f"event: nested too deeply to store ({exc})"
            )
        if len(raw) > MAX_EVENT_BYTES:
            error = f"event: {len(raw)} bytes is more than the {MAX_EVENT_BYTES} one event may have"
            return _rejected(index, event_id, "invalid", error)
        try:
            return parse_event(raw), raw
        except InvalidEvent as exc:
            return _rejected(index, event_id, "invalid", str(exc))

    async def _append_stage_change(
        self, index: int, event: StageChanged, raw: bytes
    ) -> dict[str, Any]:
        relationship = event.subject
        try:
            log = await self._refresh(relationship)
        except LogReadError as exc:
            error = f"cannot read the current stage: {exc}"
            return _rejected(index, event.id, "unavailable", error)
        if event.id in log.ids:  # a retry of a change already stored
            return _accepted(event.id, log.ids[event.id], duplicate=True)
        verdict = check(log.stage, event.data)
        if not verdict.accepted:
            code = "conflict" if "from-mismatch" in verdict.flags else "rejected"
            return _rejected(index, event.id, code, f"data.to: {verdict.reason}")
        try:
            ack = await self._js.publish(
                stage_subject(relationship),
                raw,
                timeout=self._publish_timeout,
                headers={
                    "Nats-Msg-Id": event.id,
                    "Nats-Expected-Last-Subject-Sequence": str(log.last_seq),
                },
            )
        except APIError as exc:
            if exc.err_code == WRONG_LAST_SEQUENCE:
                self._stage_logs.pop(relationship, None)
                error = (
                    f"conflict: relationship {relationship} changed stage while this "
                    "change was checked; read its stage again and retry"
                )
                return _rejected(index, event.id, "conflict", error)
            return _rejected(index, event.id, "unavailable", _unavailable(exc))
        except Exception as exc:
            return _rejected(index, event.id, "unavailable", _unavailable(exc))
        if not ack.duplicate and ack.seq > log.last_seq:
            log.ids[event.id] = ack.seq
            log.last_seq = ack.seq
            log.stage = event.data.to
        return _accepted(event.id, ack.seq, ack.duplicate)

    async def _refresh(self, relationship: str) -> StageLog:
        """Fold the stage changes stored since the cached view (all of them at first)."""
        log = self._stage_logs.get(relationship) or StageLog()
        stored = await self._reader.read(stage_subject(relationship), log.last_seq + 1)
        for message in stored:
            if message.seq <= log.last_seq:
                continue
            log.last_seq = message.seq
            with contextlib.suppress(InvalidEvent):
                change = parse_event(message.data)
                if isinstance(change, StageChanged):
                    log.ids[change.id] = message.seq
                    verdict = check(log.stage, change.data)
                    if verdict.accepted:
                        log.stage = change.data.to
        self._stage_logs[relationship] = log
        self._stage_logs.move_to_end(relationship)
        while len(self._stage_logs) > self._cache_size:
            self._stage_logs.popitem(last=False)
        return log


def _accepted(event_id: str, seq: int, duplicate: bool | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": event_id, "seq": seq}
    if duplicate:
        entry["duplicate"] = True
    return entry


def _rejected(index: int, event_id: str | None, code: str, error: str) -> dict[str, Any]:
    return {"id": event_id, "error": error, "code": code, "index": index}


def _unavailable(exc: BaseException) -> str:
    what = str(exc) or exc.__class__.__name__
    return (
        f"not confirmed by JetStream ({what}); the event may or may not be stored: "
        "retry with the same id (retries are deduplicated)"
    )
