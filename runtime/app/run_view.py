"""Run a twin on screen or headless: the loops behind ``twinstage view`` for every clock.

:func:`run_twin` builds the session for the clock asked for (live bus, recording, or the
scene's model), the live view and its plugins (control for operators, the timeline for
replay), then runs a window until it closes or renders headless for ``--seconds`` with
screenshots, and writes ``--stats-json``. The view command itself only parses arguments.
"""

from __future__ import annotations

import argparse
import signal
import time
from typing import Any

from runtime.app.build import add_display_plugins, add_training_plugins
from runtime.app.plugin import Twin

DEFAULT_LIVE_SECONDS = 10.0
LEAVE_CONFIRM_S = 5.0
DEFAULT_SCRIPT_SECONDS = 60.0
"""Headless upper bound on a ``--write`` run without ``--seconds``; it normally ends sooner."""


def make_control(args: argparse.Namespace, world, devices, endpoints):  # noqa: ANN001, ANN201
    """The commander and control panel for operator/instructor roles; (None, None) for viewer:
    no command socket is ever opened by a viewer-role view."""
    if args.role == "viewer":
        return None, None
    from runtime.control.roles import parse_role
    from runtime.live.commander import Commander
    from runtime.live.control_panel import ControlPanel, writable_points

    commander = Commander(endpoints, role=args.role, actor=args.actor,
                          timeout_ns=int(args.ack_timeout * 1e9), security=args.security)
    offered = writable_points(devices, world, parse_role(args.role))
    return commander, ControlPanel(world, offered, commander, ack_timeout_s=args.ack_timeout)


def _build_session(args: argparse.Namespace, world):  # noqa: ANN001, ANN202
    """(session, subscriber or None, markers) for the clock the arguments ask for."""
    from runtime.app.build import live_session, replay_session

    if args.replay is not None:
        from runtime.app.markers import recording_markers

        recording = args.opened_recording
        session = replay_session(world, recording, at_ns=args.at_ns, speed=args.speed,
                                 paused=args.paused)
        return session, None, recording_markers(recording)
    if args.bus is None:  # a layout of the scene's model alone: no readings
        return live_session(world, None), None, []
    from runtime.bus.endpoints import BusEndpoints
    from runtime.bus.subscriber import Subscriber

    # Callers that skip the view command's checks (the benches) get a plaintext viewer.
    args.security = getattr(args, "security", None)
    args.role = args.role or "viewer"
    subscriber = Subscriber(BusEndpoints.from_address(args.bus), security=args.security)
    return (live_session(world, subscriber, ingest=getattr(args, "ingest", "thread")),
            subscriber, [])


def run_twin(args: argparse.Namespace, app, viewer, *, headless: bool) -> int:  # noqa: ANN001
    """The twin's loop: headless for --seconds with screenshots, or a window until closed."""
    from runtime.live.live_viewer import LiveViewer
    from runtime.live.stats import write_stats
    from runtime.render.screenshot import save_png
    from runtime.scene import load_devices
    from runtime.world import build_world

    scene = viewer.scene
    devices_file = scene.path / "devices.yaml"
    devices = load_devices(devices_file, scene) if devices_file.is_file() else None
    world = build_world(scene, devices)
    session, subscriber, markers = _build_session(args, world)
    commander, control = None, None
    if subscriber is not None:
        from runtime.bus.endpoints import BusEndpoints

        commander, control = make_control(args, world, devices,
                                          BusEndpoints.from_address(args.bus))
    writes = getattr(args, "planned_writes", [])
    shots: list[str] = []
    stop = {"requested": False}

    def on_signal(signum: int, frame: object) -> None:
        stop["requested"] = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    alarms = None
    training = None
    try:
        live = LiveViewer(viewer, session, select=args.select, control=control, role=args.role,
                          devices=devices)
        twin = Twin(app, viewer, session, live, interactive=not headless)
        where = (args.bus or "the scene's model") if args.replay is None else str(args.replay)
        key = getattr(args, "security", None)
        user = key.name if key is not None else args.actor
        replay = add_display_plugins(twin, where=where, actor=user, role=args.role,
                                     markers=markers, security=key)
        alarms = _add_alarms(args, twin, subscriber is not None)
        training = add_training_plugins(twin, role=args.role, bus=args.bus if subscriber
                                        is not None else None, security=key)
        layout = getattr(args, "loaded_layout", None)
        if layout is not None:
            from runtime.app.layout import LayoutPlugin

            twin.add(LayoutPlugin(layout))
        live.install_control_keys()
        if writes:
            live.run_writes(writes)
        who = (f"signed in: {key.name} as {args.role}" if key is not None else
               f"no key, role {args.role}")
        print(f"{session.mode} view of {scene.name} from {where} ({app.pipe_name}; "
              f"{type(live.observer).__name__}; role {args.role}; {who})", flush=True)
        timeline: list[dict] = []
        if replay is not None and args.screenshot_at:
            _shots_at(args, app, twin, replay, shots, timeline)
        elif headless:
            headless_loop(args, app, live, stop, shots, timeline)
        else:
            window_loop(args, app, live, stop)
        if (headless or args.screenshot_dir is not None) and not args.screenshot_at:
            final_dir = args.screenshot_dir
            if final_dir is not None:
                shots.append(str(save_png(app, final_dir / "final.png")))
                timeline.append(_entry(twin, screenshot="final.png"))
            elif args.screenshot is not None:
                shots.append(str(save_png(app, args.screenshot)))
        if args.hud_json is not None:
            from runtime.ui.hud import write_hud

            out = write_hud(args.hud_json, twin.hud_elements(), twin.size())
            print(f"hud: {out}", flush=True)
        if args.stats_json is not None:
            extra: dict[str, Any] = {"screenshots": shots, "timeline": timeline,
                                     "bus_address": args.bus}
            extra["hud"] = twin.hud_elements()
            out = write_stats(args.stats_json, live.stats(**extra))
            print(f"stats: {out}", flush=True)
        if shots:
            print(f"screenshots: {', '.join(shots)}", flush=True)
        return report_writes(live, len(writes))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        session.close()
        if alarms is not None:
            alarms.close()
        if training is not None:
            training.close()
        if commander is not None:
            commander.close()


