"""The twin spread over several hosts (issue 17, item 7), with network namespaces as hosts.

Four namespaces joined by veth pairs in a star around the bus host:

    adapter host A (plant + adapter for RTU-000) --- bus host --- adapter host B (RTU-001)
                                                        |
                                                   viewer host (a bus subscriber)

Each adapter host runs the virtual plant on its own loopback (the devices sit next to their
adapter) and an adapter publishing to the bus over its link; the viewer host subscribes over its
own link. Cutting A's link turns only A's points Bad at the viewer; restoring it brings them
back. Every process runs inside a namespace, so no traffic can use anything but the namespaces'
own addresses and loopbacks, and the test checks the established connections to be sure.

Needs root and ``ip netns`` (skipped otherwise); marked ``soak``: ``pytest -m soak``.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.scene import load_devices, load_scene
from runtime.scene.generated import write_generated_plant

pytestmark = pytest.mark.soak

REPO_ROOT = Path(__file__).resolve().parents[1]
BUS_PORT = 5555

WATCHER = """
import json, sys, time
from runtime.bus.endpoints import BusEndpoints
from runtime.bus.security import client_security
from runtime.bus.subscriber import Subscriber
addr, groups = sys.argv[1], json.loads(open(sys.argv[2]).read())
owner = {p: g for g, pts in groups.items() for p in pts}
latest = {}
security = client_security(None, address=addr, command="watcher")  # $TWINSTAGE_KEY
with Subscriber(BusEndpoints.from_address(addr), security=security) as sub:
    next_print = 0.0
    while True:
        for u in sub.poll(20_000_000):
            latest[u.point] = u.quality
        now = time.monotonic()
        if now >= next_print:
            out = {g: {"good": 0, "bad": 0, "seen": 0} for g in groups}
            for p, q in latest.items():
                g = owner.get(p)
                if g is not None:
                    out[g]["seen"] += 1
                    out[g]["good" if q == 0 else "bad"] += 1
            print(json.dumps(out), flush=True)
            next_print = now + 0.2
        time.sleep(0.01)
"""


def _can_use_netns() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    probe = f"tsprobe{os.getpid()}"
    ok = subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode == 0
    if ok:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return ok


def _ip(*args: str, ns: str | None = None) -> None:
    cmd = (["ip", "netns", "exec", ns, "ip"] if ns else ["ip"]) + list(args)
    subprocess.run(cmd, check=True, capture_output=True, text=True)


@contextlib.contextmanager
def _hosts(tag: str, net: int) -> Iterator[dict[str, str]]:
    """Namespaces bus/a/b/v; link k joins bus 10.<net>.k.1 to host k's 10.<net>.k.2."""
    names = {h: f"ts{tag}{h}" for h in ("bus", "a", "b", "v")}
    try:
        for ns in names.values():
            _ip("netns", "add", ns)
            _ip("link", "set", "lo", "up", ns=ns)
        for k, host in enumerate(("a", "b", "v"), start=1):
            outer, inner = f"ts{tag}{host}0", f"ts{tag}{host}1"
            _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            _ip("link", "set", outer, "netns", names["bus"])
            _ip("link", "set", inner, "netns", names[host])
            _ip("addr", "add", f"10.{net}.{k}.1/24", "dev", outer, ns=names["bus"])
            _ip("addr", "add", f"10.{net}.{k}.2/24", "dev", inner, ns=names[host])
            _ip("link", "set", outer, "up", ns=names["bus"])
            _ip("link", "set", inner, "up", ns=names[host])
        yield names
    finally:
        for ns in names.values():  # deleting a namespace deletes its end of every veth
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


class _Procs:
    """Processes started in namespaces; stopped (by pid) in reverse order."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, ns: str, name: str, args: list[str],
              stdout: int | None = None) -> subprocess.Popen[str]:
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, *args], cwd=REPO_ROOT, text=True,
            stdout=stdout if stdout is not None else log, stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


class _Watch:
    """The viewer host's subscriber: latest per-group counts of Good and Bad points."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.state: dict[str, dict[str, int]] = {}
        self.history: list[tuple[float, dict[str, dict[str, int]]]] = []

    def wait(self, predicate, timeout_s: float) -> float:  # noqa: ANN001
        deadline = time.monotonic() + timeout_s
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            if self.state and predicate(self.state):
                return time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                line = self.proc.stdout.readline()
                if not line:
                    raise AssertionError("the viewer host's subscriber exited")
                self.state = json.loads(line)
                self.history.append((time.monotonic(), self.state))
        raise AssertionError(f"condition not met within {timeout_s} s; last {self.state}")


