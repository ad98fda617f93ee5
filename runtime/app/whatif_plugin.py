"""The what-if twin on the operator's display: continuous look-ahead, the forecast as ghosts
in the world, simulation-checked commands, and the analytics on the faceplates.

- Every ``LOOKAHEAD_S`` (wall) the frame thread forks the viewer's plant model (an array copy)
  and hands it to the :class:`~runtime.whatif.worker.ForecastWorker` thread; the frame never
  waits for a forecast. The status bar names the first alarm forecast within 30 min, or says
  there is none.
- While the operator edits or confirms a command in the control panel, the same worker runs
  the forecast *with* that command; the panel shows its consequence ("stopping P-101: T-102
  reaches its low-low level in 52 min") and flags a trip or a High/Critical alarm. Sending
  stays possible.
- Ghosts (:mod:`runtime.render.ghost`) show the forecast state at ``+scrub`` (default 30 min):
  ``<`` and ``>`` (shift-comma, shift-period) move it by 5 min, ``g`` shows or hides the
  look-ahead, ``shift-g`` clears a what-if. The ghosts follow the
  command being checked while there is one, else the look-ahead.
- Analytics (live only): the residual monitor and KPIs run beside the view once a second; the
  faceplates show a pump's efficiency, run hours, starts and maintenance estimate, and "model
  disagrees with LT-101" when an instrument drifts away from the model.
"""

from __future__ import annotations

import math
import time

from direct.task.Task import Task
from panda3d.core import CardMaker, NodePath, TextNode

from runtime.app.plugin import Twin
from runtime.phases import Phase
from runtime.render.ghost import GhostLayer, GhostState
from runtime.sim.fork import fork_model
from runtime.ui.faceplate_text import FaceplateLine
from runtime.ui.forecast_text import consequence_text, result_lines, span, status_line
from runtime.ui.hud import HudElement, element
from runtime.whatif.alarm_defs import load_alarm_defs
from runtime.whatif.forecast import DEFAULT_HORIZON_S, ForecastResult, command_changes
from runtime.whatif.worker import ForecastJob, ForecastWorker

LOOKAHEAD_S = 5.0
LOOKAHEAD_DUTY = 0.1
"""The look-ahead waits at least 10x its last run time before the next (a large plant's 2 h
forecast takes seconds of the worker's core; the view's other work comes first)."""
SCRUB_STEP_S = 300.0
DEFAULT_SCRUB_S = 1800.0
ANALYTICS_PERIOD_S = 1.0
ANALYTICS_DUTY = 0.05
"""Analytics run in the frame thread: after a run of t seconds the next waits at least t /
ANALYTICS_DUTY (a 10,000-asset plant's residual monitor takes ~0.2 s, a stutter every second
at 1 Hz; the pump station's takes well under a millisecond and keeps the 1 s period)."""
LEVEL_DIFF_FRACTION = 0.02
"""A tank gets a ghost when its forecast level differs by 2 % of full scale or more."""
STEM_DIFF = 0.05
PANEL_SCALE = 0.03
PANEL_LEFT = 0.5
"""The forecast panel sits at the bottom, right of the minimap (aspect2d units from the left)."""


