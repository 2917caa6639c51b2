"""Request and response bodies of the channel routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, Field, field_validator

from easyflow.kit.schemas import Output, StrictInput
from easyflow.models.channels import ChannelStatus


class TelegramChannelCreate(StrictInput):
    type: Literal["telegram"]
    token: Annotated[str, Field(min_length=20, max_length=100, pattern=r"^\d{3,20}:[A-Za-z0-9_-]{20,80}$")]
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    assistant_id: uuid.UUID | None = None
    mode: Literal["auto", "webhook", "polling"] = Field(
        default="auto",
        description="webhook: Telegram calls EASYFLOW_PUBLIC_URL (must be public https); polling: the worker asks "
        "Telegram for updates (no public address needed); auto: webhook when EASYFLOW_PUBLIC_URL is https.",
    )


class WidgetChannelCreate(StrictInput):
    type: Literal["widget"]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    allowed_origins: Annotated[list[AnyHttpUrl], Field(min_length=1, max_length=20)]
    assistant_id: uuid.UUID | None = None

    @field_validator("allowed_origins")
    @classmethod
    def _origins_only(cls, origins: list[AnyHttpUrl]) -> list[AnyHttpUrl]:
        for origin in origins:
            if (origin.path or "/") != "/" or origin.query or origin.fragment:
                raise ValueError(f"{origin} is not an origin: use scheme://host[:port] only")
        return origins


ChannelCreate = Annotated[TelegramChannelCreate | WidgetChannelCreate, Field(discriminator="type")]


class ChannelUpdate(StrictInput):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    status: ChannelStatus | None = Field(default=None, description="`paused` stops answering; `active` resumes.")
    assistant_id: uuid.UUID | None = None


class ChannelRead(Output):
    id: uuid.UUID
    type: str
    name: str
    status: ChannelStatus
    assistant_id: uuid.UUID | None
    config: dict[str, Any]
    public_key: str | None
    created_at: datetime


class ChannelCreated(ChannelRead):
    identity_secret: str | None = Field(
        default=None, description="Widget only: signs logged-in visitors' ids (HMAC-SHA256). Shown only now."
    )
