"""``twinstage plant SCENE``: the numba plant served as the scene's Modbus TCP devices."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time

from runtime.commands.ports import DEFAULT_CONTROL_PORT

HELP = "run the virtual plant in real time (or --speed X) as the scene's Modbus TCP devices"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scene", help="scene folder, its scene.yaml, or a bundled scene name")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="simulated seconds per wall second (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    parser.add_argument("--port-offset", type=int, default=0, metavar="N",
                        help="add N to every device port and to the control port (tests, "
                             "several plants on one machine)")
    parser.add_argument("--control-port", type=int, default=DEFAULT_CONTROL_PORT, metavar="PORT",
                        help=f"loopback port of the fault/control socket (default "
                             f"{DEFAULT_CONTROL_PORT}, plus --port-offset; 0: none)")
    parser.add_argument("--fault", action="append", default=[], metavar="KIND:TARGET[:ARG]",
                        help="inject a fault at start, e.g. freeze:LT-102, drift:LT-101:0.01, "
                             "stick:FV-101, trip:P-101, silent:PLC-101, down:RTU-101, "
                             "exception:PLC-102:4 (repeatable)")
    parser.add_argument("--duration", type=float, default=None, metavar="S",
                        help="stop after S wall seconds (default: run until SIGINT/SIGTERM)")


def run(args: argparse.Namespace) -> int:
    from runtime.commands.ports import check_offset, check_port
    from runtime.errors import UsageError

    if not args.speed > 0 or args.speed > 1e6:
        raise UsageError(f"--speed {args.speed}: give a number above 0 and up to 1e6")
    check_port("--control-port", args.control_port, zero_means="no control socket")
    if args.control_port:
        check_offset(args.port_offset, [("the control port", args.control_port)])
    return asyncio.run(_main(args))


async def _main(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    from adapters.plant.faults import FaultError, parse_spec
    from adapters.plant.runner import PlantRunner
    from runtime.commands.ports import check_offset
    from runtime.errors import UsageError
    from runtime.scene import SceneError, load_devices, load_scene
    from runtime.sim.plant_model import PlantModel
    from runtime.sim.precompile import ensure_compiled

    scene = load_scene(args.scene)
    devices_path = scene.path / "devices.yaml"
    if not devices_path.exists():
        raise SceneError(devices_path, None, "", "the plant serves devices.yaml, which is missing")
    devices = load_devices(devices_path, scene)
    check_offset(args.port_offset, [(f"device {d.id}", d.port) for d in devices.devices])
    try:
        faults = [parse_spec(s) for s in args.fault]
    except FaultError as exc:
        raise UsageError(str(exc)) from None
    ensure_compiled()  # the first run compiles for a minute or two: say so, line by line
    model = PlantModel(scene, seed=args.seed)
    model.warm_up()  # before serving: a lazy compile would stall the servers' event loop
    control_port = args.control_port + args.port_offset if args.control_port else None
    runner = PlantRunner(model, devices, speed=args.speed, port_offset=args.port_offset,
                         control_port=control_port)
    await runner.start()
    try:
        try:
            await runner.apply_faults(faults)
        except (FaultError, KeyError) as exc:
            raise UsageError(f"--fault: {exc}") from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if args.duration is not None:
            loop.call_later(args.duration, stop.set)
        for d in devices.devices:
            s = runner.servers[d.id]
            print(f"serving {d.id} ({d.name}) unit {d.unit_id} on {s.host}:{s.port}: "
                  f"{len(d.points)} points, word order {d.word_order}")
        if runner.control:
            print(f"control socket on 127.0.0.1:{runner.control.port} (twinstage fault ...)")
        for f in runner.board.active.values():
            print(f"fault: {f.describe()}")
        print(f"plant ready: {scene.name}, {len(scene.entities)} entities, speed x{args.speed:g}, "
              f"seed {args.seed}, step {model.step_ns // 1_000_000} ms, "
              f"start {time.monotonic() - t0:.2f} s", flush=True)
        await runner.run_until(stop)
    finally:
        await runner.stop()
    print(f"plant stopped after {model.time_ns / 1e9:.1f} simulated s", flush=True)
    sys.stdout.flush()
    return 0
