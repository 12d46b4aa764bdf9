"""`rapport admin`: what only an administrator does: make the streams, write the NATS roles."""

from __future__ import annotations

from typing import Annotated

import typer

from services.cli.asking import emit_json
from services.cli.common import DataDir, Json, NatsUrl, app, console, fail, load_settings, run
from services.config.roster import PROJECTIONS
from services.nats import roles
from services.nats.connection import connect
from services.nats.streams import ensure_streams

admin_app = typer.Typer(help="Administration: the streams, the NATS roles (admin credentials).")
app.add_typer(admin_app, name="admin")

Instances = Annotated[
    list[str] | None,
    typer.Option(
        "--instance",
        help="a projection's replica, e.g. stage=p0 (repeat; default: each projection's `1`)",
    ),
]


@admin_app.command("streams")
def streams(as_json: Json = False, nats_url: NatsUrl = None, data_dir: DataDir = None) -> None:
    """Create RAPPORT_EVENTS, RAPPORT_DLQ and RAPPORT_NOTICES if missing; else check them."""
    settings = load_settings(nats_url=nats_url, data_dir=data_dir)

    async def go() -> None:
        nc = await connect(settings, "admin", retry_forever=False)
        try:  # a conflict (StreamConflict) is said in words by `run`
            reports = await ensure_streams(
                nc.jetstream(),
                settings.replicas,
                settings.duplicate_window,
                create=True,
                notice_days=settings.notice_days,
            )
        finally:
            await nc.close()
        if as_json:
            emit_json({"streams": [{"name": r.name, "created": r.created} for r in reports]})
            return
        for report in reports:
            said = "created" if report.created else "exists, as Rapport needs it"
            console.print(f"{report.name}: {said}")

    run(go())


@admin_app.command("nats-config")
def nats_config(instance: Instances = None) -> None:
    """Print the `authorization` block for a NATS cluster: every role, least privilege.

    Passwords are environment references (`$RAPPORT_STAGE_PASSWORD`, ...), resolved by
    nats-server when it loads the file; give each Rapport container its role's user and
    password (RAPPORT_NATS_USER, RAPPORT_NATS_PASSWORD).
    """
    instances: dict[str, list[str]] = {}
    for given in instance or []:
        name, _, replica = given.partition("=")
        if name not in PROJECTIONS or not replica:
            fail(f"--instance {given!r}: say PROJECTION=NAME, PROJECTION one of {PROJECTIONS}", 2)
        instances.setdefault(name, []).append(replica)
    typer.echo(roles.render(password_references(), instances), nl=False)


def password_references() -> dict[str, str]:
    """Every role's password as a reference to `RAPPORT_<ROLE>_PASSWORD`."""
    return {name: f"$RAPPORT_{name.upper()}_PASSWORD" for name in roles.roles()}
