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


@pytest.fixture(scope="session", autouse=True)
def bus_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real CURVE keys for every test session: services (bus, adapter) find theirs in
    $TWINSTAGE_KEYS, and tap/write/view use $TWINSTAGE_KEY (an operator key) unless a test
    passes --key. The bus CLI is CURVE by default, so every process test runs with CURVE.
    Services started without --audit-log audit into this session's own folder."""
    from security_fixtures import make_keys

    folder = make_keys(tmp_path_factory.mktemp("bus-keys"))
    saved = {k: os.environ.get(k)
             for k in ("TWINSTAGE_KEYS", "TWINSTAGE_KEY", "TWINSTAGE_AUDIT_DIR")}
    os.environ["TWINSTAGE_KEYS"] = str(folder)
    os.environ["TWINSTAGE_KEY"] = str(folder / "operator.key_secret")
    # Default audit logs go beside this session's keys, not into the checkout's out/audit: a
    # chain keyed by an earlier session's audit.key reads as damaged and refuses writes.
    os.environ["TWINSTAGE_AUDIT_DIR"] = str(tmp_path_factory.mktemp("audit"))
    yield folder
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
