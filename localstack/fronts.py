"""The local stack's two fronts over the emulator, started together: the HTTP API (with the
web console at ``/``) and the WebSocket API (its management API registered for the emulator).

Used by ``demo.py`` (``make up``), the e2e tests and the benchmarks.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from api_front import Console, Front, deployed_routes, make_server
from ws_front import SocketFront, deployed_socket_api


@dataclass
class LocalFronts:
    api_url: str
    ws_url: str
    http: Any
    sockets: SocketFront

    def stop(self) -> None:
        self.sockets.stop()
        self.http.shutdown()
        self.http.server_close()


def start_fronts(
    outputs: dict[str, Any],
    endpoint: str,
    *,
    host: str = "127.0.0.1",
    api_port: int = 0,
    ws_port: int = 0,
    quiet: bool = True,
) -> LocalFronts:
    """Serve the deployed APIs named by ``outputs`` (``api_id``, ``websocket_api_id``)."""
    sockets = SocketFront(deployed_socket_api(endpoint, outputs["websocket_api_id"]), endpoint)
    ws_url, _ = sockets.start(host, ws_port)
    front = Front(deployed_routes(endpoint, outputs["api_id"]), endpoint)
    console = Console({"api": "", "ws": ws_url, "auth": "dev"})
    http = make_server(front, host, api_port, quiet=quiet, console=console)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    return LocalFronts(f"http://{host}:{http.server_address[1]}", ws_url, http, sockets)
