"""Send one command through the bus and wait for its ack (tools, viewers).

Commands travel DEALER -> bus ROUTER -> owning adapter and back, never over PUB (R9): a lost
command must be a visible timeout, not a silent drop. The caller picks the command id (use
:func:`new_command_id`) so that a retry with the same id has no second effect at the adapter.
"""

from __future__ import annotations

import time
import uuid

import zmq

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.handshake import BusRefusedError, HandshakeWatch
from runtime.bus.security import ClientSecurity
from runtime.bus.sockets import make_socket
from runtime.bus.wire import Command, WireError, decode_ack, encode_command
from runtime.control.ack import Ack


class CommandTimeoutError(TimeoutError):
    """No ack within the timeout: the bus is not running, or the owning adapter did not answer."""


def new_command_id() -> str:
    """A fresh, unique command id (32 hex digits)."""
    return uuid.uuid4().hex


def send_command(
    endpoints: BusEndpoints,
    command: Command,
    timeout_s: float = 5.0,
    *,
    context: zmq.Context | None = None,
    security: ClientSecurity | None = None,
) -> Ack:
    """Send ``command`` and block until its ack arrives; raise CommandTimeoutError if none does.

    Acks for other ids (late answers to earlier commands) and malformed replies are skipped.
    Raises WireError if ``command`` itself is not valid on the wire, and BusRefusedError as
    soon as the bus refuses this client's key.
    """
    payload = encode_command(command)
    own = context is None
    ctx = context or zmq.Context()
    sock = make_socket(ctx, zmq.DEALER, control=True, security=security)
    watch = HandshakeWatch(sock, key_name=security.name if security else "",
                           address=endpoints.commands)
    try:
        sock.connect(endpoints.commands)
        sock.send(payload)
        deadline = time.monotonic() + timeout_s
        while True:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if watch.refused_status is not None:
                raise BusRefusedError(watch.problem())
            if left_ms <= 0:
                why = watch.problem() or (
                    watch.unreachable(timeout_s) if not watch.connected else
                    f"no answer for {command.point} within {timeout_s:g} s from the bus at "
                    f"{endpoints.commands}: is an adapter owning the point running?")
                raise CommandTimeoutError(why)
            if not sock.poll(min(left_ms, 100), zmq.POLLIN):
                watch.poll()
                continue
            frames = sock.recv_multipart()
            if len(frames) != 1:
                continue
            try:
                ack = decode_ack(frames[0])
            except WireError:
                continue
            if ack.id == command.id:
                return ack
    finally:
        watch.close()
        sock.close(linger=0)
        if own:
            ctx.term()
