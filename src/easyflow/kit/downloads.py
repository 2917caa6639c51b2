"""A stored file sent back as a download: never shown inline, never sniffed into another type by the browser
(a customer's "picture" could be HTML)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Response


def download(name: str, content_type: str, content: bytes) -> Response:
    return Response(
        content,
        media_type=content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "X-Content-Type-Options": "nosniff",
        },
    )
