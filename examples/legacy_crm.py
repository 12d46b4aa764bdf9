"""A legacy system writing straight into the log: a raw JetStream publish, no validation.

Publishes each line of `legacy.jsonl` (beside this file) to its subject
`rapport.ev.<relationship>.<noun>.<verb>` with the event id as `Nats-Msg-Id`, as the
`producer` role `rapport up` made. Run it beside `rapport-data`: `python examples/legacy_crm.py`.
Nothing checks the events on the way in; every reader (projections, audit, history) judges
them when it reads the log.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import nats  # noqa: TID251  (an outside system: it talks to NATS as any client does)

DATA_DIR = Path(os.environ.get("RAPPORT_DATA_DIR", "rapport-data"))
EVENTS = Path(__file__).with_name("legacy.jsonl")


def nats_url() -> str:
    """RAPPORT_NATS_URL, else the URL the `rapport up` of the data dir wrote down."""
    given = os.environ.get("RAPPORT_NATS_URL")
    if given:
        return given
    up = json.loads((DATA_DIR / "up.json").read_text())
    return str(up["nats_url"])


async def main() -> None:
    """Publish every line raw and say where each landed."""
    producer = json.loads((DATA_DIR / "credentials" / "producer.json").read_text())
    nc = await nats.connect(
        nats_url(),
        user=producer["user"],
        password=producer["password"],
        inbox_prefix="_INBOX.producer",  # the only inbox a producer may read
    )
    try:
        js = nc.jetstream()
        for line in EVENTS.read_text().splitlines():
            event = json.loads(line)
            noun_verb = event["type"].removeprefix("rapport.")
            ack = await js.publish(
                f"rapport.ev.{event['subject']}.{noun_verb}",
                line.encode(),
                headers={"Nats-Msg-Id": event["id"]},
            )
            again = " (a duplicate: already stored)" if ack.duplicate else ""
            print(f"published {event['id']} ({noun_verb}) as seq {ack.seq}{again}")
    finally:
        await nc.close()


asyncio.run(main())
