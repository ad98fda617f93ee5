"""Bus test helpers: a BusServer in a thread on free loopback ports, free port blocks, waits.

Import explicitly (``from bus_fixtures import running_bus``); conftest.py is the lead's.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.server import BusServer


@contextmanager
def running_bus(**kwargs: Any) -> Iterator[BusServer]:
    """A BusServer on free loopback ports (port 0), run in a thread, stopped and joined after."""
    server = BusServer(BusEndpoints.from_address("tcp://127.0.0.1:0"), **kwargs)
    thread = server.start_thread()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=5)
        assert not thread.is_alive(), "bus thread did not stop"


def free_base_port(count: int = 5) -> int:
    """A port P with P..P+count-1 all free on 127.0.0.1 right now (for `twinstage bus --bind`);
    drawn below the ephemeral range, as plant_fixtures.free_port_block explains."""
    from plant_fixtures import free_port_block

    return free_port_block(count)


def port_is_free(port: int) -> bool:
    """Whether a TCP listener could bind 127.0.0.1:port now."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until(predicate: Callable[[], Any], timeout_s: float = 5.0, step_s: float = 0.005,
               between: Callable[[], Any] | None = None) -> Any:
    """Poll ``predicate`` until truthy (returning its value) or fail after ``timeout_s``.

    ``between`` runs before each check (e.g. a publisher's tick or a subscriber's poll).
    Timeouts are generous upper bounds for a loaded CI machine, never timing assertions.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        if between is not None:
            between()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(step_s)
