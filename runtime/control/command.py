"""The write command as the policy sees it, whatever carried it (bus, CLI, a test).

The bus has its own wire type (``runtime.bus.wire.Command``); :meth:`ControlCommand.from_message`
accepts it, or any object or mapping with the same field names, so this package never imports
the bus and the bus never imports this package.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    """What a command asks for. Values are the wire spellings of ``Command.action``."""

    WRITE = "write"
    """Set a point that does not move equipment (a setpoint); one step."""
    SELECT = "select"
    """Reserve an equipment point (``sbo: true``) for this actor for 10 s; no device write."""
    OPERATE = "operate"
    """Write a selected equipment point; uses up the selection."""
    CANCEL = "cancel"
    """Give back a selection without writing."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlCommand:
    """One request from a client. Fields are raw (``role`` and ``action`` unparsed) on purpose:
    a wrong value must become a refusal with a reason, never an exception."""

    id: str
    """Client-chosen, unique per attempt: a repeat of an id has no second effect."""
    point: str
    """Full point id, ``<entity>/<point>``."""
    value: float | None
    """Requested engineering value in the point's unit; None for cancel (and optional for
    select, where it binds the value the operate must carry)."""
    role: str
    actor: str
    """Who: a user name or badge id, as the client configured it."""
    host: str
    """Where from: the client's host name, for the audit trail."""
    action: str = Action.WRITE.value

    @classmethod
    def from_message(cls, message: Any) -> ControlCommand:
        """Build from a wire message (attributes) or a mapping with the same keys.

        Missing text fields become ``""`` and a missing or non-numeric value becomes None or NaN,
        so that the policy refuses them by name (``range``, ``role``, ...) instead of raising.
        """
        get = message.get if isinstance(message, Mapping) else _attr_getter(message)
        return cls(
            id=_text(get("id")),
            point=_text(get("point")),
            value=_number(get("value")),
            role=_text(get("role")),
            actor=_text(get("actor")),
            host=_text(get("host")),
            action=_text(get("action")) or Action.WRITE.value,
        )

    def same_request(self, other: ControlCommand) -> bool:
        """Whether ``other`` asks for exactly the same thing (a true repeat, not a reused id)."""
        same_value = self.value == other.value or (
            self.value is not None
            and other.value is not None
            and math.isnan(self.value)
            and math.isnan(other.value)
        )
        return (
            self.id == other.id
            and self.point == other.point
            and same_value
            and self.role == other.role
            and self.actor == other.actor
            and self.action == other.action
        )


def parse_action(text: str) -> Action | None:
    """The action spelled ``text``, or None (refused with reason ``action``)."""
    try:
        return Action(text.strip().lower())
    except ValueError:
        return None


def _attr_getter(message: Any) -> Any:
    return lambda name: getattr(message, name, None)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


__all__ = ["Action", "ControlCommand", "parse_action"]
