"""``twinstage demo``: plant, bus, adapter and viewer on loopback, stopped together.

Prints what runs where. Ctrl-C, closing the window, or the end of ``--seconds`` stops every
child in reverse order; the demo checks that their ports are free again before it returns.

A first run compiles the plant model (a minute or two on a busy machine, unless ``make``
precompiled it): the demo shows the plant's and the viewer's progress lines and waits as long
as they advance (:mod:`runtime.progress`), not a fixed time.

The bus is CURVE like any other: on first run the demo makes a local key set in the keys folder
($TWINSTAGE_KEYS or ./keys): the bus, ``adapter`` (publishes ``adapter-*``), ``viewer`` and
``operator``; later runs reuse it. ``twinstage tap --key keys/viewer.key_secret`` reads the
demo's bus, ``twinstage write ... --key keys/operator.key_secret`` operates it.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from pathlib import Path

from runtime import DEFAULT_SCENE
from runtime.commands.ports import DEFAULT_CONTROL_PORT, check_offset, check_port
from runtime.control.roles import Role
from runtime.errors import UsageError
from runtime.progress import LogTail, wait_while_progressing
from runtime.scene import load_devices, load_scene
from runtime.supervisor import Supervisor, port_accepts, port_is_free

HELP = "run the virtual plant, bus, adapter and 3D viewer together on loopback"
BUS_HOST = "127.0.0.1"
BUS_PORT_COUNT = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "scene", nargs="?", default=str(DEFAULT_SCENE), help="scene (default: pump_station)"
    )
    parser.add_argument(
        "--headless", action="store_true", help="render offscreen (automatic with no display)"
    )
    parser.add_argument(
        "--seconds", type=float, default=None, help="stop after this long (headless default: 10)"
    )
    parser.add_argument(
        "--bus-port", type=int, default=5555, help="first of 5 bus ports (default 5555)"
    )
    parser.add_argument(
        "--port-offset", type=int, default=0,
        help="add this to every device port in devices.yaml and to the plant's control port "
             "(as plant --port-offset)",
    )
    parser.add_argument(
        "--role", default=Role.VIEWER.value, choices=[r.value for r in Role],
        help="the viewer's role (default viewer: looks only); operator or instructor get the "
             "control UI, as view --role",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("out/demo"), help="folder for logs and screenshots"
    )
    parser.add_argument(
        "--record", type=Path, default=None, metavar="DIR",
        help="also record the bus into DIR (MCAP); replay it with view --replay DIR",
    )
    parser.add_argument("--keys", default=None, metavar="DIR",
                        help="keys folder (default $TWINSTAGE_KEYS or ./keys; made on first run)")


def run(args: argparse.Namespace) -> int:
    scene = load_scene(args.scene)
    devices = load_devices(scene.path / "devices.yaml", scene)
    headless = args.headless or not os.environ.get("DISPLAY")
    seconds = args.seconds if args.seconds is not None else (10.0 if headless else None)
    check_port("--bus-port", args.bus_port, span=BUS_PORT_COUNT)
    check_offset(args.port_offset, [(f"device {d.id}", d.port) for d in devices.devices]
                 + [("the plant's control port", DEFAULT_CONTROL_PORT)])
    device_ports = [(d.id, d.host, d.port + args.port_offset) for d in devices.devices]
    bus_ports = [args.bus_port + i for i in range(BUS_PORT_COUNT)]
    busy = [f"{BUS_HOST}:{p}" for p in bus_ports if not port_is_free(BUS_HOST, p)]
    busy += [f"{h}:{p} ({i})" for i, h, p in device_ports if not port_is_free(h, p)]
    if busy:
        raise UsageError(
            f"ports already in use: {', '.join(busy)}; stop what holds them or pass "
            "--bus-port / --port-offset"
        )
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    bus = f"tcp://{BUS_HOST}:{args.bus_port}"
    scene_arg = str(scene.path)
    keys, made = ensure_demo_keys(args.keys)
    viewer_key = keys / "viewer.key_secret"
    sup = Supervisor(log_dir=out / "logs")
    stop_requested = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"keys     {keys} ({'made now' if made else 'reused'}): tap --key "
              f"{viewer_key}, write --key {keys / 'operator.key_secret'}")
        child = sup.start("bus", ["bus", "--bind", bus, "--keys", str(keys),
                                  "--audit-log", str(out / "audit" / "bus.jsonl")])
        sup.wait_until(child, lambda: all(port_accepts(BUS_HOST, p) for p in bus_ports), 20)
        print(f"bus      {bus} .. :{bus_ports[-1]}   (log {child.log_path})")
        child = sup.start("plant", ["plant", scene_arg, "--port-offset", str(args.port_offset)])
        wait_while_progressing(
            sup, child, lambda: all(port_accepts(h, p) for _, h, p in device_ports),
            quiet_s=60, on_progress=lambda line: print(f"plant    {line}", flush=True))
        for device_id, host, port in device_ports:
            print(f"plant    {device_id} Modbus TCP on {host}:{port}")
        child = sup.start(
            "adapter", ["adapter", scene_arg, "--bus", bus, "--port-offset", str(args.port_offset),
                        "--keys", str(keys), "--audit-log", str(out / "audit" / "adapter.jsonl")]
        )
        _wait_for_readings(sup, child, bus, viewer_key, timeout_s=30)
        print(f"adapter  polling {len(device_ports)} devices, publishing to {bus}")
        if (scene.path / "alarms.yaml").is_file():
            journal = out / "alarms" / "journal.jsonl"
            child = sup.start("alarms", ["alarms", scene_arg, "--bus", bus, "--keys", str(keys),
                                         "--journal", str(journal),
                                         "--audit-log", str(out / "audit" / "alarms.jsonl")])
            print(f"alarms   journal {journal}: twinstage alarms list --bus {bus} --key "
                  f"{keys / 'operator.key_secret'}   (log {child.log_path})")
        child = sup.start("historian", ["historian", scene_arg, "--bus", bus, "--keys",
                                        str(keys), "--store", str(out / "history")])
        print(f"historian {out / 'history'}   (twinstage history LT-102/level_m --from -10m "
              f"--store {out / 'history'})")
        if args.record is not None:
            rec_dir = args.record.resolve()
            events = ["--events", "alarms"] if (scene.path / "alarms.yaml").is_file() else []
            child = sup.start("recorder", ["record", "--bus", bus, "--out", str(rec_dir),
                                           "--scene", scene.name, "--key", str(viewer_key),
                                           *events])
            print(f"recorder {rec_dir}   (log {child.log_path})")
        station_key = viewer_key if args.role == "viewer" else keys / f"{args.role}.key_secret"
        view_args = ["view", scene_arg, "--bus", bus, "--key", str(station_key)]
        if headless:
            view_args += ["--headless", "--seconds", str(seconds), "--screenshot-dir", str(out)]
        viewer = sup.start("viewer", view_args)
        viewer_log = LogTail(viewer.log_path)
        where = f"screenshots in {out}" if headless else "window open"
        print(f"viewer   {'headless' if headless else 'window'}: {where}")
        deadline = None if seconds is None or headless else time.monotonic() + seconds
        while not stop_requested:
            for line in viewer_log.progress_lines():
                print(f"viewer   {line}", flush=True)
            exited = sup.first_exit()
            if exited is not None:
                if exited is not viewer:
                    print(
                        f"{exited.name} stopped unexpectedly (exit {exited.process.returncode}); "
                        f"see {exited.log_path}"
                    )
                break
            if deadline is not None and time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        codes = sup.stop_all()
        for s, handler in previous.items():
            signal.signal(s, handler)
    held = [p for p in bus_ports if not port_is_free(BUS_HOST, p)]
    held += [p for _, h, p in device_ports if not port_is_free(h, p)]
    summary = ", ".join(f"{name} {code}" for name, code in codes.items())
    print(f"stopped: {summary}" + (f"; ports still held: {held}" if held else "; all ports freed"))
    if args.record is not None:
        print(f"recording: {args.record.resolve()}; replay it with: twinstage view "
              f"{args.scene} --replay {args.record}")
    if headless:
        shots = sorted(out.glob("*.png"))
        print(f"screenshots: {', '.join(str(s) for s in shots) if shots else 'none written'}")
    return 0 if codes.get("viewer", 0) in (0, -signal.SIGINT) else 1


DEMO_KEYS = (("adapter", "engineer", ("adapter-*",)), ("viewer", "viewer", ()),
             ("operator", "operator", ()), ("instructor", "instructor", ()),
             ("alarms", "engineer", ("alarms",)), ("historian", "engineer", ("history",)),
             ("analytics", "engineer", ("analytics",)), ("scenario", "engineer", ("scenario",)))
"""The demo's local key set: name, role, may publish for (``demo --role`` signs its station
in with the key of that name; services offer and publish under their own keys)."""


def ensure_demo_keys(folder: str | None) -> tuple[Path, bool]:
    """The keys folder with the bus key and DEMO_KEYS, made where missing; (folder, made any)."""
    from runtime.bus.keys import KeyFileError, add_key, ensure_bus_key, load_site
    from runtime.bus.security import keys_dir

    keys = keys_dir(folder).resolve()
    made = False
    try:
        ensure_bus_key(keys)
        ring = load_site(keys / "site.json")
        for name, role, publish in DEMO_KEYS:
            if name not in ring.by_name:
                add_key(keys, name, role, publish=publish)
                made = True
    except (KeyFileError, OSError) as exc:
        raise UsageError(f"demo: cannot set up keys in {keys}: {exc}") from None
    return keys, made


def _wait_for_readings(sup: Supervisor, child, bus: str, key: Path, timeout_s: float) -> None:
    """Ready when the bus carries at least one reading from the adapter."""
    from runtime.bus.endpoints import BusEndpoints
    from runtime.bus.security import client_security
    from runtime.bus.subscriber import Subscriber

    security = client_security(key, command="demo")
    with Subscriber(BusEndpoints.from_address(bus), security=security) as sub:
        seen: list[int] = []

        def ready() -> bool:
            seen.append(len(sub.poll(5_000_000)))
            return sum(seen) > 0

        sup.wait_until(child, ready, timeout_s)
