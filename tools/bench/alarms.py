"""Alarm engine rows: evaluation cost of 10,000 definitions at 10 Hz, and a flood journaled.

Issue 12's target: 10,000 alarm definitions evaluated at 10 Hz for <= 10 % of one core. Values
wander around their limits (about 1 % of alarms change state per evaluation, the rest hold), a
mix of every type; CPU time (process_time) of ``AlarmEngine.evaluate`` is what is measured,
journal fsyncs included.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from runtime.alarms import AlarmDef, AlarmEngine, AlarmJournal, AlarmSet, Condition, Rationalization
from tools.bench.row import Row

_WHY = Rationalization("bench", "bench", "bench")
_KINDS = ("high", "low", "high_high", "low_low", "deviation", "rate", "discrete", "bad_quality",
          "command_disagree")
_T0 = 1_700_000_000_000_000_000


def bench_definitions(n: int) -> AlarmSet:
    """``n`` alarms over n points (plus setpoints), every type, one in ten suppressible."""
    defs = []
    for i in range(n):
        kind = _KINDS[i % len(_KINDS)]
        extra: dict = {}
        if kind in ("high", "high_high"):
            extra = {"limit": 10.0, "deadband": 0.5}
        elif kind in ("low", "low_low"):
            extra = {"limit": -10.0, "deadband": 0.5}
        elif kind == "deviation":
            extra = {"limit": 5.0, "setpoint_point": f"S{i % 100}/sp", "deadband": 0.5}
        elif kind == "rate":
            extra = {"limit": 60.0, "window_s": 1.0}
        elif kind == "discrete":
            extra = {"value": 1.0}
        elif kind == "command_disagree":
            extra = {"limit": 0.5, "setpoint_point": f"C{i}/cmd"}
        suppress = (Condition(f"D{i % 50}/duty", "==", 0.0),) if i % 10 == 3 else ()
        defs.append(AlarmDef(id=f"A-{i}", point=f"E{i}/v", type=kind, priority="Low",
                             message="bench", rationalization=_WHY, on_delay_s=0.5,
                             off_delay_s=0.5, suppress_when=suppress, **extra))
    return AlarmSet(path=Path("bench-alarms.yaml"), alarms=tuple(defs))


def _evaluation_cost(n: int, calls: int) -> tuple[float, float]:
    """(percent of one core at 10 Hz, transitions per call) over ``calls`` evaluations."""
    rng = np.random.default_rng(12)
    with tempfile.TemporaryDirectory() as tmp:
        engine = AlarmEngine(bench_definitions(n), AlarmJournal(Path(tmp) / "bench.journal"))
        m = len(engine.points)
        values = rng.normal(0.0, 3.0, m)
        quality = np.zeros(m, np.uint8)
        engine.evaluate(_T0, values, quality)
        transitions = 0
        cpu = 0.0
        for k in range(1, calls + 1):
            move = rng.random(m) < 0.02            # 2 % of points move each tick
            values[move] = rng.normal(0.0, 8.0, int(move.sum()))
            t0 = time.process_time()
            transitions += len(engine.evaluate(_T0 + k * 100_000_000, values, quality))
            cpu += time.process_time() - t0
        engine.journal.close()
    return cpu / calls * 10 * 100.0, transitions / calls


def _flood_ms(n: int) -> float:
    """Wall time of one evaluate in which all ``n`` alarms raise (journal: one fsync)."""
    with tempfile.TemporaryDirectory() as tmp:
        defs = AlarmSet(path=Path("flood.yaml"), alarms=tuple(
            AlarmDef(id=f"F-{i}", point=f"E{i}/v", type="high", priority="Low", message="flood",
                     rationalization=_WHY, limit=1.0) for i in range(n)))
        engine = AlarmEngine(defs, AlarmJournal(Path(tmp) / "flood.journal"))
        quality = np.zeros(n, np.uint8)
        engine.evaluate(_T0, np.zeros(n), quality)
        t0 = time.perf_counter()
        out = engine.evaluate(_T0 + 100_000_000, np.full(n, 2.0), quality)
        elapsed = time.perf_counter() - t0
        engine.journal.close()
    assert len(out) == n
    return elapsed * 1e3


def run(quick: bool) -> list[Row]:
    n = 10_000
    calls = 50 if quick else 600
    pct, per_call = _evaluation_cost(n, calls)
    return [
        Row("alarms", "evaluation cost: 10,000 definitions at 10 Hz", pct, "% of a core",
            target=10.0, better="lower", note=f"{per_call:.0f} transitions per call"),
        Row("alarms", "flood: 10,000 alarms raised in one evaluate, journaled + fsync'd",
            _flood_ms(n), "ms", target=1000.0, better="lower"),
    ]
