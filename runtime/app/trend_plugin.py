"""Trends in the viewer: a sparkline of the last 10 minutes under the faceplate, and the
trend panel (``T`` shows it, ``P`` adds the selected asset's points, ``-``/``=`` zoom,
``,``/``.`` pan, a click in the plot puts the cursor there, a second click clears it).

Data comes from a worker thread (:class:`~runtime.app.trend_worker.TrendWorker`) asking
the historian through the bus (live) or a store (``$TWINSTAGE_HISTORY``, replay); the frame
only posts wishes and draws the newest answer. Times follow the session: live, the window ends
at the wall clock's now; in replay, at the session's virtual time (the recording's own time).
"""

from __future__ import annotations

import atexit
import os
import time
from typing import Any

from direct.showbase.DirectObject import DirectObject
from direct.task.Task import Task

from runtime.app.plugin import Twin
from runtime.app.trend_worker import TrendWorker, Want
from runtime.history.alarm_limits import load_alarm_limits
from runtime.phases import Phase
from runtime.ui.hud import element
from runtime.ui.sparkline import SPARK_HEIGHT, SPARK_WINDOW_NS, Sparkline
from runtime.ui.trend_panel import HEIGHT, MAX_PENS, WIDTH, TrendPanel

REFRESH_NS = 2_000_000_000
"""A live trend asks again this often (the historian commits every 0.5 s)."""
HISTORY_ENV = "TWINSTAGE_HISTORY"
"""A store URL for trends without a bus (replay): a folder or postgresql://..."""
TREND_ENV = "TWINSTAGE_TREND"
"""Points to open the trend panel with (comma-separated), for scripted and headless runs."""
ANALOG_KINDS = ("measurement", "process")
GAP = 0.02


