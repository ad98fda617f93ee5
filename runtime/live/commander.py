"""The viewer's end of the command path: send commands and collect acks without blocking a frame.

:func:`runtime.bus.command_client.send_command` blocks until the ack arrives (up to seconds):
fine for a CLI, a frozen picture in a viewer. The :class:`Commander` speaks the same wire
(one msgpack frame per command and per ack, :func:`~runtime.bus.wire.encode_command` /
:func:`~runtime.bus.wire.decode_ack`) over one DEALER that is only ever touched from the frame
thread: :meth:`Commander.send` queues with ``NOBLOCK``, :meth:`Commander.poll` drains acks with
``NOBLOCK`` once a frame. No worker thread, so no socket is shared between threads.

What happened to each command lives in a :class:`~runtime.control.pending.PendingTracker`:
``pending`` until its ack, then ``confirmed`` (confirmed, selected, cancelled) or ``refused``
(refused or failed, with the adapter's code and text), or ``expired`` ("no answer") after
``timeout_ns``. A late ack still wins: it is the adapter's word.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Mapping
from typing import Any

import zmq

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.ratelog import RateLimitedLog
from runtime.bus.sockets import make_socket
from runtime.bus.wire import Command, WireError, decode_ack, encode_command
from runtime.control.ack import Ack, Outcome
from runtime.control.pending import ACK_TIMEOUT_NS, PendingTracker, TrackedCommand, new_command_id

log = logging.getLogger("twinstage.live.commander")

MAX_ACKS_PER_POLL = 100
"""Acks drained per frame at most; a flood waits for the next frame instead of stalling this
one."""


class Commander:
    """One DEALER to the bus's ``commands`` ROUTER, a role and an actor; frame thread only."""

    def __init__(self, endpoints: BusEndpoints, *, role: str, actor: str,
                 host: str | None = None, timeout_ns: int = ACK_TIMEOUT_NS,
                 context: zmq.Context | None = None, security: Any = None) -> None:
        self.role = role
        self.actor = actor
        self.host = (host if host is not None else socket.gethostname())[:512]
        self.tracker = PendingTracker(timeout_ns=timeout_ns)
        self.started_ns = time.monotonic_ns()
        self.stats = {"sent": 0, "acks": 0, "unknown_acks": 0, "bad_acks": 0, "not_sent": 0}
        self._own_context = context is None
        self._context = context or zmq.Context()
        self._rlog = RateLimitedLog(log)
        self.socket = make_socket(self._context, zmq.DEALER, control=True, security=security)
        self.socket.connect(endpoints.commands)

    def send(self, point: str, value: float, now_ns: int, *, action: str = "write",
             unit: str = "", command_id: str | None = None,
             comment: str = "") -> TrackedCommand:
        """Queue one command (never blocks) and start tracking it.

        A command that cannot be queued (invalid on the wire, or the send queue full because
        the bus has been unreachable for long) is settled at once as refused with code
        ``not_sent``: the operator sees why, and nothing reached the adapter.
        """
        cid = command_id or new_command_id()
        item = self.tracker.sent(cid, point, float(value), now_ns, action=action, unit=unit)
        try:
            payload = encode_command(Command(cid, point, float(value), self.role, self.actor,
                                             self.host, action, comment))
            self.socket.send(payload, zmq.NOBLOCK)
        except WireError as exc:
            self._not_sent(cid, point, now_ns, f"not valid on the wire: {exc.reason}")
        except zmq.Again:
            self._not_sent(cid, point, now_ns, "the bus is unreachable (send queue full)")
        else:
            self.stats["sent"] += 1
        return item

    def _not_sent(self, cid: str, point: str, now_ns: int, why: str) -> None:
        self.stats["not_sent"] += 1
        self.tracker.acked(Ack(cid, point, Outcome.FAILED, f"not sent: {why}", None, "not_sent"),
                           now_ns)

    def poll(self, now_ns: int) -> list[TrackedCommand]:
        """Apply the acks that have arrived and expire overdue commands; never blocks.

        Returns the commands settled by this call (acked or expired), oldest first. Acks for
        ids this viewer did not send, and malformed frames, are counted and dropped.
        """
        settled: list[TrackedCommand] = []
        for _ in range(MAX_ACKS_PER_POLL):
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            if len(frames) != 1:
                self.stats["bad_acks"] += 1
                continue
            try:
                ack = decode_ack(frames[0])
            except WireError as exc:
                self.stats["bad_acks"] += 1
                self._rlog(logging.WARNING, "ack", "dropped a bad ack: %s", exc.reason)
                continue
            item = self.tracker.acked(ack, now_ns)
            if item is None:
                self.stats["unknown_acks"] += 1
                continue
            self.stats["acks"] += 1
            settled.append(item)
        settled.extend(self.tracker.expire(now_ns))
        return settled

    def get(self, command_id: str) -> TrackedCommand | None:
        return self.tracker.get(command_id)

    def outcome(self, command_id: str) -> str | None:
        """The ack's own outcome word (``confirmed``, ``selected``, ``cancelled``, ``refused``,
        ``failed``), which the tracker folds into two states; None before the ack."""
        item = self.tracker.get(command_id)
        return None if item is None or item.outcome is None else str(item.outcome)

    def to_json(self) -> list[dict[str, Any]]:
        """Every tracked command, oldest first, for the stats file."""
        return [command_json(item, self.started_ns, self.outcome(item.id))
                for item in self.tracker.recent()]

    def close(self) -> None:
        """Close the socket (LINGER 0: unsent commands are dropped, never block exit)."""
        self.socket.close(linger=0)
        if self._own_context:
            self._context.term()


def command_json(item: TrackedCommand, started_ns: int = 0,
                 outcome: str | None = None) -> dict[str, Any]:
    """One tracked command as JSON: what was asked, its state, the adapter's code and text."""
    out: Mapping[str, Any] = {
        "id": item.id,
        "point": item.point,
        "action": item.action,
        "requested": item.requested,
        "unit": item.unit,
        "state": str(item.state),
        "outcome": outcome,
        "code": item.reason,
        "text": item.text,
        "readback": item.read_back,
        "late": item.late,
        "sent_s": round((item.sent_ns - started_ns) / 1e9, 3),
        "settled_ms": None if item.settled_ns is None
        else round((item.settled_ns - item.sent_ns) / 1e6, 1),
    }
    return dict(out)


__all__ = ["Commander", "command_json"]
