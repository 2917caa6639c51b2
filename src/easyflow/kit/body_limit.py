"""Refuse request bodies over the configured size before they are read into memory.

Starlette's RequestBodyLimitMiddleware counts the bytes as they stream in (FastAPI turns its error into
a 413 that our problem handler renders); a body whose Content-Length is already too big is refused here
first, so routes that never read their body answer problem+json too.
"""

from __future__ import annotations

import json
import re

from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from easyflow.kit.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE, too_large_detail

# Room for the multipart envelope (boundaries, part headers) around an uploaded file.
MULTIPART_OVERHEAD = 64 * 1024


class BodySizeLimitMiddleware:
    """`max_bytes` for every request, except the upload paths (regular expressions matching the whole
    path), which take `upload_bytes` (plus envelope)."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_bytes: int = 0, upload_paths: tuple[str, ...] = ()) -> None:
        self.default = RequestBodyLimitMiddleware(app, max_body_size=max_bytes)
        self.uploads = RequestBodyLimitMiddleware(app, max_body_size=upload_bytes + MULTIPART_OVERHEAD)
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes + MULTIPART_OVERHEAD
        self.upload_paths = re.compile("|".join(f"(?:{path})" for path in upload_paths)) if upload_paths else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.default(scope, receive, send)
            return
        is_upload = self.upload_paths is not None and self.upload_paths.fullmatch(scope["path"]) is not None
        limit = self.upload_bytes if is_upload else self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, send, limit)
            return
        await (self.uploads if is_upload else self.default)(scope, receive, send)

    async def _refuse(self, scope: Scope, send: Send, limit: int) -> None:
        body = json.dumps(
            {
                "type": PROBLEM_BASE + "payload-too-large",
                "title": "Payload too large",
                "status": 413,
                "detail": too_large_detail(limit),
                "instance": scope.get("path", ""),
            }
        ).encode()
        headers = [
            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
