"""The adapter's answer to one command: what happened, and why in words and in a code."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class AckOutcome(StrEnum):
    """Final outcome of a command. Values are the wire spellings."""

    CONFIRMED = "confirmed"
    """The value was written and read back equal."""
    SELECTED = "selected"
    """The equipment point is reserved for this actor until the selection expires."""
    CANCELLED = "cancelled"
    """The selection was given back."""
    REFUSED = "refused"
    """The policy said no (see ``reason``); nothing was written."""
    FAILED = "failed"
    """The policy allowed it but the device write or the read-back did not succeed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ack:
    """Acknowledgement of one command id. Sent only after its audit record is on disk (R14)."""

    command_id: str
    point: str
    action: str
    outcome: AckOutcome
    reason: str = ""
    """Stable machine code: ``role``, ``range``, ``rate``, ``quality``, ``interlock:<id>``,
    ``not_selected``, ``selection_expired``, ``duplicate``, ``audit_unavailable``, ... ;
    ``""`` when nothing needs explaining. docs/control.md lists them all."""
    text: str = ""
    """One line for a person, with values and units."""
    requested: float | None = None
    read_back: float | None = None
    """Value read from the device after the write (confirmed or failed read-back)."""
    written: bool = False
    """Whether a device write was attempted (it may have reached the device even if failed)."""
    duplicate: bool = False
    """True when this is the stored answer to an id already handled: nothing was done again."""

    def wire_outcome(self) -> tuple[str, str]:
        """(outcome, code) as the bus ``Ack`` carries them in its ``outcome`` and ``code`` fields.

        The wire now has every outcome, a ``text`` and a ``duplicate`` field of its own
        (docs/bus-protocol.md); ``adapters.modbus.control_link.wire_ack`` builds the whole Ack.
        """
        return self.outcome.value, self.reason

    def to_dict(self) -> dict[str, Any]:
        """Plain data for msgpack/JSON (the outcome as its string)."""
        data = asdict(self)
        data["outcome"] = self.outcome.value
        return data


__all__ = ["Ack", "AckOutcome"]
