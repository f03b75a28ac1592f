"""What a page of the console may do in the browser: the Content-Security-Policy (and its
companions) sent with every response. The console runs only its own scripts and style sheets from
/static, so collected text that slipped into a page could never run as code, load from elsewhere
or send anything away. A response that sets its own policy (an archived HTML report, which must
not even run ours) keeps it."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONSOLE_POLICY", "SecurityHeaders"]

CONSOLE_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Data URLs: the favicon placeholder, and the icons inside the vendored style sheets.
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
_DEFAULTS = {
    "content-security-policy": CONSOLE_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response that lacks them (streamed
    ones too: it only touches the start of the response)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _DEFAULTS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
