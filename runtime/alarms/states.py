"""The alarm state model (ISA-18.2 / IEC 62682, as OPC UA Part 9 AlarmConditionType models it).

An alarm's full state is its *plain* state, from the pair (active, acknowledged), plus three
*modes* that hide it from the operator: shelved (timed, by an operator), suppressed by design
(a condition in alarms.yaml) and out of service (disabled). The state reported on the bus is the
first that applies of: out_of_service, shelved, suppressed, then the plain state.

The tables below are the specification; the vectorised engine (runtime.alarms.evaluate and
engine) implements them over whole columns and tests/test_alarm_states.py checks it against
:func:`reference_step`, which is nothing but table look-ups.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

NORMAL, UNACK, ACK, RTN_UNACK, SHELVED, SUPPRESSED, OUT_OF_SERVICE = range(7)
STATE_NAMES = ("normal", "unack", "ack", "rtn_unack", "shelved", "suppressed", "out_of_service")
"""State code -> the word used on the bus and in the journal (docs/alarms.md)."""
STATE_CODES = {name: code for code, name in enumerate(STATE_NAMES)}

PLAIN = {(False, True): "normal", (True, False): "unack", (True, True): "ack",
         (False, False): "rtn_unack"}
"""(active, acked) -> plain state."""
PLAIN_FLAGS = {name: flags for flags, name in PLAIN.items()}

PLAIN_TRANSITIONS: dict[tuple[str, str], str] = {
    # (plain state, event) -> plain state.  Events: raise (the condition became active after
    # its on-delay), clear (inactive after its off-delay), ack (an operator acknowledged).
    ("normal", "raise"): "unack",
    ("normal", "clear"): "normal",
    ("normal", "ack"): "normal",          # nothing to acknowledge: refused, no change
    ("unack", "raise"): "unack",
    ("unack", "clear"): "rtn_unack",
    ("unack", "ack"): "ack",
    ("ack", "raise"): "ack",
    ("ack", "clear"): "normal",
    ("ack", "ack"): "ack",                # already acknowledged: refused, no change
    ("rtn_unack", "raise"): "unack",      # active again before anyone acknowledged
    ("rtn_unack", "clear"): "rtn_unack",
    ("rtn_unack", "ack"): "normal",
}
"""The ISA-18.2 core, applied while the alarm is not hidden by a mode."""

SHELVED_PLAIN_TRANSITIONS: dict[tuple[str, str], str] = {
    # While shelved the plain state keeps following the process, so that unshelving (or the
    # shelve expiring) returns the alarm to its real state; an alarm that came and went while
    # shelved returns to normal rather than asking for an acknowledgement of what the operator
    # chose not to see. Acks are refused while shelved.
    ("normal", "raise"): "unack",
    ("normal", "clear"): "normal",
    ("unack", "raise"): "unack",
    ("unack", "clear"): "normal",
    ("ack", "raise"): "ack",
    ("ack", "clear"): "normal",
    ("rtn_unack", "raise"): "unack",
    ("rtn_unack", "clear"): "normal",
}

MODE_EVENTS: dict[str, tuple[str, bool]] = {
    # event -> (mode flag it sets/clears, new value). Entering suppressed or out_of_service
    # resets the plain state to normal (the alarm is not processed: when it comes back the
    # condition is judged afresh, its on-delay starting then, and a standing condition raises
    # a new unacknowledged alarm). Shelving keeps the plain state.
    "shelve": ("shelved", True),
    "unshelve": ("shelved", False),      # also: the shelve time expired
    "suppress": ("suppressed", True),
    "unsuppress": ("suppressed", False),
    "disable": ("out_of_service", True),
    "enable": ("out_of_service", False),
}
RESETTING_MODES = ("suppressed", "out_of_service")

COMMAND_APPLIES: dict[str, str] = {
    # operator action -> which alarms it applies to (otherwise refused: 'not_applicable')
    "ack": "reported state is unack or rtn_unack",
    "shelve": "not out of service (a shelved alarm is re-shelved with the new time and reason)",
    "unshelve": "shelved",
    "disable": "not out of service",
    "enable": "out of service",
}


@dataclass(frozen=True, slots=True)
class FullState:
    """One alarm's full state as the tables above describe it."""

    plain: str = "normal"
    shelved: bool = False
    suppressed: bool = False
    out_of_service: bool = False

    @property
    def reported(self) -> str:
        if self.out_of_service:
            return "out_of_service"
        if self.shelved:
            return "shelved"
        if self.suppressed:
            return "suppressed"
        return self.plain


def reference_step(state: FullState, event: str) -> FullState:
    """Apply one event by table look-up (the specification the engine is tested against).

    ``raise``/``clear`` are ignored while suppressed or out of service (not processed);
    ``ack`` only acts on a reported unack/rtn_unack; ``shelve`` is ignored out of service.
    """
    hidden_reset = state.suppressed or state.out_of_service
    if event in ("raise", "clear"):
        if hidden_reset:
            return state
        table = SHELVED_PLAIN_TRANSITIONS if state.shelved else PLAIN_TRANSITIONS
        return replace(state, plain=table[(state.plain, event)])
    if event == "ack":
        if state.reported not in ("unack", "rtn_unack"):
            return state
        return replace(state, plain=PLAIN_TRANSITIONS[(state.plain, "ack")])
    flag, value = MODE_EVENTS[event]
    if event == "shelve" and state.out_of_service:
        return state
    if event == "disable":
        state = replace(state, shelved=False)
    new = replace(state, **{flag: value})
    if value and flag in RESETTING_MODES:
        new = replace(new, plain="normal")
    return new


def reported_codes(active: np.ndarray, acked: np.ndarray, shelved: np.ndarray,
                   suppressed: np.ndarray, out_of_service: np.ndarray) -> np.ndarray:
    """Vectorised :attr:`FullState.reported` as int8 codes."""
    plain = np.where(active, np.where(acked, ACK, UNACK), np.where(acked, NORMAL, RTN_UNACK))
    out = np.where(suppressed, SUPPRESSED, plain)
    out = np.where(shelved, SHELVED, out)
    out = np.where(out_of_service, OUT_OF_SERVICE, out)
    return out.astype(np.int8)