class TrendPlugin:
    """Registers the sparkline and the trend panel (HUD phase), their keys and clicks."""

    def __init__(self, where: str, security: object = None) -> None:
        self.where = where
        self.security = security
        self.pens: list[str] = []
        self.worker: TrendWorker | None = None
        self.twin: Twin | None = None
        self._asked: dict[str, tuple[Want, int]] = {}
        self._epoch_offset_ns = 0

    # -- build ----------------------------------------------------------------------------

    def build(self, twin: Twin) -> None:
        self.twin = twin
        scene = twin.viewer.scene
        self.limits = load_alarm_limits(scene.path)
        self.panel = TrendPanel(twin.app.aspect2d)
        self.spark = Sparkline(twin.app.aspect2d)
        self.panel.now_word = "live" if twin.session.mode == "live" else "session time"
        if twin.session.mode == "live":
            # live virtual time is the monotonic clock; history is stamped with wall time
            self._epoch_offset_ns = time.time_ns() - time.monotonic_ns()
        self.worker = TrendWorker(self._opener())
        self.worker.start()
        atexit.register(self.worker.stop)
        twin.app.task_mgr.add(self._task, "trends", sort=Phase.HUD + 1)
        twin.hud.append(self.hud)
        twin.viewer.labels.reserved.append(lambda: self.spark.rect)
        twin.viewer.labels.reserved.append(lambda: self.panel.rect)
        twin.clicks.insert(0, self.click_at)
        # its own listener: app.accept keeps one handler per event and object
        self._events = DirectObject()
        accept = self._events.accept
        accept("t", self._key, [self.toggle])
        accept("p", self._key, [self.pin_selected])
        accept("-", self._key, [self.panel.zoom, 1])
        accept("=", self._key, [self.panel.zoom, -1])
        accept(",", self._key, [self.panel.pan, -0.25])
        accept(".", self._key, [self.panel.pan, 0.25])
        scripted = [p for p in os.environ.get(TREND_ENV, "").split(",") if p]
        for point in scripted[:MAX_PENS]:
            self.pin(point)
        if scripted:
            self.panel.show()

    def _opener(self):  # noqa: ANN202
        where, security = self.where, self.security
        store = os.environ.get(HISTORY_ENV, "")

        def open_asker() -> object:
            if self.twin is not None and self.twin.session.mode == "live" and not store:
                from runtime.bus.endpoints import BusEndpoints
                from runtime.bus.service_client import ServiceClient
                from runtime.history.client import BusHistory

                client = ServiceClient(BusEndpoints.from_address(where),
                                       security=security)  # type: ignore[arg-type]
                return BusHistory(client, timeout_s=5.0)
            from runtime.history.client import StoreHistory
            from runtime.history.query import HistoryQuery
            from runtime.history.store import DEFAULT_EMBEDDED, open_store

            return StoreHistory(HistoryQuery(open_store(store or DEFAULT_EMBEDDED,
                                                        create=False)))

        return open_asker

    def _key(self, action: Any, *args: Any) -> None:
        if self.twin is not None and getattr(self.twin.live, "typing", False):
            return  # a value being typed into the faceplate
        action(*args)

    # -- controls -------------------------------------------------------------------------

    def toggle(self) -> None:
        if self.panel.visible:
            self.panel.hide()
        else:
            if not self.pens:
                self.pin_selected()
            self.panel.show()

    def pin(self, point: str) -> bool:
        """Add a pen (at most 8; a pen already there is removed instead)."""
        if point in self.pens:
            self.pens.remove(point)
            return False
        if len(self.pens) >= MAX_PENS:
            return False
        self.pens.append(point)
        return True

    def pin_selected(self) -> None:
        assert self.twin is not None
        eid = self.twin.live.selection.selected
        if eid is not None:
            for p in self.trend_points(eid):
                self.pin(p)

    def trend_points(self, entity_id: str) -> list[str]:
        """The selected asset's analog points the history has (its own, or those of the
        instruments that measure it), first the measured ones."""
        assert self.twin is not None
        scene = self.twin.viewer.scene
        known = self.worker.known if self.worker is not None else None
        own = [p for p in scene.entity(entity_id).points
               if p.kind in ANALOG_KINDS and p.unit not in ("bool", "enum")]
        measured = {p.id for p in own}
        via = []
        for e in scene.entities:
            target = e.params.get("measures") if isinstance(e.params, dict) else None
            if isinstance(target, str) and target in measured:
                via += [f"{e.id}/{p.name}" for p in e.points if p.kind == "measurement"]
        out = via + [p.id for p in sorted(own, key=lambda p: p.kind != "measurement")]
        return [p for p in out if known is None or p in known]

    def click_at(self, x_ndc: float, y_ndc: float) -> bool:
        """A click in the panel sets (or clears) the cursor; never a pick in the world."""
        rect = self.panel.rect
        if rect is None or self.twin is None:
            return False
        x = x_ndc * self.twin.viewer.aspect
        if not (rect[0] <= x <= rect[1] and rect[2] <= y_ndc <= rect[3]):
            return False
        t = self.panel.time_at(x)
        self.panel.cursor_ns = None if (t is None or self.panel.cursor_ns is not None) else t
        return True

    # -- frame ----------------------------------------------------------------------------

    def now_ns(self) -> int:
        """Session time as wall-clock ns (what the history is stamped with)."""
        assert self.twin is not None
        return self.twin.session.time.now_ns + self._epoch_offset_ns

    def pending(self) -> bool:
        """A question to the history is out (headless screenshots wait for its answer)."""
        if self.worker is None or self.worker.known is None and not self.worker.error:
            return self.worker is not None and bool(self._asked)
        return any(not self.worker.served(key, want) for key, (want, _) in self._asked.items())

    def _ask(self, key: str, want: Want) -> None:
        """Post a wish when it changed, or every REFRESH_NS for a live window."""
        assert self.worker is not None
        last = self._asked.get(key)
        mono = time.monotonic_ns()
        if last is not None and last[0] == want:
            return
        if last is not None and last[0].points == want.points and \
                mono - last[1] < REFRESH_NS and abs(want.t1_ns - last[0].t1_ns) < REFRESH_NS \
                and want.t1_ns - want.t0_ns == last[0].t1_ns - last[0].t0_ns:
            return
        self._asked[key] = (want, mono)
        self.worker.want(key, want)

    def _task(self, task: Task) -> int:
        self.update()
        return Task.cont

    def update(self) -> None:
        """One frame: post wishes, draw the newest answers (never waits)."""
        assert self.twin is not None and self.worker is not None
        now = self.now_ns()
        live = self.twin.live
        face = live.panel.screen_rect() if live.selection.selected is not None else None
        spark_rect = None
        if face is not None and self.worker.known:  # no sparkline without a history
            points = self.trend_points(live.selection.selected)
            if points:
                self._ask("spark", Want((points[0],), now - SPARK_WINDOW_NS, now))
                got = self.worker.take("spark")
                series = got[2].get(points[0]) if got and got[1].points == (points[0],) \
                    else None
                below = face[2]
                if live.buttons is not None and not live.buttons.root.is_hidden():
                    below -= 0.015 + 0.07
                spark_rect = (face[0], face[1], below - GAP - SPARK_HEIGHT, below - GAP)
                self.spark.show(spark_rect, series, now)
        if spark_rect is None:
            self.spark.hide()
        if not self.panel.visible:
            return
        rect = self._panel_rect(face, spark_rect)
        t0, t1 = self.panel.window(now)
        self._ask("panel", Want(tuple(self.pens), t0, t1))
        got = self.worker.take("panel")
        version, series = (got[0], got[2]) if got else (0, {})
        pens = [series[p] for p in self.pens if p in series]
        self.panel.draw(rect, pens, now, self.limits, version)

    def _panel_rect(self, face: tuple | None, spark: tuple | None
                    ) -> tuple[float, float, float, float]:
        """Bottom right, clear of every other reserved rectangle (timeline, alarm list,
        faceplate, sparkline, status bar, banner): the lowest, then rightmost, place where it
        fits; panels never overlap."""
        assert self.twin is not None
        aspect = self.twin.viewer.aspect
        mine = (self.panel.rect, self.spark.rect)
        others = [r for r in (f() for f in self.twin.viewer.labels.reserved)
                  if r is not None and r not in mine]
        others += [r for r in (face, spark) if r is not None]
        bottoms = sorted({-0.95, *(r[3] + GAP for r in others if r[3] + GAP < 0.9)})
        rights = sorted({aspect - 0.04, *(r[0] - GAP for r in others)}, reverse=True)
        for bottom in bottoms:
            for right in rights:
                rect = (right - WIDTH, right, bottom, bottom + HEIGHT)
                if rect[0] < -aspect + 0.02 or rect[3] > 0.97:
                    continue
                if not any(_overlap(rect, r) for r in others):
                    return rect
        return (aspect - 0.04 - WIDTH, aspect - 0.04, -0.95, -0.95 + HEIGHT)

    # -- hud ------------------------------------------------------------------------------

    def hud(self) -> list[dict]:
        assert self.twin is not None
        size = self.twin.size()
        aspect = self.twin.viewer.aspect
        out = []
        if self.spark.visible and self.spark.rect is not None:
            out.append(element("trend", f"sparkline: {self.spark.text}", self.spark.rect,
                               aspect, size))
        if self.panel.visible and self.panel.rect is not None:
            out.append(element("trend", self.panel.text, self.panel.rect, aspect, size))
        return out

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if getattr(self, "_events", None) is not None:
            self._events.ignore_all()


def _overlap(a: tuple, b: tuple) -> bool:
    """Whether two (left, right, bottom, top) rectangles overlap (touching edges do not)."""
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]
