"""Files in chats: what a file really is, told by its first bytes (never by its name or the sender's claim):
pictures, PDF and plain text are recognised; anything else is kept, if at all, as opaque bytes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from easyflow.conversations.schemas import Attachment
from easyflow.kit.errors import PayloadTooLarge, UnsupportedMedia
from easyflow.kit.filetypes import binary_type, decode_text
from easyflow.models.conversations import ConversationFile

ATTACHMENT_KINDS = ("image", "document")


def sniff_content_type(data: bytes) -> tuple[str, str] | None:
    """(content type, kind: image or document), or None for anything else (archives, executables, unknown)."""
    recognised = binary_type(data)
    if recognised is not None:
        return (recognised.content_type, recognised.kind) if recognised.kind in ATTACHMENT_KINDS else None
    if data and decode_text(data) is not None:
        return "text/plain", "document"
    return None


@dataclass(frozen=True)
class ChatFile:
    """A file someone sends in a chat (a widget visitor, an operator), checked and ready to keep."""

    attachment: Attachment
    data: bytes

    def stored(self, conversation_id: uuid.UUID) -> ConversationFile:
        attachment = self.attachment
        return ConversationFile(
            id=attachment.stored_file_id,
            conversation_id=conversation_id,
            name=attachment.name,
            content_type=attachment.content_type,
            size=len(self.data),
            content=self.data,
        )


def chat_file(filename: str, data: bytes, *, max_bytes: int) -> ChatFile:
    """The file as a chat keeps it: no larger than `max_bytes` (413), a picture, PDF or plain text by its bytes
    (415 otherwise), its name without any folder."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"The file is larger than the {max_bytes:,} bytes a chat accepts.".replace(",", " "))
    if not data:
        raise UnsupportedMedia("The file is empty.")
    recognised = sniff_content_type(data)
    if recognised is None:
        raise UnsupportedMedia("Only pictures (PNG, JPEG, GIF, WebP), PDF and plain-text files can be sent here.")
    content_type, kind = recognised
    name = (filename.replace("\\", "/").rsplit("/", 1)[-1] or "file")[:255]
    attachment = Attachment(
        kind=kind, name=name, size=len(data), content_type=content_type, stored_file_id=uuid.uuid4()
    )
    return ChatFile(attachment, data)