class WhatIfPlugin:
    """Registers the look-ahead, the command check, the ghosts and the forecast panel."""

    def __init__(self, *, horizon_s: float = DEFAULT_HORIZON_S, analytics: bool = True) -> None:
        self.horizon_s = horizon_s
        self.scrub_s = DEFAULT_SCRUB_S
        self.visible = False
        """Whether the look-ahead's forecast is drawn (G). A command being checked and a
        what-if the user asked for are always drawn; the look-ahead only on request, so the
        world shows the present unless the operator looks ahead."""
        self.twin: Twin | None = None
        self.worker: ForecastWorker | None = None
        self.lookahead: ForecastResult | None = None
        self.command: ForecastResult | None = None
        self.command_key: tuple[str, float] | None = None
        self.asked: ForecastResult | None = None
        """A what-if the user asked for (:meth:`ask`), shown until cleared."""
        self._asked_id = -1
        self.status = "forecast: unavailable (no plant model)"
        self.ghosts: GhostLayer | None = None
        self.analytics = None
        self._want_analytics = analytics
        self._due_ns = 0
        self._analytics_due_ns = 0
        self._analytics_last_ns = 0
        self._shown_key: tuple | None = None
        self.submitted = 0
        self._lookahead_running = False
        """A look-ahead is with the worker: the next waits for it (a newer one would cancel
        it, and on a large plant none would ever finish)."""
        self.lines: list[str] = []

    # -- build ----------------------------------------------------------------------------

    def build(self, twin: Twin) -> None:
        self.twin = twin
        observer = twin.session.observer
        if not hasattr(observer, "model"):
            return  # a smoothing observer: nothing to fork
        self.model = observer.model  # type: ignore[attr-defined]
        self.defs, self.warnings = load_alarm_defs(twin.session.world.scene)
        self.worker = ForecastWorker()
        self.status = "forecast: starting"
        view = twin.viewer.view
        from runtime.render.procedural import tank as tank_model

        band = {e.id: tank_model.band_height_m(e) for e in twin.session.world.scene.entities
                if e.type == "tank" and e.model_procedural}
        travel = {eid: v.stem_travel_m for eid, v in view.visuals.items()}
        self.ghosts = GhostLayer(view.root, view.visuals, band, travel)
        self._ghost_map()
        self._panel_build(twin)
        twin.app.task_mgr.add(self._task, "whatif", sort=Phase.HUD - 2)
        twin.hud.append(self.hud)
        accept = twin.app.accept
        accept("g", self.toggle)
        accept("shift-g", self.clear_asked)
        accept("shift-,", self.scrub, [-SCRUB_STEP_S])  # < and > (the trend pans on , and .)
        accept("shift-.", self.scrub, [SCRUB_STEP_S])
        for plugin in twin.plugins:
            if hasattr(plugin, "forecast"):
                plugin.forecast = lambda: self.status  # type: ignore[attr-defined]
        control = twin.live.control
        if control is not None:
            control.consequence = self.consequence
        if self._want_analytics and twin.session.mode == "live":
            from runtime.analytics.engine import AnalyticsEngine

            self.analytics = AnalyticsEngine(twin.session.world)
        twin.live.faceplates.extra_lines.append(self.faceplate_lines)

    def _ghost_map(self) -> None:
        """Per ghostable entity: (kind, world column, point id, full scale)."""
        assert self.twin is not None
        live = self.twin.live
        world = self.twin.session.world
        ids = world.entities.ids
        b = live.bindings
        self.map: list[tuple[str, str, int, str, float]] = []
        for r, c, full in zip(b.fill_rows, b.fill_cols, b.fill_full_m, strict=True):
            self.map.append(("fill", ids[r], int(c), world.points.ids[c], float(full)))
        for r, c in zip(b.stem_rows, b.stem_cols, strict=True):
            self.map.append(("stem", ids[r], int(c), world.points.ids[c], 100.0))
        for r, c in zip(b.run_rows, b.run_cols, strict=True):
            self.map.append(("run", ids[r], int(c), world.points.ids[c], 1.0))

    def _panel_build(self, twin: Twin) -> None:
        aspect = twin.viewer.aspect
        self.panel = twin.app.aspect2d.attach_new_node("forecast-panel")
        self.panel.set_bin("fixed", 46)
        cm = CardMaker("forecast-bg")
        bottom = -0.79 if twin.session.mode == "replay" else -0.97  # above a timeline bar
        self._bg_rect = (-aspect + PANEL_LEFT, -aspect + PANEL_LEFT + 1.5, bottom, -0.6)
        cm.set_frame(*self._bg_rect)
        bg = self.panel.attach_new_node(cm.generate())
        bg.set_color(0.12, 0.13, 0.14, 0.85)
        bg.set_transparency(True)
        tn = TextNode("forecast-text")
        tn.set_text_color(1, 1, 1, 1)
        self._text = self.panel.attach_new_node(tn)
        self._text.set_scale(PANEL_SCALE)
        self._text.set_pos(-aspect + PANEL_LEFT + 0.02, 0, -0.64)
        self._bg: NodePath = bg
        twin.viewer.labels.reserved.append(lambda: self._bg_rect if self.lines else None)

    # -- keys -----------------------------------------------------------------------------

    def _typing(self) -> bool:
        return self.twin is not None and bool(getattr(self.twin.live, "typing", False))

    def toggle(self) -> None:
        if self._typing():
            return
        self.visible = not self.visible
        self._shown_key = None

    def scrub(self, delta_s: float) -> None:
        if self._typing():
            return
        self.scrub_s = min(max(self.scrub_s + delta_s, 0.0), self.horizon_s)
        self._shown_key = None

    # -- per frame ------------------------------------------------------------------------

    def _task(self, task: Task) -> int:
        assert self.twin is not None and self.worker is not None
        t0 = time.perf_counter_ns()
        twin = self.twin
        wall = twin.session.wall_ns
        for done in self.worker.poll():
            if done.key == "lookahead":
                self._lookahead_running = False
                if done.result is not None:  # at most ~1/LOOKAHEAD_DUTY of a core
                    pause_s = max(LOOKAHEAD_S, done.result.trajectory.wall_s / LOOKAHEAD_DUTY)
                    self._due_ns = wall + int(pause_s * 1e9)
            if done.result is None:
                continue
            if done.key == "lookahead":
                self.lookahead = done.result
                self.status = status_line(done.result)
                self._shown_key = None
            elif done.key == "whatif" and done.id == self._asked_id:
                self.asked = done.result
                self._shown_key = None
            elif done.key == "command" and self.command_key is not None:
                self.command = done.result
                self._shown_key = None
                if twin.live.control is not None:
                    twin.live.control.version += 1
        if wall >= self._due_ns and not self._lookahead_running:
            self._lookahead_running = True
            self.submit("lookahead", [], "")
        self._check_command()
        if self.analytics is not None and wall >= self._analytics_due_ns:
            dt = wall - self._analytics_last_ns if self._analytics_last_ns else 0
            self._analytics_last_ns = wall
            t_run = time.perf_counter_ns()
            if dt > 0:
                self.analytics.update(min(dt, 10 * 1_000_000_000))
            cost_ns = time.perf_counter_ns() - t_run
            self._analytics_due_ns = wall + max(int(ANALYTICS_PERIOD_S * 1e9),
                                                int(cost_ns / ANALYTICS_DUTY))
        self._refresh()
        twin.live.timings.add("ui", time.perf_counter_ns() - t0)
        return Task.cont

    def submit(self, key: str, changes: list, label: str) -> int:
        """Fork the live model now (frame thread) and queue its forecast."""
        assert self.worker is not None
        fork = fork_model(self.model)  # an array copy; the worker hashes the fork
        self.submitted += 1
        return self.worker.submit(ForecastJob(key, fork, None, changes, self.defs,
                                              self.horizon_s, label))

    def _check_command(self) -> None:
        control = self.twin.live.control if self.twin is not None else None
        flow = getattr(control, "_flow", None)
        mode = str(getattr(control, "mode", ""))
        if control is None or flow is None or mode not in ("edit", "confirm"):
            if self.command_key is not None:
                self.command_key = None
                self.command = None
                self._shown_key = None
            return
        key = (flow.point.point, float(flow.value))
        if key == self.command_key:
            return
        self.command_key = key
        self.command = None
        try:
            changes, label = command_changes(self.model, *key)
        except (KeyError, ValueError):
            return
        self.submit("command", changes, label)

    def consequence(self, point: str, value: float) -> tuple[str, bool] | None:
        """The control panel's hook: the predicted consequence of writing ``value``."""
        if self.command_key != (point, float(value)):
            return None
        if self.command is None:
            return "checking the consequence by simulation...", False
        return consequence_text(self.command)

    def ask(self, changes: list, label: str) -> int:
        """Forecast a what-if the user chose (a command, a disturbance, a fault); its ghosts
        and panel replace the look-ahead's until :meth:`clear_asked`."""
        self.asked = None
        self._asked_id = self.submit("whatif", changes, label)
        return self._asked_id

    def clear_asked(self) -> None:
        if self._typing():
            return
        self.asked = None
        self._asked_id = -1
        self._shown_key = None

    def shown(self) -> ForecastResult | None:
        """What the ghosts and the panel show: the command being checked, else the user's
        what-if, else (when G asked for it) the look-ahead."""
        for result in (self.command, self.asked, self.lookahead if self.visible else None):
            if result is not None:
                return result
        return None

    def _refresh(self) -> None:
        result = self.shown()
        key = (id(result), self.scrub_s, self.visible)
        if key == self._shown_key or self.ghosts is None:
            return
        self._shown_key = key
        if result is None:
            self.ghosts.hide()
            self.lines = ["Look-ahead: starting..."] if self.visible else []
            self._show_text()
            return
        states, words = self.ghost_states(result, self.scrub_s)
        self.ghosts.show(states)
        lines = result_lines(result)
        hint = "G hides the look-ahead" if result is self.lookahead else "Shift-G clears"
        at = f"Ghosts at +{span(self.scrub_s)} (< > to move, {hint})"
        lines.append(at + (":" if words else ": nothing differs from now"))
        lines += [f"  {w}" for w in words[:5]]
        self.lines = lines
        self._show_text()

    def ghost_states(self, result: ForecastResult, t_s: float
                     ) -> tuple[dict[str, GhostState], list[str]]:
        """Ghost per asset whose forecast state at ``t_s`` differs from what is shown now."""
        assert self.twin is not None
        traj = result.trajectory
        at = traj.at(min(t_s, float(traj.t_s[-1])))
        now = self.twin.session.observer.display
        states: dict[str, dict] = {}
        words: list[str] = []
        for kind, eid, col, point, full in self.map:
            future = at.get(point)
            current = float(now[col])
            if future is None or not math.isfinite(future) or not math.isfinite(current):
                continue
            if kind == "fill" and abs(future - current) >= LEVEL_DIFF_FRACTION * full:
                states.setdefault(eid, {})["fill_fraction"] = future / full
                words.append(f"{eid} level {current:.2f} m -> {future:.2f} m")
            elif kind == "stem" and abs(future - current) / full >= STEM_DIFF:
                states.setdefault(eid, {})["stem_fraction"] = future / full
                words.append(f"{eid} open {current:.0f} % -> {future:.0f} %")
            elif kind == "run" and (future >= 0.5) != (current >= 0.5):
                states.setdefault(eid, {})["running"] = future >= 0.5
                words.append(f"{eid} {'running' if current >= 0.5 else 'stopped'} -> "
                             f"{'running' if future >= 0.5 else 'stopped'}")
        return {eid: GhostState(**kw) for eid, kw in states.items()}, words

    def _show_text(self) -> None:
        """Redraw the panel (only when its lines change): text, and a card sized to them."""
        text = "\n".join(self.lines)
        self._text.node().set_text(text)
        if not text:
            self.panel.hide()
            return
        self.panel.show()
        left, right, bottom, _top = self._bg_rect
        top = bottom + 0.045 * len(self.lines) + 0.03
        self._bg_rect = (left, right, bottom, top)
        self._bg.remove_node()
        cm = CardMaker("forecast-bg")
        cm.set_frame(*self._bg_rect)
        self._bg = self.panel.attach_new_node(cm.generate())
        self._bg.set_color(0.12, 0.13, 0.14, 0.85)
        self._bg.set_transparency(True)
        self._text.reparent_to(self.panel)  # drawn after (over) the new card
        self._text.set_z(top - 0.04)

    # -- faceplates and hud ---------------------------------------------------------------

    def faceplate_lines(self, entity_id: str) -> list[FaceplateLine]:
        out: list[FaceplateLine] = []
        if self.analytics is not None:
            from runtime.analytics.kpis import kpi_lines

            k = self.analytics.kpis.pumps.get(entity_id)
            if k is not None:
                out += [FaceplateLine(t) for t in kpi_lines(k)]
            out += [FaceplateLine(t, "bad") for t in
                    self.analytics.disagreement_lines(entity_id)]
        result = self.shown()
        if result is not None:
            mine = [c for c in result.crossings if c.alarm.entity == entity_id
                    or self._measures(c.alarm.entity) == entity_id]
            if mine:
                from runtime.ui.forecast_text import crossing_line

                out.append(FaceplateLine("Forecast: " + crossing_line(mine[0]),
                                         "bad" if mine[0].alarm.severe else None))
        return out

    def _measures(self, eid: str) -> str:
        assert self.twin is not None
        e = next((x for x in self.twin.session.world.scene.entities if x.id == eid), None)
        return str(e.params.get("measures", "")).split("/", 1)[0] if e is not None else ""

    def hud(self) -> list[HudElement]:
        if self.twin is None or not self.lines:
            return []
        size, aspect = self.twin.size(), self.twin.viewer.aspect
        return [element("forecast", "\n".join(self.lines), self._bg_rect, aspect, size)]

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
