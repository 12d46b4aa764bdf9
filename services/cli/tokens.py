"""`rapport token create`: API tokens for the gateway, shown once and stored hashed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from services.cli.common import DataDir, Json, app, fail, load_settings
from services.config.tokens import SCOPES, TokenConfigError, add_to_file, digest, new_token

token_app = typer.Typer(help="API tokens for the HTTP gateway (scopes: emit, read, admin).")
app.add_typer(token_app, name="token")

Scopes = Annotated[
    list[str], typer.Option("--scope", help="emit, read or admin (repeat for several)")
]


@token_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="who uses it, e.g. crm-sync")],
    scope: Scopes,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="tokens file (default: RAPPORT_API_TOKENS_FILE or DATA/tokens.json)"
        ),
    ] = None,
    inline: Annotated[
        bool, typer.Option("--inline", help="print an entry for RAPPORT_API_TOKENS instead")
    ] = False,
    as_json: Json = False,
    data_dir: DataDir = None,
) -> None:
    """Create a token: print it once, keep only its SHA-256."""
    unknown = sorted(set(scope) - set(SCOPES))
    if unknown:
        fail(f"--scope: {', '.join(unknown)} is not one of {', '.join(SCOPES)}", 2)
    said: dict[str, object] = {"name": name, "scopes": scope}
    if inline:
        token = new_token()
        entry = f"{name}:{'+'.join(scope)}:{digest(token)}"
        if as_json:
            typer.echo(orjson.dumps({**said, "token": token, "entry": entry}).decode())
            return
        # plain lines, never wrapped: they are meant to be copied or cut
        typer.echo(f"token (shown once): {token}")
        typer.echo(f"RAPPORT_API_TOKENS entry: {entry}")
        return
    settings = load_settings(data_dir=data_dir)
    path = file or settings.api_tokens_file or settings.data_dir / "tokens.json"
    try:
        token = add_to_file(path, name, scope)
    except TokenConfigError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(orjson.dumps({**said, "token": token, "file": str(path)}).decode())
        return
    typer.echo(f"token for {name} ({', '.join(scope)}), shown once: {token}")
    typer.echo(f"its hash was added to {path}; run Rapport with RAPPORT_API_TOKENS_FILE={path}")
