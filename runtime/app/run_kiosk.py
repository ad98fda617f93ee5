"""Run a kiosk: the twin for visitors, built with no way to write to the plant.

The session gets a readings subscriber and nothing else: no :class:`Commander`, no control
panel, no command socket is ever created in this process (a viewer's role is not a setting
here, it is the absence of the client). Plugins: value badges, walk mode, the scene's tour
(looping, for the attract loop) and the kiosk's own behaviour; the status plugin runs hidden so
the bus-lost state still reaches the kiosk's friendly "live data paused" card.

Headless, ``--tour-once`` plays the tour from start to end on a stepped clock (no waiting) and
writes ``stop-NN.png`` at each stop plus ``tour.json`` (each stop's card and values);
otherwise it renders in real time for ``--seconds`` with periodic screenshots.
"""

from __future__ import annotations

import argparse
import json
import signal
import time
from pathlib import Path
from typing import Any

from runtime.app.plugin import Twin

TOUR_STEP_S = 0.25
"""Headless --tour-once: virtual seconds per rendered frame."""
SYNC_WAIT_S = 15.0


class SteppedClock:
    """A clock that moves only when told (headless tours, tests)."""

    def __init__(self, start_s: float = 0.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s


def build_kiosk(args: argparse.Namespace, app, viewer, *, now_s=None):  # noqa: ANN001, ANN201
    """(twin, kiosk plugin, tour plugin, subscriber or None) for the arguments."""
    from runtime.app.badges_plugin import BadgesPlugin
    from runtime.app.build import live_session
    from runtime.app.kiosk_plugin import KioskPlugin
    from runtime.app.status_plugin import StatusPlugin
    from runtime.app.tour_plugin import TourPlugin
    from runtime.app.walk_plugin import WalkPlugin
    from runtime.live.live_viewer import LiveViewer
    from runtime.scene import load_devices
    from runtime.world import build_world

    scene = viewer.scene
    devices_file = scene.path / "devices.yaml"
    devices = load_devices(devices_file, scene) if devices_file.is_file() else None
    world = build_world(scene, devices)
    subscriber = None
    if args.bus is not None:
        from runtime.bus.endpoints import BusEndpoints
        from runtime.bus.subscriber import Subscriber

        subscriber = Subscriber(BusEndpoints.from_address(args.bus), security=args.security)
    session = live_session(world, subscriber)
    live = LiveViewer(viewer, session, control=None, role="viewer", devices=devices)
    twin = Twin(app, viewer, session, live, interactive=not args.headless)
    status = twin.add(StatusPlugin(where=args.bus or "model only", user="visitor",
                                   role="viewer"))
    assert status.bar is not None
    status.bar.root.hide()  # a visitor gets the friendly card, not the engineer's status line
    twin.hud.remove(status.hud)
    viewer.labels.reserved.remove(status.bar.reserved)
    twin.add(BadgesPlugin())
    twin.add(WalkPlugin())
    tour = twin.add(TourPlugin(args.chosen_tour, loop=not args.tour_once, now_s=now_s))
    kiosk = twin.add(KioskPlugin(idle_s=args.idle, tour=tour, exit_chord=args.exit_chord,
                                 pin_sha256=args.pin_sha256, now_s=now_s))
    return twin, kiosk, tour, subscriber


def run_kiosk(args: argparse.Namespace, app, viewer) -> int:  # noqa: ANN001
    from runtime.render.screenshot import save_png

    clock = SteppedClock() if args.tour_once else None
    twin, kiosk, tour, subscriber = build_kiosk(args, app, viewer, now_s=clock)
    stop = {"requested": False}

    def on_signal(signum: int, frame: object) -> None:
        stop["requested"] = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    shots: list[str] = []
    try:
        where = args.bus or "the scene's model (no bus)"
        print(f"kiosk: {viewer.scene.name} from {where} ({app.pipe_name}; viewer role, no "
              f"command client; idle {args.idle:g} s; exit {kiosk.exit_event} + PIN)",
              flush=True)
        if args.tour_once:
            _tour_once(args, twin, tour, clock, subscriber, shots)
        elif args.headless:
            _headless(args, twin, kiosk, stop, shots)
        else:
            _window(args, twin, kiosk, stop)
        if args.screenshot_dir is not None and not args.tour_once:
            shots.append(str(save_png(app, args.screenshot_dir / "final.png")))
        if args.hud_json is not None:
            from runtime.ui.hud import write_hud

            print(f"hud: {write_hud(args.hud_json, twin.hud_elements(), twin.size())}",
                  flush=True)
        if shots:
            print(f"screenshots: {', '.join(shots)}", flush=True)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        twin.session.close()


def _tour_once(args: argparse.Namespace, twin: Twin, tour, clock: SteppedClock,  # noqa: ANN001
               subscriber, shots: list[str]) -> None:  # noqa: ANN001
    """Play the tour start to end on the stepped clock; a screenshot and a record per stop."""
    from runtime.render.screenshot import save_png

    if tour.player is None:
        raise SystemExit("kiosk: the scene declares no tour (scene.yaml tours:)")
    if subscriber is not None:  # live values on the cards: wait for the bus's snapshot
        deadline = time.monotonic() + SYNC_WAIT_S
        source = twin.session.source  # the subscriber itself belongs to the ingest thread
        while not source.synced and time.monotonic() < deadline:
            twin.viewer.step(1)
        twin.viewer.step(3)
    arrived: list[int] = []
    tour.on_event.append(lambda kind, i: arrived.append(i) if kind == "arrive" else None)
    tour.start()
    stops: list[dict[str, Any]] = []
    out_dir: Path | None = args.screenshot_dir
    total_s = sum(s.travel_s + s.dwell_s for s in tour.tour.stops) + 5.0
    frames = int(total_s / TOUR_STEP_S) + 10
    for _ in range(frames):
        clock.now_s += TOUR_STEP_S
        twin.viewer.step(1)
        while arrived:
            index = arrived.pop(0)
            twin.viewer.step(1)  # the card laid out this frame is drawn in the next
            card = tour.card
            entry: dict[str, Any] = {"index": index, "title": card.title, "text": card.body,
                                     "values": list(card.values)}
            if out_dir is not None:
                name = f"stop-{index:02d}.png"
                shots.append(str(save_png(twin.app, out_dir / name)))
                entry["screenshot"] = name
                entry["hud"] = twin.hud_elements()
            stops.append(entry)
        if not tour.playing:
            break
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "tour.json").write_text(json.dumps(
            {"tour": tour.tour.name, "finished": tour.player.phase == "done", "stops": stops},
            indent=1))
    print(f"tour: {tour.tour.name}: {len(stops)} of {len(tour.tour.stops)} stops, "
          f"{'finished' if tour.player.phase == 'done' else 'not finished'}", flush=True)


