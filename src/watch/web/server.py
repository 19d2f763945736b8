"""uvicorn serving the dashboard: in the foreground for `watch serve`, in a thread for tests.

Both bind the socket here, so a test can ask for port 0 and read the port it got.
"""

from __future__ import annotations

import signal
import socket
import threading

import uvicorn
from starlette.applications import Starlette

LOOPBACK = ("127.0.0.1", "::1", "localhost")


class WebServer:
    """One uvicorn server on `host:port` (port 0: any free one); `url` says where it listens."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 8080) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # accepted connections inherit it: headers and body go out without waiting for an ACK
        # (else each answer waits ~40 ms on the client's delayed ACK)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.socket.bind((host, port))
        self.socket.listen(128)  # connections wait in the backlog until uvicorn accepts them
        self.host, self.port = host, self.socket.getsockname()[1]
        config = uvicorn.Config(
            app, lifespan="off", ws="none", log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def run(self) -> None:
        """Serve until SIGINT / SIGTERM (uvicorn handles them in the main thread).

        uvicorn raises the stop signal again once it has shut down; in the main thread it meets
        a handler that does nothing, so the command returns, cleans up and exits 0.
        """
        if threading.current_thread() is not threading.main_thread():
            self.server.run(sockets=[self.socket])
            return
        stops = (signal.SIGINT, signal.SIGTERM)
        previous = {stop: signal.signal(stop, lambda *_: None) for stop in stops}
        try:
            self.server.run(sockets=[self.socket])
        finally:
            for stop, handler in previous.items():
                signal.signal(stop, handler)

    def start(self) -> None:
        """Serve from a thread; returns once the server accepts connections."""
        self._thread = threading.Thread(target=self.run, name="watch-web", daemon=True)
        self._thread.start()
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the web server stopped while starting")
            self._thread.join(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self.socket.close()
