"""Alarms in replay: the scene's alarm definitions judged on the session's virtual time.

A replayed world carries the recorded readings; evaluating the same definitions against them,
at the session's replay ticks, raises and clears the alarms as they were raised and cleared
(on-delays and deadbands included), paused, at 64x or after a seek alike. Operator
acknowledgements are not replayed here (they are in the recording's acks). A seek starts the
judgement afresh from the world at the new time. No journal: a replay changes nothing on the site.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from runtime.alarms import AlarmEngine, AlarmSet, load_alarms
from runtime.alarms.board import AlarmBoard

if TYPE_CHECKING:
    from runtime.app.session import Session

class ReplayAlarms:
    """An alarm source for the viewer (``drain`` into a board) judged at every replay tick.

    It hooks the session's ticks (the world as it stands at the end of each 100 ms of virtual
    time, whatever the speed or the frame rate), so the same recording raises the same alarms at
    the same virtual times at 1x and at 64x; a seek starts afresh.
    """

    def __init__(self, session: Session, defs: AlarmSet) -> None:
        self.session = session
        self.defs = defs
        self.status = ""
        world = session.world
        self.engine = AlarmEngine(defs)
        self._cols = np.array([world.point_column.get(p, -1) for p in self.engine.points],
                              dtype=np.intp)
        self._known = self._cols >= 0
        self._pending: list[dict] = []
        self._reset = False
        self.transitions: list[tuple[int, str, str]] = []
        """(virtual ns, alarm id, state) of every transition judged since the last seek."""
        session.on_tick.append(self._on_tick)
        session.on_seek.append(self._on_seek)

    @classmethod
    def for_session(cls, session: Session) -> ReplayAlarms:
        scene = session.world.scene
        return cls(session, load_alarms(scene.path / "alarms.yaml", scene))

    def _on_seek(self, t_ns: int) -> None:
        self.engine = AlarmEngine(self.defs)
        self._pending.clear()
        self.transitions.clear()
        self._reset = True

    def _on_tick(self, t_ns: int) -> None:
        state = self.session.world.state
        values = np.full(len(self._cols), np.nan)
        quality = np.full(len(self._cols), 2, dtype=np.uint8)
        values[self._known] = state.value[self._cols[self._known]]
        quality[self._known] = state.quality[self._cols[self._known]]
        for t in self.engine.evaluate(t_ns, values, quality):
            event = t.event()
            self._pending.append(event)
            self.transitions.append((t_ns, event["id"], event["state"]))

    def drain(self, board: AlarmBoard, max_items: int = 200) -> bool:
        changed = self._reset or bool(self._pending)
        if self._reset:
            board.clear()
            self._reset = False
        if self._pending:
            board.apply(self._pending)
            self._pending = []
        return changed

    def close(self) -> None:
        for hooks, hook in ((self.session.on_tick, self._on_tick),
                            (self.session.on_seek, self._on_seek)):
            if hook in hooks:
                hooks.remove(hook)


__all__ = ["ReplayAlarms"]
