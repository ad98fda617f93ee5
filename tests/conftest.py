"""Shared fixtures: paths, a scratch copy of the bundled scene, and a CLI runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PUMP_STATION = REPO_ROOT / "scenes" / "pump_station"


@pytest.fixture
def scene_copy(tmp_path: Path) -> Path:
    """A writable copy of the pump station scene folder."""
    target = tmp_path / "pump_station"
    shutil.copytree(PUMP_STATION, target)
    return target


def run_cli(*args: str, timeout_s: float = 120.0, **kwargs: object) -> subprocess.CompletedProcess:
    """Run ``twinstage ARGS`` as a real subprocess of this interpreter."""
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
        **kwargs,  # type: ignore[arg-type]
    )
