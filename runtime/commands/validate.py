"""``twinstage validate SCENE``: check scene.yaml and devices.yaml, name file, line and key."""

from __future__ import annotations

import argparse

from runtime.scene import load_devices, load_scene

HELP = "check a scene's scene.yaml and devices.yaml; exit 2 with file:line: [key] message on error"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scene", help="scene folder, its scene.yaml, or a bundled scene name")


def run(args: argparse.Namespace) -> int:
    scene = load_scene(args.scene)
    devices_path = scene.path / "devices.yaml"
    device_count = 0
    if devices_path.exists():
        devices = load_devices(devices_path, scene)
        device_count = len(devices.devices)
    print(
        f"{scene.path}: ok — {len(scene.entities)} entities, {len(scene.connections)} connections, "
        f"{len(scene.points)} points, {device_count} devices"
    )
    return 0
