"""The answer to one command, from the adapter's decision to the operator's screen.

One :class:`Outcome` and one :class:`Ack` type end to end: the executor decides an Ack, the
audit records it, the bus carries it (``runtime.bus.wire`` encodes the wire fields), and the
viewer's tracker and ``twinstage write`` read it. The three adapter-side facts (``action``,
``requested``, ``written``) stay in the adapter: the wire does not carry them, so an Ack
decoded from the bus has their defaults.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """Final outcome of a command. Values are the wire spellings."""

    CONFIRMED = "confirmed"
    """The value was written and read back equal."""
    SELECTED = "selected"
    """The equipment point is reserved for this actor until the selection expires."""
    CANCELLED = "cancelled"
    """The selection was given back."""
    REFUSED = "refused"
    """The policy said no (see ``code``); nothing was written."""
    FAILED = "failed"
    """Allowed, but the device write or the read-back did not succeed; or the command never
    reached an adapter (``no_owner``, ``not_sent``, ...)."""


SUCCESS = frozenset({Outcome.CONFIRMED, Outcome.SELECTED, Outcome.CANCELLED})
"""Outcomes that mean the command did what it asked."""


@dataclass(frozen=True, slots=True)
class Ack:
    """Acknowledgement of one command id. The adapter sends it only after its audit record is
    on disk (R14). Field order is the wire's, so ``Ack(id, point, outcome, text)`` reads as
    the message does."""

    id: str
    """The command id it answers."""
    point: str
    outcome: Outcome
    text: str = ""
    """One line for a person, with values and units."""
    readback: float | None = None
    """Value read from the device after the write (confirmed, or a failed comparison)."""
    code: str = ""
    """Stable machine reason: ``role``, ``range``, ``rate``, ``quality``, ``interlock:<id>``,
    ``not_selected``, ``selection_expired``, ``duplicate``, ``audit_unavailable``,
    ``no_owner``, ... ; ``""`` when nothing needs explaining (docs/control.md lists them)."""
    duplicate: bool = False
    """True when this is the stored answer to an id already handled: nothing was done again."""
    action: str = "write"
    """Adapter side only: what was asked (write, select, operate, cancel)."""
    requested: float | None = None
    """Adapter side only: the value asked for."""
    written: bool = False
    """Adapter side only: whether a device write was attempted (it may have reached the
    device even if the outcome is failed)."""

    def __post_init__(self) -> None:
        if not isinstance(self.outcome, Outcome) and self.outcome in Outcome.__members__.values():
            object.__setattr__(self, "outcome", Outcome(self.outcome))

    @property
    def ok(self) -> bool:
        """Whether the command did what it asked (confirmed, selected or cancelled)."""
        return self.outcome in SUCCESS

    def _replace(self, **changes: Any) -> Ack:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for msgpack/JSON (the outcome as its string)."""
        data = asdict(self)
        data["outcome"] = str(self.outcome)
        return data


__all__ = ["SUCCESS", "Ack", "Outcome"]
