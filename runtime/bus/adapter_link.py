"""The adapter's end of the command path: register owned points, receive commands, send acks.

The adapter connects one DEALER to the bus's ``adapters`` ROUTER and claims its points. It
registers again every ``register_period_s`` so that a restarted bus learns who owns what within
that period, and so that the bus forgets an adapter that has died (registrations expire).

Everything here is non-blocking: call :meth:`AdapterLink.poll_commands` from an asyncio task
(every few tens of milliseconds) or wait on :attr:`AdapterLink.socket` with a zmq Poller.
The adapter, not the bus, decides whether a command is carried out (R13), and must answer every
command it receives with exactly one :class:`~runtime.bus.wire.Ack`. One thread only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import zmq

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.ratelog import RateLimitedLog
from runtime.bus.security import ClientSecurity
from runtime.bus.sockets import make_socket
from runtime.bus.wire import (
    Command,
    WireError,
    decode_command,
    encode_ack,
    encode_register_chunks,
)
from runtime.control.ack import Ack

log = logging.getLogger("twinstage.bus.adapter_link")

REGISTER_PERIOD_S = 1.0


class AdapterLink:
    """A DEALER to the bus's ``adapters`` socket, registered as owner of ``points``."""

    def __init__(
        self,
        endpoints: BusEndpoints,
        adapter_id: str,
        points: Iterable[str],
        *,
        context: zmq.Context | None = None,
        register_period_s: float = REGISTER_PERIOD_S,
        security: ClientSecurity | None = None,
    ) -> None:
        self.adapter_id = adapter_id
        self.points = list(points)
        self._register_payloads = encode_register_chunks(adapter_id, self.points)
        self._register_period_ns = int(register_period_s * 1e9)
        self._next_register_ns = 0
        self._own_context = context is None
        self._context = context or zmq.Context()
        self._rlog = RateLimitedLog(log)
        self.socket = make_socket(self._context, zmq.DEALER, security=security)
        """The DEALER: register it with a zmq (or zmq.asyncio) Poller to wait for commands."""
        self.socket.connect(endpoints.adapters)
        self.register()

    def register(self) -> None:
        """Claim the points now (also done periodically by :meth:`poll_commands`): one
        message, or every chunk of a registration over MAX_POINTS points."""
        try:
            for payload in self._register_payloads:
                self.socket.send(payload, zmq.NOBLOCK)
        except zmq.Again:
            pass  # bus unreachable and queue full: the next period tries again
        self._next_register_ns = time.monotonic_ns() + self._register_period_ns

    def set_points(self, points: Iterable[str]) -> None:
        """Change the owned points and register them at once."""
        self.points = list(points)
        self._register_payloads = encode_register_chunks(self.adapter_id, self.points)
        self.register()

    def poll_commands(self, max_count: int = 100) -> list[Command]:
        """Commands that have arrived (never blocks); re-registers when a period has passed.

        Malformed commands are dropped with a log line (they have no usable id to answer).
        """
        if time.monotonic_ns() >= self._next_register_ns:
            self.register()
        commands: list[Command] = []
        for _ in range(max_count):
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            if len(frames) != 1:
                self._rlog(logging.WARNING, "frames", "dropped a command of %d frames",
                           len(frames))
                continue
            try:
                commands.append(decode_command(frames[0]))
            except WireError as exc:
                self._rlog(logging.WARNING, "command", "dropped a bad command: %s", exc.reason)
        return commands

    def send_ack(self, ack: Ack) -> None:
        """Answer a command; raises WireError if the ack is not valid on the wire."""
        payload = encode_ack(ack)
        try:
            self.socket.send(payload, zmq.NOBLOCK)
        except zmq.Again:
            self._rlog(logging.WARNING, "ack", "ack %s not sent: bus unreachable", ack.id)

    def close(self) -> None:
        """Close the socket (LINGER 0)."""
        self.socket.close(linger=0)
        if self._own_context:
            self._context.term()

    def __enter__(self) -> AdapterLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
