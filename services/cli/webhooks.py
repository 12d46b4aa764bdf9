"""`rapport webhook add|list|remove|deliveries|resend`: where notices are delivered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from events.notices import KINDS
from services.cli.common import DataDir, Json, NatsUrl, app, console, fail, load_settings, run
from services.config.failures import Failure
from services.config.settings import Settings

webhook_app = typer.Typer(help="Webhooks: notices delivered to a URL, signed (Standard Webhooks).")
app.add_typer(webhook_app, name="webhook")


class WebhookRefused(Failure):
    """The webhooks service refused the request, or did not answer."""


async def _ask(settings: Settings, verb: str, payload: dict[str, Any]) -> dict[str, Any]:
    from services.nats.connection import connect
    from services.notices.webhooks_client import ask_webhooks

    nc = await connect(settings, "cli", retry_forever=False)
    try:
        answer = await ask_webhooks(nc, verb, payload, within=settings.request_timeout * 2)
    finally:
        await nc.close()
    if not answer.ok:
        hint = "; is `rapport up` running?" if answer.data is None else ""
        raise WebhookRefused(f"{answer.code}: {answer.problem}{hint}")
    return answer.value()


def _ask_now(
    nats_url: str | None, data_dir: Any, verb: str, payload: dict[str, Any]
) -> dict[str, Any]:
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)
    found: dict[str, Any] = run(_ask(settings, verb, payload))
    return found


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


@webhook_app.command("add")
def add(
    url: Annotated[str, typer.Argument(help="http or https URL that receives the notices")],
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", help=f"only these kinds (repeat): {', '.join(KINDS)}"),
    ] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="only this owner's relationships")
    ] = None,
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Register a webhook; its signing secret is shown now, and never again."""
    unknown = sorted(set(kind or ()) - set(KINDS))
    if unknown:
        fail(f"--kind: {unknown[0]!r} is not one of {', '.join(KINDS)}", 2)
    payload: dict[str, Any] = {"url": url, "kinds": sorted(set(kind or ()))}
    if owner is not None:
        payload["owner"] = owner
    added = _ask_now(nats_url, data_dir, "add", payload)
    if as_json:
        typer.echo(orjson.dumps(added))
        return
    typer.echo(f"webhook {added['id']} delivers to {added['url']}")
    typer.echo(f"kinds: {', '.join(added['kinds']) or 'all'}; owner: {added['owner'] or 'all'}")
    typer.echo(f"signing secret (shown once): {added['secret']}")


@webhook_app.command("list")
def list_(as_json: Json = False, nats_url: NatsUrl = None, data_dir: DataDir = None) -> None:
    """Every webhook, its state and its deliveries."""
    items = _ask_now(nats_url, data_dir, "list", {})["items"]
    if as_json:
        typer.echo(orjson.dumps(items))
        return
    if not items:
        console.print("no webhooks")
        return
    out = Table("id", "url", "kinds", "owner", "state", "delivered", "pending", "given up")
    for item in items:
        counts = item["deliveries"]
        state = item["state"] + (f": {item['last_error']}" if item["last_error"] else "")
        out.add_row(
            item["id"],
            item["url"],
            ", ".join(item["kinds"]) or "all",
            item["owner"] or "all",
            state,
            str(counts.get("delivered", 0)),
            str(counts.get("pending", 0)),
            str(counts.get("given-up", 0)),
        )
    console.print(out)


@webhook_app.command("remove")
def remove(
    webhook_id: Annotated[str, typer.Argument(metavar="ID", help="as `rapport webhook list`")],
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Forget a webhook and what it was still owed."""
    answer = _ask_now(nats_url, data_dir, "remove", {"id": webhook_id})
    if as_json:
        typer.echo(orjson.dumps(answer))
        return
    typer.echo(f"webhook {webhook_id} removed")


@webhook_app.command("deliveries")
def deliveries(
    webhook_id: Annotated[str, typer.Argument(metavar="ID", help="as `rapport webhook list`")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 20,
    as_json: Json = False,
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """A webhook's latest deliveries, newest first, with every attempt."""
    found = _ask_now(nats_url, data_dir, "deliveries", {"id": webhook_id, "limit": limit})
    if as_json:
        typer.echo(orjson.dumps(found))
        return
    out = Table("delivery", "notice", "status", "attempt", "at", "outcome", "HTTP", "ms")
    for item in found["items"]:
        attempts = item["attempts"] or [None]
        for number, attempt in enumerate(attempts):
            first = number == 0
            out.add_row(
                str(item["id"]) if first else "",
                item["notice_id"] if first else "",
                item["status"] if first else "",
                str(attempt["number"]) if attempt else "-",
                _when(attempt["at"]) if attempt else "-",
                (attempt["outcome"] + (f" ({attempt['error']})" if attempt["error"] else ""))
                if attempt
                else "-",
                str(attempt["status_code"] or "-") if attempt else "-",
                f"{attempt['latency_ms']:.0f}" if attempt else "-",
            )
    console.print(out)


@webhook_app.command("resend")
def resend(
    delivery_id: Annotated[int, typer.Argument(metavar="DELIVERY", min=1)],
    nats_url: NatsUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Deliver a delivery again (e.g. one given up, once its receiver works again)."""
    _ask_now(nats_url, data_dir, "resend", {"delivery_id": delivery_id})
    typer.echo(f"delivery {delivery_id} will be sent again")
