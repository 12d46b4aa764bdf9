"""What the webhooks service is asked over NATS (`rapport.ctl.webhooks.<verb>`), validated."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from events.fields import SHORT_TEXT_PATTERN

Kind = Literal["stage.changed", "health.band.changed", "touch.due", "proposal.decided"]
WebhookId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class Request(BaseModel):
    """Every request: unknown fields are refused, naming them."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class AddWebhook(Request):
    """`add`: where to deliver, which kinds (none: all), whose relationships (none: all)."""

    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    kinds: tuple[Kind, ...] = Field((), max_length=4)
    owner: (
        Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=SHORT_TEXT_PATTERN)]
        | None
    ) = None


class WebhookRef(Request):
    """`remove`: which webhook."""

    id: WebhookId


class DeliveriesQuery(Request):
    """`deliveries`: a webhook's latest deliveries, with their attempts."""

    id: WebhookId
    limit: int = Field(20, ge=1, le=500)


class Resend(Request):
    """`resend`: deliver this delivery again."""

    delivery_id: int = Field(ge=1, le=2**63 - 1)
