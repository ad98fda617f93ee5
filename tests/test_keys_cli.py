"""Keys as a user expects (R20) and the issue's 'done when', through the real commands: a bus
process with keys made by ``twinstage keys``; tap without a key gets nothing and says why, with a
viewer key it reads; write with a viewer key is refused whatever role it claims, with an operator
key it works; ``keys revoke`` cuts a key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from bus_fixtures import free_base_port
from conftest import REPO_ROOT, run_cli
from security_fixtures import client

from runtime.bus.adapter_link import AdapterLink
from runtime.bus.endpoints import BusEndpoints
from runtime.bus.publisher import Publisher
from runtime.bus.wire import Ack, Reading


def _keys(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return run_cli("keys", "--keys", str(folder), *args, timeout_s=60)


def test_keys_new_list_revoke(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    made = _keys(keys, "new", "alice", "--role", "operator")
    assert made.returncode == 0, made.stderr
    secret = keys / "alice.key_secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert (keys / "bus.key_secret").stat().st_mode & 0o777 == 0o600
    assert (keys / "audit.key").stat().st_mode & 0o777 == 0o600
    assert _keys(keys, "new", "ad-9", "--role", "engineer", "--publish", "ad-9").returncode == 0
    again = _keys(keys, "new", "alice", "--role", "viewer")
    assert again.returncode == 2 and "exists already" in again.stderr
    bad = _keys(keys, "new", "../x", "--role", "viewer")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    listed = _keys(keys, "list")
    assert "alice" in listed.stdout and "publish ad-9" in listed.stdout
    assert _keys(keys, "revoke", "alice").returncode == 0
    assert "REVOKED" in _keys(keys, "list").stdout and not secret.exists()
    # A secret readable by others is refused by every command that reads it.
    loose = keys / "ad-9.key_secret"
    loose.chmod(0o644)
    r = run_cli("tap", "--bus", "tcp://127.0.0.1:1", "--key", str(loose), timeout_s=60)
    assert r.returncode == 2 and "chmod 600" in r.stderr


def test_done_when_tap_and_write_with_and_without_keys(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    for name, role, extra in (("ad-1", "engineer", ("--publish", "ad-1")),
                              ("kiosk", "viewer", ()), ("olga", "operator", ()),
                              ("temp", "viewer", ())):
        assert _keys(keys, "new", name, "--role", role, *extra).returncode == 0
    base = free_base_port()
    addr = f"tcp://127.0.0.1:{base}"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("TWINSTAGE_KEY", None)
    bus = subprocess.Popen([sys.executable, "-m", "runtime.cli", "bus", "--bind", addr, "--keys",
                            str(keys), "--audit-log", str(tmp_path / "bus.jsonl")],
                           cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=env)
    stop = threading.Event()

    def adapter() -> None:
        ep = BusEndpoints.from_address(addr)
        key = client(keys, "ad-1")
        with Publisher(ep, "ad-1", heartbeat_period_ms=100, security=key) as pub, \
                AdapterLink(ep, "ad-1", ["P-1/setpoint"], register_period_s=0.2,
                            security=key) as link:
            while not stop.is_set():
                pub.publish([Reading("P-1/speed_rpm", 1480.0, 0, 0, time.time_ns())])
                for cmd in link.poll_commands():
                    link.send_ack(Ack(cmd.id, cmd.point, "confirmed", f"by {cmd.actor}",
                                      cmd.value))
                time.sleep(0.02)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "runtime.cli", *args, "--bus", addr],
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                              env=env)

    thread = threading.Thread(target=adapter, daemon=True)
    try:
        assert "CURVE" in bus.stdout.readline()  # type: ignore[union-attr]
        thread.start()
        nokey = cli("tap", "--count", "1")
        assert nokey.returncode == 2 and "no key" in nokey.stderr
        plaintext = cli("tap", "--count", "1", "--insecure", "--timeout", "3")
        assert plaintext.returncode == 1 and "handshake" in plaintext.stderr, plaintext.stderr
        viewer = cli("tap", "--count", "1", "--key", str(keys / "kiosk.key_secret"))
        assert viewer.returncode == 0 and viewer.stdout.startswith("P-1/speed_rpm 1480 Good")
        for claim in ("viewer", "operator", "instructor"):
            w = cli("write", "P-1/setpoint", "42", "--key", str(keys / "kiosk.key_secret"),
                    "--role", claim)
            assert w.returncode == 1 and "refused" in w.stdout, w.stdout + w.stderr
        ok = cli("write", "P-1/setpoint", "42", "--key", str(keys / "olga.key_secret"),
                 "--actor", "someone-else")
        assert ok.returncode == 0 and "confirmed" in ok.stdout, ok.stdout + ok.stderr
        # Revoked: the bus re-reads the allow-list and says no to the key.
        temp = str(keys / "temp.key_secret")
        kept = tmp_path / "temp.key_secret"
        kept.write_bytes(Path(temp).read_bytes())
        kept.chmod(0o600)
        assert _keys(keys, "revoke", "temp").returncode == 0
        deadline = time.monotonic() + 20
        while True:
            gone = cli("tap", "--count", "1", "--key", str(kept), "--timeout", "3")
            if gone.returncode == 1 or time.monotonic() > deadline:
                break
        assert gone.returncode == 1 and "refused key temp" in gone.stderr, gone.stderr
    finally:
        stop.set()
        thread.join(5)
        bus.send_signal(signal.SIGTERM)
        assert bus.wait(timeout=10) == 0
        bus.stdout.close()  # type: ignore[union-attr]
        bus.stderr.close()  # type: ignore[union-attr]
    audit = (tmp_path / "bus.jsonl").read_text()
    assert audit.count('"outcome":"refused"') == 3 and '"actor":"kiosk"' in audit
    verify = run_cli("audit", "verify", str(tmp_path / "bus.jsonl"), "--key",
                     str(keys / "audit.key"), timeout_s=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr
