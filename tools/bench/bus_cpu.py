"""The bus's CPU per batch: a ``twinstage bus`` process fed by a publisher process, forwarding
to a subscriber, with the bus's on-CPU time (all of its threads, libzmq's I/O thread included,
from ``/proc/PID/task/*/schedstat``) divided by the batches it handled.

Two shapes of traffic, each with CURVE (the deployment default: decryption, ZAP, a publish
check per message) and plaintext:

- the pump station's three devices (21, 6 and 4 points) and a 100-point device, one message
  per batch, paced at 1,000 messages/s (100 devices x 10 Hz without coalescing): every message
  wakes the bus on its own, so this includes the fixed cost of a wakeup;
- the same at full speed (a flood): the bus's cost per message once wakeups are shared;
- an adapter's coalesced messages at 100 devices x 125 points x 10 Hz: each message joins the
  batches of 4..16 devices drawn at random (a new combination nearly every time, as measured on
  the adapter: 325 device sets in 361 messages), 1,000 device batches/s. The points go in the
  list form (one string per device) where the wire has it, else as one string; the row is per
  device batch.

The issue's target is 30 us of bus CPU per batch. Nothing here is asserted; it is a bench.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tools.bench.row import Row

SUITE = "bus"
TARGET_US_PER_BATCH = 30.0
REPO_ROOT = Path(__file__).resolve().parents[2]

_SETUP = """
import random, sys, time
from runtime.bus.endpoints import BusEndpoints
from runtime.bus.publisher import Publisher
from runtime.bus.security import client_security
addr, rate, seconds, key = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
security = None if key == "-" else client_security(key)
pub = Publisher(BusEndpoints.from_address(addr), "bench-cpu", hwm=200_000, security=security,
                heartbeat_period_ms=500)
"""
"""Both publishers: argv ``ADDR RATE SECONDS KEYFILE|-`` then their own."""

_PACED = """
def run(message, warm):
    # message(i) -> (batches, layout, values, quality, reason, times); 'go' on stdin starts,
    # 'start SEQ' / 'done SENT SEQ BATCHES' on stdout frame the window, paced at RATE batches/s
    # (0: as fast as possible).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sys.stdin.readline().strip() != "go":
        pass
    for i in range(warm):  # the bus's layout memo warm before the window
        pub.publish_columns(*message(i)[1:])
    time.sleep(0.3)
    print("start", pub.seq, flush=True)
    sent = batches = 0
    t0 = time.monotonic()
    end = t0 + seconds
    while True:
        k, *msg = message(sent)
        now = time.monotonic()
        if now >= end:
            break
        if rate:
            due = t0 + batches / rate
            if due > now:
                time.sleep(due - now)
        pub.publish_columns(*msg)
        sent += 1
        batches += k
    print("done", sent, pub.seq, batches, flush=True)
    sys.stdin.readline()
    pub.close()
"""

_PUBLISHER = _SETUP + _PACED + """
sizes = [int(s) for s in sys.argv[5].split(",")]
layouts = [pub.layout([f"D{d}/p{k}" for k in range(n)]) for d, n in enumerate(sizes)]
cols = [([1.5] * n, [0] * n, [0] * n, [time.time_ns()] * n) for n in sizes]
def message(i):
    k = i % len(sizes)
    cols[k][0][0] = float(i)
    return (1, layouts[k], *cols[k])
run(message, 50)
"""

_COALESCED = _SETUP + _PACED + """
try:
    from runtime.bus.wire import composite_layout
except ImportError:  # a tree without the list form: the joined string
    composite_layout = None
names = [[f"PLC-{d:03d}/register_{k:03d}_value" for k in range(125)] for d in range(100)]
devices = [pub.layout(n) for n in names]
rng = random.Random(17)
def message(i):
    chosen = sorted(rng.sample(range(100), rng.randint(4, 16)))
    if composite_layout is not None:
        layout = composite_layout([devices[d] for d in chosen])
    else:
        layout = pub.layout([n for d in chosen for n in names[d]])
    n = len(layout)
    return len(chosen), layout, [1.5] * n, [0] * n, [0] * n, [time.time_ns()] * n
