"""Why a client hears nothing: watch a socket's CURVE handshakes (libzmq socket monitor).

A CURVE client whose key the bus refuses, or that holds a wrong bus key, is never told so in
a message: libzmq just retries. Tools that must say why (``tap``, ``write``) watch the
handshake events of one of their sockets and turn them into a sentence.
"""

from __future__ import annotations

import zmq
from zmq.utils.monitor import recv_monitor_message

_EVENTS = (zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH
           | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
           | zmq.EVENT_CONNECTED)


class BusRefusedError(ConnectionError):
    """The bus refused this client's key (or the client has a wrong bus key)."""


class HandshakeWatch:
    """Handshake outcomes of ``sock`` so far; call :meth:`poll` now and then (never blocks)."""

    def __init__(self, sock: zmq.Socket, *, key_name: str = "", address: str = "") -> None:
        self._sock = sock
        self._monitor = sock.get_monitor_socket(_EVENTS)
        self.key_name = key_name
        self.address = address
        self.connected = False
        """A TCP connection to the bus was made at least once."""
        self.succeeded = False
        self.refused_status: int | None = None
        """ZAP status code of a refusal (400: key not allowed), if one came."""
        self.failed = False
        """A handshake failed for another reason (wrong bus key, mechanism mismatch)."""

    def poll(self) -> None:
        while self._monitor.poll(0):
            event = recv_monitor_message(self._monitor)
            kind = event["event"]
            if kind == zmq.EVENT_CONNECTED:
                self.connected = True
            elif kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.succeeded = True
            elif kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                self.refused_status = int(event["value"])
            else:
                self.failed = True

    def problem(self) -> str | None:
        """A sentence saying why nothing arrives, when the events tell; else None."""
        self.poll()
        who = f"key {self.key_name}" if self.key_name else "a plaintext (no key) connection"
        if self.refused_status is not None:
            return (f"the bus at {self.address} refused {who} (ZAP {self.refused_status}): it "
                    "is not on the bus's allow-list or was revoked; ask for a key "
                    "(twinstage keys new NAME --role ROLE) or check --key")
        if self.failed and not self.succeeded:
            return (f"the handshake with the bus at {self.address} failed for {who}: the bus "
                    "may use another key pair (a stale key file), or expect CURVE while this "
                    "client is plaintext (or the reverse)")
        return None

    def unreachable(self, timeout_s: float) -> str:
        """What to say when nothing came within ``timeout_s``."""
        problem = self.problem()
        if problem is not None:
            return problem
        if not self.connected:
            return (f"no answer: no connection to the bus at {self.address} within "
                    f"{timeout_s:g} s: is it running there (twinstage bus), and the address "
                    "right?")
        return f"the bus at {self.address} did not answer within {timeout_s:g} s"

    def close(self) -> None:
        """Stop monitoring (before the watched socket closes) and close the monitor socket."""
        try:
            self._sock.disable_monitor()
        except zmq.ZMQError:
            pass
        self._monitor.close(linger=0)


__all__ = ["BusRefusedError", "HandshakeWatch"]
