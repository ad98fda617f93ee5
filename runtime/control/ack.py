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
        """(outcome, reason) for today's bus Ack (``accepted`` | ``refused`` | ``error``).

        The reason starts with the stable code so clients can parse it: ``"range: ..."``,
        ``"selected: ..."``, ``"duplicate: ..."``. Until the wire grows fields for the code and
        the duplicate flag, this keeps every distinction in the reason text.
        """
        if self.outcome in (AckOutcome.CONFIRMED, AckOutcome.SELECTED, AckOutcome.CANCELLED):
            wire = "accepted"
        elif self.outcome is AckOutcome.REFUSED:
            wire = "refused"
        else:
            wire = "error"
        code = self.reason or ("" if self.outcome is AckOutcome.CONFIRMED else self.outcome.value)
        if self.duplicate:
            code = f"duplicate{'/' + code if code else ''}"
        reason = f"{code}: {self.text}" if code and self.text else code or self.text
        return wire, reason

    def to_dict(self) -> dict[str, Any]:
        """Plain data for msgpack/JSON (the outcome as its string)."""
        data = asdict(self)
        data["outcome"] = self.outcome.value
        return data


__all__ = ["Ack", "AckOutcome"]