run(message, 20)  # every device's layout seen once before the window
"""


def on_cpu_s(pid: int) -> float:
    """Seconds on a CPU of every thread of ``pid`` so far (ns-resolution schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended between the listing and the read
    return total / 1e9


class _Sink:
    """A plain SUB socket on the bus's XPUB counting messages on a thread (cheap, so the bus
    forwards to a real, keeping-up subscriber)."""

    def __init__(self, addr: str, security: object) -> None:
        import zmq

        from runtime.bus.endpoints import BusEndpoints
        from runtime.bus.sockets import make_socket

        self.count = 0
        self._ctx = zmq.Context()
        self._sock = make_socket(self._ctx, zmq.SUB, hwm=200_000, security=security)
        self._sock.setsockopt(zmq.SUBSCRIBE, b"r.")
        self._sock.connect(BusEndpoints.from_address(addr).sub_out)
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import zmq

        while not self._stop:
            if self._sock.poll(50):
                while True:
                    try:
                        self._sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self.count += 1

    def close(self) -> None:
        self._stop = True
        self._thread.join(5)
        self._sock.close(linger=0)
        self._ctx.term()


def _measure(keys: Path | None, sizes: list[int], rate: float, seconds: float,
             coalesced: bool = False) -> tuple[float, int, int, int]:
    """(µs of bus CPU per batch, messages sent, messages the subscriber got, batches sent);
    ``coalesced``: the 100-device coalesced traffic at ``rate`` batches/s (``sizes`` unused)."""
    from runtime.bus.security import client_security
    from tools.bench.bus import _free_base

    addr = f"tcp://127.0.0.1:{_free_base()}"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    mode = ["--insecure"] if keys is None else ["--keys", str(keys), "--audit-log",
                                                 str(keys / "bus-audit.jsonl")]
    bus = subprocess.Popen([sys.executable, "-m", "runtime.cli", "bus", "--bind", addr, *mode],
                           cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True)
    sink = pub = None
    try:
        assert bus.stdout is not None
        for _ in range(5):
            line = bus.stdout.readline()
            if "listening" in line or not line:
                break
        if "listening" not in line:
            raise RuntimeError("bench bus did not start")
        sink = _Sink(addr, None if keys is None else
                     client_security(keys / "bench-sub.key_secret"))
        pub_key = "-" if keys is None else str(keys / "bench-pub.key_secret")
        args = ([_COALESCED, addr, str(rate), str(seconds), pub_key] if coalesced else
                [_PUBLISHER, addr, str(rate), str(seconds), pub_key, ",".join(map(str, sizes))])
        pub = subprocess.Popen([sys.executable, "-c", *args],
                               cwd=REPO_ROOT, env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
        assert pub.stdin is not None and pub.stdout is not None
        time.sleep(0.5)  # both connections up (slow joiner)
        pub.stdin.write("go\n")
        pub.stdin.flush()
        start = pub.stdout.readline().split()
        got0, cpu0 = sink.count, on_cpu_s(bus.pid)
        done = pub.stdout.readline().split()
        if start[:1] != ["start"] or done[:1] != ["done"]:
            raise RuntimeError("bench publisher failed")
        sent, batches = int(done[1]), int(done[3])
        # Let the bus finish what is queued: until the subscriber stops receiving.
        last, still = -1, time.monotonic()
        while time.monotonic() - still < 0.3:
            if sink.count != last:
                last, still = sink.count, time.monotonic()
            time.sleep(0.02)
        cpu = on_cpu_s(bus.pid) - cpu0  # the idle tail costs ~nothing (50 ms polls)
        got = sink.count - got0
        pub.stdin.write("bye\n")
        pub.stdin.flush()
        pub.wait(10)
    finally:
        if pub is not None and pub.poll() is None:
            pub.kill()
            pub.wait(10)
        if sink is not None:
            sink.close()
        bus.terminate()
        bus.wait(10)
        if bus.stdout is not None:
            bus.stdout.close()
    return 1e6 * cpu / max(batches, 1), sent, got, batches


def _coalesced_row(folder: Path | None, label: str, seconds: float) -> Row:
    us, sent, got, batches = _measure(folder, [], 1000.0, seconds, coalesced=True)
    return Row(SUITE, "bus CPU per batch, coalesced 100 devices x 125 points (varying device "
               f"sets), 1,000 batches/s, {label}", us, "µs", TARGET_US_PER_BATCH, "lower",
               f"{batches} device batches in {sent} messages, {1.0 - got / max(sent, 1):.1%} "
               "not received; bus process, all threads, with a subscriber")


def rows(quick: bool, coalesced_only: bool = False) -> list[Row]:
    """Bus CPU per batch: pump-station and 100-point batches, paced and flood, and coalesced
    messages, CURVE and plaintext (``coalesced_only``: only the coalesced rows)."""
    from runtime.bus.keys import add_key

    seconds = 1.0 if quick else 3.0
    out: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp)
        add_key(keys, "bench-pub", "engineer", publish=("bench-cpu",))
        add_key(keys, "bench-sub", "viewer")
        for label, folder in (("CURVE", keys), ("plaintext", None)):
            for shape, sizes in (() if coalesced_only else (
                    ("pump station batches (21, 6, 4 points)", [21, 6, 4]),
                    ("100-point batches", [100] * 8))):
                for rate in (1000.0, 0.0):
                    us, sent, got, _ = _measure(folder, sizes, rate, seconds)
                    pace = "1,000 msg/s" if rate else "flood"
                    lost = 1.0 - got / max(sent, 1)
                    out.append(Row(SUITE, f"bus CPU per batch, {shape}, {pace}, {label}", us,
                                   "µs", TARGET_US_PER_BATCH, "lower",
                                   f"{sent} messages of one batch, {lost:.1%} not received; "
                                   "bus process, all threads, with a subscriber"))
            out.append(_coalesced_row(folder, label, seconds))
    return out


def coalesced_rows(quick: bool) -> list[Row]:
    """Only the coalesced rows (``python -m tools.bench.bus_cpu --coalesced``)."""
    return rows(quick, coalesced_only=True)


if __name__ == "__main__":
    from tools.bench.runner import render_table

    quick = "--quick" in sys.argv
    print(render_table(coalesced_rows(quick) if "--coalesced" in sys.argv else rows(quick)))