def _add_alarms(args: argparse.Namespace, twin: Twin, live: bool):  # noqa: ANN202
    """The alarm display when the scene defines alarms: fed by the alarm service on the bus
    (live), or evaluated on the session's virtual time (replay)."""
    from runtime.app.alarm_plugin import AlarmPlugin, load_rationale

    scene_dir = twin.viewer.scene.path
    if not (scene_dir / "alarms.yaml").is_file() or twin.session.source is None:
        return None  # no alarm definitions, or the scene's model alone (a layout): nothing
    if live:
        from runtime.alarms.feed import AlarmFeed
        from runtime.bus.endpoints import BusEndpoints

        source = AlarmFeed(BusEndpoints.from_address(args.bus),
                           security=getattr(args, "security", None))
    else:
        from runtime.alarms.replay import ReplayAlarms

        source = ReplayAlarms.for_session(twin.session)
    plugin = AlarmPlugin(source, rationale=load_rationale(scene_dir))
    twin.add(plugin)
    return plugin


def _entry(twin: Twin, **extra: Any) -> dict[str, Any]:
    """A timeline entry with the session's virtual time and state hash."""
    from runtime.app.session import state_hash

    entry = twin.live.timeline_entry(**extra)
    entry["state_hash"] = state_hash(twin.session.world)
    return entry


def _shots_at(args: argparse.Namespace, app, twin: Twin, replay, shots: list[str],  # noqa: ANN001
              timeline: list[dict]) -> None:
    """Replay headless: seek to each ``--screenshot-at`` time, render, save ``at-NNN.png``."""
    from runtime.render.screenshot import save_png

    out_dir = args.screenshot_dir
    twin.session.clock.paused = True
    for index, t_ns in enumerate(args.screenshot_at_ns):
        replay.seek(t_ns)
        twin.viewer.step(3)
        _settle(twin)
        name = f"at-{index:03d}.png"
        shots.append(str(save_png(app, out_dir / name)))
        timeline.append(_entry(twin, screenshot=name))


SETTLE_S = 5.0
"""A screenshot at a replay time waits this long at most for panels still fetching."""


def _settle(twin: Twin) -> None:
    """Step frames until no plugin has a question out (a trend panel waiting for its history),
    so a picture of a moment shows that moment's panels; then two more frames to draw them."""
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline and any(
            getattr(p, "pending", lambda: False)() for p in twin.plugins):
        twin.viewer.step(1)
        time.sleep(0.01)
    twin.viewer.step(2)


