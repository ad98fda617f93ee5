"""Security test helpers: a keys folder with real CURVE keys and a CURVE bus in a thread.

Import explicitly (``from security_fixtures import ...``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import zmq
from zmq.utils.monitor import recv_monitor_message

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.keys import add_key, read_key_pair
from runtime.bus.security import ClientSecurity, ServerSecurity, server_security
from runtime.bus.server import BusServer

TEST_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "viewer": ("viewer", ()),
    "operator": ("operator", ()),
    "instructor": ("instructor", ()),
    "engineer": ("engineer", ()),
    "adapter": ("engineer", ("*",)),
    "plant": ("engineer", ("*",)),
    "ad-1": ("engineer", ("ad-1",)),
    "ad-2": ("engineer", ("ad-2",)),
    "rogue": ("engineer", ("rogue-*",)),
    "alarms": ("engineer", ("alarms",)),
    "historian": ("engineer", ("history",)),
    "analytics": ("engineer", ("analytics",)),
    "scenario": ("engineer", ("scenario",)),
}
"""Key name -> (role, may publish for): what :func:`make_keys` creates."""


def make_keys(folder: Path) -> Path:
    """A keys folder with the bus's key pair and every key in TEST_KEYS."""
    for name, (role, publish) in TEST_KEYS.items():
        add_key(folder, name, role, publish=publish)
    return folder


def client(folder: Path, name: str) -> ClientSecurity:
    """The CURVE settings of key ``name`` in ``folder``."""
    return ClientSecurity.from_pair(read_key_pair(folder / f"{name}.key_secret"))


@contextmanager
def secure_bus(folder: Path, **kwargs: Any) -> Iterator[BusServer]:
    """A CURVE BusServer on free loopback ports using ``folder``'s keys, run in a thread."""
    server = BusServer(BusEndpoints.from_address("tcp://127.0.0.1:0"),
                       security=server_security(folder), **kwargs)
    thread = server.start_thread()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=5)
        assert not thread.is_alive(), "bus thread did not stop"


def auth_failures(monitor: zmq.Socket, timeout_s: float = 5.0) -> list[int]:
    """Monitor events until a handshake failure arrives (or the timeout); the failures'
    status codes (400 is ZAP's refusal)."""
    deadline = time.monotonic() + timeout_s
    failures: list[int] = []
    while time.monotonic() < deadline and not failures:
        if monitor.poll(50):
            event = recv_monitor_message(monitor)
            if event["event"] in (zmq.EVENT_HANDSHAKE_FAILED_AUTH,
                                  zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
                                  zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL):
                failures.append(int(event["value"]))
    return failures


def session_keys() -> Path:
    """The session's keys folder ($TWINSTAGE_KEYS, made by conftest)."""
    return Path(os.environ["TWINSTAGE_KEYS"])


def session_client(name: str) -> ClientSecurity:
    """Key ``name`` from the session's keys folder."""
    return client(session_keys(), name)


def session_server() -> ServerSecurity:
    """The bus's CURVE settings from the session's keys folder."""
    return server_security(session_keys())
