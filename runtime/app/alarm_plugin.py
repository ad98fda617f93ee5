"""Alarms on a twin: the banner under the status bar, the alarm list, markers in the world, the
annunciator, the faceplate's alarm section, and the operator's acknowledge and silence.

Where the alarms come from is the feed's business (the live alarm service through the bus, or
alarms evaluated on the session's own virtual time in replay); this plugin only draws the board
and turns keys and clicks into alarm commands. Keys: ``l`` list, ``k`` acknowledge the selected
row (or the banner's alarm), ``shift-k`` acknowledge the page, ``m`` silence, ``page_up`` /
``page_down`` pages, ``control-f`` filter the list (type, Enter keeps, Escape clears).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from direct.showbase.DirectObject import DirectObject
from direct.task.Task import Task

from runtime.alarms.board import AlarmBoard, AlarmView
from runtime.app.plugin import Twin
from runtime.phases import Phase
from runtime.render.alarm_markers import AlarmMarkers
from runtime.ui.alarm_banner import AlarmBanner
from runtime.ui.alarm_list import PAGE_SIZE, AlarmListPanel
from runtime.ui.alarm_text import banner_line, counts_line, faceplate_alarm_lines, list_row
from runtime.ui.annunciator import Annunciator
from runtime.ui.hud import HudElement, element

REFRESH_S = 0.25
BLINK_HZ = 1.0
FILTER_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_*?. ")


class AlarmSource(Protocol):
    """Fills a board: :class:`runtime.alarms.feed.AlarmFeed` (live) or a replay evaluator."""

    status: str

    def drain(self, board: AlarmBoard, max_items: int = 200) -> bool: ...

    def close(self) -> None: ...


def load_rationale(scene_dir: Path) -> dict[str, dict[str, Any]]:
    """Alarm id -> its rationalization (cause, consequence, response) from ``alarms.yaml``;
    empty when the scene has none or the file does not validate (``twinstage validate`` and the
    alarm service say why; the display shows the alarms without their rationale)."""
    from runtime.alarms import load_alarms
    from runtime.scene.errors import SceneError

    path = scene_dir / "alarms.yaml"
    if not path.is_file():
        return {}
    try:
        defs = load_alarms(path)
    except SceneError:
        return {}
    return {a.id: {"cause": a.rationalization.cause,
                   "consequence": a.rationalization.consequence,
                   "response": a.rationalization.response} for a in defs.alarms}


class AlarmPlugin:
    """Registers the alarm display; ``source`` None shows nothing but the faceplate hook."""

    def __init__(self, source: AlarmSource | None, *, rationale: dict[str, dict[str, Any]]
                 | None = None) -> None:
        self.source = source
        self.board = AlarmBoard()
        self.rationale = rationale or {}
        self.twin: Twin | None = None
        self.banner: AlarmBanner | None = None
        self.list: AlarmListPanel | None = None
        self.markers: AlarmMarkers | None = None
        self.annunciator: Annunciator | None = None
        self.list_open = False
        self.page = 0
        self.pages = 1
        self.selected: int | None = None
        self.filter: str | None = None
        """The list's text filter while typed or kept; None when there is none."""
        self._typing_filter = False
        self._rows: list[AlarmView] = []
        self._shown_version = -1
        self._due_ns = 0
        self._below: Callable[[], float] = lambda: 1.0
        self._events = DirectObject()
        """Its own event listener: ``app.accept`` keeps one handler per event and object, and
        the navigation plugin listens to ``keystroke`` on the app."""
        self.sent: list[str] = []
        """Command ids this plugin sent (tests)."""
        self._waiting: list[str] = []

    # -- build ------------------------------------------------------------------------------

    def build(self, twin: Twin) -> None:
        self.twin = twin
        app, viewer = twin.app, twin.viewer
        self.banner = AlarmBanner(app.aspect2d, viewer.aspect)
        self.list = AlarmListPanel(app.aspect2d, viewer.aspect, loader=app.loader)
        viewer.labels.reserved.append(self.banner.reserved)
        viewer.labels.reserved.append(self.list.reserved)
        world = twin.session.world
        positions = {}
        for eid, row in world.entity_row.items():
            # On the equipment's own body: its name badge sits above it, and other assets'
            # badges keep off its box, so nothing 2D covers the marker.
            label = viewer.labels.by_id.get(eid)
            box = getattr(label, "box_m", None) if label is not None else None
            if box is not None:
                lo, hi = box
                positions[eid] = tuple(float((a + b) / 2) for a, b in zip(lo, hi, strict=True))
                continue
            vis = viewer.view.visuals.get(eid)
            x, y, z = world.entities.position_m[row]
            half = 0.5 * (vis.height_m if vis is not None else 2.0)
            positions[eid] = (float(x), float(y), float(z) + half)
        self.markers = AlarmMarkers(app.render, positions)
        self.annunciator = Annunciator(app.loader if twin.interactive else None)
        status = next((p for p in twin.plugins if hasattr(p, "bar")), None)
        if status is not None and getattr(status, "bar", None) is not None:
            self._below = lambda: status.bar.reserved()[2]
        twin.live.faceplate_extras.append(self.faceplate_lines)
        twin.header_bottoms.append(
            lambda: self.banner.rect[2] if self.banner is not None and self.banner.visible
            else None)
        twin.clicks.append(self.click)
        twin.hud.append(self.hud)
        app.task_mgr.add(self._task, "alarms", sort=Phase.HUD)
        if twin.interactive:
            self._install_keys()

    def _install_keys(self) -> None:
        assert self.twin is not None
        live = self.twin.live
        events = self._events

        def key(name: str, action: Callable[[], Any]) -> None:
            events.accept(name, lambda: None if live.typing else action())

        key("l", self.toggle_list)
        key("k", self.acknowledge_selected)
        key("shift-k", self.acknowledge_page)
        key("m", self.silence)
        key("page_up", lambda: self.turn_page(-1))
        key("page_down", lambda: self.turn_page(1))
        key("control-f", self.start_filter)
        events.accept("keystroke", self._keystroke)

    # -- actions ----------------------------------------------------------------------------

    def toggle_list(self) -> None:
        self.list_open = not self.list_open
        self._due_ns = 0

    def turn_page(self, step: int) -> None:
        self.page = max(0, min(self.pages - 1, self.page + step))
        self.selected = None
        self._due_ns = 0

    def silence(self) -> None:
        if self.annunciator is not None:
            self.annunciator.silence()
            self._due_ns = 0

    def start_filter(self) -> None:
        assert self.twin is not None
        self.filter = ""
        self._typing_filter = True
        self.twin.live.typing = True
        self.list_open = True
        self._due_ns = 0

    def _keystroke(self, key: str) -> None:
        if not self._typing_filter or self.filter is None or self.twin is None:
            return
        if key in ("\r", "\n"):
            self._typing_filter = False
            self.twin.live.typing = False
            self.filter = self.filter or None
        elif key == "\x1b":
            self._typing_filter = False
            self.twin.live.typing = False
            self.filter = None
        elif key == "\b":
            self.filter = self.filter[:-1]
        elif key.lower() in FILTER_CHARS:
            self.filter += key
        self.page, self.selected, self._due_ns = 0, None, 0

    def target(self) -> AlarmView | None:
        """What ``k`` acknowledges: the selected row, else the banner's alarm."""
        if self.selected is not None and self.selected < len(self._rows):
            return self._rows[self.selected]
        return self.board.banner()

    def acknowledge_selected(self) -> str | None:
        alarm = self.target()
        if alarm is None:
            self._say("no unacknowledged alarm to acknowledge")
            return None
        return self.act(alarm.id, "ack")

    def acknowledge_page(self) -> list[str]:
        return [cid for a in self._rows if a.unacked
                for cid in [self.act(a.id, "ack")] if cid is not None]

    def act(self, alarm_id: str, action: str, *, minutes: float = 0.0,
            comment: str = "") -> str | None:
        """Send one alarm command through the bus (operators and instructors); the command id,
        or None when this station may not (it says why)."""
        assert self.twin is not None
        control = self.twin.live.control
        if control is None:
            self._say("this station's role may not acknowledge or shelve alarms "
                      "(sign in with an operator key)")
            return None
        item = control.commander.send(f"alarm/{alarm_id}", minutes, self.twin.session.wall_ns,
                                      action=action, comment=comment)
        self.sent.append(item.id)
        self._waiting.append(item.id)
        return item.id

    def _report_outcomes(self) -> None:
        """Say what became of the alarm commands this station sent (the service's words)."""
        assert self.twin is not None
        control = self.twin.live.control
        if control is None or not self._waiting:
            return
        for cid in list(self._waiting):
            item = control.commander.get(cid)
            if item is None or not item.done:
                continue
            self._waiting.remove(cid)
            target = item.point.removeprefix("alarm/")
            if str(item.state) == "confirmed":
                self._say(item.text or f"{target}: done")
            else:
                why = item.text or item.reason or "no answer from the alarm service"
                self._say(f"{target}: not done: {why}")

    def _say(self, text: str) -> None:
        assert self.twin is not None
        self.twin.live.say(text)

    def click(self, x_ndc: float, y_ndc: float) -> bool:
        """A click on the banner flies to its alarm's asset (on the tone's words at its right
        end, silences); on a list row selects it and flies."""
        assert self.twin is not None and self.banner is not None and self.list is not None
        x = x_ndc * self.twin.viewer.aspect
        if self.banner.contains(x, y_ndc):
            left, right = self.banner.rect[0], self.banner.rect[1]
            tone = self.annunciator is not None and self.annunciator.sounding
            if tone and x > left + 0.75 * (right - left):
                self.silence()  # the tone's words sit at the banner's right end
                return True
            alarm = self.board.banner() or next(iter(self.board.active()), None)
            if alarm is not None:
                self.go_to(alarm)
            return True
        if self.list.contains(x, y_ndc):
            row = self.list.row_at(x, y_ndc)
            if row is not None and row < len(self._rows):
                self.selected = row
                self.go_to(self._rows[row])
                self._due_ns = 0
            return True
        return False

    def go_to(self, alarm: AlarmView) -> None:
        """Select the alarm's asset and fly the camera to it."""
        assert self.twin is not None
        live = self.twin.live
        if alarm.asset in live.world.entity_row:
            live.select(alarm.asset)
            nav = next((p for p in self.twin.plugins if hasattr(p, "fly_to_selected")), None)
            if nav is not None:
                nav.fly_to_selected()

    # -- per frame --------------------------------------------------------------------------

    def _task(self, task: Task) -> int:
        t0 = time.perf_counter_ns()
        try:
            self._update()
        finally:
            assert self.twin is not None
            self.twin.live.timings.add("ui", time.perf_counter_ns() - t0)
        return Task.cont

    def _update(self) -> None:
        twin = self.twin
        assert twin is not None and self.banner is not None and self.list is not None
        assert self.markers is not None and self.annunciator is not None
        wall_ns = twin.session.wall_ns
        changed = self.source.drain(self.board) if self.source is not None else False
        self._report_outcomes()
        blink_on = int(wall_ns / 1e9 * BLINK_HZ * 2) % 2 == 0
        self.markers.blink(blink_on)
        if not changed and wall_ns < self._due_ns:
            self._blink_2d(blink_on)
            return
        self._due_ns = wall_ns + int(REFRESH_S * 1e9)
        self.annunciator.update(self.board, wall_ns / 1e9)
        self.markers.update(self.board.by_asset())
        self._draw(blink_on)

    def _blink_2d(self, blink_on: bool) -> None:
        top = self.board.banner()
        if self.banner is not None and self.banner.visible:
            self.banner.show(top, self.banner.text, self.banner.counts, blink_on)

    def _draw(self, blink_on: bool) -> None:
        twin = self.twin
        assert twin is not None and self.banner is not None and self.list is not None
        active = self.board.active()
        self.banner.place(self._below())
        if active or self.board.banner() is not None:
            tone = self.annunciator.state() if self.annunciator is not None else ""
            counts = counts_line(self.board.counts()) + (f" | {tone}" if tone else "")
            self.banner.show(self.board.banner(), banner_line(self.board.banner()), counts,
                             blink_on)
        else:
            self.banner.hide()
        if self.list_open:
            panel = twin.live.panel.screen_rect()
            right = twin.viewer.aspect - 0.02
            if panel is not None and panel[2] < self.list.rect[3]:
                right = min(right, panel[0] - 0.02)
            self.list.place(right)
            rows, self.page, self.pages = self.board.page(self.page, PAGE_SIZE,
                                                          self.filter or "")
            self._rows = rows
            total = len(self.board.listed(self.filter or ""))
            title = (f"Alarms: {total} listed, page {self.page + 1}/{self.pages}"
                     + (f", filter '{self.filter}'" if self.filter is not None else ""))
            if self.source is not None and self.source.status:
                title += f"  ({self.source.status[:60]})"
            footer = "[K] ack  [Shift-K] ack page  [M] silence  [PgUp/PgDn]  [Ctrl-F] filter"
            self.list.show(title, rows, [list_row(a) for a in rows], footer, self.selected,
                           blink_on)
        else:
            self.list.hide()

    # -- faceplate and hud ------------------------------------------------------------------

    def faceplate_lines(self, entity_id: str) -> list[str]:
        return faceplate_alarm_lines(self.board.of_asset(entity_id), self.rationale)

    def hud(self) -> list[HudElement]:
        if self.twin is None or self.banner is None or self.list is None:
            return []
        size, aspect = self.twin.size(), self.twin.viewer.aspect
        out: list[HudElement] = []
        if self.banner.visible:
            out.append(element("banner", f"{self.banner.text} | {self.banner.counts}",
                               self.banner.rect, aspect, size))
        if self.list.visible:
            out.append(element("alarm-list", "\n".join(self.list.lines), self.list.rect,
                               aspect, size))
        return out

    def close(self) -> None:
        self._events.ignore_all()
        if self.source is not None:
            self.source.close()
        if self.annunciator is not None:
            self.annunciator.close()


__all__ = ["AlarmPlugin", "AlarmSource", "load_rationale"]
