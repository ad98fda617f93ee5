"""The bus's CPU per batch: a ``twinstage bus`` process fed by a publisher process, forwarding
to a subscriber, with the bus's on-CPU time (all of its threads, libzmq's I/O thread included,
from ``/proc/PID/task/*/schedstat``) divided by the batches it handled.

Two shapes of traffic, each with CURVE (the deployment default: decryption, ZAP, a publish
check per message) and plaintext:

- the pump station's three devices (21, 6 and 4 points) and a 100-point device, one message
  per batch, paced at 1,000 messages/s (100 devices x 10 Hz without coalescing): every message
  wakes the bus on its own, so this includes the fixed cost of a wakeup;
- the same at full speed (a flood): the bus's cost per message once wakeups are shared.

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

_PUBLISHER = """
import sys, time
from runtime.bus.endpoints import BusEndpoints
from runtime.bus.publisher import Publisher
from runtime.bus.security import client_security
addr, sizes, rate, seconds, key = (sys.argv[1], [int(s) for s in sys.argv[2].split(",")],
                                   float(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
security = None if key == "-" else client_security(key)
pub = Publisher(BusEndpoints.from_address(addr), "bench-cpu", hwm=200_000, security=security,
                heartbeat_period_ms=500)
layouts = [pub.layout([f"D{d}/p{k}" for k in range(n)]) for d, n in enumerate(sizes)]
cols = [([1.5] * n, [0] * n, [0] * n, [time.time_ns()] * n) for n in sizes]
deadline = time.monotonic() + 10
while time.monotonic() < deadline and sys.stdin.readline().strip() != "go":
    pass
for i in range(50):  # warm the bus's layout memo before the window
    pub.publish_columns(layouts[i % len(sizes)], *cols[i % len(sizes)])
time.sleep(0.3)
print("start", pub.seq, flush=True)
sent = 0
t0 = time.monotonic()
end = t0 + seconds
period = 1.0 / rate if rate > 0 else 0.0
while True:
    now = time.monotonic()
    if now >= end:
        break
    if period:
        due = t0 + sent * period
        if due > now:
            time.sleep(due - now)
    k = sent % len(sizes)
    v = cols[k][0]
    v[0] = float(sent)
    pub.publish_columns(layouts[k], *cols[k])
    sent += 1
print("done", sent, pub.seq, flush=True)
sys.stdin.readline()
pub.close()
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


def _measure(keys: Path | None, sizes: list[int], rate: float, seconds: float) -> tuple[float,
                                                                                        int, int]:
    """(µs of bus CPU per message, messages sent, messages the subscriber got)."""
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
        pub = subprocess.Popen([sys.executable, "-c", _PUBLISHER, addr,
                                ",".join(map(str, sizes)), str(rate), str(seconds), pub_key],
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
        sent = int(done[1])
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
    return 1e6 * cpu / max(sent, 1), sent, got


def rows(quick: bool) -> list[Row]:
    """Bus CPU per batch: pump-station and 100-point batches, paced and flood, CURVE and
    plaintext."""
    from runtime.bus.keys import add_key

    seconds = 1.0 if quick else 3.0
    out: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp)
        add_key(keys, "bench-pub", "engineer", publish=("bench-cpu",))
        add_key(keys, "bench-sub", "viewer")
        for label, folder in (("CURVE", keys), ("plaintext", None)):
            for shape, sizes in (("pump station batches (21, 6, 4 points)", [21, 6, 4]),
                                 ("100-point batches", [100] * 8)):
                for rate in (1000.0, 0.0):
                    us, sent, got = _measure(folder, sizes, rate, seconds)
                    pace = "1,000 msg/s" if rate else "flood"
                    lost = 1.0 - got / max(sent, 1)
                    out.append(Row(SUITE, f"bus CPU per batch, {shape}, {pace}, {label}", us,
                                   "µs", TARGET_US_PER_BATCH, "lower",
                                   f"{sent} messages of one batch, {lost:.1%} not received; "
                                   "bus process, all threads, with a subscriber"))
    return out


if __name__ == "__main__":
    from tools.bench.runner import render_table

    print(render_table(rows("--quick" in sys.argv)))
