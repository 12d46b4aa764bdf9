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
from services.gateway.sessions import COOKIE, Sessions
from services.ingest.service import IngestService
from services.nats.connection import NatsUnavailable, connect
from services.nats.embedded import EmbeddedNats, free_port
from services.nats.streams import ensure_streams
from services.projection.registry import SPECS
from services.projection.service import ProjectionService
from services.webhooks.service import WebhooksService
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
    webhooks = WebhooksService(settings)  # every service of `rapport up` runs: /healthz is 200
    await webhooks.start()
    async with running_gateway(settings.model_copy(update={"api_tokens": INLINE})) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            yield client
    await webhooks.stop()
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


async def login_form(client: httpx.AsyncClient) -> str:
    """GET /login (its pre-session cookie stays in the client) and the form's CSRF token."""
    form = await client.get("/login")
    assert 'label for="token"' in form.text
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found is not None, form.text
    return found.group(1)


async def sign_in(
    client: httpx.AsyncClient, token: str, next_page: str = "/", **headers: str
) -> httpx.Response:
    csrf = await login_form(client)
    fields = {"token": token, "next": next_page, "csrf": csrf}
    return await client.post("/login", data=fields, headers=headers)


async def test_browsers_sign_in_and_get_a_session(locked: httpx.AsyncClient) -> None:
    page = await locked.get("/v1/funnel", headers={"accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/v1/funnel"
    refused = await sign_in(locked, EMIT)  # a token that cannot read cannot sign in
    assert refused.status_code == 401
    assert COOKIE not in refused.cookies
    signed = await sign_in(locked, READ, next_page="//evil.example")
    assert signed.status_code == 303
    assert signed.headers["location"] == "/"  # never redirected off-site
    [cookie] = [c.lower() for c in signed.headers.get_list("set-cookie") if c.startswith(COOKIE)]
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "secure" not in cookie  # RAPPORT_COOKIE_SECURE is off
    session = signed.cookies[COOKIE]
    assert READ not in session  # the cookie is a session id, never the token
    assert len(session) >= 40
    locked.cookies.set(COOKIE, session)
    follow = await locked.get("/v1/funnel")
    assert follow.status_code not in (401, 403)
    overview = await locked.get("/")
    assert "signed in as <strong>viewer</strong>" in overview.text
    assert 'action="/logout"' in overview.text


async def test_login_refuses_other_sites(locked: httpx.AsyncClient) -> None:
    no_token = await locked.post("/login", data={"token": READ, "next": "/"})
    assert no_token.status_code == 403
    assert COOKIE not in no_token.cookies
    csrf = await login_form(locked)
    locked.cookies.delete("rapport_login")  # the form's token without its pre-session cookie
    unbound = await locked.post("/login", data={"token": READ, "csrf": csrf})
    assert unbound.status_code == 403
    csrf = await login_form(locked)
    forged = await locked.post("/login", data={"token": READ, "csrf": csrf[::-1]})
    assert forged.status_code == 403
    assert COOKIE not in forged.cookies
    other = await sign_in(locked, READ, origin="https://evil.example")
    assert other.status_code == 403
    assert COOKIE not in other.cookies
    host = locked.base_url.netloc.decode()
    same = await sign_in(locked, READ, origin=f"http://{host}")
    assert same.status_code == 303
    assert COOKIE in same.cookies


async def test_a_session_writes_only_with_its_csrf_token(
    locked: httpx.AsyncClient, nc: NATS
) -> None:
    signed = await sign_in(locked, ADMIN)
    locked.cookies.set(COOKIE, signed.cookies[COOKIE])
    page = await locked.get("/")
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert found is not None
    csrf = found.group(1)
    json = {"content-type": "application/json"}
    body = raw(event("interaction.recorded"))
    cookie_only = await locked.post("/v1/events", content=body, headers=json)
    assert cookie_only.status_code == 403
    assert cookie_only.json()["error"]["code"] == "forbidden"
    assert "X-CSRF-Token" in cookie_only.json()["error"]["message"]
    wrong = await locked.post(
        "/v1/events", content=body, headers={**json, "x-csrf-token": csrf[::-1]}
    )
    assert wrong.status_code == 403
    elsewhere = await locked.post(
        "/v1/events",
        content=body,
        headers={**json, "x-csrf-token": csrf, "origin": "https://evil.example"},
    )
    assert elsewhere.status_code == 403
    assert (await nc.jetstream().stream_info("RAPPORT_EVENTS")).state.messages == 0
    own_page = await locked.post("/v1/events", content=body, headers={**json, "x-csrf-token": csrf})
    assert own_page.status_code == 202


async def test_a_read_session_cannot_write(locked: httpx.AsyncClient) -> None:
    signed = await sign_in(locked, READ)
    locked.cookies.set(COOKIE, signed.cookies[COOKIE])
    posted = await locked.post(
        "/v1/events",
        content=raw(event("interaction.recorded")),
        headers={"content-type": "application/json"},
    )
    assert posted.status_code == 403
    assert posted.json()["error"]["message"] == "the session of 'viewer' has read; this needs emit"


async def test_logout_ends_the_session(locked: httpx.AsyncClient) -> None:
    signed = await sign_in(locked, READ)
    session = signed.cookies[COOKIE]
    locked.cookies.set(COOKIE, session)
    page = await locked.get("/")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    forced = await locked.post("/logout", data={"csrf": "guess"})  # another site's form
    assert forced.status_code == 403
    assert (await locked.get("/v1/funnel")).status_code != 401
    out = await locked.post("/logout", data={"csrf": found.group(1)})
    assert out.status_code == 303
    assert out.headers["location"] == "/login"
    assert f"{COOKIE}=" in out.headers["set-cookie"]
    locked.cookies.set(COOKIE, session)  # the old id, kept by someone
    after = await locked.get("/v1/funnel")
    assert after.status_code == 401
    assert after.json()["error"]["message"] == "the session has ended; sign in again at /login"


async def test_the_session_cookie_is_secure_behind_https(
    settings: Settings, services: dict[str, Any]
) -> None:
    secure = settings.model_copy(update={"api_tokens": INLINE, "cookie_secure": True})
    async with running_gateway(secure) as url, httpx.AsyncClient(base_url=url) as client:
        form = await client.get("/login")
        assert "secure" in form.headers["set-cookie"].lower()
        found = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert found is not None
        # a Secure cookie is sent over HTTPS only: the proxy's side of it is played here
        pre_session = {"cookie": f"rapport_login={form.cookies['rapport_login']}"}
        fields = {"token": READ, "csrf": found.group(1)}
        signed = await client.post("/login", data=fields, headers=pre_session)
    assert signed.status_code == 303
    [session] = [c for c in signed.headers.get_list("set-cookie") if c.startswith(COOKIE)]
    assert "secure" in session.lower()


def test_sessions_expire() -> None:
    now = [1000.0]
    sessions = Sessions(lifetime=60, clock=lambda: now[0])
    token = TokenRegistry(parse_inline(INLINE)).tokens[1]
    session_id, session = sessions.open(token)
    assert sessions.find(session_id) == session
    assert session.allows("read")
    assert not session.allows("emit")
    now[0] += 61
    assert sessions.find(session_id) is None
    assert sessions.find("made-up") is None


async def test_an_open_gateway_takes_no_write_from_another_site(gateway: str, nc: NATS) -> None:
    body = raw(event("interaction.recorded"))
    async with httpx.AsyncClient(base_url=gateway) as client:
        # fetch(url, {mode: "no-cors", credentials: "include", body: new Blob([json])}):
        # no Content-Type, and no preflight asked
        blob = await client.post("/v1/events", content=body)
        assert blob.status_code == 415
        assert blob.json()["error"]["code"] == "unsupported_media_type"
        plain = await client.post(
            "/v1/events", content=body, headers={"content-type": "text/plain"}
        )
        assert plain.status_code == 415
        other = await client.post(
            "/v1/events",
            content=body,
            headers={"content-type": "application/json", "origin": "https://evil.example"},
        )
        assert other.status_code == 403
        assert other.json()["error"]["code"] == "forbidden"
        assert (await nc.jetstream().stream_info("RAPPORT_EVENTS")).state.messages == 0
        # no session is needed for anything
        assert (await client.get("/v1/funnel")).status_code == 200
        posted = await client.post(
            "/v1/events", content=body, headers={"content-type": "application/json"}
        )
        assert posted.status_code == 202


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
