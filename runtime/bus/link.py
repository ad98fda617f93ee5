"""Whether a client's connection to the bus stands, from ZeroMQ's socket events.

Publishers falling silent and the bus going away look the same in the data (nothing arrives);
the socket knows the difference: a dead bus closes the TCP connection. The viewer shows one
"bus connection lost" banner for the one case and per-adapter words for the other.
"""

from __future__ import annotations

import zmq
from zmq.utils.monitor import recv_monitor_message

_EVENTS = zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED | zmq.EVENT_CLOSED


class BusLink:
    """Connection state of one socket; :meth:`poll` never blocks."""

    def __init__(self, sock: zmq.Socket) -> None:
        self._sock = sock
        self._monitor = sock.get_monitor_socket(_EVENTS)
        self.up = False
        """A connection to the bus stands now."""
        self.ever_up = False
        self.down_since_ns: int | None = None
        """Monotonic time the connection was lost (or the link was made), None while up."""

    def poll(self, now_ns: int) -> None:
        if self.down_since_ns is None and not self.up:
            self.down_since_ns = now_ns
        while self._monitor.poll(0):
            kind = recv_monitor_message(self._monitor)["event"]
            if kind == zmq.EVENT_CONNECTED:
                self.up = self.ever_up = True
                self.down_since_ns = None
            elif self.up:
                self.up = False
                self.down_since_ns = now_ns

    def heard(self) -> None:
        """Data arrived: the connection stands, even if its connect event came before this
        monitor was attached (a client connects as it is built)."""
        if not self.ever_up:
            self.up = self.ever_up = True
            self.down_since_ns = None

    def close(self) -> None:
        """Stop monitoring first: a monitor closed while still attached can hang the context's
        termination when the socket closes."""
        try:
            self._sock.disable_monitor()
        except zmq.ZMQError:
            pass  # the socket is already closed
        self._monitor.close(linger=0)
