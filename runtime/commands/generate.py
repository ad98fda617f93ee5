"""``twinstage generate FOLDER``: write a generated plant's scene.yaml and devices.yaml."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write a generated plant (scene.yaml + devices.yaml) of N assets for scale tests"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="scene folder to write (created)")
    parser.add_argument("--assets", type=int, default=10_000,
                        help="about this many entities, pipes included (default 10000)")
    parser.add_argument("--devices", type=int, default=100,
                        help="Modbus devices the points are spread over (default 100)")
    parser.add_argument("--points-per-device", type=int, default=None, metavar="N",
                        help="exactly N points a device (grows the plant to fit)")
    parser.add_argument("--host", default="127.0.0.1", help="the devices' host")
    parser.add_argument("--base-port", type=int, default=16000,
                        help="port of the first device; device k listens on base + k")
    parser.add_argument("--poll-ms", type=int, default=100, help="poll period of every device")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")


def run(args: argparse.Namespace) -> int:
    from runtime.errors import UsageError
    from runtime.scene import load_devices, load_scene
    from runtime.scene.generated import write_generated_plant

    if args.assets < 1 or args.devices < 1:
        raise UsageError("--assets and --devices must be at least 1")
    if not 1 <= args.base_port <= 65535 - args.devices + 1:
        raise UsageError(f"--base-port {args.base_port} leaves no room for {args.devices} "
                         "devices below port 65536")
    existing = [p for p in (args.folder / "scene.yaml", args.folder / "devices.yaml")
                if p.exists()]
    if existing and not args.force:
        raise UsageError(f"{existing[0]} exists; use --force to overwrite")
    write_generated_plant(args.folder, args.assets, devices=args.devices,
                          points_per_device=args.points_per_device, host=args.host,
                          base_port=args.base_port, poll_period_ms=args.poll_ms)
    scene = load_scene(args.folder)  # what was written is what validate accepts
    devices = load_devices(args.folder / "devices.yaml", scene)
    points = sum(len(d.points) for d in devices.devices)
    print(f"{args.folder}: {len(scene.entities):,} entities, {points:,} points on "
          f"{len(devices.devices)} devices (ports {args.base_port}.."
          f"{args.base_port + len(devices.devices) - 1})")
    return 0
