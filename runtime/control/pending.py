"""Client-side tracker of commands sent and their fate, shared by the viewer and the CLI.

A command is ``pending`` from the moment it is sent until its ack arrives: ``confirmed`` (the
adapter read the value back, or accepted a select/cancel) or ``refused`` with a reason (refused
by policy, or failed at the device). With no ack within ``timeout_ns`` it is ``expired``: the
client does not know what happened and should look at the point's reading, not resend blindly.
A late ack still wins: it is the adapter's word. UI-free and clock-free (times are passed in).
"""

from __future__ import annotations

import math
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum

from runtime.control.ack import Ack, Outcome

ACK_TIMEOUT_NS = 5_000_000_000
"""How long a command may stay pending before the tracker calls it expired."""


class PendingState(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REFUSED = "refused"
    EXPIRED = "expired"




@dataclass(slots=True)
class TrackedCommand:
    """One command as the client sees it."""

    id: str
    point: str
    action: str
    requested: float | None
    unit: str
    sent_ns: int
    state: PendingState = PendingState.PENDING
    outcome: Outcome | None = None
    """The ack's own outcome (None until it arrives; the state folds it into two)."""
    reason: str = ""
    """The adapter's machine code (``range``, ``interlock:IL-1``, ...) or ``timeout``."""
    text: str = ""
    read_back: float | None = None
    settled_ns: int | None = None
    late: bool = False
    """The ack came after the tracker had already called the command expired."""

    @property
    def done(self) -> bool:
        return self.state is not PendingState.PENDING


class PendingTracker:
    """Commands sent by this client, newest last; keeps the latest ``keep`` of them."""

    def __init__(self, *, timeout_ns: int = ACK_TIMEOUT_NS, keep: int = 200) -> None:
        self.timeout_ns = int(timeout_ns)
        self._keep = max(1, int(keep))
        self._items: OrderedDict[str, TrackedCommand] = OrderedDict()

    def sent(
        self,
        command_id: str,
        point: str,
        requested: float | None,
        now_ns: int,
        *,
        action: str = "write",
        unit: str = "",
    ) -> TrackedCommand:
        """Start tracking a command just sent."""
        item = TrackedCommand(command_id, point, action, requested, unit, now_ns)
        self._items[command_id] = item
        self._items.move_to_end(command_id)
        while len(self._items) > self._keep:
            self._items.popitem(last=False)
        return item

    def acked(self, ack: Ack, now_ns: int) -> TrackedCommand | None:
        """Apply an ack; None if the id is unknown."""
        item = self._items.get(ack.id)
        if item is None:
            return None
        item.late = item.state is PendingState.EXPIRED
        item.state = PendingState.CONFIRMED if ack.ok else PendingState.REFUSED
        item.outcome = ack.outcome
        item.reason = ack.code or ("" if ack.ok else str(ack.outcome))
        item.text = ack.text
        item.read_back = ack.readback
        item.settled_ns = now_ns
        return item

    def expire(self, now_ns: int) -> list[TrackedCommand]:
        """Mark commands pending for longer than the timeout as expired; return them."""
        expired = []
        for item in self._items.values():
            if item.state is PendingState.PENDING and now_ns - item.sent_ns >= self.timeout_ns:
                item.state = PendingState.EXPIRED
                item.reason = "timeout"
                item.text = f"no answer within {self.timeout_ns / 1e9:g} s; check the reading"
                item.settled_ns = now_ns
                expired.append(item)
        return expired

    def get(self, command_id: str) -> TrackedCommand | None:
        return self._items.get(command_id)

    def pending(self) -> list[TrackedCommand]:
        """Commands still waiting for an ack, oldest first."""
        return [i for i in self._items.values() if i.state is PendingState.PENDING]

    def recent(self) -> list[TrackedCommand]:
        """All tracked commands, oldest first."""
        return list(self._items.values())


def new_command_id() -> str:
    """A fresh id for a new attempt. Reuse an id only to resend the very same request."""
    return uuid.uuid4().hex


def confirm_text(point: str, current: float | None, requested: float, unit: str) -> str:
    """The second step of the two-step confirm, e.g. ``P-101/speed_sp_rpm: 900 rpm -> 1200
    rpm``; the current value is ``?`` when there is no usable reading."""
    suffix = "" if unit in ("", "bool", "enum") else f" {unit}"
    now = "?" if current is None or not math.isfinite(current) else f"{current:g}{suffix}"
    return f"{point}: {now} -> {requested:g}{suffix}"


__all__ = [
    "ACK_TIMEOUT_NS",
    "PendingState",
    "PendingTracker",
    "TrackedCommand",
    "confirm_text",
    "new_command_id",
]
