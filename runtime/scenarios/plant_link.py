"""A blocking client of the virtual plant's control socket (JSON lines), for the runner.

One connection, reused; every request gets its reply before the next is sent. The runner is
the only thread that uses it.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from runtime.errors import UsageError


class PlantError(RuntimeError):
    """The plant refused a request (its ``error`` text) or the connection failed."""


class PlantLink:
    def __init__(self, host: str, port: int, *, timeout_s: float = 10.0) -> None:
        self.address = (host, port)
        self.timeout_s = timeout_s
        try:
            self._sock = socket.create_connection(self.address, timeout=timeout_s)
        except OSError:
            raise UsageError(f"no plant control socket at {host}:{port}") from None
        self._file = self._sock.makefile("rwb")

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one request; return the reply; PlantError when it is not ``ok``."""
        try:
            self._file.write(json.dumps({"op": op, **fields}).encode() + b"\n")
            self._file.flush()
            line = self._file.readline()
        except OSError as exc:
            raise PlantError(f"plant control connection: {exc}") from None
        if not line:
            raise PlantError("the plant closed its control connection")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise PlantError(f"plant refused {op}: {reply.get('error', '?')}")
        return reply

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self._sock.close()
