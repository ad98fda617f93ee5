"""Bus throughput: readings per second from a publisher process, through a ``twinstage bus``
process (decode, validate, cache, forward), into a :class:`Subscriber` in this process.

Three real processes on loopback, as deployed; every message is encoded, validated by the bus
and validated again by the subscriber. Loss is reported, not hidden: PUB and XPUB drop at their
high-water marks when the subscriber falls behind, and the subscriber then re-snapshots.

The publisher sends columns (``Publisher.publish_columns``, as the Modbus adapter does) and the
subscriber is drained with ``Subscriber.poll_blocks``, as the viewer's ingest does; both are
checked exactly as any other message (wire protocol version 2, columnar readings).

Measured twice: with CURVE (the default: encryption, ZAP allow-list, publish permission checked
per message) using a throw-away key set, and plaintext (``--insecure``), to show what security
costs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.bench.row import Row

SUITE = "bus"
TARGET_READINGS_PER_S = 1_000_000
REPO_ROOT = Path(__file__).resolve().parents[2]

_PUBLISHER = """
import sys, time
from runtime.bus.endpoints import BusEndpoints
from runtime.bus.publisher import Publisher
from runtime.bus.security import client_security
addr, batch, count, key = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
security = None if key == "-" else client_security(key)
pub = Publisher(BusEndpoints.from_address(addr), "bench", hwm=100_000, security=security)
time.sleep(0.5)  # let the bus's subscription reach this PUB (slow joiner)
now = time.time_ns()
# 8 device-like layouts of `batch` points, each published with fresh values every time.
layouts = [pub.layout([f"B-{k}/value_{j}" for k in range(batch)]) for j in range(8)]
quality, reason, times = [0] * batch, [0] * batch, [now] * batch
for i in range(count):
    values = [float(i + k) for k in range(batch)]
    pub.publish_columns(layouts[i % 8], values, quality, reason, times)
time.sleep(1.0)
pub.close()
"""


def _free_base() -> int:
    import random

    from runtime.supervisor import free_port_block

    # Below the ephemeral range (32768+): benches that open many connections can fill that
    # range with TIME_WAIT ports; a random start keeps concurrent benches apart.
    return free_port_block(5, start=random.randrange(20000, 32000))


def _measure(addr: str, batch: int, count: int, keys: Path | None) -> tuple[float, float]:
    """(delivered readings per second, fraction of readings lost); CURVE with ``keys``."""
    from runtime.bus.endpoints import BusEndpoints
    from runtime.bus.security import client_security
    from runtime.bus.subscriber import Subscriber

    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    security = None if keys is None else client_security(keys / "bench-sub.key_secret")
    pub_key = "-" if keys is None else str(keys / "bench-pub.key_secret")
    with Subscriber(BusEndpoints.from_address(addr), rcvhwm=100_000, security=security) as sub:
        deadline = time.monotonic() + 10
        while not sub.synced and time.monotonic() < deadline:
            sub.poll_blocks()
            time.sleep(0.01)
        pub = subprocess.Popen([sys.executable, "-c", _PUBLISHER, addr, str(batch), str(count),
                                pub_key], cwd=REPO_ROOT, env=env)
        try:
            first = last = 0.0
            received = 0
            idle_since = time.monotonic()
            while True:
                got = sub.poll_blocks(50_000_000)
                now = time.perf_counter()
                fresh = sub.stats["readings"] - received
                if fresh:
                    if not first:
                        first = now
                    received += fresh
                    last = now
                    idle_since = time.monotonic()
                elif not got:
                    if received >= batch * count or time.monotonic() - idle_since > 2.0:
                        break
                    time.sleep(0.0005)
        finally:
            pub.wait(timeout=30)
    elapsed = max(last - first, 1e-9)
    # The first message starts the clock, so it does not count toward the rate.
    rate = (received - batch) / elapsed if received > batch else float("nan")
    return rate, 1.0 - received / (batch * count)


def _bench_keys(folder: Path) -> Path:
    from runtime.bus.keys import add_key

    add_key(folder, "bench-pub", "engineer", publish=("bench",))
    add_key(folder, "bench-sub", "viewer")
    return folder


def _run_mode(keys: Path | None, total: int, batches: tuple[int, ...]) -> list[Row]:
    base = _free_base()
    addr = f"tcp://127.0.0.1:{base}"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    mode = ["--insecure"] if keys is None else ["--keys", str(keys), "--audit-log",
                                                 str(keys / "bus-audit.jsonl")]
    bus = subprocess.Popen([sys.executable, "-m", "runtime.cli", "bus", "--bind", addr, *mode],
                           cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True)
    label = "plaintext" if keys is None else "CURVE"
    rows: list[Row] = []
    try:
        bus.stdout.readline()  # type: ignore[union-attr]  # "listening": the ports are bound
        for batch in batches:
            rate, lost = _measure(addr, batch, total // batch, keys)
            rows.append(Row(SUITE, f"readings through bus into subscriber, batch {batch}, "
                            f"{label}", rate, "readings/s", TARGET_READINGS_PER_S, "higher",
                            f"{total // batch} msgs, {lost:.1%} lost; columnar publish, "
                            "poll_blocks"))
    finally:
        bus.terminate()
        bus.wait(timeout=10)
        bus.stdout.close()  # type: ignore[union-attr]
    return rows


def run(quick: bool) -> list[Row]:
    """Start a bus process, then measure a big-batch and a Modbus-sized-batch stream, with
    CURVE and then plaintext; then the bus's CPU per batch and one source of 100,000 points."""
    from tools.bench import bus_big, bus_cpu

    total = 200_000 if quick else 3_000_000
    with tempfile.TemporaryDirectory() as tmp:
        keys = _bench_keys(Path(tmp))
        rows = _run_mode(keys, total, (1000, 100))
    rows += _run_mode(None, total, (1000,) if quick else (1000, 100))
    return rows + bus_cpu.rows(quick) + bus_big.rows(quick)


if __name__ == "__main__":
    from tools.bench.runner import render_table

    print(render_table(run("--quick" in sys.argv)))
