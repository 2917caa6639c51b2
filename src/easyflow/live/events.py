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


def watch_key(tenant_id: uuid.UUID, identity_kind: str, external_id: str) -> uuid.UUID:
    """A customer's own key for live events, known before any conversation exists: a page follows it to learn
    that a conversation of theirs started or moved (another tab wrote, an operator closed the old one)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"easyflow:{tenant_id}:{identity_kind}:{external_id}")


@dataclass(frozen=True)
class LiveEvent:
    conversation_id: uuid.UUID
    kind: EventKind
    text: str = ""
    # On a customer's own messages: their watch key, so their pages hear of it in any conversation.
    watcher: uuid.UUID | None = None

    def payload(self) -> str | None:
        """The NOTIFY payload, or None when it would be too large to send."""
        encoded = _encode(str(self.conversation_id), self.kind, self.text, self.watcher)
        return encoded if len(encoded.encode()) <= MAX_PAYLOAD_BYTES else None

    @classmethod
    def parse(cls, payload: str) -> LiveEvent | None:
        try:
            raw = json.loads(payload)
            kind = raw["k"]
            if kind not in ("message", "typing", "draft"):
                return None
            watcher = uuid.UUID(raw["w"]) if raw.get("w") else None
            return cls(uuid.UUID(raw["c"]), kind, str(raw.get("t", "")), watcher)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def message_payload_template(conversation_slot: str, watcher: uuid.UUID) -> str:
    """The payload of a customer's `message` event for SQL that learns the conversation's id itself
    (`easyflow_accept_message`), which writes it in place of `conversation_slot`."""
    return _encode(conversation_slot, "message", "", watcher)


def _encode(conversation: str, kind: EventKind, text: str, watcher: uuid.UUID | None) -> str:
    fields = {"c": conversation, "k": kind, "t": text}
    if watcher is not None:
        fields["w"] = str(watcher)
    return json.dumps(fields, ensure_ascii=False)
