"""A service's end of the request path: offer a name, receive requests, send replies.

The service connects one DEALER to the bus's ``adapters`` ROUTER and offers its name; it offers
again every ``offer_period_s`` so that a restarted bus learns it within that period, and the
bus forgets a service that stopped offering. Everything is non-blocking: call :meth:`poll`
from the service's loop, or wait on :attr:`socket` with a zmq Poller. Every request gets
exactly one reply. One thread only.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import zmq

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.ratelog import RateLimitedLog
from runtime.bus.security import ClientSecurity
from runtime.bus.services import (
    ServiceReply,
    ServiceRequest,
    decode_request,
    encode_offer,
    encode_reply,
)
from runtime.bus.sockets import make_socket
from runtime.bus.wire import MAX_TEXT_LEN, WireError

log = logging.getLogger("twinstage.bus.service_link")

OFFER_PERIOD_S = 1.0


class ServiceLink:
    """A DEALER to the bus's ``adapters`` socket, offering ``service``."""

    def __init__(self, endpoints: BusEndpoints, service: str, *,
                 security: ClientSecurity | None = None, context: zmq.Context | None = None,
                 offer_period_s: float = OFFER_PERIOD_S) -> None:
        self.service = service
        self._offer = encode_offer(service)
        self._period_ns = int(offer_period_s * 1e9)
        self._next_offer_ns = 0
        self._own_context = context is None
        self._context = context or zmq.Context()
        self._rlog = RateLimitedLog(log)
        self.socket = make_socket(self._context, zmq.DEALER, security=security)
        self.socket.connect(endpoints.adapters)
        self.offer()

    def offer(self) -> None:
        """Offer the service now (also done periodically by :meth:`poll`)."""
        try:
            self.socket.send(self._offer, zmq.NOBLOCK)
        except zmq.Again:
            pass  # bus unreachable and queue full: the next period tries again
        self._next_offer_ns = time.monotonic_ns() + self._period_ns

    def poll(self, max_count: int = 100) -> list[ServiceRequest]:
        """Requests waiting now (non-blocking); malformed ones are answered ``error``."""
        if time.monotonic_ns() >= self._next_offer_ns:
            self.offer()
        out: list[ServiceRequest] = []
        for _ in range(max_count):
            try:
                payload = self.socket.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            try:
                out.append(decode_request(payload))
            except WireError as exc:
                self._rlog(logging.WARNING, "request", "dropped a bad request: %s", exc.reason)
        return out

    def reply(self, request_id: str, status: str, body: dict[str, Any] | None = None,
              text: str = "") -> None:
        """Answer request ``request_id``; an answer too large to send becomes an ``error``."""
        text = text[:MAX_TEXT_LEN]
        try:
            payload = encode_reply(ServiceReply(request_id, status, text, body or {}))
        except WireError as exc:
            payload = encode_reply(ServiceReply(request_id, "error",
                                                f"the answer could not be sent: {exc.reason}"
                                                [:MAX_TEXT_LEN], {}))
        try:
            self.socket.send(payload, zmq.NOBLOCK)
        except zmq.Again:
            self._rlog(logging.WARNING, "reply", "reply %s not sent: bus unreachable", request_id)

    def close(self) -> None:
        self.socket.close(linger=0)
        if self._own_context:
            self._context.term()


__all__ = ["ServiceLink", "ServiceRequest"]