def _all_good(group: str, n: int):  # noqa: ANN202
    return lambda s: s[group]["good"] == n


def _all_bad(group: str, n: int):  # noqa: ANN202
    return lambda s: s[group]["bad"] == n


def _connections(ns: str) -> list[tuple[str, str]]:
    """(local, peer) addresses of the namespace's established TCP connections."""
    out = subprocess.run(["ip", "netns", "exec", ns, "ss", "-Htn", "state", "established"],
                         capture_output=True, text=True, check=True).stdout
    pairs = []
    for line in out.splitlines():
        cols = line.split()
        if len(cols) >= 4:
            pairs.append((cols[-2].rsplit(":", 1)[0], cols[-1].rsplit(":", 1)[0]))
    return pairs


@pytest.mark.skipif(not _can_use_netns(), reason="needs root and ip netns")
def test_two_adapter_hosts_bus_host_viewer_host(tmp_path: Path) -> None:
    tag = f"{os.getpid() % 10000:04d}"
    net = 200 + os.getpid() % 50
    scene_dir = tmp_path / "plant"
    write_generated_plant(scene_dir, 45, devices=2, poll_period_ms=100)
    devices = load_devices(scene_dir / "devices.yaml", load_scene(scene_dir))
    groups = {"A": [p.point for p in devices.devices[0].points],
              "B": [p.point for p in devices.devices[1].points]}
    groups_file = tmp_path / "groups.json"
    groups_file.write_text(json.dumps(groups))
    n_a, n_b = len(groups["A"]), len(groups["B"])
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = _Procs(logs)
    with _hosts(tag, net) as ns:
        try:
            procs.start(ns["bus"], "bus", ["-m", "runtime.cli", "bus", "--bind",
                                           f"tcp://0.0.0.0:{BUS_PORT}", "--audit-log",
                                           str(tmp_path / "audit-bus.jsonl")])
            for host, k, device in (("a", 1, devices.devices[0]), ("b", 2, devices.devices[1])):
                procs.start(ns[host], f"plant-{host}", ["-m", "runtime.cli", "plant",
                                                         str(scene_dir), "--control-port", "0"])
                procs.start(ns[host], f"adapter-{host}", [
                    "-m", "runtime.cli", "adapter", str(scene_dir), "--bus",
                    f"tcp://10.{net}.{k}.1:{BUS_PORT}", "--devices", device.id,
                    "--id", f"adapter-{host}", "--audit-log", str(tmp_path / f"audit-{host}")])
            watcher = procs.start(ns["v"], "watcher", [
                "-c", WATCHER, f"tcp://10.{net}.3.1:{BUS_PORT}", str(groups_file)],
                stdout=subprocess.PIPE)
            watch = _Watch(watcher)

            watch.wait(lambda s: _all_good("A", n_a)(s) and _all_good("B", n_b)(s), 90.0)

            # Cut adapter host A's link: only A's points go Bad; B's stay Good throughout.
            _ip("link", "set", f"ts{tag}a0", "down", ns=ns["bus"])
            t_cut = time.monotonic()
            watch.wait(_all_bad("A", n_a), 15.0)
            assert watch.state["B"]["good"] == n_b
            after_cut = [s for t, s in watch.history if t >= t_cut]
            assert all(s["B"]["good"] == n_b for s in after_cut), "B's points left Good"

            # Restore it: A's points recover.
            _ip("link", "set", f"ts{tag}a0", "up", ns=ns["bus"])
            watch.wait(lambda s: _all_good("A", n_a)(s) and _all_good("B", n_b)(s), 60.0)

            # Nothing used anything but the namespaces' own addresses and their loopbacks.
            for host, k in (("a", 1), ("b", 2), ("v", 3)):
                allowed = {"127.0.0.1", f"10.{net}.{k}.1", f"10.{net}.{k}.2"}
                for local, peer in _connections(ns[host]):
                    assert {local, peer} <= allowed, (host, local, peer)
            bus_allowed = {f"10.{net}.{k}.{i}" for k in (1, 2, 3) for i in (1, 2)}
            bus_conns = _connections(ns["bus"])
            assert bus_conns, "the bus host has no connections"
            for local, peer in bus_conns:
                assert {local, peer} <= bus_allowed | {"127.0.0.1"}, ("bus", local, peer)
        finally:
            procs.stop()
