"""/healthz names what is down while it is down, and is 200 again once it is back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from services.projection.registry import SPECS
from services.projection.service import ProjectionService
from tests.conftest import wait_for

if TYPE_CHECKING:
    from services.config.settings import Settings


async def test_healthz_names_a_service_that_does_not_answer_until_it_is_back(
    gateway: str, settings: Settings, services: dict[str, ProjectionService[Any]]
) -> None:
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
        assert (await client.get("/healthz")).status_code == 200
        await services["health"].stop()
        down = await client.get("/healthz")
        assert down.status_code == 503
        assert "service health does not answer (down, or restarting)" in down.json()["problems"]
        assert down.json()["services"]["health"]["up"] is False
        assert down.json()["error"]["code"] == "unavailable"

        again = ProjectionService(settings, SPECS["health"])
        await again.start()
        services["health"] = again  # the fixture stops it

        async def healthy() -> bool:
            return (await client.get("/healthz")).status_code == 200

        await wait_for(healthy, what="/healthz to be 200 again")
        body = (await client.get("/healthz")).json()
        assert body["problems"] == []
        assert body["services"]["health"] == {"up": True, "failure": None, "problem": None}
