"""``twinstage validate SCENE``: check scene.yaml, devices.yaml and alarms.yaml (when present);
name file, line and key."""

from __future__ import annotations

import argparse

from runtime.scene import load_devices, load_scene

HELP = (
    "check a scene's scene.yaml, devices.yaml and alarms.yaml; exit 2 with file:line: [key] "
    "message on error"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scene", help="scene folder, its scene.yaml, or a bundled scene name")


def run(args: argparse.Namespace) -> int:
    scene = load_scene(args.scene)
    devices_path = scene.path / "devices.yaml"
    device_count = 0
    devices = None
    if devices_path.exists():
        devices = load_devices(devices_path, scene)
        device_count = len(devices.devices)
    alarms_path = scene.path / "alarms.yaml"
    alarm_note = ""
    if alarms_path.exists():
        from runtime.alarms.definitions import load_alarms

        alarm_note = f", {len(load_alarms(alarms_path, scene, devices).alarms)} alarms"
    print(
        f"{scene.path}: ok — {len(scene.entities)} entities, {len(scene.connections)} connections, "
        f"{len(scene.points)} points, {device_count} devices{alarm_note}"
    )
    return 0
