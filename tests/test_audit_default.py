"""$TWINSTAGE_AUDIT_DIR: the folder of every service's default audit log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bus_fixtures import free_base_port, wait_until
from conftest import REPO_ROOT

from runtime.commands.audit_default import AUDIT_DIR_ENV, default_audit_path


def test_default_path_follows_the_variable(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.setenv(AUDIT_DIR_ENV, str(tmp_path))
    assert default_audit_path("bus.jsonl") == tmp_path / "bus.jsonl"
    monkeypatch.setenv(AUDIT_DIR_ENV, "  ")
    assert default_audit_path("bus.jsonl") == Path("out") / "audit" / "bus.jsonl"
    monkeypatch.delenv(AUDIT_DIR_ENV)
    assert default_audit_path("x.jsonl") == Path("out") / "audit" / "x.jsonl"


def test_bus_without_audit_log_audits_into_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "site-audit"
    env = dict(os.environ, **{AUDIT_DIR_ENV: str(folder)})
    bus = subprocess.Popen([sys.executable, "-m", "runtime.cli", "bus", "--bind",
                            f"tcp://127.0.0.1:{free_base_port()}"],
                           cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: (folder / "bus.jsonl").is_file() or bus.poll() is not None,
                   timeout_s=60.0)
        assert bus.poll() is None, bus.communicate()[1]
        assert (folder / "bus.jsonl").is_file()
    finally:
        bus.terminate()
        _, err = bus.communicate(timeout=30)
    assert "Traceback" not in err and "damaged" not in err, err