def _headless(args: argparse.Namespace, twin: Twin, kiosk, stop: dict,  # noqa: ANN001
              shots: list[str]) -> None:
    from runtime.render.screenshot import save_png

    start = time.monotonic()
    next_shot = start
    index = 0
    period = 1.0 / args.max_fps
    while not stop["requested"] and not kiosk.exit_requested and (
            time.monotonic() - start < args.seconds):
        t0 = time.monotonic()
        try:
            twin.viewer.step(1)
        except KeyboardInterrupt:
            stop["requested"] = True
        if args.screenshot_dir is not None and time.monotonic() >= next_shot:
            shots.append(str(save_png(twin.app, args.screenshot_dir / f"kiosk-{index:03d}.png")))
            index += 1
            next_shot += args.screenshot_every
        spare = period - (time.monotonic() - t0)
        if spare > 0:
            time.sleep(spare)


def _window(args: argparse.Namespace, twin: Twin, kiosk, stop: dict) -> None:  # noqa: ANN001
    from direct.task.Task import Task
    from panda3d.core import WindowProperties

    from runtime.phases import Phase

    props = WindowProperties()
    props.set_fullscreen(not args.windowed)
    props.set_cursor_hidden(True)
    twin.app.win.request_properties(props)

    def watch(task: Task) -> int:
        if stop["requested"] or kiosk.exit_requested:
            twin.app.task_mgr.stop()
        return Task.cont

    twin.app.task_mgr.add(watch, "kiosk-stop-watch", sort=Phase.CAPTURE)
    try:
        twin.app.run()
    except (SystemExit, KeyboardInterrupt):
        pass
