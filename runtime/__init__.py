"""twinstage runtime: the engine (scene loading, world tables, clock, bus, sim, render, CLI)."""

from pathlib import Path

__version__ = "0.1.0"

REPO_ROOT = Path(__file__).resolve().parent.parent
SCENES_DIR = REPO_ROOT / "scenes"
SHADERS_DIR = REPO_ROOT / "shaders"
DEFAULT_SCENE = SCENES_DIR / "pump_station"
