"""Live events of a conversation: what changed, sent through PostgreSQL NOTIFY so every API process hears
what any process (an API request, a worker's reply job) did.

A `message` event carries no message: it tells listeners to read the conversation after the position they
have seen, so a lost or coalesced event can never lose or double a message. `typing` and `draft` (the
reply as generated so far) are ephemeral and only worth something while they are fresh.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Literal

LIVE_CHANNEL = "easyflow_live"
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; a draft that would not fit is not sent
# (the finished message follows anyway).
MAX_PAYLOAD_BYTES = 7900

EventKind = Literal["message", "typing", "draft"]


@dataclass(frozen=True)
class LiveEvent:
    conversation_id: uuid.UUID
    kind: EventKind
    text: str = ""

    def payload(self) -> str | None:
        """The NOTIFY payload, or None when it would be too large to send."""
        encoded = json.dumps({"c": str(self.conversation_id), "k": self.kind, "t": self.text}, ensure_ascii=False)
        return encoded if len(encoded.encode()) <= MAX_PAYLOAD_BYTES else None

    @classmethod
    def parse(cls, payload: str) -> LiveEvent | None:
        try:
            raw = json.loads(payload)
            kind = raw["k"]
            if kind not in ("message", "typing", "draft"):
                return None
            return cls(uuid.UUID(raw["c"]), kind, str(raw.get("t", "")))
        except (ValueError, KeyError, TypeError):
            return None
