"""The twin spread over several hosts on one machine: network namespaces joined by veth pairs.

A star around the bus host::

    adapter host A (plant + adapter for RTU-000) --- bus host --- adapter host B (RTU-001)
                                                        |
                                                   viewer host (a bus subscriber)

Link ``k`` joins the bus host's ``10.<net>.<k>.1`` to host ``k``'s ``10.<net>.<k>.2``. Each adapter
host runs the virtual plant on its own loopback (the devices sit next to their adapter) and an
adapter publishing to the bus over its link; the viewer host subscribes over its own link. Every
process runs inside a namespace, with CURVE keys made for the stack alone, so nothing can use
anything but the namespaces' own addresses and loopbacks.

Used by ``tests/test_multihost_soak.py`` and ``twinstage bench hosts``. Needs root and ``ip``.
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
from collections.abc import Callable, Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BUS_PORT = 5555
LEAVES = ("a", "b", "v")
"""Adapter host A (link 1), adapter host B (link 2), viewer host (link 3)."""

State = dict[str, dict[str, int]]
"""Per group ("A", "B"): counts of Good, not Good and seen points, as the viewer host sees them."""

WATCHER = """
import json, sys, time
from runtime.bus.endpoints import BusEndpoints
from runtime.bus.security import client_security
from runtime.bus.subscriber import Subscriber
addr, groups, key = sys.argv[1], json.loads(open(sys.argv[2]).read()), sys.argv[3]
owner = {p: g for g, pts in groups.items() for p in pts}
latest = {}
security = client_security(key, address=addr, command="watcher")
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
            next_print = now + 0.05
        time.sleep(0.01)
"""


def can_use_netns() -> bool:
    """Root, ``ip``, and a namespace can really be made here."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    probe = f"tsprobe{os.getpid()}"
    ok = subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode == 0
    if ok:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return ok


def ip(*args: str, ns: str | None = None) -> None:
    """``ip ARGS``, inside namespace ``ns`` when given; raises on failure."""
    cmd = (["ip", "netns", "exec", ns, "ip"] if ns else ["ip"]) + list(args)
    subprocess.run(cmd, check=True, capture_output=True, text=True)


@contextlib.contextmanager
def star_hosts(tag: str, net: int) -> Iterator[dict[str, str]]:
    """Namespaces bus/a/b/v joined in a star; deleted (with their veths) on exit."""
    names = {h: f"ts{tag}{h}" for h in ("bus", *LEAVES)}
    try:
        for ns in names.values():
            ip("netns", "add", ns)
            ip("link", "set", "lo", "up", ns=ns)
        for k, host in enumerate(LEAVES, start=1):
            outer, inner = f"ts{tag}{host}0", f"ts{tag}{host}1"
            ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            ip("link", "set", outer, "netns", names["bus"])
            ip("link", "set", inner, "netns", names[host])
            ip("addr", "add", f"10.{net}.{k}.1/24", "dev", outer, ns=names["bus"])
            ip("addr", "add", f"10.{net}.{k}.2/24", "dev", inner, ns=names[host])
            ip("link", "set", outer, "up", ns=names["bus"])
            ip("link", "set", inner, "up", ns=names[host])
        yield names
    finally:
        for ns in names.values():  # deleting a namespace deletes its end of every veth
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


class Procs:
    """Processes started in namespaces, each logging to ``logs/NAME.log``; stopped in reverse."""

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


class Watch:
    """The viewer host's subscriber: the latest per-group counts, with their history."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.state: State = {}
        self.history: list[tuple[float, State]] = []

    def wait(self, predicate: Callable[[State], bool], timeout_s: float) -> float:
        """Read states until ``predicate`` holds; the monotonic time it did. AssertionError at
        the deadline, naming the last state."""
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


def connections(ns: str) -> list[tuple[str, str]]:
    """(local, peer) addresses of the namespace's established TCP connections."""
    out = subprocess.run(["ip", "netns", "exec", ns, "ss", "-Htn", "state", "established"],
                         capture_output=True, text=True, check=True).stdout
    pairs = []
    for line in out.splitlines():
        cols = line.split()
        if len(cols) >= 4:
            pairs.append((cols[-2].rsplit(":", 1)[0], cols[-1].rsplit(":", 1)[0]))
    return pairs


