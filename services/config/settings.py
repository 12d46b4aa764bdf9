"""Every setting of every service and command, read from `RAPPORT_*` environment variables.

Command-line options override the environment; the environment overrides these defaults.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from events.subjects import inbox_prefix

DEFAULT_NATS_PORT = 4222


class Settings(BaseSettings):
    """Configuration shared by `rapport up`, the services and the CLI."""

    model_config = SettingsConfigDict(env_prefix="RAPPORT_", extra="ignore")

    data_dir: Path = Field(Path("rapport-data"), description="stores and the embedded NATS")
    nats_url: str | None = Field(None, description="NATS server; unset: the embedded one")
    nats_port: int = Field(DEFAULT_NATS_PORT, ge=1, le=65535, description="embedded NATS port")
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=0, le=65535)
    replicas: int = Field(1, ge=1, le=5, description="stream replicas (3 on a cluster)")
    duplicate_window: float = Field(120.0, gt=0, description="JetStream dedupe window, seconds")
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="largest accepted request body")
    max_batch: int = Field(1000, ge=1, description="most events in one batch")
    request_timeout: float = Field(2.0, gt=0, description="seconds to wait for a service")
    publish_timeout: float = Field(5.0, gt=0, description="seconds to wait for a JetStream ack")
    log_level: str = "info"
    instance: str = Field(
        "1",
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="this replica's name: its durable consumer is rapport-<projection>-<instance>",
    )
    batch_size: int = Field(1000, ge=1, le=10_000, description="events a projector folds at once")
    partitions: int = Field(1, ge=1, le=64, description="projector replicas sharing the work")
    ingest_identity: bool = Field(
        True,
        description="benchmarks only: false skips the index of event ids, so a retry after "
        "JetStream's duplicate window is stored again (what `rapport bench` compares against)",
    )
    partition: int = Field(0, ge=0, le=63, description="which share this replica owns")
    owner: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="who you are, for the CLI's `rapport today`, `new`, `import` (an email)",
    )

    # -- notices and webhooks (docs/notices.md) ---------------------------------------------
    notice_days: float = Field(
        7.0, gt=0, le=3650, description="how long RAPPORT_NOTICES keeps a notice, in days"
    )
    notice_tick: float = Field(
        1.0,
        gt=0,
        le=60,
        description="seconds between the health service's looks for touches "
        "falling due (it also wakes at the next due instant it knows of)",
    )
    publish_notices: bool = Field(
        True,
        description="false on every full replica of a projection but one (each would "
        "announce the same changes)",
    )
    sse_heartbeat: float = Field(
        15.0, gt=0, le=300, description="seconds between heartbeats on GET /v1/notices"
    )
    webhook_timeout: float = Field(10.0, gt=0, le=120, description="seconds a receiver may take")
    webhook_retry_seconds: float = Field(
        5.0, gt=0, le=3600, description="wait before the first retry; it doubles with each one"
    )
    webhook_retry_max_seconds: float = Field(
        3600.0, gt=0, le=86_400, description="the longest wait between two attempts"
    )
    webhook_give_up_hours: float = Field(
        24.0,
        gt=0,
        le=24 * 30,
        description="hours after which an undelivered notice is given "
        "up and its webhook marked failing",
    )
    webhook_allow: str | None = Field(
        None,
        description="comma-separated hosts, addresses or networks (CIDR) a webhook may "
        "reach although they are loopback, link-local or cloud metadata (e.g. 127.0.0.1)",
    )

    # -- security -------------------------------------------------------------------------
    api_tokens: str | None = Field(
        None, description="inline API tokens, hashed: name:scope+scope:sha256hex;..."
    )
    api_tokens_file: Path | None = Field(None, description="JSON file of hashed API tokens")
    cors_origins: str | None = Field(None, description="comma-separated origins; unset: no CORS")
    insecure_open_http: bool = Field(
        False, description="allow a non-loopback HTTP host without API tokens"
    )
    cookie_secure: bool = Field(
        False, description="mark the session cookie Secure: set behind an HTTPS proxy"
    )
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    nats_token: SecretStr | None = None
    nats_nkey_seed: Path | None = Field(None, description="file holding an NKey seed")
    nats_creds: Path | None = Field(None, description="a .creds file (JWT + NKey seed)")
    nats_inbox_prefix: str | None = Field(
        None, description="where replies arrive; default `_INBOX.<nats user>` (what roles allow)"
    )

    @property
    def resolved_nats_url(self) -> str:
        """The NATS URL to use: the configured one, else the embedded server's."""
        return self.nats_url or f"nats://127.0.0.1:{self.nats_port}"

    @property
    def nats_servers(self) -> list[str]:
        """Every server of the configured URL (a cluster is `nats://a:4222,nats://b:4222`)."""
        return [url.strip() for url in self.resolved_nats_url.split(",") if url.strip()]

    @property
    def inbox_prefix(self) -> str:
        """The inbox prefix for replies: as configured, else the one the user's role may read."""
        return self.nats_inbox_prefix or inbox_prefix(self.nats_user)

    def nats_auth(self) -> dict[str, str]:
        """Credentials for nats.connect and FastStream's broker (same keyword names)."""
        auth: dict[str, str] = {}
        if self.nats_user:
            auth["user"] = self.nats_user
        if self.nats_password:
            auth["password"] = self.nats_password.get_secret_value()
        if self.nats_token:
            auth["token"] = self.nats_token.get_secret_value()
        if self.nats_nkey_seed:
            auth["nkeys_seed"] = str(self.nats_nkey_seed)
        if self.nats_creds:
            auth["user_credentials"] = str(self.nats_creds)
        return auth

    def with_overrides(self, **options: object) -> Settings:
        """A copy with the options given on the command line (None means not given)."""
        given = {key: value for key, value in options.items() if value is not None}
        return self.model_copy(update=given) if given else self
