"""What a file a customer sent really is, told by its first bytes (never by its name or the sender's claim):
pictures, PDF and plain text are recognised; anything else is kept, if at all, as opaque bytes."""

from __future__ import annotations

from easyflow.kit.filetypes import binary_type, decode_text

ATTACHMENT_KINDS = ("image", "document")


def sniff_content_type(data: bytes) -> tuple[str, str] | None:
    """(content type, kind: image or document), or None for anything else (archives, executables, unknown)."""
    recognised = binary_type(data)
    if recognised is not None:
        return (recognised.content_type, recognised.kind) if recognised.kind in ATTACHMENT_KINDS else None
    if data and decode_text(data) is not None:
        return "text/plain", "document"
    return None
