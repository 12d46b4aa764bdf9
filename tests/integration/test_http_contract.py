"""The OpenAPI document tells the truth: Schemathesis checks every route of a live gateway.

Schemathesis reads `/openapi.json`, generates requests from it (valid ones, and ones that break
it), sends them through real HTTP to a gateway locked with an API token, and runs all its
checks on each answer: no 5xx but the documented 503, every status documented, every body of
its documented schema and content type, invalid requests refused, valid ones taken, and
authentication enforced where declared. Seeded, a few dozen cases per operation and mode.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from schemathesis.errors import FailureGroup

from services.config.tokens import digest
from tests.factories import event, raw

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from services.config.settings import Settings

    Operation = schemathesis.APIOperation[Any, Any, Any, Any]
    Case = schemathesis.Case[Operation]

SEED = 20261102
EXAMPLES = 20  # per operation and generation mode: the whole run stays well under a minute
TOKEN = "tok-contract"
AUTH = {"authorization": f"Bearer {TOKEN}"}
WAIT_MS = 50  # a generated `min_seq` far ahead is waited for this long, not up to 30 s
# Where the schema cannot say everything, the checks are told what else is right:
TOLERATED: list[dict[str, Any]] = [
    {
        # a cursor is opaque (any string fits its schema, only issued ones are taken), and
        # the stage and the health filters of /v1/relationships do not mix
        "include-path": ["/v1/relationships", "/v1/relationships/{relationship_id}/events"],
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "401", "403", "404", "5xx"]
            }
        },
    },
    {
        # a well-formed event may break the stage rules or the proposal lifecycle, which depend
        # on what is stored (422); a batch is always 202, naming each refused event
        "include-path": "/v1/events",
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "409", "422", "5xx"]
            },
            "negative_data_rejection": {
                "expected-statuses": ["202", "400", "401", "403", "409", "413", "415", "422", "5xx"]
            },
        },
    },
]


@dataclass
class Report:
    """What Schemathesis found: cases run, and each failure with a curl line to replay it."""

    cases: int = 0
    failures: list[str] = field(default_factory=list)
    answered: Counter[tuple[str, int]] = field(default_factory=Counter)
    operations: set[str] = field(default_factory=set)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's settings with one admin token: every route is locked, as in production."""
    return settings.model_copy(update={"api_tokens": f"contract:admin:{digest(TOKEN)}"})


async def seed(url: str) -> None:
    """A few events through the API, applied by every projection before Schemathesis starts."""
    opened = event(
        "connection.made",
        "rel-42",
        {"owner": "maria", "counterpart": {"name": "Ada", "organization": "Acme"}},
    )
    moved = event("stage.changed", "rel-42", {"to": "awareness"}, days=1)
    touched = event("interaction.recorded", "rel-42", days=2)
    drafted = event("proposal.drafted", "rel-42", days=3)
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=10) as http:
        posted = await http.post(
            "/v1/events",
            content=raw([opened, moved, touched, drafted]),
            headers={"content-type": "application/cloudevents-batch+json"},
        )
        assert posted.status_code == 202
        assert not posted.json()["rejected"], posted.json()
        last = str(posted.json()["accepted"][-1]["seq"])
        for path in ("/v1/funnel", "/v1/proposals", "/v1/relationships/rel-42/health"):
            assert (await http.get(path, params={"min_seq": last})).status_code == 200


def bound_wait(case: Case) -> None:
    """Cap the wait for a generated `min_seq` (a valid `wait_ms` only: a bad one stays bad)."""
    query = case.query
    if query and "min_seq" in query:
        wait = query.get("wait_ms", WAIT_MS)
        if type(wait) is int and wait > WAIT_MS:
            query["wait_ms"] = WAIT_MS
        elif "wait_ms" not in query:
            query["wait_ms"] = WAIT_MS


def examine(operation: Operation, mode: GenerationMode, report: Report) -> None:
    """Send an operation's generated cases in one mode; note every failed check."""

    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Case) -> None:
        bound_wait(case)
        report.cases += 1
        try:
            response = case.call_and_validate(timeout=15)
            report.answered[operation.label, response.status_code] += 1
        except FailureGroup as failed:  # collected, so one run shows every failure at once
            report.failures.append(f"{operation.label} [{mode.value}]: {failed}")

    send()


def check_contract(base_url: str) -> Report:
    """Schemathesis against the gateway's own document, every operation in both modes."""
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": AUTH["authorization"]},
            # 503 is the contract's answer to a `min_seq` not applied within `wait_ms`
            "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}},
            "operations": TOLERATED,
        }
    )
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config)
    report = Report()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # the document itself is readable
        operation = result.ok()
        report.operations.add(operation.label)
        has_input = bool(operation.path_parameters or operation.query or operation.body)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode is GenerationMode.NEGATIVE and not has_input:
                continue  # nothing to break: no parameter, no body
            examine(operation, mode, report)
    return report


async def test_the_openapi_document_holds_for_every_route(gateway: str, nc: NATS) -> None:
    await seed(gateway)
    # Schemathesis sends with blocking requests: from a thread, while this loop serves them
    report = await asyncio.wait_for(asyncio.to_thread(check_contract, gateway), timeout=110)
    print(f"schemathesis: {report.cases} cases, {len(report.failures)} failures")
    assert report.failures == [], "\n\n".join(report.failures[:10])
    assert report.cases >= 200
    # every operation answered at least once with success: each reply schema was checked
    succeeded = {label for label, status in report.answered if status < 300}
    assert succeeded == report.operations


async def test_the_document_names_every_status_and_schema(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway) as http:
        document = (await http.get("/openapi.json")).json()
    paths = document["paths"]
    assert not any(
        path.startswith(("/login", "/logout", "/static", "/relationships")) for path in paths
    )
    assert "HTTPValidationError" not in document["components"]["schemas"]
    post = paths["/v1/events"]["post"]["responses"]
    assert set(post) == {"202", "400", "401", "403", "409", "413", "415", "422", "503"}
    one = paths["/v1/relationships/{relationship_id}"]["get"]["responses"]
    assert set(one) == {"200", "400", "401", "403", "404", "503"}
    assert one["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/StageReply"
    }
    for operations in paths.values():
        for operation in operations.values():
            for status, reply in operation["responses"].items():
                assert "content" in reply, (operation["operationId"], status)
    assert paths["/healthz"]["get"].get("security") is None
    assert paths["/v1/funnel"]["get"]["security"] == [{"bearer": []}]
