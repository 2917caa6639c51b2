"""Refuse request bodies over the configured size before they are read into memory.

Starlette's RequestBodyLimitMiddleware counts the bytes as they stream in (FastAPI turns its error into
a 413 that our problem handler renders); a body whose Content-Length is already too big is refused here
first, so routes that never read their body answer problem+json too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from easyflow.kit.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE, too_large_detail

# Room for the multipart envelope (boundaries, part headers) around an uploaded file.
MULTIPART_OVERHEAD = 64 * 1024


class BodySizeLimitMiddleware:
    """`max_bytes` for every request, except upload paths (regular expressions matching the whole path),
    each with its own file limit (plus envelope)."""

    def __init__(self, app: ASGIApp, max_bytes: int, uploads: Sequence[tuple[str, int]] = ()) -> None:
        self.default = (max_bytes, RequestBodyLimitMiddleware(app, max_body_size=max_bytes))
        self.uploads = [
            (re.compile(path), (limit, RequestBodyLimitMiddleware(app, max_body_size=limit)))
            for path, file_bytes in uploads
            for limit in (file_bytes + MULTIPART_OVERHEAD,)
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.default[1](scope, receive, send)
            return
        limit, limited = next((chosen for path, chosen in self.uploads if path.fullmatch(scope["path"])), self.default)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, send, limit)
            return
        await limited(scope, receive, send)

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
