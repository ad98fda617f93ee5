"""Live-twin test helpers: a real bus in a thread and a scripted publisher of synthetic readings.

Import explicitly (``from live_fixtures import ...``). No plant or adapter: the publisher sends
what a test script says, per source (device id), so a test can stop one source's heartbeats
(its points go Bad) and resume it, while the viewer runs as a real ``twinstage view`` process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bus_fixtures import free_base_port
from security_fixtures import session_client, session_server

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.publisher import Publisher
from runtime.bus.server import BusServer
from runtime.bus.wire import Command, Reading
from runtime.control.ack import Ack
from runtime.quality import Quality, Reason

GOOD, NONE = int(Quality.GOOD), int(Reason.NONE)

PUMP_STATION_VALUES: dict[str, dict[str, float]] = {
    "PLC-101": {
        "P-101/run_cmd": 1, "P-101/speed_sp_rpm": 1480, "P-101/reset_cmd": 0,
        "P-101/speed_rpm": 1478.0, "M-101/power_kw": 41.0, "M-101/temperature_degc": 62.0,
        "P-101/running": 1, "P-101/tripped": 0, "P-101/run_hours_h": 1234.5,
        "P-102/run_cmd": 0, "P-102/speed_sp_rpm": 1480, "P-102/reset_cmd": 0,
        "P-102/speed_rpm": 0.0, "M-102/power_kw": 0.0, "M-102/temperature_degc": 25.0,
        "P-102/running": 0, "P-102/tripped": 0, "P-102/run_hours_h": 987.0,
        "UC-101/mode": 1, "UC-101/duty_pump": 0, "PT-101/pressure_kpa": 310.0,
    },
    "PLC-102": {
        "FV-101/position_sp_pct": 40.0, "LIC-102/mode": 1, "LIC-102/setpoint_m": 3.0,
        "FV-101/position_pct": 40.0, "LIC-102/output_pct": 40.0, "FT-101/flow_m3_h": 170.0,
    },
    "RTU-101": {
        "LT-101/level_m": 3.5, "LT-102/level_m": 2.4, "T-101/overflow_m3_h": 0.0,
        "T-102/overflow_m3_h": 0.0,
    },
}
"""A plausible steady state of the pump station, per device (source id on the bus)."""


@dataclass
class ScriptedPlant:
    """Publishes ``values`` per source at ``period_s`` from a thread (own sockets, own thread).

    Tests change ``values[source][point]`` and ``silent`` (sources that send nothing at all,
    not even heartbeats) while it runs; the thread reads them each period.
    """

    endpoints: BusEndpoints
    values: dict[str, dict[str, float]]
    period_s: float = 0.1
    heartbeat_ms: int = 200
    silent: set[str] = field(default_factory=set)
    published: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="scripted-plant", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        pubs = {src: Publisher(self.endpoints, src, points=list(vals),
                               heartbeat_period_ms=self.heartbeat_ms,
                               security=session_client("plant"))
                for src, vals in self.values.items()}
        try:
            while not self._stop.is_set():
                now = time.time_ns()
                for src, pub in pubs.items():
                    if src in self.silent:
                        continue
                    readings = [Reading(p, float(v), GOOD, NONE, now)
                                for p, v in list(self.values[src].items())]
                    pub.publish(readings)
                    self.published += 1
                self._stop.wait(self.period_s)
        finally:
            for pub in pubs.values():
                pub.close()


@contextmanager
def live_bus(values: dict[str, dict[str, float]] | None = None,
             period_s: float = 0.1) -> Iterator[tuple[str, ScriptedPlant]]:
    """A bus on a free block of loopback ports and a scripted plant publishing to it.

    Yields (bus address for ``--bus``, the plant). Everything is stopped and joined after.
    """
    with live_bus_server(values, period_s) as (address, plant, _server):
        yield address, plant


@contextmanager
def live_bus_server(values: dict[str, dict[str, float]] | None = None,
                    period_s: float = 0.1) -> Iterator[tuple[str, ScriptedPlant, BusServer]]:
    """:func:`live_bus`, also yielding the BusServer (tests that wait on its command routes)."""
    base = free_base_port()
    address = f"tcp://127.0.0.1:{base}"
    server = BusServer(BusEndpoints.from_address(address), security=session_server())
    thread = server.start_thread()
    plant = ScriptedPlant(server.endpoints,
                          {k: dict(v) for k, v in (values or PUMP_STATION_VALUES).items()},
                          period_s=period_s)
    plant.start()
    try:
        yield address, plant, server
    finally:
        plant.stop()
        server.stop()
        thread.join(timeout=5)
        server.close()


# -- a fake adapter on the bus's command path -------------------------------------------------


@dataclass
class FakeAdapter:
    """Owns ``points`` on the bus and answers commands like a small, honest adapter.

    Writes in range (devices.yaml min/max) are confirmed and read back, and the new value is
    published through ``plant`` (so the viewer sees it); out of range is refused with code
    ``range``. sbo points need ``select`` then ``operate`` of the same value by the same actor.
    Commands for ``silent_points`` get no answer at all (the viewer's "no answer"). Every command
    received is kept in ``received``. Own thread, own socket.
    """

    endpoints: BusEndpoints
    limits: dict[str, tuple[float | None, float | None, str, bool]]
    """point -> (min, max, unit, sbo)."""
    plant: ScriptedPlant | None = None
    silent_points: set[str] = field(default_factory=set)
    received: list[Command] = field(default_factory=list)
    _selected: dict[str, tuple[str, float]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @classmethod
    def for_scene(cls, endpoints: BusEndpoints, scene_name: str = "pump_station",
                  **kwargs: object) -> FakeAdapter:
        from runtime.scene import load_devices, load_scene

        scene = load_scene(scene_name)
        devices = load_devices(scene.path / "devices.yaml", scene)
        limits = {p.point: (p.min, p.max, p.unit, bool(p.sbo))
                  for d in devices.devices for p in d.points if p.writable}
        return cls(endpoints, limits, **kwargs)  # type: ignore[arg-type]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fake-adapter", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        from runtime.bus.adapter_link import AdapterLink

        link = AdapterLink(self.endpoints, "fake-adapter", list(self.limits),
                           register_period_s=0.5, security=session_client("adapter"))
        try:
            while not self._stop.is_set():
                for command in link.poll_commands():
                    self.received.append(command)
                    if command.point not in self.silent_points:
                        link.send_ack(self.answer(command))
                self._stop.wait(0.005)
        finally:
            link.close()

    def answer(self, c: Command) -> Ack:
        lo, hi, unit, sbo = self.limits[c.point]
        cid, point, value, action = c.id, c.point, c.value, c.action
        u = "" if unit in ("bool", "enum") else f" {unit}"
        if hi is not None and value > hi:
            return Ack(cid, point, "refused", f"{point}: {value:g}{u} is above the maximum "
                       f"{hi:g}{u}", None, "range")
        if lo is not None and value < lo:
            return Ack(cid, point, "refused", f"{point}: {value:g}{u} is below the minimum "
                       f"{lo:g}{u}", None, "range")
        if sbo and action == "select":
            self._selected[point] = (c.actor, value)
            return Ack(cid, point, "selected", f"{point} selected by {c.actor}; operate "
                       "within 10 s", None)
        if sbo and action == "cancel":
            self._selected.pop(point, None)
            return Ack(cid, point, "cancelled", f"{point}: selection given back", None)
        if sbo and (action != "operate" or self._selected.pop(point, None)
                    != (c.actor, value)):
            return Ack(cid, point, "refused", f"{point} moves equipment: select it first",
                       None, "not_selected")
        if self.plant is not None:
            for values in self.plant.values.values():
                if point in values:
                    values[point] = value
        return Ack(cid, point, "confirmed", f"{point} = {value:g}{u}", value)


# -- offscreen live render in a child process (one ShowBase per process) -----------------------

_RENDERED: dict[str, object] = {}


@dataclass(frozen=True)
class LiveRender:
    """Two frames of a live view with no bus: ``good`` (every point Good) and ``bad`` (LT-102
    Bad, P-101 tripped, T-102 selected in the inspector), plus what the child measured."""

    good: object
    """uint8 (H, W, 3) numpy frame, row 0 at the top."""
    bad: object
    info: dict


def render_live(out_dir: Path) -> LiveRender:
    """Run the child once per test session (cached) and load its frames and info."""
    import json
    import subprocess
    import sys

    import numpy as np

    if "live" in _RENDERED:
        return _RENDERED["live"]  # type: ignore[return-value]
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, __file__, "render-live", str(out_dir)],
                          cwd=Path(__file__).resolve().parent.parent, capture_output=True,
                          text=True, timeout=120)
    if proc.returncode != 0:
        raise AssertionError(f"live render child failed ({proc.returncode}):\n{proc.stderr}")
    result = LiveRender(np.load(out_dir / "good.npy"), np.load(out_dir / "bad.npy"),
                        json.loads((out_dir / "info.json").read_text()))
    _RENDERED["live"] = result
    return result


def _child_render_live(out_dir: Path) -> None:
    import json

    import numpy as np

    from runtime.app.build import live_session
    from runtime.live.live_viewer import LiveViewer
    from runtime.quality import Quality, Reason
    from runtime.render.app import make_app
    from runtime.render.picking import pick
    from runtime.render.screenshot import capture_rgb, save_png
    from runtime.render.viewer import Viewer
    from runtime.scene import load_devices, load_scene
    from runtime.world import build_world

    scene = load_scene("pump_station")
    world = build_world(scene, load_devices(scene.path / "devices.yaml", scene))
    app = make_app(headless=True, size=(960, 540))
    viewer = Viewer(app, scene, interactive=False)
    live = LiveViewer(viewer, live_session(world, None))
    now = time.monotonic_ns()
    for values in PUMP_STATION_VALUES.values():
        cols = np.array([world.point_column[p] for p in values], dtype=np.int64)
        world.write(cols, list(values.values()), [GOOD] * len(cols), [NONE] * len(cols),
                    [time.time_ns()] * len(cols), now)
    world.refresh_entity_quality()
    viewer.step(3)
    info: dict = {"pipe": app.pipe_name, "good": {"screen": live.screen_info()}}
    np.save(out_dir / "good.npy", capture_rgb(app))
    save_png(app, out_dir / "good.png")

    picks = {}
    for eid in ("P-101", "T-102", "FV-101", "LT-102"):
        e = scene.entity(eid)
        vis = viewer.view.visuals[eid]
        x, y, z = e.position_m
        px = live.project_px((x, y, z + 0.5 * vis.height_m))
        w, h = app.win.get_x_size(), app.win.get_y_size()
        ndc = (px[0] / w * 2 - 1, 1 - px[1] / h * 2)
        picks[eid] = pick(viewer, *ndc)
    picks["sky"] = pick(viewer, 0.0, 0.98)
    info["picks"] = picks
    live._on_cycle(1)
    first = live.selection.selected
    live._on_cycle(1)
    info["tab"] = [first, live.selection.selected]
    live._on_cycle(-1)
    info["tab"].append(live.selection.selected)
    info["escape"] = [live.clear_or_false(), live.clear_or_false()]

    c = world.point_column["LT-102/level_m"]
    world.state.quality[c] = Quality.BAD
    world.state.reason[c] = Reason.NO_COMMUNICATION
    world.write(np.array([world.point_column["P-101/tripped"]]), [1.0], [GOOD], [NONE], [0],
                time.monotonic_ns())
    world.refresh_entity_quality()
    live.select("T-102")
    live.toggle_engineering()  # the engineering table: every point, quality, age, residual
    viewer.step(3)
    np.save(out_dir / "bad.npy", capture_rgb(app))
    save_png(app, out_dir / "bad.png")
    sync = viewer.view.sync
    info["bad"] = {
        "screen": live.screen_info(),
        "panel_lines": live.panel.lines,
        "status": {eid: sync.status_text[r] for eid, r in world.entity_row.items()},
        "icons": {world.entities.ids[r]: g for r, g in live.icons.shown().items()},
        "highlight": {world.entities.ids[r]: int(v) for r, v in enumerate(sync.highlight) if v},
    }
    (out_dir / "info.json").write_text(json.dumps(info))
    app.destroy()


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    if sys.argv[1] == "render-live":
        _child_render_live(Path(sys.argv[2]))
    else:
        raise SystemExit(f"unknown mode {sys.argv[1]}")
