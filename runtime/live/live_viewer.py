"""The live twin on a :class:`runtime.render.viewer.Viewer`: phases, visuals, inspector, stats.

Plugin-style: the constructor builds the parts and registers one small task per phase at its
:class:`runtime.phases.Phase` sort value; the tasks only move arrays around.

- INPUT: hover highlight under the mouse (window mode only).
- INGEST: the session's frame (:class:`runtime.app.session.Session`): virtual clock, drain its
  source into the world, judge staleness, advance the observer (the viewer's own plant model,
  corrected toward the measurements); then stamp the applied points for the latency probe.
  Every later phase reads the session's :class:`~runtime.time.FrameTime`, never a clock.
- SYNC (a writer inside the viewer's sync task): bound display values -> RenderSync arrays
  (fill, rotor speed, stem, pipe flow, run/trip, quality/reason/age, highlight).
- HUD (a writer inside the viewer's HUD task): the inspector panel, refreshed 4 times a second
  and at once when the control section changes.
- Control (with a :class:`runtime.live.control_panel.ControlPanel`, roles operator and
  instructor): in INGEST, after the readings, collect command acks without blocking and advance
  the scripted writes (``--write``); its lines go under the inspector's points. The viewer role
  gets no control object at all: no keys, no lines, no command socket.
- CAPTURE (after igLoop): close latency records and the frame's timings.

The session's source is the live bus, a recording (replay), or none (the model alone).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from direct.task.Task import Task

from runtime.app.session import Session
from runtime.live.bindings import Bindings, build_bindings
from runtime.live.control_panel import ControlPanel, ScriptedWrites, bind_keys
from runtime.live.latency import LatencyProbe
from runtime.live.observer import Observer
from runtime.live.stats import FrameTimings, world_snapshot
from runtime.phases import Phase
from runtime.render.cues import QualityIcons, icon_placement
from runtime.render.inspector import REFRESH_S, InspectorPanel, Selection, inspector_lines
from runtime.render.picking import pick
from runtime.render.viewer import Viewer
from runtime.scene.model import Devices
from runtime.ui.faceplate_text import PlantView, faceplate_lines, outcome_words


class LiveViewer:
    """World + ingest + observer + visual bindings + inspector on one viewer."""

    def __init__(self, viewer: Viewer, session: Session, *, select: str | None = None,
                 control: ControlPanel | None = None, role: str = "viewer",
                 devices: Devices | None = None) -> None:
        self.viewer = viewer
        self.session = session
        world = session.world
        self.world = world
        self.source = session.source
        app = viewer.app
        self.app = app
        self.bindings: Bindings = build_bindings(world)
        self.observer: Observer = session.observer
        self.latency = LatencyProbe(world)
        self.timings = FrameTimings()
        self.frame = 0
        self.started_ns = time.monotonic_ns()

        n = len(world.entities)
        self.visual_quality = np.zeros(n, dtype=np.uint8)
        self.visual_reason = np.zeros(n, dtype=np.uint8)
        self.visual_age_s = np.zeros(n, dtype=np.float32)
        self._fill = np.full(n, np.nan, dtype=np.float32)
        self._speed = np.zeros(n, dtype=np.float32)
        self._stem = np.full(n, np.nan, dtype=np.float32)
        self._flow = np.full(n, np.nan, dtype=np.float32)
        self._running = np.full(n, -1, dtype=np.int8)
        self._tripped = np.full(n, -1, dtype=np.int8)
        self._highlight = np.zeros(n, dtype=np.uint8)
        b = self.bindings
        self._flow_ok = b.flow_cols >= 0
        self._flow_rows_ok = b.flow_rows[self._flow_ok]
        self._flow_cols_ok = b.flow_cols[self._flow_ok]

        view = viewer.view
        sync = view.sync
        rows = {eid: world.entity_row[eid] for eid in view.visuals if eid not in view.pipe_routes}
        heights = {r: view.visuals[eid].height_m for eid, r in rows.items()}
        origins = {r: tuple(world.entities.position_m[r]) for r in rows.values()}
        positions, sizes = icon_placement(heights, origins)
        self.icons = QualityIcons(view.root, positions, sizes)
        sync.icons = self.icons
        sync._shown_quality[:] = 255  # force the first frame to place every cue
        self.flow = None
        if getattr(app, "shaders_ok", False) and view.pipe_routes:
            from runtime.render.flow import FlowMarkers

            diam = {c.id: c.diameter_m for c in world.scene.connections}
            routes = {world.entity_row[cid]: pts for cid, pts in view.pipe_routes.items()}
            d = {world.entity_row[cid]: diam[cid] for cid in view.pipe_routes}
            area = dict(zip(b.flow_rows.tolist(), b.flow_area_m2.tolist(), strict=True))
            self.flow = FlowMarkers(view.root, routes, d, area)
            sync.flow = self.flow

        self.panels_hit: list = [self._on_panel]
        """Functions (x, y in normalised screen units) -> whether a 2D panel is there; a click
        on one is the panel's, not a pick in the world."""
        self.role = role
        self.faceplates = PlantView(world, devices, session.observer.display)
        self.engineering = False
        self.message = ""
        """The message shown at the bottom centre (``say``), ``""`` when none."""
        self._message = None
        self._message_until_ns = 0
        self.view_px: tuple[int, int] | None = None
        """Pixel size of this view when a layout gives it part of the window (None: all)."""
        self.typing = False
        """Text is being typed (the tag search): single-key shortcuts stand still."""
        """The inspector shows the engineering table (every point) instead of the faceplate."""
        self.control = control
        if control is not None:
            control.explain = self._explain
        self.script: ScriptedWrites | None = None
        self._control_version = -1
        self.control_frames = 0
        """Counts changes of the control lines on screen (headless screenshots follow it)."""
        self._control_lines: list[str] = []
        self.buttons = None
        self.panel = InspectorPanel(app.aspect2d, viewer.aspect, loader=app.loader)
        viewer.labels.reserved.append(self._panel_rect)
        order = [e.id for e in world.scene.entities if e.id in viewer.labels.by_id]
        self.selection = Selection(order)
        self._panel_due_ns = 0
        self._shown_selection: str | None = None
        if select is not None:
            self.select(select)

        app.task_mgr.add(self._ingest_task, "session-frame", sort=Phase.INGEST)
        viewer.frame_dt_s = lambda: session.time.dt_ns / 1e9
        viewer.sync_writers.append(self._write_visuals)
        viewer.hud_writers.append(self._hud)
        app.task_mgr.add(self._capture_task, "live-capture", sort=Phase.CAPTURE)

    # -- selection and input ---------------------------------------------------------------

    def say(self, text: str, seconds: float = 6.0) -> None:
        """A short message for the person at the screen (bottom centre), gone after a while."""
        from panda3d.core import TextNode

        if self._message is None:
            tn = TextNode("message")
            tn.set_align(TextNode.A_center)
            tn.set_text_color(1, 1, 1, 1)
            tn.set_card_color(0.45, 0.30, 0.05, 0.95)
            tn.set_card_as_margin(0.6, 0.6, 0.35, 0.3)
            self._message = self.app.aspect2d.attach_new_node(tn)
            self._message.set_scale(0.04)
            self._message.set_pos(0, 0, -0.62)
            self._message.set_bin("fixed", 60)
        self._message.node().set_text(text)
        self._message.show()
        self.message = text
        self._message_until_ns = self.session.wall_ns + int(seconds * 1e9)

    def select(self, entity_id: str | None) -> None:
        """Open the inspector on ``entity_id`` (None closes it). KeyError for an unknown id."""
        if entity_id is not None and entity_id not in self.world.entity_row:
            raise KeyError(f"no entity {entity_id!r} in scene {self.world.scene.name!r}")
        self.selection.select(entity_id)
        if self.control is not None:
            self.control.set_entity(entity_id)
        self._panel_due_ns = 0

    def select_at(self, x_ndc: float, y_ndc: float) -> str | None:
        """Pick at a normalised screen point and select what is there (None clears)."""
        hit = pick(self.viewer, x_ndc, y_ndc)
        self.select(hit)
        return hit

    def install_input(self) -> None:
        """Mouse click selects, hover highlights, Tab / Shift-Tab cycle, Escape clears."""
        app = self.app
        app.accept("e", lambda: None if self.typing else self.toggle_engineering())
        app.accept("tab", self._on_cycle, [1])
        app.accept("shift-tab", self._on_cycle, [-1])
        app.task_mgr.add(self._hover_task, "live-hover", sort=Phase.INPUT)

    def clear_or_false(self) -> bool:
        """Escape: back out of a write in progress first, else clear the selection; False
        when there was nothing to back out of (caller may quit)."""
        if self.control is not None and self.control.key_escape():
            self._panel_due_ns = 0
            return True
        had = self.selection.clear()
        self._panel_due_ns = 0
        return had

    def install_control_keys(self) -> None:
        """Keys of the control section (no-op for the viewer role); Escape stays with the
        caller, which routes it through :meth:`clear_or_false`.

        Typed characters (digits, ``.``, ``+``, ``-``) come from the keystroke event, which
        follows the keyboard layout; the others are button events. Works headless too, where
        tests send the same events through the app's messenger.
        """
        control = self.control
        if control is None:
            return
        for thrower in getattr(self.app, "buttonThrowers", None) or []:
            if not thrower.node().get_keystroke_event():
                thrower.node().set_keystroke_event("keystroke")
        bind_keys(self.app.accept, control)

    def run_writes(self, writes: list[tuple[str, float]], *, hold_s: float = 0.6) -> None:
        """Drive the control keys on a timer for these (point, value) writes (``--write``)."""
        if self.control is None:
            raise RuntimeError(f"role {self.role} writes nothing: no control in this viewer")
        self.script = ScriptedWrites(self.control, self.select, writes, hold_s=hold_s)

    @property
    def writes_done(self) -> bool:
        """Whether scripted writes are all settled and shown (True when there are none)."""
        return self.script is None or self.script.done

    def install_buttons(self) -> None:
        """Mouse buttons under the panel for the control keys (window mode; none for the
        viewer role). Each does exactly what its key does."""
        control = self.control
        if control is None:
            return
        from runtime.render.inspector import ButtonRow

        def escape() -> None:
            control.key_escape()

        self.buttons = ButtonRow(self.app.aspect2d, [
            ("Up", control.key_up), ("Down", control.key_down),
            ("-", lambda: control.key_char("-")), ("+", lambda: control.key_char("+")),
            ("Enter", control.key_enter), ("Esc", escape)])

    def _on_cycle(self, step: int) -> None:
        self.selection.cycle(step)
        self._panel_due_ns = 0

    def _hover_task(self, task: Task) -> int:
        watcher = self.app.mouseWatcherNode
        hovered = None
        if watcher is not None and watcher.has_mouse() and self.frame % 3 == 0:
            m = watcher.get_mouse()
            hovered = pick(self.viewer, m.x, m.y)
            self.selection.hovered = hovered
        elif watcher is None or not watcher.has_mouse():
            self.selection.hovered = None
        return Task.cont

    # -- phases ----------------------------------------------------------------------------

    def _ingest_task(self, task: Task) -> int:
        t0 = time.perf_counter_ns()
        wall = time.monotonic_ns()
        frame = self.session.frame(wall)
        if self.session.mode == "live":
            self.latency.applied(frame.now_ns)
        control = self.control
        if control is not None:
            control.set_entity(self.selection.selected)
            control.update(wall)
            if self.script is not None:
                self.script.update(wall)
            if control.version != self._control_version:
                self._control_version = control.version
                self._panel_due_ns = 0
        self.timings.add("ingest", time.perf_counter_ns() - t0)
        return Task.cont

    def _write_visuals(self, dt_s: float) -> None:
        """Bound display values -> RenderSync arrays (all vectorised)."""
        d = self.observer.display
        b = self.bindings
        self._fill[b.fill_rows] = d[b.fill_cols] / b.fill_full_m
        self._speed[b.rotor_rows] = np.nan_to_num(d[b.rotor_cols])
        self._stem[b.stem_rows] = d[b.stem_cols] / 100.0
        self._flow[self._flow_rows_ok] = d[self._flow_cols_ok]
        run = d[b.run_cols]
        self._running[b.run_rows] = np.where(np.isfinite(run), run >= 0.5, -1)
        trip = d[b.trip_cols]
        self._tripped[b.trip_rows] = np.where(np.isfinite(trip), trip >= 0.5, -1)
        b.visual_quality(self.world, self.session.time.now_ns, self.visual_quality,
                         self.visual_reason, self.visual_age_s)
        self._highlight[:] = 0
        row = self.world.entity_row
        if self.selection.hovered in row:
            self._highlight[row[self.selection.hovered]] = 1
        if self.selection.selected in row:
            self._highlight[row[self.selection.selected]] = 2
        self.viewer.view.sync.sync(
            fill_fraction=self._fill, rotor_speed_rpm=self._speed, stem_fraction=self._stem,
            flow_m3_h=self._flow, running=self._running, tripped=self._tripped,
            quality=self.visual_quality, reason=self.visual_reason, age_s=self.visual_age_s)
        self.viewer.view.sync.highlight[:] = self._highlight

    def _hud(self) -> None:
        now = self.session.wall_ns
        if self.message and now > self._message_until_ns and self._message is not None:
            self._message.hide()
            self.message = ""
        selected = self.selection.selected
        if selected is None:
            if self.panel.visible:
                self.panel.hide()
            if self.buttons is not None:
                self.buttons.hide()
            self._shown_selection = None
            return
        if now < self._panel_due_ns and selected == self._shown_selection:
            return
        self._panel_due_ns = now + int(REFRESH_S * 1e9)
        self._shown_selection = selected
        lines, tones = self._panel_body(selected)
        if self.control is not None:
            styled = self.control.styled_lines()
            control_lines = [text for text, _ in styled]
            if control_lines:
                lines += ["", *control_lines]
                tones += [None, *(None if tone is None else str(tone) for _, tone in styled)]
            if control_lines != self._control_lines:
                self._control_lines = control_lines
                self.control_frames += 1
        self.panel.show(lines, tones)
        if self.buttons is not None:
            rect = self.panel.screen_rect()
            if rect is not None and self._control_lines:
                self.buttons.show_under(rect)
            else:
                self.buttons.hide()

    def _panel_body(self, entity_id: str) -> tuple[list[str], list[str | None]]:
        """The faceplate (default) or the engineering table, with line accents."""
        if self.engineering:
            lines = self.panel_lines(entity_id, control=False)
            return lines, [None] * len(lines)
        face = faceplate_lines(self.faceplates, self.world.entity_row[entity_id], self.role)
        return ([f.text for f in face] + ["", "[E] engineering view"],
                [f.tone for f in face] + [None, None])

    def toggle_engineering(self) -> None:
        """Faceplate <-> engineering table (every point, quality, age, residual)."""
        self.engineering = not self.engineering
        self._panel_due_ns = 0

    def _explain(self, item: object) -> str:
        return outcome_words(self.faceplates, item.point, item.requested,  # type: ignore[attr-defined]
                             item.reason)  # type: ignore[attr-defined]

    def panel_lines(self, entity_id: str, now_ns: int | None = None, *,
                    control: bool = True) -> list[str]:
        """What the panel shows for ``entity_id`` now: its faceplate (or, in the engineering
        view, every point with quality, age and residual), then the control section when this
        viewer's role may write some of its points."""
        if not self.engineering and now_ns is None:
            lines = self._panel_body(entity_id)[0]
            if control and self.control is not None:
                control_lines = self.control.lines()
                if control_lines:
                    lines += ["", *control_lines]
            return lines
        now = self.session.time.now_ns if now_ns is None else now_ns
        r = self.world.entity_row[entity_id]
        lines = inspector_lines(
            self.world, r, self.bindings.entity_points[r], now,
            estimate=self.observer.display, residual=self.observer.residual,
            visual_quality=int(self.visual_quality[r]), visual_reason=int(self.visual_reason[r]),
            visual_age_s=float(self.visual_age_s[r]),
            tripped=bool(self.viewer.view.sync.tripped[r] == 1))
        if control and self.control is not None:
            control_lines = self.control.lines()
            if control_lines:
                lines += ["", *control_lines]
        return lines

    def _capture_task(self, task: Task) -> int:
        self.frame += 1
        self.latency.frame_done(self.frame)
        self.timings.add("sync", self.viewer.sync_ns)
        self.timings.add("hud", self.viewer.hud_ns)
        self.timings.end_frame(time.monotonic_ns())
        return Task.cont

    # -- stats -----------------------------------------------------------------------------

    def _on_panel(self, x_ndc: float, y_ndc: float) -> bool:
        rect = self._panel_rect()
        if rect is None:
            return False
        x = x_ndc * self.viewer.aspect
        return rect[0] <= x <= rect[1] and rect[2] <= y_ndc <= rect[3]

    def _panel_rect(self) -> tuple[float, float, float, float] | None:
        return self.panel.screen_rect() if self.panel.visible else None

    def hud_elements(self) -> list[dict[str, Any]]:
        """Badges and the inspector panel as hud elements (see :mod:`runtime.ui.hud`)."""
        from runtime.ui.hud import element

        size = self.view_px or (self.app.win.get_x_size(), self.app.win.get_y_size())
        aspect = self.viewer.aspect
        labels = self.viewer.labels
        out = [element("badge", labels.by_id[eid].compose(), rect_lrbt, aspect, size)
               for eid, rect_lrbt in labels.screen_rects().items()]
        if self.message and self._message is not None:
            left, right, bottom, top = self._message.node().get_card_actual()
            pos, k = self._message.get_pos(), 0.04
            out.append(element("message", self.message, (pos.x + left * k, pos.x + right * k,
                                                          pos.z + bottom * k, pos.z + top * k),
                               aspect, size))
        panel = self._panel_rect()
        if panel is not None:
            kind = "panel" if self.engineering else "faceplate"
            out.append(element(kind, "\n".join(self.panel.lines), panel, aspect, size))
        return out

    def project_px(self, xyz: tuple[float, float, float]) -> list[float] | None:
        """World point -> [x, y] pixels (row 0 at the top), None when behind the camera."""
        from panda3d.core import Point2, Point3

        app = self.app
        p_cam = app.camera.get_relative_point(app.render, Point3(*xyz))
        p2 = Point2()
        if p_cam.y <= 0 or not app.camLens.project(p_cam, p2):
            return None
        w, h = app.win.get_x_size(), app.win.get_y_size()
        return [round((p2.x + 1) * 0.5 * w, 1), round((1 - p2.y) * 0.5 * h, 1)]

    def screen_info(self) -> dict[str, Any]:
        """Where things are on screen now, in pixels, so tests can check pixels of a PNG.

        Per entity: ``icon`` (centre of its quality marker), ``label`` ([left, right, top,
        bottom] of its name card); tanks also ``band`` (level fraction of the wall height ->
        point on the level band facing the camera). ``panel``: the inspector's card.
        """
        from runtime.render.procedural import tank

        w, h = self.app.win.get_x_size(), self.app.win.get_y_size()
        a = w / h

        def rect(r: tuple[float, float, float, float]) -> list[float]:
            left, right, bottom, top = r
            return [round((left / a + 1) / 2 * w, 1), round((right / a + 1) / 2 * w, 1),
                    round((1 - top) / 2 * h, 1), round((1 - bottom) / 2 * h, 1)]

        out: dict[str, Any] = {"size": [w, h], "entities": {}}
        labels = self.viewer.labels.screen_rects()
        for eid, r in self.world.entity_row.items():
            entry: dict[str, Any] = {}
            pos = self.icons.world_position(r)
            if pos is not None:
                entry["icon"] = self.project_px(pos)
            if eid in labels:
                entry["label"] = rect(labels[eid])
            e = self.world.scene.entities[r]
            if e.type == "tank" and e.model_procedural:
                x, y, _z = e.position_m
                radius = 0.5 * float(e.params.get("diameter_m", 6.0))
                z0 = float(e.params.get("elevation_m", 0.0))
                band = tank.band_height_m(e)
                # The water bar's top stands at margin + (level / wall height) * band.
                entry["band"] = {
                    str(f): self.project_px((x, y - radius - 0.07,
                                             z0 + tank.BAND_MARGIN_M + f * band))
                    for f in (0.1, 0.3, 0.5, 0.7, 0.9)}
            if entry:
                out["entities"][eid] = entry
        panel = self.panel.screen_rect()
        out["panel"] = rect(panel) if panel is not None else None
        return out

    def timeline_entry(self, **extra: Any) -> dict[str, Any]:
        """A small record of what the view shows now (one per screenshot in headless runs)."""
        sync = self.viewer.view.sync
        entry: dict[str, Any] = {"t_s": round((time.monotonic_ns() - self.started_ns) / 1e9, 3),
                                 "frame": self.frame, "now_ns": self.session.time.now_ns}
        entry["entities"] = {
            eid: {"quality": int(self.visual_quality[r]), "status": sync.status_text[r]}
            for eid, r in self.world.entity_row.items()
            if self.visual_quality[r] or sync.status_text[r]}
        entry.update(extra)
        return entry

    def stats(self, **extra: Any) -> dict[str, Any]:
        """Everything ``--stats-json`` writes (see :mod:`runtime.live.stats`)."""
        now = time.monotonic_ns()
        data: dict[str, Any] = {
            "scene": self.world.scene.name,
            "seconds": round((now - self.started_ns) / 1e9, 3),
            "frames": self.frame,
            "observer": type(self.observer).__name__,
            "sim_time_s": round(self.observer.sim_time_ns / 1e9, 3),
            "selected": self.selection.selected,
            "timings_ms": self.timings.summary(),
        }
        data.update(world_snapshot(self.world, self.session.time.now_ns, observer=self.observer,
                                   visual_quality=self.visual_quality))
        sync = self.viewer.view.sync
        icons = self.icons.shown()
        for eid, entry in data["entities"].items():
            r = self.world.entity_row[eid]
            entry["status"] = sync.status_text[r]
            entry["icon"] = icons.get(r)
        source = self.source
        if source is not None:
            writer = source.writer
            data["ingest"] = {"applied": writer.applied, "unknown": writer.unknown,
                              "unknown_points": sorted(writer.unknown_points)}
            data["bus"] = dict(source.stats)
        start = source.start_ns if source is not None else None
        data["session"] = {"mode": self.session.mode, "now_ns": self.session.time.now_ns,
                           "start_ns": start, "speed": self.session.time.speed,
                           "paused": self.session.time.paused,
                           "behind_s": round(self.session.behind_ns / 1e9, 3)}
        data["latency"] = self.latency.to_json()
        data["panel_lines"] = list(self.panel.lines) if self.panel.visible else []
        if self.control is not None:
            data["control"] = self.control.to_json()
            commander = self.control.commander
            data["commands"] = commander.to_json() if hasattr(commander, "to_json") else []
        else:
            data["control"] = {"role": self.role, "mode": None, "offered": {}}
            data["commands"] = []
        data["screen"] = self.screen_info()
        data.update(extra)
        return data
