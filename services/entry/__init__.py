"""The entry point: the `rapport` command, assembled from every room's commands.

The only module that imports the CLI and the process rooms together: `services.cli` holds the
commands that talk to a running Rapport; `services.entry` adds those that run its processes
(`up`, `service`, `replay`, `bench`).
"""

from __future__ import annotations

import os
import sys

from services.cli import (  # noqa: F401  (they add commands)
    admin,
    audit,
    config,
    demo,
    dlq,
    emit,
    exporter,
    find,
    importer,
    notices,
    people,
    queries,
    today,
    tokens,
    webhooks,
)
from services.cli.common import app
from services.entry import bench, processes, replay  # noqa: F401  (they add commands)

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the `rapport` console script."""
    # stores, WAL files, credentials and logs hold names and emails: only their owner reads them
    os.umask(0o077)
    try:
        app()
    except BrokenPipeError:  # e.g. `rapport history x | head`
        sys.exit(0)
