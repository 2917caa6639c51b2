"""Request and response bodies of the partner directory and of transfers to partners."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AnyHttpUrl, EmailStr, Field

from easyflow.conversations.schemas import CleanText, not_blank
from easyflow.crm.phones import MAX_PHONE_CHARS, normalize_phone
from easyflow.kit.schemas import Output, StrictInput
from easyflow.models.crm_partners import ReachBy, TransferStatus

KNOWN_KINDS = ("guide", "hotel", "transport", "restaurant", "other")
Name = Annotated[CleanText, Field(min_length=1, max_length=200), AfterValidator(not_blank)]
Kind = Annotated[CleanText, Field(min_length=1, max_length=40), AfterValidator(not_blank)]
Notes = Annotated[str, Field(max_length=4000)]
Note = Annotated[str, Field(max_length=2000)]
# Telegram's chat ids fit in 52 bits (groups are negative); anything larger is not one.
TelegramChatId = Annotated[int, Field(ge=-(2**52), le=2**52, description="The partner's chat with the tenant's bot.")]
WebhookUrl = Annotated[AnyHttpUrl, Field(max_length=2000)]


def _phone(value: str) -> str | None:
    """The number in E.164; an empty one is none (clearing it)."""
    if not value.strip():
        return None
    normalized = normalize_phone(value)
    if normalized is None:
        raise ValueError("is not a phone number")
    return normalized


Phone = Annotated[str, Field(max_length=MAX_PHONE_CHARS), AfterValidator(_phone)]


class PartnerCreate(StrictInput):
    name: Name
    kind: Kind = Field(default="other", description=f"{', '.join(KNOWN_KINDS)}, or a word of your own (≤ 40).")
    phone: Phone | None = Field(default=None, description="Kept in international form (E.164).")
    email: EmailStr | None = None
    notes: Notes = ""
    reach_by: ReachBy | None = Field(
        default=None,
        description="How transfers are sent: telegram (`telegram_chat_id`), email (`email`) or webhook "
        "(`webhook_url`); none: the partner is listed but cannot be sent transfers.",
    )
    telegram_chat_id: TelegramChatId | None = None
    webhook_url: WebhookUrl | None = Field(
        default=None, description="A public address; its signing secret is made when it is set and shown once."
    )


class PartnerUpdate(StrictInput):
    name: Name | None = None
    kind: Kind | None = None
    phone: Phone | None = None
    email: EmailStr | None = None
    notes: Notes | None = None
    reach_by: ReachBy | None = None
    telegram_chat_id: TelegramChatId | None = None
    webhook_url: WebhookUrl | None = None


class PartnerRead(Output):
    id: uuid.UUID
    name: str
    kind: str
    phone: str | None
    email: str | None
    notes: str
    reach_by: ReachBy | None
    telegram_chat_id: int | None
    webhook_url: str | None
    webhook_secret: str | None = Field(
        default=None,
        description="Signs every webhook delivery (HMAC-SHA256, as the API channel's). Only in the answer that "
        "set the webhook: store it, it cannot be read again.",
    )
    created_at: datetime
    updated_at: datetime


class TransferCreate(StrictInput):
    partner_id: uuid.UUID
    note: Note = Field(default="", description="What the partner should know beyond the deal (sent with it).")


class TransferRead(Output):
    id: uuid.UUID
    deal_id: uuid.UUID
    partner_id: uuid.UUID | None
    partner_name: str
    note: str
    status: TransferStatus = Field(description="queued, sent or failed (with `error`).")
    sent_via: ReachBy | None
    summary: str = Field(description="What was sent (all but the acknowledgement link), once tried.")
    attempts: int
    error: str | None
    created_by: uuid.UUID | None
    created_at: datetime
    sent_at: datetime | None
    acknowledged_at: datetime | None = Field(description="When the partner confirmed they received it.")
