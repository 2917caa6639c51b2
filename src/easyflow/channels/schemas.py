"""Request and response bodies of the channel routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, Field, field_validator

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


class WhatsAppChannelCreate(StrictInput):
    type: Literal["whatsapp"]
    phone_number_id: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^\d+$")] = Field(
        description="The Phone number ID from Meta's WhatsApp > API Setup page (not the phone number itself)."
    )
    access_token: Annotated[str, Field(min_length=20, max_length=1000, pattern=r"^[A-Za-z0-9_\-.|]+$")] = Field(
        description="A permanent System User access token with whatsapp_business_messaging."
    )
    app_secret: Annotated[str, Field(min_length=16, max_length=200, pattern=r"^[A-Za-z0-9]+$")] = Field(
        description="The Meta app's App Secret: every webhook delivery is signed with it (X-Hub-Signature-256)."
    )
    verify_token: Annotated[str, Field(min_length=8, max_length=200, pattern=r"^[\x21-\x7e]+$")] | None = Field(
        default=None, description="What Meta's webhook setup is to send as hub.verify_token; generated when unset."
    )
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    assistant_id: uuid.UUID | None = None


class VkChannelCreate(StrictInput):
    type: Literal["vk"]
    group_id: Annotated[int, Field(gt=0, lt=2**53, description="The community's id (digits, no minus sign).")]
    access_token: Annotated[str, Field(min_length=20, max_length=300, pattern=r"^[A-Za-z0-9._-]+$")] = Field(
        description="A community access token allowed to send messages (and to manage, to fetch the code)."
    )
    secret: Annotated[str, Field(min_length=8, max_length=50, pattern=r"^[A-Za-z0-9]+$")] | None = Field(
        default=None,
        description="The secret key of the community's Callback API settings; made here (and shown once) if left out.",
    )
    confirmation_code: Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9]+$")] | None = Field(
        default=None, description="The string the Callback API server must return; asked of VK if left out."
    )
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    assistant_id: uuid.UUID | None = None


class ViberChannelCreate(StrictInput):
    type: Literal["viber"]
    token: Annotated[str, Field(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9-]+$")] = Field(
        description="The bot's authentication token (Viber Admin Panel, or the bot's Edit Info in the app)."
    )
    name: Annotated[str, Field(min_length=1, max_length=28)] | None = Field(
        default=None, description="Shown as the sender of every message (Viber allows 28 characters)."
    )
    avatar: AnyHttpUrl | None = Field(default=None, description="The sender's picture (under 100 KB, jpg).")
    assistant_id: uuid.UUID | None = None


Origins = Annotated[list[AnyHttpUrl], Field(min_length=1, max_length=20)]
Color = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$", description="CSS hex colour, e.g. #2563eb")]
PrechatField = Literal["name", "phone"]


def _origins_only(origins: list[AnyHttpUrl] | None) -> list[AnyHttpUrl] | None:
    for origin in origins or []:
        if (origin.path or "/") != "/" or origin.query or origin.fragment:
            raise ValueError(f"{origin} is not an origin: use scheme://host[:port] only")
    return origins


class WidgetChannelCreate(StrictInput):
    type: Literal["widget"]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    allowed_origins: Origins = Field(description="Sites that may show the widget, e.g. https://shop.example.")
    assistant_id: uuid.UUID | None = None
    title: Annotated[str, Field(max_length=80)] | None = Field(default=None, description="Panel title (the name).")
    greeting: Annotated[str, Field(max_length=500)] | None = Field(
        default=None, description="First line the visitor sees; the page's language picks a default when unset."
    )
    color: Color = "#2563eb"
    position: Literal["right", "left"] = "right"
    prechat_fields: list[PrechatField] = Field(
        default_factory=list, max_length=2, description="Ask these before the first message (all required)."
    )

    _check_origins = field_validator("allowed_origins")(_origins_only)


class WidgetSettingsUpdate(StrictInput):
    """Widget settings to change; fields left out keep their values."""

    allowed_origins: Origins | None = None
    title: Annotated[str, Field(max_length=80)] | None = None
    greeting: Annotated[str, Field(max_length=500)] | None = None
    color: Color | None = None
    position: Literal["right", "left"] | None = None
    prechat_fields: Annotated[list[PrechatField], Field(max_length=2)] | None = None

    _check_origins = field_validator("allowed_origins")(_origins_only)


ChannelCreate = Annotated[
    TelegramChannelCreate | ViberChannelCreate | VkChannelCreate | WidgetChannelCreate | WhatsAppChannelCreate,
    Field(discriminator="type"),
]


class ChannelUpdate(StrictInput):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    status: ChannelStatus | None = Field(default=None, description="`paused` stops answering; `active` resumes.")
    assistant_id: uuid.UUID | None = None
    widget: WidgetSettingsUpdate | None = Field(default=None, description="Widget channels: origins and looks.")


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
    verify_token: str | None = Field(
        default=None, description="WhatsApp only: the Verify token to enter in Meta's webhook setup. Shown only now."
    )
    secret: str | None = Field(
        default=None,
        description="VK only, when none was given: the secret key to enter in the community's Callback API "
        "settings. Shown only now.",
    )


class WidgetSessionStart(StrictInput):
    """What the widget script sends when a page opens it."""

    visitor_token: Annotated[str, Field(max_length=2000)] | None = Field(
        default=None, description="The token this browser was given before: same visitor, same history."
    )
    user_id: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="The site's own id of a signed-in customer (needs `user_signature`)."
    )
    user_signature: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="hex HMAC-SHA256 of user_id with the channel's identity secret."
    )


class WidgetAppearance(BaseModel):
    title: str
    greeting: str | None
    color: str
    position: str
    prechat_fields: list[str]


class WidgetSessionStarted(BaseModel):
    visitor_token: str
    identified: bool = Field(description="The visitor is the site's signed-in customer `user_id`.")
    settings: WidgetAppearance


class WidgetAttachment(BaseModel):
    id: uuid.UUID | None = Field(default=None, description="GET /widget/v1/{key}/files/{id} downloads it.")
    name: str
    size: int
    content_type: str


class WidgetMessage(BaseModel):
    id: uuid.UUID
    position: int = Field(description="Order within the conversation; ask for messages after the last one seen.")
    role: Literal["visitor", "assistant", "operator"]
    author: str | None = Field(default=None, description="The operator's name, on their messages.")
    client_id: str | None = Field(default=None, description="The visitor's own messages: the id the widget chose.")
    text: str
    buttons: list[str]
    attachments: list[WidgetAttachment]
    created_at: datetime


class WidgetUpdates(BaseModel):
    messages: list[WidgetMessage]
    typing: bool = Field(default=False, description="The assistant is writing.")
    draft: str | None = Field(default=None, description="The reply as written so far (replaced by its message).")


class WidgetMessageSend(StrictInput):
    text: Annotated[str, Field(min_length=1, max_length=4000)]
    client_id: Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] = Field(
        description="Chosen by the widget per message; sending it again (after a reconnect) stores it once."
    )
    name: Annotated[str, Field(max_length=200)] | None = None
    phone: Annotated[str, Field(max_length=40, pattern=r"^[0-9+()\- ]*$")] | None = None


class WidgetMessageAccepted(BaseModel):
    client_id: str
    message_id: uuid.UUID
    duplicate: bool
