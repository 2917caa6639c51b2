from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    actor_kind: str
    actor_user_id: uuid.UUID | None
    actor_api_key_id: uuid.UUID | None
    actor: str
    action: str
    target_kind: str | None
    target_id: str | None
    details: dict[str, Any]
    client_ip: str | None
