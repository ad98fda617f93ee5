"""``twinstage schema``: print the JSON Schema for scene files (for editors)."""

from __future__ import annotations

import argparse
import json

HELP = "print the JSON Schema of scene.yaml (docs/scene.schema.json is this output)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def run(args: argparse.Namespace) -> int:
    from runtime.scene.schema import scene_schema

    print(json.dumps(scene_schema(), indent=2))
    return 0
