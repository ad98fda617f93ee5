"""``twinstage scenario run|report|list|validate``: training scenarios on the virtual plant.

``run SCENARIO`` starts the bus, the plant, the adapter, the alarm service (when the scene has
alarms) and the recorder as processes, waits for the trainee's viewer (an operator key) unless
``--headless --autopilot SCRIPT``, runs the scenario, scores it live and writes a run folder
(docs/training.md). ``report RUN`` writes report.json and report.html beside it.
"""

from __future__ import annotations

import argparse
import signal
import time
from pathlib import Path

from runtime.errors import UsageError

HELP = "run, report, list or validate training scenarios (docs/training.md)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["run", "report", "list", "validate", "control"])
    parser.add_argument("target", nargs="?", default=None,
                        help="run/validate: SCENARIO (<scene>/<name> or a file); report: a run "
                             "folder; list: a scene (default pump_station); control: status, "
                             "freeze, run, speed, snapshot, snapshots, restore, backtrack, "
                             "inject, clear, message, start, stop")
    parser.add_argument("--bus", default=None, metavar="ADDR",
                        help="control: the run's bus (default tcp://127.0.0.1:<--bus-port>)")
    parser.add_argument("--key", default=None, metavar="FILE",
                        help="control: your key (an instructor's; status needs any key)")
    parser.add_argument("--value", default=None,
                        help="control: speed X, restore ID, backtrack SECONDS, inject "
                             "KIND:TARGET[:RATE], clear TARGET, message TEXT, start SCENARIO")
    parser.add_argument("--hint", action="store_true",
                        help="control message: a hint (costs the hint penalty)")
    parser.add_argument("--headless", action="store_true",
                        help="no trainee viewer: needs --autopilot")
    parser.add_argument("--autopilot", default=None, metavar="SCRIPT",
                        help="an autopilot (file, or a name in the scenario's autopilots/)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="run folder (default out/scenarios/<scenario>-<time>)")
    parser.add_argument("--speed", type=float, default=None,
                        help="plant speed (default: the scenario's; CI runs faster)")
    parser.add_argument("--bus-port", type=int, default=5555, help="first of 5 bus ports")
    parser.add_argument("--port-offset", type=int, default=0,
                        help="added to the device ports and the plant's control port")
    parser.add_argument("--keys", default=None, metavar="DIR",
                        help="keys folder (default $TWINSTAGE_KEYS or ./keys; made if missing)")
    parser.add_argument("--no-record", action="store_true", help="do not record the bus")
    parser.add_argument("--trainee-timeout", type=float, default=5.0, metavar="S",
                        help="pause when no trainee viewer was heard for S seconds (default 5)")
    parser.add_argument("--wait-trainee", type=float, default=None, metavar="S",
                        help="give up when no trainee came within S seconds (default: wait)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _list(args)
    if args.action == "report":
        return _report(args)
    if args.action == "control":
        return _control(args)
    if not args.target:
        raise UsageError(f"scenario {args.action} needs a SCENARIO (<scene>/<name> or a file)")
    from runtime.scenarios.load import (
        load_autopilot,
        load_scenario,
        resolve_autopilot,
        resolve_scenario,
    )

    path = resolve_scenario(args.target)
    scenario = load_scenario(path)
    pilot = load_autopilot(resolve_autopilot(args.autopilot, path), scenario) \
        if args.autopilot else None
    if args.action == "validate":
        print(f"{path}: ok ({len(scenario.triggers)} events, {len(scenario.expectations)} "
              f"expectations, {len(scenario.limits)} limits)")
        if pilot:
            print(f"{pilot.path}: ok ({len(pilot.steps)} steps)")
        return 0
    if args.headless and pilot is None:
        raise UsageError("--headless runs with no trainee: give --autopilot SCRIPT")
    if args.speed is not None and not 0 < args.speed <= 1000:
        raise UsageError(f"--speed {args.speed:g}: give a number above 0 and up to 1000")
    return _run(args, scenario, pilot)


def _run(args: argparse.Namespace, scenario, pilot) -> int:
    import json

    from runtime.scenarios.plant_link import PlantError
    from runtime.scenarios.session import Session

    out = args.out or Path("out/scenarios") / f"{scenario.id}-{time.strftime('%Y%m%d-%H%M%S')}"
    session = Session(scenario.scene_dir, out.resolve(), bus_port=args.bus_port,
                      port_offset=args.port_offset, keys=Path(args.keys) if args.keys else None,
                      speed=args.speed or scenario.speed, record=not args.no_record)
    previous = {s: signal.signal(s, lambda *_: session.request_stop())
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        session.start()
        result = session.run(scenario, pilot, headless=args.headless, speed=args.speed,
                             trainee_timeout_s=args.trainee_timeout,
                             wait_trainee_s=args.wait_trainee)
        while session.next_scenario() is not None:  # the instructor chose another one
            scenario, pilot = session.next_scenario(), None
            session.hub.queued = None
            out = out.parent / f"{scenario.id}-{time.strftime('%Y%m%d-%H%M%S')}"
            print(f"instructor started {scenario.id}: run folder {out}")
            result = session.run(scenario, None, headless=False, speed=args.speed,
                                 trainee_timeout_s=args.trainee_timeout,
                                 wait_trainee_s=args.wait_trainee, folder=out.resolve())
    except TimeoutError as exc:
        raise UsageError(str(exc)) from None
    except PlantError as exc:
        print(f"twinstage scenario: the run stopped: {exc}; see the logs in {out / 'logs'}")
        return 1
    finally:
        codes = session.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if args.json:
        print(json.dumps(result))
    print(f"score {result['score']:.1f} / 100 ({'passed' if result['passed'] else 'not passed'}"
          f", pass mark {result['pass_mark']:g}){'; ABORTED' if result['aborted'] else ''}")
    print(f"run folder: {out}; report: twinstage scenario report {out}")
    print("stopped: " + ", ".join(f"{k} {v}" for k, v in codes.items()))
    if pilot is not None and not result["autopilot"]["within_expected"]:
        lo, hi = pilot.expect_score
        print(f"autopilot {pilot.name}: score {result['score']:.1f} is outside the expected "
              f"{lo:g}..{hi:g}")
        return 1
    return 0


def _list(args: argparse.Namespace) -> int:
    from runtime.scenarios.load import list_scenarios, load_scenario

    scene = args.target or "pump_station"
    found = list_scenarios(scene)
    if not found:
        print(f"{scene}: no scenarios")
        return 0
    for path in found:
        s = load_scenario(path)
        pilots = sorted(p.stem for p in (path.parent / "autopilots").glob(f"{s.id}-*.yaml"))
        print(f"{scene}/{s.id}: {s.name} ({s.end_after_s:g} s; autopilots: "
              f"{', '.join(pilots) or 'none'})")
    return 0


def _report(args: argparse.Namespace) -> int:
    from runtime.scenarios.report import write_report

    if not args.target:
        raise UsageError("scenario report needs a RUN folder")
    json_path, html_path = write_report(Path(args.target), args.out)
    print(f"report: {html_path} (and {json_path})")
    return 0


CONTROL_BODY = {"speed": "speed", "restore": "id", "backtrack": "seconds", "clear": "target",
                "message": "text", "start": "scenario", "snapshot": "label"}


def _control(args: argparse.Namespace) -> int:
    """One request to a running scenario's service, as the instructor station sends it."""
    import json

    from runtime.bus.endpoints import BusEndpoints
    from runtime.bus.security import client_security
    from runtime.bus.service_client import ServiceClient

    method = args.target or "status"
    body: dict = {}
    if method in CONTROL_BODY and args.value is not None:
        key = CONTROL_BODY[method]
        try:
            body[key] = float(args.value) if key in ("speed", "seconds") else (
                int(args.value) if key == "id" else args.value)
        except ValueError:
            raise UsageError(f"--value {args.value!r}: {method} needs a number") from None
    if method == "inject":
        parts = (args.value or "").split(":")
        if len(parts) < 2:
            raise UsageError("inject needs --value KIND:TARGET[:RATE], e.g. trip:P-101")
        body = {"kind": parts[0], "target": parts[1]}
        if len(parts) > 2:
            body["rate"] = float(parts[2])
    if method == "message":
        body["hint"] = args.hint
    if method == "status":
        body["since"] = 0
    bus = args.bus or f"tcp://127.0.0.1:{args.bus_port}"
    security = client_security(args.key, command="scenario control")
    with ServiceClient(BusEndpoints.from_address(bus), security=security) as client:
        reply = client.call("scenario", method, body, timeout_s=5.0)
    if not reply.ok:
        print(f"{method}: {reply.status}: {reply.text}")
        return 1
    if args.json or method in ("status", "snapshots", "list"):
        print(json.dumps(reply.body, indent=1))
    else:
        print(f"{method}: done" + (f" {json.dumps(reply.body)}" if reply.body else ""))
    return 0
