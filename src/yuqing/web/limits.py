"""The size of a request body the console and the API read.

Forms and JSON are read whole into memory before any check of who sent them: `/login` takes a
form from anyone, so without a bound one request of a gigabyte would be held in memory. Every body
except a webhook's (bounded by `webhook_max_bytes` where it is read, with its dead letter) is
limited to `request_max_bytes`: a declared length over it is answered 413 before a byte is read,
and a body sent without one is cut off where it passes the bound (the app sees the client gone).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit"]

_EXEMPT_PREFIX = "/api/v1/webhooks/"


class BodyLimit:
    """ASGI middleware refusing request bodies over `limit` bytes (webhooks excepted)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_EXEMPT_PREFIX):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(scope, send)
            return
        seen = 0
        over = started = False

        async def bounded() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    over = True  # the app reads no further: to it, the client has gone
                    return {"type": "http.disconnect"}
            return message

        async def answered(message: Message) -> None:
            nonlocal started
            if over:
                return  # whatever the app makes of a vanished client, the answer is the 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded, answered)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        text = f"请求内容过大：超过 {self.limit // 1024} KB 的上限"
        if scope["path"].startswith("/api/"):
            body = json.dumps({"error": {"status": 413, "message": text}}, ensure_ascii=False).encode()
            media = b"application/json"
        else:
            body = text.encode()
            media = b"text/plain; charset=utf-8"
        headers = [(b"content-type", media), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
