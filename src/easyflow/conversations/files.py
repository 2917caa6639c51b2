"""What a file a customer sent really is, told by its first bytes (never by its name or the sender's claim):
pictures, PDF and plain text are recognised; anything else is kept, if at all, as opaque bytes."""

from __future__ import annotations

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "image"),
    (b"\xff\xd8\xff", "image/jpeg", "image"),
    (b"GIF87a", "image/gif", "image"),
    (b"GIF89a", "image/gif", "image"),
    (b"%PDF-", "application/pdf", "document"),
)
OPAQUE = "application/octet-stream"


def sniff_content_type(data: bytes) -> tuple[str, str] | None:
    """(content type, kind: image or document), or None for anything not recognised."""
    for signature, content_type, kind in _SIGNATURES:
        if data.startswith(signature):
            return content_type, kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "image"
    if data and b"\x00" not in data[:8192]:
        try:
            data.decode("utf-8")
            return "text/plain", "document"
        except UnicodeDecodeError:
            pass
    return None
