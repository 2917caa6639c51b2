"""Connecting an external booking system: what is sent, what is shown (never the user token)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from easyflow.kit.schemas import Output, StrictInput

MAX_COMPANY_ID = 10**12


class ConnectionPut(StrictInput):
    kind: Literal["yclients"] = Field(description="The booking system (YCLIENTS; Altegio is the same API).")
    company_id: int = Field(gt=0, lt=MAX_COMPANY_ID, description="The business's id in YCLIENTS (its «ID филиала»).")
    # Tokens are hex in practice; a narrow alphabet also keeps anything that could split the header out.
    user_token: str = Field(min_length=8, max_length=256, pattern=r"^[A-Za-z0-9._~-]+$", repr=False)


class ConnectionRead(Output):
    id: uuid.UUID
    kind: str
    company_id: int
    company_title: str
    created_at: datetime
    updated_at: datetime


class ConnectionCreated(ConnectionRead):
    webhook_url: str = Field(
        description="Set this as the record webhook URL in YCLIENTS. Shown only now: it carries the secret that "
        "authenticates YCLIENTS' calls; connecting again makes a new one."
    )
