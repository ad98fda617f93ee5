"""``twinstage whatif SCENE [--bus ADDR] --set POINT=VALUE ... --horizon 2h [--json]``.

Snapshot the plant from the bus (or start from the scene's own initial state without --bus),
fork its model, apply the changes, run ahead and print the forecast: time to each threshold,
the alarms it would raise, and the final states.
"""

from __future__ import annotations

import argparse
import json
import math
import re

HELP = "forecast a plant from its live state with changes (commands, disturbances, faults)"

WORDS = {"stop": 0.0, "run": 1.0, "start": 1.0, "off": 0.0, "on": 1.0, "manual": 0.0,
         "auto": 1.0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from runtime.commands.key_options import add_key_options

    parser.add_argument("scene", help="scene folder or name (pump_station)")
    parser.add_argument("--bus", default=None, metavar="ADDR",
                        help="bus address to snapshot the plant from (default: the scene's "
                             "initial state, no bus)")
    parser.add_argument("--set", action="append", default=[], metavar="POINT=VALUE",
                        help="a command or set point, e.g. P-101/run_cmd=stop, "
                             "FV-101/position_sp_pct=30 (repeatable)")
    parser.add_argument("--scale", action="append", default=[], metavar="POINT=FACTOR",
                        help="a disturbance: multiply a point, e.g. T-101/inflow_m3_h=+20%% "
                             "or =1.2 (repeatable)")
    parser.add_argument("--fault", action="append", default=[], metavar="KIND:TARGET[:RATE]",
                        help="trip:P-101, stick:FV-101, freeze:LT-101, drift:LT-101:0.001")
    parser.add_argument("--horizon", default="2h", help="how far ahead (2h, 30min, 600s)")
    parser.add_argument("--settle", type=float, default=0.0, metavar="S",
                        help="without --bus: run the scene's model this many seconds first")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds to wait for the bus's snapshot (default 10)")
    parser.add_argument("--json", action="store_true", help="print the forecast as JSON")
    add_key_options(parser)


def parse_duration_s(text: str) -> float:
    """``2h``, ``30min``, ``45m``, ``90s``, ``600`` -> seconds; UsageError otherwise."""
    from runtime.errors import UsageError

    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(h|min|m|s)?\s*", text)
    if not m:
        raise UsageError(f"--horizon {text!r}: expected a duration such as 2h, 30min or 600s")
    value = float(m.group(1)) * {"h": 3600, "min": 60, "m": 60, "s": 1, None: 1}[m.group(2)]
    if not 0 < value <= 7 * 86400:
        raise UsageError(f"--horizon {text!r}: must be more than 0 and at most 7 days")
    return value


def _split(option: str, text: str) -> tuple[str, str]:
    from runtime.errors import UsageError

    point, sep, value = text.partition("=")
    if not sep or "/" not in point or not value:
        raise UsageError(f"{option} {text!r}: expected POINT=VALUE with POINT like P-101/run_cmd")
    return point.strip(), value.strip()


def parse_value(option: str, text: str) -> float:
    from runtime.errors import UsageError

    word = WORDS.get(text.lower())
    if word is not None:
        return word
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not a number (or one of "
                         f"{', '.join(WORDS)})") from None
    if not math.isfinite(value):
        raise UsageError(f"{option}: {text!r} is not a finite number")
    return value


def parse_factor(text: str) -> float:
    """``+20%`` -> 1.2, ``-10%`` -> 0.9, ``1.2`` -> 1.2."""
    from runtime.errors import UsageError

    t = text.strip()
    try:
        if t.endswith("%"):
            return 1.0 + float(t[:-1]) / 100.0
        return float(t)
    except ValueError:
        raise UsageError(f"--scale: {text!r} is not a factor (1.2) or a percentage (+20%)") \
            from None


def build_changes(model, args: argparse.Namespace) -> tuple[list, list[str]]:  # noqa: ANN001
    """The :class:`~runtime.sim.fork.Change` list and its words; UsageError naming a bad one."""
    from runtime.errors import UsageError
    from runtime.sim.fork import FAULT_KINDS, Change
    from runtime.whatif.forecast import command_changes

    changes: list[Change] = []
    labels: list[str] = []
    for text in args.set:
        point, raw = _split("--set", text)
        ref = model.points.get(point)
        if ref is None:
            raise UsageError(f"--set {text!r}: {point} is not a point of {model.scene.name}")
        if not ref.writable:
            raise UsageError(f"--set {text!r}: {point} is computed by the plant; set a command "
                             "or set point instead")
        more, label = command_changes(model, point, parse_value("--set", raw))
        changes += more
        labels.append(label)
    for text in args.scale:
        point, raw = _split("--scale", text)
        from runtime.sim.fork import resolve_ref

        try:
            ref = resolve_ref(model, point)
        except KeyError:
            ref = None
        if ref is None or not ref.writable:
            raise UsageError(f"--scale {text!r}: {point} is not a writable point or model "
                             f"quantity of {model.scene.name} (e.g. T-101/inflow_m3_h)")
        factor = parse_factor(raw)
        if not math.isfinite(factor) or factor < 0:
            raise UsageError(f"--scale {text!r}: the factor must be >= 0")
        c = Change("scale", point, factor)
        changes.append(c)
        labels.append(c.describe())
    for text in args.fault:
        parts = text.split(":")
        if len(parts) < 2 or parts[0] not in FAULT_KINDS:
            raise UsageError(f"--fault {text!r}: expected KIND:TARGET[:RATE] with KIND one of "
                             f"{', '.join(FAULT_KINDS)}")
        rate = parse_value("--fault", parts[2]) if len(parts) > 2 else 0.01
        want = {"trip": "pump", "stick": "valve", "freeze": "tx", "drift": "tx"}[parts[0]]
        where = model.compiled.index.get(parts[1])
        if where is None or where[0] != want:
            raise UsageError(f"--fault {text!r}: {parts[1]} is not a "
                             f"{'transmitter' if want == 'tx' else want} of {model.scene.name}")
        c = Change("fault", parts[1], rate, parts[0])
        changes.append(c)
        labels.append(c.describe())
    return changes, labels


def result_json(result, defs_source: str) -> dict:  # noqa: ANN001
    final = result.final()
    return {
        "label": result.label,
        "horizon_s": result.horizon_s,
        "fork_hash": result.fork_hash,
        "fork_time_s": result.fork_time_ns / 1e9,
        "changes": [c.describe() for c in result.changes],
        "alarm_limits": defs_source,
        "crossings": [{"id": c.alarm.id, "point": c.alarm.point, "type": c.alarm.type,
                       "limit": c.alarm.limit, "priority": c.alarm.priority,
                       "t_s": round(c.t_s, 1), "value": c.value} for c in result.crossings],
        "active_at_start": [a.id for a in result.active_at_start],
        "final": {k: (v if math.isfinite(v) else None) for k, v in final.items()},
        "wall_s": result.trajectory.wall_s,
    }


def run(args: argparse.Namespace) -> int:
    from runtime.errors import UsageError
    from runtime.scene import load_scene
    from runtime.sim.fork import fork_model
    from runtime.ui.forecast_text import crossing_line, span
    from runtime.whatif.alarm_defs import load_alarm_defs
    from runtime.whatif.forecast import forecast

    horizon_s = parse_duration_s(args.horizon)
    scene = load_scene(args.scene)
    if args.bus is not None:
        from runtime.commands.key_options import security_from_args
        from runtime.whatif.snapshot import model_from_bus

        security = security_from_args(args, args.bus, "whatif")
        got = model_from_bus(scene, args.bus, security=security, timeout_s=args.timeout)
        live = got.model
        where = f"bus {args.bus} ({got.good_points}/{got.served_points} points Good)"
    else:
        from runtime.sim.plant_model import PlantModel

        live = PlantModel(scene)
        live.warm_up()
        live.step(int(args.settle * 1e9 / live.step_ns))
        where = "the scene's model" + (f" after {args.settle:g} s" if args.settle else "")
    if not (args.set or args.scale or args.fault):
        pass  # a plain look-ahead
    defs, warnings = load_alarm_defs(scene)
    source = "alarms.yaml" if (scene.path / "alarms.yaml").is_file() and not warnings \
        else "derived from the scene"
    fork = fork_model(live)
    fork_hash = fork.state_hash()
    if fork_hash != live.state_hash():
        raise UsageError("internal: the fork's state differs from the live model's")
    changes, labels = build_changes(fork, args)
    result = forecast(fork, changes, defs, horizon_s=horizon_s,
                      label=", ".join(labels) or "no change", fork_hash=fork_hash)
    if args.json:
        print(json.dumps(result_json(result, source), indent=2))
        return 0
    for w in warnings:
        print(f"warning: {w}")
    print(f"what if: {result.label}   from {where}, next {span(horizon_s)} "
          f"(alarm limits {source}; fork {fork_hash[:12]})")
    if result.active_at_start:
        print("already active: " + ", ".join(a.id for a in result.active_at_start))
    if not result.crossings:
        print(f"  no alarms forecast in the next {span(horizon_s)}")
    for c in result.crossings:
        print("  " + crossing_line(c))
    final = result.final()
    print(f"after {span(horizon_s)}:")
    for p, v in final.items():
        if p.endswith(("/level_m", "/running", "/tripped", "/position_pct")):
            print(f"  {p:<24} {v:10.3f}")
    print(f"(forecast ran {result.trajectory.wall_s:.3f} s)")
    return 0
