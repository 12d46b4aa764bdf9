"""Locked doors: API tokens with scopes, NATS credentials, parameterised SQL, CORS off."""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import re
from typing import TYPE_CHECKING, Any

import httpx
import nacl.signing
import nkeys
import pytest

from services.config import tokens as auth
from services.config.settings import Settings
from services.config.tokens import TokenRegistry, add_to_file, digest, http_host_for, parse_inline
from services.gateway.auth import COOKIE
from services.ingest.service import IngestService
from services.nats.connection import NatsUnavailable, connect
from services.nats.embedded import EmbeddedNats, free_port
from services.nats.streams import ensure_streams
from services.projection.registry import SPECS
from services.projection.service import ProjectionService
from tests.conftest import running_gateway
from tests.factories import event, raw

if TYPE_CHECKING:
    from pathlib import Path

    from nats.aio.client import Client as NATS

EMIT, READ, ADMIN = "tok-emit", "tok-read", "tok-admin"
INLINE = ";".join(
    f"{name}:{scopes}:{digest(token)}"
    for name, scopes, token in (
        ("crm", "emit", EMIT),
        ("viewer", "read", READ),
        ("ops", "admin", ADMIN),
    )
)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
async def locked(settings: Settings, services: dict[str, Any]) -> Any:
    ingest = IngestService(settings)
    await ingest.start()
    async with running_gateway(settings.model_copy(update={"api_tokens": INLINE})) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            yield client
    await ingest.stop()


