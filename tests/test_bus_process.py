"""`twinstage bus`, `tap` and `write` as real subprocesses on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

from bus_fixtures import free_base_port, port_is_free, wait_until
from conftest import REPO_ROOT, run_cli
from security_fixtures import session_client

from runtime.bus.adapter_link import AdapterLink
from runtime.bus.endpoints import BusEndpoints
from runtime.bus.publisher import Publisher
from runtime.bus.wire import Reading
from runtime.control.ack import Ack


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "runtime.cli", *args], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_bus_process_serves_tap_and_write_and_stops_on_sigterm() -> None:
    base = free_base_port()
    addr = f"tcp://127.0.0.1:{base}"
    bus = _spawn("bus", "--bind", addr)
    try:
        assert "listening" in bus.stdout.readline()  # type: ignore[union-attr]
        ep = BusEndpoints.from_address(addr)

        # A second bus on the same ports is a usage error, not a traceback.
        dup = run_cli("bus", "--bind", addr, timeout_s=30)
        assert dup.returncode == 2 and "already in use" in dup.stderr
        assert "Traceback" not in dup.stderr

        stop = threading.Event()

        def adapter() -> None:
            key = session_client("ad-1")
            with Publisher(ep, "ad-1", heartbeat_period_ms=100, security=key) as pub, \
                    AdapterLink(ep, "ad-1", ["P-1/setpoint"], register_period_s=0.2,
                                security=key) as link:
                i = 0
                while not stop.is_set():
                    i += 1
                    pub.publish([Reading("P-1/speed_rpm", float(i), 0, 0, time.time_ns()),
                                 Reading("T-1/level_m", 2.5, 0, 0, time.time_ns())])
                    for cmd in link.poll_commands():
                        link.send_ack(Ack(cmd.id, cmd.point, "accepted", "", cmd.value)
                                      if cmd.value < 100 else
                                      Ack(cmd.id, cmd.point, "refused", "above 100", None))
                    time.sleep(0.01)

        thread = threading.Thread(target=adapter, daemon=True)
        thread.start()
        try:
            tap = run_cli("tap", "--bus", addr, "--json", "--count", "3", "--match", "P-*",
                          timeout_s=30)
            assert tap.returncode == 0, tap.stderr
            rows = [json.loads(line) for line in tap.stdout.splitlines()]
            assert len(rows) == 3
            for row in rows:
                assert row["point"] == "P-1/speed_rpm" and row["source"] == "ad-1"
                assert row["quality"] == "good" and row["seq"] >= 1 and row["t_source_ns"] > 0
            plain = run_cli("tap", "--bus", addr, "--count", "1", "--match", "T-*", timeout_s=30)
            assert plain.stdout.startswith("T-1/level_m 2.5 Good [ad-1 #")

            ok = wait_until(lambda: (r := run_cli("write", "P-1/setpoint", "42", "--bus", addr,
                                                  timeout_s=30)).returncode == 0 and r,
                            timeout_s=20)
            assert "confirmed: P-1/setpoint = 42, read back 42" in ok.stdout
            refused = run_cli("write", "P-1/setpoint", "500", "--bus", addr, timeout_s=30)
            assert refused.returncode == 1 and "refused" in refused.stdout
            unowned = run_cli("write", "X-9/nothing", "1", "--bus", addr, "--timeout", "2",
                              timeout_s=30)
            assert unowned.returncode == 1 and "no adapter owns X-9/nothing" in unowned.stdout
        finally:
            stop.set()
            thread.join(5)

        bus.send_signal(signal.SIGTERM)
        assert bus.wait(timeout=10) == 0
        wait_until(lambda: all(port_is_free(base + i) for i in range(5)), timeout_s=10)
    finally:
        if bus.poll() is None:
            bus.kill()
            bus.wait()
        bus.stdout.close()  # type: ignore[union-attr]
        bus.stderr.close()  # type: ignore[union-attr]


def test_write_without_a_bus_times_out_with_exit_1() -> None:
    base = free_base_port()
    result = run_cli("write", "P-1/x", "1", "--bus", f"127.0.0.1:{base}", "--timeout", "0.5",
                     timeout_s=30)
    assert result.returncode == 1
    assert "no answer" in result.stdout and "Traceback" not in result.stderr


def test_bad_arguments_are_usage_errors() -> None:
    assert run_cli("bus", "--bind", "tcp://nope:99999", timeout_s=30).returncode == 2
    bad = run_cli("write", "P-1/x", "inf", timeout_s=30)
    assert bad.returncode == 2 and "not finite" in bad.stderr
