"""``twinstage analytics SCENE --bus ADDR``: residual anomaly detection and pump KPIs, published
on the bus (readings and events of source ``analytics``)."""

from __future__ import annotations

import argparse
import json

HELP = "residual anomaly detection and pump KPIs, published on the bus as source 'analytics'"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from runtime.commands.key_options import add_key_options

    parser.add_argument("scene", help="scene folder or name (pump_station)")
    parser.add_argument("--bus", required=True, metavar="ADDR", help="bus address")
    parser.add_argument("--seconds", type=float, default=None,
                        help="stop after this many seconds (default: until Ctrl-C)")
    parser.add_argument("--warmup", type=float, default=None, metavar="S",
                        help="seconds before residuals are judged (default 120: the model "
                             "settles onto the plant first)")
    parser.add_argument("--json", action="store_true",
                        help="print each event and each second's KPIs as JSON lines")
    add_key_options(parser, service="analytics")


def run(args: argparse.Namespace) -> int:
    from runtime.analytics.service import run_service
    from runtime.commands.key_options import security_from_args
    from runtime.commands.stop_signal import StopSignal
    from runtime.scene import load_scene

    scene = load_scene(args.scene)
    security = security_from_args(args, args.bus, "analytics", service="analytics")

    def on_event(event: dict) -> None:
        print(json.dumps(event) if args.json else f"event: {event['message']}", flush=True)

    def on_tick(values: dict[str, float]) -> None:
        if args.json:
            print(json.dumps({"kpis": values}), flush=True)

    print(f"analytics of {scene.name} on {args.bus}", flush=True)
    run_service(scene, args.bus, security=security, seconds=args.seconds,
                on_event=on_event, on_tick=on_tick, stop=StopSignal(), warmup_s=args.warmup)
    return 0
