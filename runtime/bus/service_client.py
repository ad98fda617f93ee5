"""Ask a service a question through the bus and wait for its answer (tools, viewer workers).

A request travels DEALER -> bus ``commands`` ROUTER -> the service that offered the name, and
the reply comes back the same way, never over PUB (R9). The bus stamps the request with the
role and name of this client's key. A missing answer is a visible ``unavailable`` reply, never
a hang: the caller gives a timeout. One thread only (ZeroMQ sockets are not thread-safe): the
viewer asks from a worker thread, never from the render loop.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import zmq

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.handshake import BusRefusedError, HandshakeWatch
from runtime.bus.security import ClientSecurity
from runtime.bus.services import (
    ServiceReply,
    ServiceRequest,
    command_for,
    decode_reply,
    encode_request,
)
from runtime.bus.sockets import make_socket
from runtime.bus.wire import WireError


class ServiceClient:
    """One DEALER to the bus's ``commands`` socket for service requests."""

    def __init__(self, endpoints: BusEndpoints, *, security: ClientSecurity | None = None,
                 context: zmq.Context | None = None) -> None:
        self.endpoints = endpoints
        self._own_context = context is None
        self._context = context or zmq.Context()
        # Not a control socket: replies may be up to 1 MiB.
        self._sock = make_socket(self._context, zmq.DEALER, security=security)
        self._watch = HandshakeWatch(self._sock, key_name=security.name if security else "",
                                     address=endpoints.commands)
        self._sock.connect(endpoints.commands)

    def call(self, service: str, method: str, body: dict[str, Any] | None = None, *,
             timeout_s: float = 5.0) -> ServiceReply:
        """Send one request and wait for its reply; ``unavailable`` when none comes in time.

        Raises WireError if the request itself is invalid, BusRefusedError when the bus
        refuses this client's key.
        """
        rid = uuid.uuid4().hex
        self._sock.send(encode_request(ServiceRequest(rid, service, method, body or {})))
        deadline = time.monotonic() + timeout_s
        while True:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if self._watch.refused_status is not None:
                raise BusRefusedError(self._watch.problem())
            if left_ms <= 0:
                why = self._watch.problem() or (
                    self._watch.unreachable(timeout_s) if not self._watch.connected else
                    f"no answer from service {service!r} within {timeout_s:g} s: is "
                    f"`twinstage {command_for(service)}` running on this bus?")
                return ServiceReply(rid, "unavailable", why[:512], {})
            if not self._sock.poll(min(left_ms, 100), zmq.POLLIN):
                self._watch.poll()
                continue
            frames = self._sock.recv_multipart()
            if len(frames) != 1:
                continue
            try:
                reply = decode_reply(frames[0])
            except WireError:
                continue  # a late or malformed answer to something else
            if reply.id == rid:
                return reply

    def close(self) -> None:
        self._watch.close()
        self._sock.close(linger=0)
        if self._own_context:
            self._context.term()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["BusRefusedError", "ServiceClient"]
