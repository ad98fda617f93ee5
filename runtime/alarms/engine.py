"""AlarmEngine: owns every alarm's state, judges readings, applies operator actions, journals.

The alarm service loop (``twinstage alarms``) holds one engine: it hands ``evaluate`` the
latest values of :attr:`AlarmEngine.points` at >= 10 Hz, routes operator commands to
``command``, publishes the transitions both return (already journaled and fsync'd by then) and
answers snapshots from ``states``. Time is only ever the ``now_ns`` it is given (session virtual
time), so a replay judges exactly as the live run did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runtime.alarms.definitions import AlarmSet
from runtime.alarms.evaluate import step
from runtime.alarms.journal import AlarmJournal
from runtime.alarms.states import (
    OUT_OF_SERVICE,
    RTN_UNACK,
    SHELVED,
    STATE_CODES,
    STATE_NAMES,
    UNACK,
    reported_codes,
)
from runtime.alarms.tables import build_tables, new_state

ACTIONS = ("ack", "shelve", "unshelve", "disable", "enable")
ACTION_ROLES: dict[str, frozenset[str]] = {
    "ack": frozenset({"operator", "instructor", "engineer"}),
    "shelve": frozenset({"operator", "instructor", "engineer"}),
    "unshelve": frozenset({"operator", "instructor", "engineer"}),
    # Out of service is maintenance under management of change (ISA-18.2 section 11), not a
    # way for an operator to silence a nuisance: that is what timed shelving is for.
    "disable": frozenset({"instructor", "engineer"}),
    "enable": frozenset({"instructor", "engineer"}),
}
"""Action -> roles allowed to take it (bus-vouched role names, runtime.control.roles)."""
_NS_PER_MIN = 60_000_000_000
_PAST = {"ack": "acknowledged", "shelve": "shelved", "unshelve": "unshelved",
         "disable": "took out of service", "enable": "returned to service"}
_NOT_APPLICABLE = {"ack": "nothing to acknowledge", "shelve": "it is out of service",
                   "unshelve": "it is not shelved", "disable": "it is already out of service",
                   "enable": "it is not out of service"}


@dataclass(slots=True)
class Transition:
    """One alarm's change of state; :meth:`event` is the contract's bus/journal map."""

    id: str
    point: str
    asset: str
    priority: str
    state: str
    active: bool
    acked: bool
    t_ns: int
    t_active_ns: int
    value: float | None
    message: str
    actor: str = ""
    comment: str = ""
    shelved_until_ns: int = -1
    journal_seq: int = 0

    def event(self) -> dict[str, Any]:
        return {
            "kind": "alarm",
            "id": self.id,
            "point": self.point,
            "asset": self.asset,
            "priority": self.priority,
            "state": self.state,
            "active": self.active,
            "acked": self.acked,
            "t_ns": self.t_ns,
            "t_active_ns": self.t_active_ns,
            "value": self.value,
            "message": self.message,
            "actor": self.actor,
            "comment": self.comment,
            "shelved_until_ns": self.shelved_until_ns,
            "journal_seq": self.journal_seq,
        }


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The outcome of an operator action. ``code``: ok | unknown_alarm | unknown_action | role |
    bad_request (shelve minutes or reason) | not_applicable (e.g. nothing to acknowledge)."""

    ok: bool
    code: str
    text: str
    transitions: list[Transition] = field(default_factory=list)