class TwoHostStack:
    """The running star: namespaces, processes, the viewer host's watch and the group sizes."""

    def __init__(self, tag: str, net: int, ns: dict[str, str], watch: Watch,
                 sizes: dict[str, int]) -> None:
        self.tag, self.net, self.ns, self.watch, self.sizes = tag, net, ns, watch, sizes

    def all_good(self, group: str) -> Callable[[State], bool]:
        return lambda s: s[group]["good"] == self.sizes[group]

    def all_bad(self, group: str) -> Callable[[State], bool]:
        return lambda s: s[group]["bad"] == self.sizes[group]

    def everything_good(self) -> Callable[[State], bool]:
        return lambda s: all(s[g]["good"] == n for g, n in self.sizes.items())

    def set_link(self, host: str, up: bool) -> float:
        """Bring host ``host``'s link up or down at the bus host's end; the monotonic time."""
        ip("link", "set", f"ts{self.tag}{host}0", "up" if up else "down", ns=self.ns["bus"])
        return time.monotonic()

    def stray_connections(self) -> list[tuple[str, str, str]]:
        """Every established connection using an address outside its host's own (host, local,
        peer); empty when everything stayed on the namespaces' addresses and loopbacks."""
        stray = []
        for k, host in enumerate(LEAVES, start=1):
            allowed = {"127.0.0.1", f"10.{self.net}.{k}.1", f"10.{self.net}.{k}.2"}
            stray += [(host, a, b) for a, b in connections(self.ns[host])
                      if not {a, b} <= allowed]
        hub = {f"10.{self.net}.{k}.{i}" for k in (1, 2, 3) for i in (1, 2)} | {"127.0.0.1"}
        stray += [("bus", a, b) for a, b in connections(self.ns["bus"]) if not {a, b} <= hub]
        return stray

    def bus_has_connections(self) -> bool:
        return bool(connections(self.ns["bus"]))


@contextlib.contextmanager
def two_host_stack(folder: Path, poll_period_ms: int = 100) -> Iterator[TwoHostStack]:
    """Start bus, two plant + adapter hosts and the viewer host's subscriber under ``folder``;
    yield once everything is Good (AssertionError after 90 s); stop it all on exit."""
    from runtime.bus.keys import add_key
    from runtime.scene import load_devices, load_scene
    from runtime.scene.generated import write_generated_plant

    tag = f"{os.getpid() % 10000:04d}"
    net = 200 + os.getpid() % 50
    scene_dir = folder / "plant"
    write_generated_plant(scene_dir, 45, devices=2, poll_period_ms=poll_period_ms)
    devices = load_devices(scene_dir / "devices.yaml", load_scene(scene_dir))
    groups = {"A": [p.point for p in devices.devices[0].points],
              "B": [p.point for p in devices.devices[1].points]}
    groups_file = folder / "groups.json"
    groups_file.write_text(json.dumps(groups))
    keys = folder / "keys"
    for host in ("a", "b"):
        add_key(keys, f"adapter-{host}", "engineer", publish=(f"adapter-{host}",))
    viewer_key = add_key(keys, "viewer", "viewer")
    logs = folder / "logs"
    logs.mkdir()
    procs = Procs(logs)
    with star_hosts(tag, net) as ns:
        try:
            procs.start(ns["bus"], "bus", ["-m", "runtime.cli", "bus", "--bind",
                                           f"tcp://0.0.0.0:{BUS_PORT}", "--keys", str(keys),
                                           "--audit-log", str(folder / "audit-bus.jsonl")])
            for k, host in ((1, "a"), (2, "b")):
                device = devices.devices[k - 1]
                procs.start(ns[host], f"plant-{host}", ["-m", "runtime.cli", "plant",
                                                         str(scene_dir), "--control-port", "0"])
                procs.start(ns[host], f"adapter-{host}", [
                    "-m", "runtime.cli", "adapter", str(scene_dir), "--bus",
                    f"tcp://10.{net}.{k}.1:{BUS_PORT}", "--devices", device.id,
                    "--id", f"adapter-{host}", "--keys", str(keys),
                    "--key", str(keys / f"adapter-{host}.key_secret"),
                    "--audit-log", str(folder / f"audit-{host}.jsonl")])
            watcher = procs.start(ns["v"], "watcher", [
                "-c", WATCHER, f"tcp://10.{net}.3.1:{BUS_PORT}", str(groups_file),
                str(viewer_key)], stdout=subprocess.PIPE)
            stack = TwoHostStack(tag, net, ns, Watch(watcher),
                                 {g: len(p) for g, p in groups.items()})
            stack.watch.wait(stack.everything_good(), 90.0)
            yield stack
        finally:
            procs.stop()
