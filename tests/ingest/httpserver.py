"""A real HTTP server on 127.0.0.1 for tests, with misbehaviours on demand.

``LocalHTTPServer`` serves ``routes``: path → ``Reply`` (a canned response) or a callable
that gets the request handler and writes whatever it likes. The static helpers build the
callables for the nasty cases: hang after accepting, trickle bytes, reset the connection,
stream a generated body of any size without holding it in memory.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The longest any misbehaving handler will keep a thread busy, even if a test forgets to stop.
MAX_HANG_SECONDS = 30.0


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class SeenRequest:
    path: str
    headers: dict[str, str]


Behaviour = Callable[[BaseHTTPRequestHandler], None]
Route = Reply | Behaviour


class LocalHTTPServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[SeenRequest] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def paths(self) -> list[str]:
        with self._lock:
            return [request.path for request in self.requests]

    def start(self) -> LocalHTTPServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append(
                        SeenRequest(self.path, {k.lower(): v for k, v in self.headers.items()})
                    )
                route = server.routes.get(self.path) or server.routes.get(self.path.split("?")[0])
                if route is None:
                    route = Reply(404, {"Content-Type": "text/plain"}, b"not found")
                try:
                    if isinstance(route, Reply):
                        send_reply(self, route)
                    else:
                        route(self)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up, as tests expect it to

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output clean

        return Handler

    # -- behaviours ---------------------------------------------------------------------

    def hang(self) -> Behaviour:
        """Accept and read the request, then never answer (until the server stops)."""

        def behaviour(handler: BaseHTTPRequestHandler) -> None:
            self.stopping.wait(MAX_HANG_SECONDS)
            handler.close_connection = True

        return behaviour

    def trickle(self, *, interval: float, total: int = 1000, chunk: bytes = b"x") -> Behaviour:
        """Send headers for ``total`` bytes at once, then one ``chunk`` every ``interval`` s."""

        def behaviour(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(200)
            handler.send_header("Content-Length", str(total))
            handler.end_headers()
            handler.wfile.flush()
            sent = 0
            started = time.monotonic()
            while sent < total and time.monotonic() - started < MAX_HANG_SECONDS:
                if self.stopping.wait(interval):
                    break
                handler.wfile.write(chunk)
                handler.wfile.flush()
                sent += len(chunk)
            handler.close_connection = True

        return behaviour

    def trickle_headers(self, *, interval: float) -> Behaviour:
        """Send the status line and headers one byte every ``interval`` s (each read succeeds)."""

        def behaviour(handler: BaseHTTPRequestHandler) -> None:
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n" + b"X-Pad: " + b"x" * 400 + b"\r\n\r\n"
            for byte in head:
                if self.stopping.wait(interval):
                    break
                try:
                    handler.wfile.write(bytes([byte]))
                    handler.wfile.flush()
                except OSError:
                    break
            handler.close_connection = True

        return behaviour

    @staticmethod
    def reset() -> Behaviour:
        """Read the request, then abort the connection with a TCP RST."""

        def behaviour(handler: BaseHTTPRequestHandler) -> None:
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.connection.close()
            handler.close_connection = True

        return behaviour

    @staticmethod
    def generated(size: int, *, content_length: bool = False, block: int = 64 * 1024) -> Behaviour:
        """Stream ``size`` bytes made on the fly (never held in memory), framed by closing the
        connection unless ``content_length``. Stops quietly when the client hangs up."""

        def behaviour(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/octet-stream")
            if content_length:
                handler.send_header("Content-Length", str(size))
            else:
                handler.send_header("Connection", "close")
            handler.end_headers()
            piece = b"y" * block
            sent = 0
            while sent < size:
                part = piece[: min(block, size - sent)]
                handler.wfile.write(part)
                sent += len(part)
            handler.close_connection = True

        return behaviour

    @staticmethod
    def redirect(location: str, status: int = 302) -> Reply:
        return Reply(status, {"Location": location, "Content-Length": "0"})


def send_reply(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    handler.send_response(reply.status)
    for name, value in reply.headers.items():
        handler.send_header(name, value)
    if "content-length" not in {name.lower() for name in reply.headers}:
        handler.send_header("Content-Length", str(len(reply.body)))
    handler.end_headers()
    if reply.status != 304:
        handler.wfile.write(reply.body)