class AlarmEngine:
    """Every alarm of one AlarmSet; one owner thread."""

    def __init__(self, defs: AlarmSet, journal: AlarmJournal | None = None, *,
                 action_roles: dict[str, frozenset[str]] | None = None) -> None:
        self.defs = defs
        self.journal = journal
        self.action_roles = dict(ACTION_ROLES if action_roles is None else action_roles)
        self.tables, self.points = build_tables(defs)
        n = self.tables.count
        self.state = new_state(n)
        self.point_index = {p: i for i, p in enumerate(self.points)}
        """Point id -> its column in evaluate's ``values`` and ``quality``."""
        self.ids = [a.id for a in defs.alarms]
        self._index = {ident: i for i, ident in enumerate(self.ids)}
        self._last_t_ns = [0] * n
        self._last_seq = [0] * n
        self._actor = [""] * n
        self._comment = [""] * n
        self._value: list[float | None] = [None] * n
        """The judged value at each alarm's last transition (what its event map carries)."""
        self._shelve_note = [""] * n
        """``shelved by <who>: <reason>``: the comment of system transitions while shelved, so
        the list and a snapshot keep saying why an alarm is hidden."""

    # ----------------------------------------------------------------------------- judging

    def evaluate(self, now_ns: int, values: np.ndarray, quality: np.ndarray) -> list[Transition]:
        """Judge every alarm at ``now_ns``; return (journaled) transitions, in alarm order.

        ``values`` float64 and ``quality`` uint8 (0 Good, 1 Uncertain, 2 Bad) are aligned with
        :attr:`points`; NaN means no reading yet. Call at >= 10 Hz: on/off delays and shelve
        expiry are judged on these calls.
        """
        if values.shape != (len(self.points),) or quality.shape != values.shape:
            raise ValueError(f"values and quality must have shape ({len(self.points)},) aligned "
                             f"with engine.points; got {values.shape} and {quality.shape}")
        s = self.state
        before = (s.state.copy(), s.active.copy(), s.acked.copy(), s.shelved_until_ns.copy())
        was_shelved = s.shelved.copy()
        step(self.tables, s, int(now_ns), values, quality)
        changed = ((s.state != before[0]) | (s.active != before[1]) | (s.acked != before[2])
                   | (s.shelved_until_ns != before[3]))
        idx = np.flatnonzero(changed)
        if idx.size == 0:
            return []
        expired = set(np.flatnonzero(was_shelved & ~s.shelved).tolist())
        comments = {int(i): "shelve time ended" for i in expired}
        return self._emit(idx, int(now_ns), "", comments)

    # ---------------------------------------------------------------------- operator actions

    def command(self, target: str, action: str, now_ns: int, *, actor: str, role: str,
                comment: str = "", minutes: float = 0.0) -> CommandResult:
        """Apply an operator action to one alarm id or ``*`` (every alarm it applies to)."""
        if action not in ACTIONS:
            return CommandResult(False, "unknown_action", f"unknown alarm action {action!r}; "
                                 f"use one of {', '.join(ACTIONS)}")
        allowed = self.action_roles.get(action, frozenset())
        if role not in allowed:
            return CommandResult(False, "role", f"role {role or '(none)'!r} may not {action} "
                                 f"alarms; allowed: {', '.join(sorted(allowed))}")
        if target != "*" and target not in self._index:
            return CommandResult(False, "unknown_alarm", f"no alarm {target!r} in "
                                 f"{self.defs.path.name}; `twinstage alarms list` shows them")
        s = self.state
        applies = self._applies(action, target == "*")
        if target == "*":
            idx = np.flatnonzero(applies)
        else:
            i = self._index[target]
            if not applies[i]:
                return CommandResult(False, "not_applicable", f"{target} is "
                                     f"{STATE_NAMES[s.state[i]].replace('_', ' ')}: "
                                     f"{_NOT_APPLICABLE[action]}")
            idx = np.array([i], np.int64)
        if action == "shelve":
            refused = self._check_shelve(idx, minutes, comment)
            if refused is not None:
                return refused
        now_ns = int(now_ns)
        before = (s.state[idx].copy(), s.active[idx].copy(), s.acked[idx].copy(),
                  s.shelved_until_ns[idx].copy())
        self._apply(action, idx, now_ns, minutes)
        if action == "shelve":
            for i in idx.tolist():
                self._shelve_note[i] = f"shelved by {actor}: {comment}"
        s.state[idx] = reported_codes(s.active[idx], s.acked[idx], s.shelved[idx],
                                      s.suppressed[idx], s.out_of_service[idx])
        changed = ((s.state[idx] != before[0]) | (s.active[idx] != before[1])
                   | (s.acked[idx] != before[2]) | (s.shelved_until_ns[idx] != before[3]))
        transitions = self._emit(idx[changed], now_ns, actor, {}, comment)
        what = target if target != "*" else f"{len(transitions)} alarm(s)"
        return CommandResult(True, "ok", f"{_PAST[action]} {what}", transitions)

    def _applies(self, action: str, every: bool) -> np.ndarray:
        s = self.state
        if action == "ack":
            return (s.state == UNACK) | (s.state == RTN_UNACK)
        if action == "shelve":
            listed = (s.state == UNACK) | (s.state == RTN_UNACK) | (s.state == STATE_CODES["ack"])
            return listed if every else ~s.out_of_service
        if action == "unshelve":
            return s.state == SHELVED
        if action == "disable":
            return ~s.out_of_service
        return s.state == OUT_OF_SERVICE

    def _check_shelve(self, idx: np.ndarray, minutes: float, comment: str
                      ) -> CommandResult | None:
        if not isinstance(minutes, int | float) or not math.isfinite(minutes) or minutes <= 0:
            return CommandResult(False, "bad_request", "shelving needs a duration: minutes "
                                 f"greater than 0 (got {minutes!r})")
        if not comment.strip():
            return CommandResult(False, "bad_request", "shelving needs a reason: say why the "
                                 "alarm is shelved (comment)")
        if idx.size:
            max_ns = int(self.tables.alarm_shelve_max_ns[idx].min())
            if minutes * _NS_PER_MIN > max_ns:
                return CommandResult(False, "bad_request", f"{minutes:g} min is longer than the "
                                     f"shelving limit of {max_ns / _NS_PER_MIN:g} min")
        return None

    def _apply(self, action: str, idx: np.ndarray, now_ns: int, minutes: float) -> None:
        s = self.state
        if action == "ack":
            s.acked[idx] = True
            s.t_active_ns[idx[~s.active[idx]]] = -1
        elif action == "shelve":
            s.shelved[idx] = True
            s.shelved_until_ns[idx] = now_ns + int(round(minutes * _NS_PER_MIN))
        elif action in ("unshelve", "disable"):
            s.shelved[idx] = False
            s.shelved_until_ns[idx] = -1
            if action == "disable":
                s.out_of_service[idx] = True
                s.active[idx] = False
                s.acked[idx] = True
                s.cond[idx] = False
                s.cond_since_ns[idx] = now_ns
                s.t_active_ns[idx] = -1
        else:  # enable: judged afresh on the next evaluate, its on-delay starting then
            s.out_of_service[idx] = False
            s.cond[idx] = False
            s.cond_since_ns[idx] = now_ns

    # ------------------------------------------------------------------------------ output

    def _emit(self, idx: np.ndarray, now_ns: int, actor: str, comments: dict[int, str],
              comment: str = "") -> list[Transition]:
        transitions = []
        for i in idx.tolist():
            self._last_t_ns[i] = now_ns
            self._actor[i] = actor
            note = self._shelve_note[i] if actor == "" and self.state.shelved[i] else ""
            self._comment[i] = comments.get(i, note or comment)
            value = float(self.state.value[i])
            self._value[i] = value if math.isfinite(value) else None
            transitions.append(self._transition(i))
        if self.journal is not None and transitions:
            events = [t.event() for t in transitions]
            self.journal.append(events)
            for t, e in zip(transitions, events, strict=True):
                t.journal_seq = e["journal_seq"]
        for t, i in zip(transitions, idx.tolist(), strict=True):
            self._last_seq[i] = t.journal_seq
        return transitions

    def _transition(self, i: int) -> Transition:
        s = self.state
        a = self.defs.alarms[i]
        return Transition(
            id=a.id,
            point=a.point,
            asset=a.asset,
            priority=a.priority,
            state=STATE_NAMES[s.state[i]],
            active=bool(s.active[i]),
            acked=bool(s.acked[i]),
            t_ns=self._last_t_ns[i],
            t_active_ns=int(s.t_active_ns[i]),
            value=self._value[i],
            message=a.message,
            actor=self._actor[i],
            comment=self._comment[i],
            shelved_until_ns=int(s.shelved_until_ns[i]),
            journal_seq=self._last_seq[i],
        )

    def states(self) -> list[dict[str, Any]]:
        """Every alarm's current state as the contract's event map (the snapshot)."""
        return [self._transition(i).event() for i in range(self.tables.count)]

    def listed(self) -> list[dict[str, Any]]:
        """What an alarm list shows (active, returned-unacknowledged or shelved), most important
        first: priority Critical..Low, then the newest activation first, then id."""
        s = self.state.state
        show = (s == UNACK) | (s == RTN_UNACK) | (s == STATE_CODES["ack"]) | (s == SHELVED)
        idx = np.flatnonzero(show)
        order = np.lexsort((idx, -self.state.t_active_ns[idx],
                            -self.tables.alarm_priority[idx].astype(np.int64)))
        return [self._transition(i).event() for i in idx[order].tolist()]

    def definition(self, alarm_id: str) -> Any:
        """The AlarmDef of ``alarm_id`` (faceplates show its rationalization), KeyError if none."""
        return self.defs.alarms[self._index[alarm_id]]

    # ----------------------------------------------------------------------------- restore

    @classmethod
    def restore(cls, defs: AlarmSet, journal: AlarmJournal, **kwargs: Any) -> AlarmEngine:
        """Rebuild the state the journal ends in (after a crash or a restart).

        Alarms the journal does not name start normal; journal rows of alarms no longer defined
        are ignored. Each active alarm's condition is taken to hold since its last row, so it
        stays active until the next evaluate judges otherwise (through its off-delay).
        """
        engine = cls(defs, journal, **kwargs)
        s = engine.state
        for ident, row in journal.last_rows.items():
            i = engine._index.get(ident)
            if i is None or row.get("state") not in STATE_CODES:
                continue
            s.active[i] = bool(row["active"])
            s.acked[i] = bool(row["acked"])
            s.cond[i] = s.active[i]
            s.cond_since_ns[i] = int(row["t_ns"])
            s.t_active_ns[i] = int(row["t_active_ns"])
            s.shelved_until_ns[i] = int(row["shelved_until_ns"])
            s.shelved[i] = s.shelved_until_ns[i] >= 0
            s.out_of_service[i] = row["state"] == "out_of_service"
            s.suppressed[i] = row["state"] == "suppressed"
            s.value[i] = np.nan if row["value"] is None else float(row["value"])
            engine._last_t_ns[i] = int(row["t_ns"])
            engine._last_seq[i] = int(row["journal_seq"])
            engine._actor[i] = str(row.get("actor", ""))
            engine._comment[i] = str(row.get("comment", ""))
            engine._value[i] = None if row["value"] is None else float(row["value"])
            if s.shelved[i]:
                who, why = engine._actor[i], engine._comment[i]
                engine._shelve_note[i] = f"shelved by {who}: {why}" if who else why
        s.state = reported_codes(s.active, s.acked, s.shelved, s.suppressed, s.out_of_service)
        return engine
