"""Struct-of-arrays alarm tables: the definitions (fixed) and each alarm's state (mutable).

One row per alarm, in the order of the definitions file; suppression conditions are a second
table of rows that point at their alarm. ``-1`` means none. Built once by
:func:`build_tables`; evaluation (runtime.alarms.evaluate) is numpy over whole columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from runtime.alarms.definitions import ALARM_TYPES, CONDITION_OPS, PRIORITIES, AlarmSet
from runtime.alarms.states import NORMAL

TYPE_CODES = {name: i for i, name in enumerate(ALARM_TYPES)}
"""Alarm type -> int8 code in ``alarm_type``."""
OP_CODES = {op: i for i, op in enumerate(CONDITION_OPS)}
_DIRECTION = {"either": 0, "rising": 1, "falling": -1}
NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class AlarmTables:
    """What every alarm is (never changes after build). Shapes: (n,) unless noted."""

    alarm_pv: np.ndarray
    """int64: column in ``points`` of the judged value (command_disagree: the feedback)."""
    alarm_sp: np.ndarray
    """int64: column of the setpoint (deviation) or command (command_disagree); -1 none."""
    alarm_type: np.ndarray
    """int8: :data:`TYPE_CODES`."""
    alarm_limit: np.ndarray
    """float64: limit; deviation |pv-sp|; rate units/min; command_disagree tolerance."""
    alarm_deadband: np.ndarray
    """float64: units of the point; the condition clears only this far back inside the limit."""
    alarm_value: np.ndarray
    """float64: discrete alarm value."""
    alarm_direction: np.ndarray
    """int8: rate alarms: 0 either, 1 rising, -1 falling."""
    alarm_window_ns: np.ndarray
    """int64: rate alarms: the window the rate is measured over."""
    alarm_on_delay_ns: np.ndarray
    alarm_off_delay_ns: np.ndarray
    alarm_shelve_max_ns: np.ndarray
    alarm_priority: np.ndarray
    """int8: index in PRIORITIES (0 Low .. 3 Critical)."""
    alarm_has_suppress: np.ndarray
    """bool: the alarm has a suppress_when list."""
    cond_alarm: np.ndarray
    """int64 (m,): the alarm each suppression condition belongs to."""
    cond_point: np.ndarray
    """int64 (m,): column of the condition's point."""
    cond_op: np.ndarray
    """int8 (m,): :data:`OP_CODES`."""
    cond_value: np.ndarray
    """float64 (m,)."""

    @property
    def count(self) -> int:
        return int(self.alarm_pv.shape[0])


@dataclass(slots=True)
class AlarmState:
    """Each alarm's state (mutable, owned by one AlarmEngine). Shapes (n,)."""

    cond: np.ndarray
    """bool: the condition with its deadband, before the on/off delays."""
    cond_since_ns: np.ndarray
    """int64: when ``cond`` last changed."""
    active: np.ndarray
    """bool: the alarm condition after the delays (ISA-18.2 'active')."""
    acked: np.ndarray
    """bool: acknowledged (True while normal)."""
    t_active_ns: np.ndarray
    """int64: when it last became active; -1 once back to normal."""
    shelved: np.ndarray
    shelved_until_ns: np.ndarray
    """int64: -1 when not shelved."""
    suppressed: np.ndarray
    """bool: the suppress_when condition holds (suppressed by design)."""
    out_of_service: np.ndarray
    state: np.ndarray
    """int8: the state code reported (runtime.alarms.states)."""
    value: np.ndarray
    """float64: the latest judged value (NaN: none yet)."""
    rate_ref_value: np.ndarray
    rate_ref_ns: np.ndarray
    """Rate alarms: the sample the current window started from; -1: none yet."""


def build_tables(defs: AlarmSet) -> tuple[AlarmTables, list[str]]:
    """Tables for ``defs`` and the points they read (the order of evaluate's value columns)."""
    points: list[str] = []
    column: dict[str, int] = {}

    def col(point: str) -> int:
        if point not in column:
            column[point] = len(points)
            points.append(point)
        return column[point]

    alarms = defs.alarms
    n = len(alarms)
    pv = np.array([col(a.point) for a in alarms], np.int64)
    sp = np.array([col(a.setpoint_point) if a.setpoint_point else -1 for a in alarms], np.int64)
    cond_alarm, cond_point, cond_op, cond_value = [], [], [], []
    for i, a in enumerate(alarms):
        for c in a.suppress_when:
            cond_alarm.append(i)
            cond_point.append(col(c.point))
            cond_op.append(OP_CODES[c.op])
            cond_value.append(c.value)
    tables = AlarmTables(
        alarm_pv=pv,
        alarm_sp=sp,
        alarm_type=np.array([TYPE_CODES[a.type] for a in alarms], np.int8),
        alarm_limit=np.array([a.limit for a in alarms], np.float64),
        alarm_deadband=np.array([a.deadband for a in alarms], np.float64),
        alarm_value=np.array([a.value for a in alarms], np.float64),
        alarm_direction=np.array([_DIRECTION[a.direction] for a in alarms], np.int8),
        alarm_window_ns=np.array([_ns(a.window_s) for a in alarms], np.int64),
        alarm_on_delay_ns=np.array([_ns(a.on_delay_s) for a in alarms], np.int64),
        alarm_off_delay_ns=np.array([_ns(a.off_delay_s) for a in alarms], np.int64),
        alarm_shelve_max_ns=np.array([_ns(a.shelve_max_minutes * 60) for a in alarms], np.int64),
        alarm_priority=np.array([PRIORITIES.index(a.priority) for a in alarms], np.int8),
        alarm_has_suppress=np.array([bool(a.suppress_when) for a in alarms], bool).reshape(n),
        cond_alarm=np.array(cond_alarm, np.int64),
        cond_point=np.array(cond_point, np.int64),
        cond_op=np.array(cond_op, np.int8),
        cond_value=np.array(cond_value, np.float64),
    )
    return tables, points


def new_state(n: int) -> AlarmState:
    """Every alarm normal, in service, nothing judged yet."""
    return AlarmState(
        cond=np.zeros(n, bool),
        cond_since_ns=np.zeros(n, np.int64),
        active=np.zeros(n, bool),
        acked=np.ones(n, bool),
        t_active_ns=np.full(n, -1, np.int64),
        shelved=np.zeros(n, bool),
        shelved_until_ns=np.full(n, -1, np.int64),
        suppressed=np.zeros(n, bool),
        out_of_service=np.zeros(n, bool),
        state=np.full(n, NORMAL, np.int8),
        value=np.full(n, np.nan, np.float64),
        rate_ref_value=np.full(n, np.nan, np.float64),
        rate_ref_ns=np.full(n, -1, np.int64),
    )


def _ns(seconds: float) -> int:
    return int(round(seconds * NS_PER_S))
