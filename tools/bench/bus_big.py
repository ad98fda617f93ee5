"""One source carrying 100,000 points (issue 17, item 5): a ``twinstage bus`` process with
CURVE, an AdapterLink registering the points in chunks, a Publisher sending them in messages
of at most MAX_READINGS, a Subscriber receiving every update, and a late Subscriber taking a
snapshot of all of them. Wall times on this machine, and the bus's CPU for one full update.
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
POINTS = 100_000
REPO_ROOT = Path(__file__).resolve().parents[2]


def _wait(predicate: object, timeout_s: float, between: object) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        between()  # type: ignore[operator]
        if predicate():  # type: ignore[operator]
            return True
    return False


def rows(quick: bool) -> list[Row]:
    """Rows: full update of 100,000 points publish -> bus -> subscriber, a late joiner's
    snapshot of them, the registration in chunks, and the bus's CPU per full update."""
    from runtime.bus.adapter_link import AdapterLink
    from runtime.bus.endpoints import BusEndpoints
    from runtime.bus.keys import add_key
    from runtime.bus.publisher import Publisher
    from runtime.bus.security import client_security
    from runtime.bus.subscriber import Subscriber
    from runtime.bus.wire import MAX_READINGS
    from tools.bench.bus import _free_base
    from tools.bench.bus_cpu import on_cpu_s

    n = POINTS
    points = [f"BIG-{i // 1000}/p{i % 1000}" for i in range(n)]
    layouts = [Publisher.layout(points[i:i + MAX_READINGS]) for i in range(0, n, MAX_READINGS)]
    rounds = 3 if quick else 10
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp)
        add_key(keys, "big", "engineer", publish=("big",))
        add_key(keys, "big-sub", "viewer")
        pub_sec = client_security(keys / "big.key_secret")
        sub_sec = client_security(keys / "big-sub.key_secret")
        addr = f"tcp://127.0.0.1:{_free_base()}"
        endpoints = BusEndpoints.from_address(addr)
        bus = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "bus", "--bind", addr, "--keys", str(keys),
             "--audit-log", str(keys / "audit.jsonl")], cwd=REPO_ROOT,
            env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)), stdout=subprocess.PIPE, text=True)
        try:
            assert bus.stdout is not None
            bus.stdout.readline()  # "listening"
            t0 = time.perf_counter()
            link = AdapterLink(endpoints, "big", points, security=pub_sec)
            chunks = len(link._register_payloads)  # noqa: SLF001 - what the bench reports
            register_ms = 1e3 * (time.perf_counter() - t0)
            pub = Publisher(endpoints, "big", points=points, hwm=100_000, security=pub_sec)
            sub = Subscriber(endpoints, rcvhwm=100_000, security=sub_sec)
            try:
                zeros = [0] * MAX_READINGS

                def publish(offset: float) -> None:
                    now = [time.time_ns()] * MAX_READINGS
                    for layout in layouts:
                        m = len(layout)
                        pub.publish_columns(layout, [offset] * m, zeros[:m], zeros[:m], now[:m])

                # Warm up: the subscriber synced and receiving (slow joiners on both sides).
                _wait(lambda: sub.synced and sub.stats["readings"] >= n, 30,
                      lambda: (publish(0.0), sub.poll_blocks(50_000_000), time.sleep(0.05)))
                update_s, cpu_s = [], []
                for r in range(rounds):
                    got0, cpu0 = sub.stats["readings"], on_cpu_s(bus.pid)
                    t0 = time.perf_counter()
                    publish(float(r + 1))
                    _wait(lambda got0=got0: sub.stats["readings"] - got0 >= n, 30,
                          lambda: sub.poll_blocks(50_000_000))
                    update_s.append(time.perf_counter() - t0)
                    time.sleep(0.05)  # let the bus go idle before reading its CPU
                    cpu_s.append(on_cpu_s(bus.pid) - cpu0)
                lost = sub.stats.get("gaps", 0)
                t0 = time.perf_counter()
                late = Subscriber(endpoints, rcvhwm=100_000, security=sub_sec)
                try:
                    _wait(lambda: late.synced and late.stats["snapshots"] >= 1, 30,
                          lambda: late.poll_blocks(50_000_000))
                    snapshot_s = time.perf_counter() - t0
                    have = len(late.last_values())
                finally:
                    late.close()
            finally:
                sub.close()
                pub.close()
                link.close()
        finally:
            bus.terminate()
            bus.wait(10)
            if bus.stdout is not None:
                bus.stdout.close()
    update_s.sort()
    cpu_s.sort()
    med = update_s[len(update_s) // 2]
    note = (f"one source, {len(layouts)} messages of {MAX_READINGS:,} points, CURVE, bus "
            f"process, subscriber in the bench process; median of {rounds}, {lost} gaps")
    return [
        Row(SUITE, "100,000 points from one source: publish -> bus -> subscriber", 1e3 * med,
            "ms", 100.0, "lower", note + " (target: 1 M readings/s)"),
        Row(SUITE, "100,000 points from one source: bus CPU per full update",
            1e3 * cpu_s[len(cpu_s) // 2], "ms", None, "lower", note),
        Row(SUITE, "100,000 points from one source: late joiner's snapshot", 1e3 * snapshot_s,
            "ms", None, "lower", f"new Subscriber until synced; {have:,} points received"),
        Row(SUITE, "100,000 points from one source: registration encoded", register_ms, "ms",
            None, "lower", f"{chunks} chunks of at most 10,000 points (was: refused over "
            "10,000)"),
    ]


if __name__ == "__main__":
    from tools.bench.runner import render_table

    print(render_table(rows("--quick" in sys.argv)))
