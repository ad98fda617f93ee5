"""Child process for the alarm display tests: a twin offscreen with a scripted alarm source.

``python tests/alarm_ui_child.py OUT N`` shows N alarms (a flood when large), opens the list and
selects P-101, renders, and writes ``hud.json`` and ``shot.png`` under OUT.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from runtime.alarms.board import AlarmBoard

PRIORITIES = ("Critical", "High", "Medium", "Low")


class ScriptedAlarms:
    """An alarm source that hands the board one batch of events."""

    def __init__(self, events: list[dict]) -> None:
        self.events = events
        self.status = ""

    def drain(self, board: AlarmBoard, max_items: int = 200) -> bool:
        if not self.events:
            return False
        board.apply(self.events)
        self.events = []
        return True

    def close(self) -> None:
        pass


def events(n: int) -> list[dict]:
    out = [{"kind": "alarm", "id": "P-101-TRIP", "asset": "P-101", "point": "P-101/tripped",
            "priority": "High", "state": "unack", "message": "Duty pump P-101 tripped",
            "t_ns": 2_000_000_000_000_000_000, "t_active_ns": 2_000_000_000_000_000_000,
            "journal_seq": 1}]
    assets = ["T-101", "T-102", "FV-101", "M-101", "PT-101"]
    for i in range(1, n):
        out.append({"kind": "alarm", "id": f"X-{i}", "asset": assets[i % len(assets)],
                    "point": f"{assets[i % len(assets)]}/x", "priority": PRIORITIES[i % 4],
                    "state": ("unack", "ack", "shelved")[i % 3], "message": f"test alarm {i}",
                    "t_ns": 1_990_000_000_000_000_000 + i, "t_active_ns": 1_990_000_000_000_000_000,
                    "journal_seq": i + 1})
    return out


def main(out: Path, n: int) -> None:
    from runtime.app.alarm_plugin import AlarmPlugin
    from runtime.app.build import add_display_plugins, live_session
    from runtime.app.plugin import Twin
    from runtime.live.live_viewer import LiveViewer
    from runtime.render.app import make_app
    from runtime.render.screenshot import save_png
    from runtime.render.viewer import Viewer
    from runtime.scene import load_devices, load_scene
    from runtime.ui.hud import write_hud
    from runtime.world import build_world

    scene = load_scene("pump_station")
    app = make_app(headless=True, size=(1280, 720))
    viewer = Viewer(app, scene, interactive=False)
    world = build_world(scene, load_devices(scene.path / "devices.yaml", scene))
    session = live_session(world, None)
    live = LiveViewer(viewer, session, role="viewer")
    twin = Twin(app, viewer, session, live, interactive=False)
    add_display_plugins(twin, where="test", actor="test", role="viewer", markers=[])
    plugin = AlarmPlugin(ScriptedAlarms(events(n)), rationale={
        "P-101-TRIP": {"cause": "motor protection", "consequence": "no flow",
                       "response": "start P-102"}})
    twin.add(plugin)
    plugin.toggle_list()
    live.select("P-101")
    started = time.monotonic()
    while time.monotonic() - started < 0.8:  # panels refresh 4 times a second on wall time
        viewer.step(1)
    live.select("T-101")
    clicked = None
    rows = [a.id for a in plugin._rows]
    if "P-101-TRIP" in rows and plugin.list is not None:
        from runtime.ui.alarm_list import BOTTOM, ROW_H

        i = rows.index("P-101-TRIP")
        left, right, _, _ = plugin.list.rect
        y = BOTTOM + plugin.list.height - ROW_H * (i + 1.9) + 0.01
        plugin.click(((left + right) / 2) / viewer.aspect, y)
        clicked = live.selection.selected
        viewer.step(2)
    save_png(app, out / "shot.png")
    write_hud(out / "hud.json", twin.hud_elements(), twin.size())
    (out / "info.json").write_text(json.dumps({
        "markers": plugin.markers.shown if plugin.markers else {},
        "pages": plugin.pages, "annunciator": plugin.annunciator.state(),
        "selected_by_click": clicked}))
    app.destroy()


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