def report_writes(live, planned: int) -> int:  # noqa: ANN001
    """Print what became of each command; 1 if a ``--write`` was not confirmed (or not run)."""
    control = live.control
    if control is None:
        return 0
    for line in control.history:
        print(f"control: {line}", flush=True)
    if not planned:
        return 0
    script = live.script
    ids = script.sent_ids if script is not None else []
    states = [control.commander.get(cid) for cid in ids]
    ok = [item is not None and str(item.state) == "confirmed" for item in states]
    finished = script is not None and script.done
    if not finished:
        print(f"control: {planned - (script.index if script else 0)} of {planned} --write not "
              "finished when the run ended", flush=True)
    return 0 if finished and all(ok) else 1


def headless_loop(args: argparse.Namespace, app, live, stop: dict,  # noqa: ANN001
                   shots: list[str], timeline: list[dict]) -> None:
    """Render continuously in real time (capped at --max-fps) with periodic screenshots."""
    from runtime.render.screenshot import save_png

    scripted = live.script is not None
    seconds = args.seconds if args.seconds is not None else (
        DEFAULT_SCRIPT_SECONDS if scripted else DEFAULT_LIVE_SECONDS)
    period = 1.0 / args.max_fps
    start = time.monotonic()
    next_shot = start
    index = 0
    control_shown = 0
    while not stop["requested"] and time.monotonic() - start < seconds:
        if scripted and live.writes_done:
            break
        t0 = time.monotonic()
        try:
            live.viewer.step(1)
        except KeyboardInterrupt:  # Panda's task manager re-raises a SIGINT caught mid-frame
            stop["requested"] = True
        if args.screenshot_dir is not None and time.monotonic() >= next_shot:
            name = f"live-{index:03d}.png"
            shots.append(str(save_png(app, args.screenshot_dir / name)))
            timeline.append(live.timeline_entry(screenshot=name))
            index += 1
            next_shot += args.screenshot_every
        if args.screenshot_dir is not None and live.control_frames != control_shown:
            name = f"control-{live.control_frames:03d}.png"
            control_shown = live.control_frames
            shots.append(str(save_png(app, args.screenshot_dir / name)))
            timeline.append(live.timeline_entry(screenshot=name,
                                                control=live.control.lines()))
        spare = period - (time.monotonic() - t0)
        if spare > 0:
            time.sleep(spare)


def window_loop(args: argparse.Namespace, app, live, stop: dict) -> None:  # noqa: ANN001
    """Run the window until it closes, Q is pressed, --seconds pass or a signal arrives."""
    from direct.task.Task import Task

    from runtime.phases import Phase

    live.install_input()
    live.install_buttons()
    deadline = None if args.seconds is None else time.monotonic() + args.seconds

    leave_asked = {"at": -1.0}

    def leave() -> None:
        """Viewers leave at once; an operator or instructor station asks first (a second
        Q or Escape within LEAVE_CONFIRM_S leaves), so a stray key does not drop control."""
        if live.typing:
            return
        now = time.monotonic()
        if live.role == "viewer" or now - leave_asked["at"] < LEAVE_CONFIRM_S:
            stop["requested"] = True
            return
        leave_asked["at"] = now
        live.say(f"Leave the {live.role} station? Press Q or Esc again within "
                 f"{LEAVE_CONFIRM_S:g} s to leave; anything else stays.")

    def on_escape() -> None:
        if live.typing:
            return
        if not live.clear_or_false():
            leave()

    def watch(task: Task) -> int:
        if stop["requested"] or (deadline is not None and time.monotonic() > deadline):
            app.task_mgr.stop()  # ShowBase.run() returns; the caller writes its files
        return Task.cont

    app.accept("escape", on_escape)
    app.accept("q", leave)
    app.task_mgr.add(watch, "live-stop-watch", sort=Phase.CAPTURE)
    key = getattr(args, "security", None)
    if live.control is not None and key is not None:
        from runtime.control.signin import SignIn, install_idle_lock

        install_idle_lock(app, live, SignIn(key.name, args.role, int(args.idle_timeout * 1e9)))
    print(f"{live.world.scene.name}: click an asset to inspect, Tab/Shift-Tab cycle, Esc clears "
          "(Esc again or Q quits); left-drag orbit, right-drag pan, wheel zoom", flush=True)
    if live.control is not None:
        print(f"control ({args.role} {args.actor}): Up/Down pick a writable point, W or Enter "
              "write, +/- or digits set the value, Enter confirm, Enter send, Esc back out",
              flush=True)
    try:
        app.run()
    except (SystemExit, KeyboardInterrupt):  # window closed (ShowBase.userExit), or Ctrl-C
        pass
