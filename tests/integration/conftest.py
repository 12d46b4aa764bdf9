"""Fixtures of the integration tests: the projection services running in-process."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from services.projection_service import ProjectionService
from services.specs import SPECS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from nats.aio.client import Client as NATS

    from services.settings import Settings


@pytest.fixture
async def services(settings: Settings, nc: NATS) -> AsyncIterator[dict[str, ProjectionService]]:
    """Every projection service, started on the test's server."""
    started = {name: ProjectionService(settings, spec) for name, spec in SPECS.items()}
    for service in started.values():
        await service.start()
    try:
        yield started
    finally:
        for service in started.values():
            await service.stop()
