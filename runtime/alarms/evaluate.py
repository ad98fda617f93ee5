"""Judge every alarm at once: numpy over the alarm tables, no Python loop per alarm.

:func:`step` moves an :class:`~runtime.alarms.tables.AlarmState` to ``now_ns`` given the latest
values and qualities; the engine then compares the reported columns before and after to find
the transitions. The rules are docs/alarms.md's and runtime.alarms.states' tables:

- a value that is NaN (no reading yet) or Bad holds the condition where it was (a lost
  transmitter neither raises nor clears a level alarm; its own bad_quality alarm says so);
- the deadband applies on the way back: a high alarm's condition holds until the value is
  ``deadband`` below the limit;
- the condition must hold ``on_delay`` before the alarm becomes active and be gone
  ``off_delay`` before it clears;
- suppression by design and out of service reset the alarm to normal; shelving hides it but
  its plain state keeps following the process.
"""

from __future__ import annotations

import numpy as np

from runtime.alarms.states import reported_codes
from runtime.alarms.tables import OP_CODES, TYPE_CODES, AlarmState, AlarmTables

BAD = 2
"""runtime.quality.Quality.BAD."""
_NS_PER_MIN = 60e9
_T = TYPE_CODES


def step(t: AlarmTables, s: AlarmState, now_ns: int, values: np.ndarray,
         quality: np.ndarray) -> None:
    """Advance every alarm to ``now_ns`` (in place)."""
    kind = t.alarm_type
    pv = values[t.alarm_pv]
    q = quality[t.alarm_pv]
    has_sp = t.alarm_sp >= 0
    sp_col = np.where(has_sp, t.alarm_sp, 0)
    sp = values[sp_col]
    sp_ok = ~has_sp | (np.isfinite(sp) & (quality[sp_col] != BAD))
    pv_bad = q == BAD
    usable = np.isfinite(pv) & ~pv_bad & sp_ok
    judged = np.where(kind == _T["bad_quality"], usable | pv_bad, usable)

    band = np.where(s.cond, t.alarm_deadband, 0.0)
    limit = t.alarm_limit
    with np.errstate(invalid="ignore"):
        high = pv > limit - band
        low = pv < limit + band
        deviation = np.abs(pv - sp) > limit - band
        disagree = np.abs(sp - pv) > limit
        discrete = pv == t.alarm_value
        rate_cond, rate_judged = _rate(t, s, now_ns, pv, usable, band)
    cond = np.select(
        [
            (kind == _T["high"]) | (kind == _T["high_high"]),
            (kind == _T["low"]) | (kind == _T["low_low"]),
            kind == _T["deviation"],
            kind == _T["rate"],
            kind == _T["discrete"],
            kind == _T["bad_quality"],
            kind == _T["command_disagree"],
        ],
        [high, low, deviation, rate_cond, discrete, pv_bad, disagree],
        default=False,
    )
    judged &= np.where(kind == _T["rate"], rate_judged, True)
    cond = np.where(judged, cond, s.cond)

    s.suppressed = _suppressed(t, values, quality)
    hidden = s.suppressed | s.out_of_service
    cond &= ~hidden
    changed = cond != s.cond
    s.cond_since_ns[changed] = now_ns
    s.cond = cond
    held_ns = now_ns - s.cond_since_ns
    was_active = s.active
    active = np.where(cond, was_active | (held_ns >= t.alarm_on_delay_ns),
                      was_active & (held_ns < t.alarm_off_delay_ns))
    active &= ~hidden
    rising = active & ~was_active
    falling = was_active & ~active

    expired = s.shelved & (now_ns >= s.shelved_until_ns)
    s.shelved = s.shelved & ~expired
    s.shelved_until_ns[expired] = -1

    acked = s.acked & ~rising
    acked |= falling & s.shelved     # came and went while shelved: nothing to acknowledge
    acked |= hidden                  # suppressed / out of service: reset to normal
    s.acked = acked
    s.active = active
    s.t_active_ns[rising] = now_ns
    s.t_active_ns[~active & acked] = -1
    s.value = np.where(np.isfinite(pv), pv, s.value)
    s.state = reported_codes(active, acked, s.shelved, s.suppressed, s.out_of_service)


def _rate(t: AlarmTables, s: AlarmState, now_ns: int, pv: np.ndarray, usable: np.ndarray,
          band: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rate of change over each alarm's window: (condition, whether it was judged now)."""
    is_rate = t.alarm_type == _T["rate"]
    have_ref = s.rate_ref_ns >= 0
    elapsed_ns = now_ns - s.rate_ref_ns
    due = is_rate & usable & (~have_ref | (elapsed_ns >= t.alarm_window_ns))
    judged = due & have_ref & (elapsed_ns > 0)
    per_min = (pv - s.rate_ref_value) / np.where(judged, elapsed_ns, 1) * _NS_PER_MIN
    signed = np.where(t.alarm_direction == 0, np.abs(per_min), per_min * t.alarm_direction)
    cond = judged & (signed > t.alarm_limit - band)
    s.rate_ref_value = np.where(due, pv, s.rate_ref_value)
    s.rate_ref_ns = np.where(due, now_ns, s.rate_ref_ns)
    return cond, judged


def _suppressed(t: AlarmTables, values: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """Alarms whose every suppress_when condition holds. A condition on a value that is NaN or
    Bad does not hold: when in doubt the alarm is shown, never hidden."""
    n = t.count
    if t.cond_alarm.shape[0] == 0:
        return np.zeros(n, bool)
    v = values[t.cond_point]
    ok = np.isfinite(v) & (quality[t.cond_point] != BAD)
    op = t.cond_op
    ref = t.cond_value
    with np.errstate(invalid="ignore"):
        holds = np.select(
            [op == OP_CODES["=="], op == OP_CODES["!="], op == OP_CODES[">"],
             op == OP_CODES[">="], op == OP_CODES["<"], op == OP_CODES["<="]],
            [v == ref, v != ref, v > ref, v >= ref, v < ref, v <= ref],
            default=False,
        ) & ok
    failing = np.bincount(t.cond_alarm, weights=~holds, minlength=n)
    return t.alarm_has_suppress & (failing == 0)
