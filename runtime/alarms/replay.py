"""Alarms in replay: the scene's alarm definitions judged on the session's virtual time.

A replayed world carries the recorded readings; evaluating the same definitions against them,
on the session's clock, raises and clears the alarms as they were raised and cleared (on-delays
and deadbands included), paused, at 64x or after a seek alike. Operator acknowledgements are not
replayed here (they are in the recording's acks). A seek starts the judgement afresh from the
world at the new time. No journal: a replay changes nothing on the site.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from runtime.alarms import AlarmEngine, AlarmSet, load_alarms
from runtime.alarms.board import AlarmBoard

if TYPE_CHECKING:
    from runtime.app.session import Session

TICK_NS = 100_000_000
"""Judge every 100 ms of virtual time (the live service's 10 Hz)."""
JUMP_NS = 5_000_000_000
"""A move of the virtual clock backwards, or forwards by more than this, is a seek."""


class ReplayAlarms:
    """An alarm source for the viewer (``drain`` into a board) fed by the session's world."""

    def __init__(self, session: Session, defs: AlarmSet) -> None:
        self.session = session
        self.defs = defs
        self.status = ""
        world = session.world
        self.engine = AlarmEngine(defs)
        self._cols = np.array([world.point_column.get(p, -1) for p in self.engine.points],
                              dtype=np.intp)
        self._known = self._cols >= 0
        self._last_ns: int | None = None

    @classmethod
    def for_session(cls, session: Session) -> ReplayAlarms:
        scene = session.world.scene
        return cls(session, load_alarms(scene.path / "alarms.yaml", scene))

    def drain(self, board: AlarmBoard, max_items: int = 200) -> bool:
        now = int(self.session.time.now_ns)
        last = self._last_ns
        if last is not None and (now < last or now - last > JUMP_NS):
            self.engine = AlarmEngine(self.defs)
            board.clear()
            last = None
        if last is not None and now - last < TICK_NS:
            return False
        self._last_ns = now
        state = self.session.world.state
        values = np.full(len(self._cols), np.nan)
        quality = np.full(len(self._cols), 2, dtype=np.uint8)
        values[self._known] = state.value[self._cols[self._known]]
        quality[self._known] = state.quality[self._cols[self._known]]
        transitions = self.engine.evaluate(now, values, quality)
        if not transitions:
            return False
        board.apply([t.event() for t in transitions])
        return True

    def close(self) -> None:
        pass


__all__ = ["ReplayAlarms"]