async def test_without_a_token_is_401(locked: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/v1/funnel"), ("POST", "/v1/events"), ("GET", "/metrics")):
        response = await locked.request(method, path, content=raw(event("interaction.recorded")))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")
    bad = await locked.get("/v1/funnel", headers=bearer("guess"))
    assert bad.status_code == 401


async def test_the_wrong_scope_is_403(locked: httpx.AsyncClient) -> None:
    posted = await locked.post(
        "/v1/events", content=raw(event("interaction.recorded")), headers=bearer(READ)
    )
    assert posted.status_code == 403
    assert posted.json()["error"]["message"] == "token 'viewer' has read; this needs emit"
    metrics = await locked.get("/metrics", headers=bearer(EMIT))
    assert metrics.status_code == 403


async def test_the_right_scope_goes_through(locked: httpx.AsyncClient) -> None:
    posted = await locked.post(
        "/v1/events",
        content=raw(event("interaction.recorded")),
        headers={**bearer(EMIT), "content-type": "application/json"},
    )
    assert posted.status_code == 202
    assert (await locked.get("/metrics", headers=bearer(ADMIN))).status_code == 200
    assert (await locked.get("/v1/relationships/nobody", headers=bearer(ADMIN))).status_code in (
        404,
        503,
    )
    assert (await locked.get("/healthz")).status_code == 200  # open for load balancers
    assert (await locked.get("/openapi.json")).status_code == 200


async def test_browsers_sign_in_and_get_a_cookie(locked: httpx.AsyncClient) -> None:
    page = await locked.get("/v1/funnel", headers={"accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/v1/funnel"
    form = await locked.get("/login")
    assert 'label for="token"' in form.text
    refused = await locked.post(
        "/login",
        content="token=tok-emit&next=/",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert refused.status_code == 401
    signed = await locked.post(
        "/login",
        content="token=tok-read&next=//evil.example",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/"  # never redirected off-site
    assert "httponly" in signed.headers["set-cookie"].lower()
    cookie = signed.cookies[COOKIE]
    locked.cookies.set(COOKIE, cookie)
    follow = await locked.get("/v1/funnel")
    assert follow.status_code != 401


def test_tokens_are_hashed_at_rest(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    token = add_to_file(path, "crm", ["emit"])
    text = path.read_text()
    assert token not in text
    assert digest(token) in text
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    registry = TokenRegistry(auth.read_file(path))
    found = registry.identify(token)
    assert found is not None
    assert found.allows("emit")
    assert not found.allows("read")


def test_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("services.config.tokens.hmac.compare_digest", spy)
    registry = TokenRegistry(parse_inline(INLINE))
    assert registry.identify(READ) is not None
    assert len(calls) == 3  # every configured token is compared, even after a match


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("a:emit", "expected name:scope+scope:sha256hex"),
        ("a:fly:" + "0" * 64, "scopes must be"),
        ("a:emit:xyz", "64 hex"),
    ],
)
def test_bad_token_entries_are_named(entry: str, problem: str) -> None:
    with pytest.raises(auth.TokenConfigError, match=re.escape(problem)):
        parse_inline(entry)


def test_no_tokens_means_loopback_only() -> None:
    open_settings = Settings(http_host="0.0.0.0")
    host, notice = http_host_for(open_settings, TokenRegistry([]))
    assert host == "127.0.0.1"
    assert notice is not None
    assert "listens on 127.0.0.1 only" in notice
    tokens = TokenRegistry(parse_inline(INLINE))
    assert http_host_for(open_settings, tokens) == ("0.0.0.0", None)
    insecure = Settings(http_host="0.0.0.0", insecure_open_http=True)
    assert http_host_for(insecure, TokenRegistry([])) == ("0.0.0.0", None)


async def test_cors_is_off_unless_configured(settings: Settings, nc: NATS) -> None:
    origin = {"origin": "https://crm.example"}
    async with running_gateway(settings) as url, httpx.AsyncClient(base_url=url) as client:
        assert (
            "access-control-allow-origin"
            not in (await client.get("/healthz", headers=origin)).headers
        )
    allowed = settings.model_copy(
        update={"cors_origins": "https://crm.example", "http_port": free_port()}
    )
    async with running_gateway(allowed) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/healthz", headers=origin)
        assert response.headers["access-control-allow-origin"] == "https://crm.example"


@pytest.mark.parametrize(
    "auth_config", [{"token": "s3cret-token"}, {"user": "rapport", "password": 'p@ss "word"'}]
)
async def test_embedded_server_requires_credentials(
    tmp_path: Path, auth_config: dict[str, str]
) -> None:
    server = EmbeddedNats(tmp_path / "nats", port=free_port(), auth=auth_config)
    await server.start()
    try:
        assert "s3cret" not in " ".join(server.command())  # never on the command line
        anonymous = Settings(nats_url=server.url)
        with pytest.raises(NatsUnavailable, match="refused the credentials"):
            await connect(anonymous, "test", retry_forever=False)
        given = {f"nats_{key}": value for key, value in auth_config.items()}
        allowed = Settings.model_validate(
            {"nats_url": server.url, "data_dir": tmp_path / "data", **given}
        )
        client = await connect(allowed, "test", retry_forever=False)
        await ensure_streams(client.jetstream())
        service = IngestService(allowed)  # FastStream's broker gets the same credentials
        index = ProjectionService(allowed, SPECS["stage"])  # its ids answer the ingest
        await index.start()
        await service.start()
        try:
            reply = await client.request(
                "rapport.ingest", raw(event("interaction.recorded")), timeout=5
            )
            assert json.loads(reply.data)["accepted"]
        finally:
            await service.stop()
            await index.stop()
            await client.close()
    finally:
        server.stop()


async def test_nkey_seed_credentials(tmp_path: Path) -> None:
    seed = nkeys.encode_seed(nacl.signing.SigningKey.generate().encode(), nkeys.PREFIX_BYTE_USER)
    public = nkeys.from_seed(bytearray(seed)).public_key.decode()
    config = tmp_path / "nkey.conf"
    config.write_text(f'authorization {{ users = [ {{ nkey: "{public}" }} ] }}\n')
    seed_file = tmp_path / "user.nk"
    seed_file.write_bytes(seed)
    os.chmod(seed_file, 0o600)
    server = EmbeddedNats(tmp_path / "nats", port=free_port(), extra_args=("--config", str(config)))
    server.spawn()
    try:
        settings = Settings(nats_url=server.url, nats_nkey_seed=seed_file)
        client = None
        for _ in range(100):
            try:
                client = await connect(settings, "test", retry_forever=False)
                break
            except NatsUnavailable:
                await asyncio.sleep(0.05)
        assert client is not None
        assert client.is_connected
        await client.close()
        with pytest.raises(NatsUnavailable):
            await connect(Settings(nats_url=server.url), "test", retry_forever=False)
    finally:
        server.stop()


async def test_sql_is_parameterised(settings: Settings, nc: NATS) -> None:
    from tests.publishing import ask, publish

    stage = ProjectionService(settings, SPECS["stage"])
    proposals = ProjectionService(settings, SPECS["proposals"])
    await stage.start()
    await proposals.start()
    try:
        hostile = "x' OR '1'='1'; DROP TABLE stage_view; --"
        await publish(
            nc, event("connection.made", "a", {"owner": hostile, "counterpart": {"name": hostile}})
        )
        await publish(
            nc, event("connection.made", "b", {"owner": "maria", "counterpart": {"name": "B"}})
        )
        last = await publish(
            nc, event("proposal.drafted", "a", {"proposal_id": "p", "title": hostile})
        )
        mine = await ask(nc, "stage.list", owner=hostile, min_seq=last)
        assert [i["relationship_id"] for i in mine["items"]] == ["a"]
        assert mine["items"][0]["counterpart"]["name"] == hostile
        nobody = await ask(nc, "stage.list", owner="' OR 1=1 --")
        assert nobody["items"] == []
        pending = await ask(nc, "proposals.pending", owner=hostile, min_seq=last)
        assert pending["items"][0]["title"] == hostile
        assert (await ask(nc, "stage.funnel"))["reached"]["connection"] == 2
    finally:
        await stage.stop()
        await proposals.stop()


def test_token_create_command(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from services.entry import app

    runner = CliRunner()
    path = tmp_path / "tokens.json"
    made = runner.invoke(app, ["token", "create", "crm", "--scope", "emit", "--file", str(path)])
    assert made.exit_code == 0, made.output
    token = made.output.split("shown once: ")[1].split()[0]
    assert token not in path.read_text()
    assert TokenRegistry(auth.read_file(path)).identify(token) is not None
    again = runner.invoke(app, ["token", "create", "crm", "--scope", "read", "--file", str(path)])
    assert again.exit_code == 1
    assert "exists already" in again.output
    bad = runner.invoke(app, ["token", "create", "x", "--scope", "god", "--file", str(path)])
    assert bad.exit_code == 2
    inline = runner.invoke(app, ["token", "create", "ops", "--scope", "admin", "--inline"])
    entry = inline.output.strip().splitlines()[-1].split()[-1]
    [parsed] = parse_inline(entry)
    assert parsed.name == "ops"
    assert parsed.allows("emit")
