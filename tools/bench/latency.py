"""Sensor-to-pixel latency and the viewer's per-frame CPU, on the whole live stack.

Bus, virtual plant, adapter and a headless live viewer run as real processes on loopback, with
every device polled every ``POLL_MS``. The bench changes a holding register on the plant with a
plain Modbus master several times a second and records the wall time of each write. The viewer's
latency records say when the first frame showing each reading finished rendering; a write's
latency is that time for the first reading of the point read after the write. The point is
shown in the inspector panel (``--select``), so the frame does show it.

The stack runs with CURVE (a throw-away key set) and, outside ``--quick``, again in plaintext
(``--insecure``), so the rows show what security adds to the latency.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from pathlib import Path

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from runtime import DEFAULT_SCENE
from runtime.registers import encode_value
from runtime.scene import load_devices, load_scene
from runtime.supervisor import Supervisor, free_port_block, port_accepts
from tools.bench.row import Row

POLL_MS = 50
FPS = 60
POINT = "LIC-102/setpoint_m"
WRITE_EVERY_S = 0.37
"""Not a multiple of the poll period, so writes land at every phase of the poll cycle."""


def _scene_with_poll(folder: Path, poll_ms: int) -> Path:
    target = folder / "pump_station"
    shutil.copytree(DEFAULT_SCENE, target)
    devices = target / "devices.yaml"
    devices.write_text(
        re.sub(r"poll_period_ms: *\d+", f"poll_period_ms: {poll_ms}", devices.read_text())
    )
    return target


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _keys(folder: Path) -> list[str]:
    """A key set for the stack in ``folder``; the bus's arguments."""
    from runtime.bus.keys import add_key

    add_key(folder, "adapter", "engineer", publish=("*",))
    add_key(folder, "viewer", "viewer")
    return ["--keys", str(folder), "--audit-log", str(folder / "bus-audit.jsonl")]


def measure(seconds: float, secure: bool = True) -> tuple[list[float], dict]:
    """Run the stack for ``seconds``; return write latencies (ms) and the viewer's stats."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        keys = folder / "keys"
        bus_mode = _keys(keys) if secure else ["--insecure"]
        adapter_mode = ["--keys", str(keys)] if secure else ["--insecure"]
        view_mode = ["--key", str(keys / "viewer.key_secret")] if secure else ["--insecure"]
        scene_dir = _scene_with_poll(folder, POLL_MS)
        scene = load_scene(scene_dir)
        devices = load_devices(scene_dir / "devices.yaml", scene)
        device, spec = devices.owner_of(POINT)
        low = min(d.port for d in devices.devices) - 1  # the plant's control port sits below
        offset = free_port_block(max(d.port for d in devices.devices) - low + 1) - low
        bus_port = free_port_block(5, start=offset + low + 100)
        bus = f"tcp://127.0.0.1:{bus_port}"
        stats_path = folder / "stats.json"
        sup = Supervisor(log_dir=folder / "logs")
        writes_ns: list[int] = []
        try:
            c = sup.start("bus", ["bus", "--bind", bus, *bus_mode])
            sup.wait_until(c, lambda: port_accepts("127.0.0.1", bus_port + 4), 30)
            c = sup.start("plant", ["plant", str(scene_dir), "--port-offset", str(offset)])
            port = device.port + offset
            sup.wait_until(c, lambda: port_accepts("127.0.0.1", port), 90)
            sup.start(
                "adapter", ["adapter", str(scene_dir), "--bus", bus, "--port-offset", str(offset),
                            *adapter_mode]
            )
            viewer = sup.start(
                "viewer",
                [
                    "view",
                    str(scene_dir),
                    "--bus",
                    bus,
                    "--headless",
                    "--seconds",
                    str(seconds),
                    "--size",
                    "1280x720",
                    "--max-fps",
                    str(FPS),
                    "--select",
                    POINT.split("/")[0],
                    "--stats-json",
                    str(stats_path),
                    "--screenshot-every",
                    "1000",
                    *view_mode,
                ],
            )
            client = ModbusTcpClient("127.0.0.1", port=port, timeout=1)
            client.connect()
            time.sleep(min(3.0, seconds / 3))  # viewer start-up and first snapshot
            value = 3.0
            while viewer.process.poll() is None:
                value = 3.3 if value == 3.0 else 3.0
                regs = encode_value(spec.type, device.word_order, spec.scale, spec.offset, value)
                t0 = time.time_ns()
                try:
                    reply = client.write_registers(spec.address, regs, device_id=device.unit_id)
                except ModbusException:
                    reply = None  # a write that got no answer is not a sample
                if reply is not None and not reply.isError():
                    writes_ns.append(t0)
                time.sleep(WRITE_EVERY_S)
            client.close()
        finally:
            sup.stop_all()
        stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    fields = stats.get("latency", {}).get("fields", [])
    records = [
        dict(zip(fields, r, strict=True)) for r in stats.get("latency", {}).get("records", [])
    ]
    shown = sorted(
        (r["t_source_ns"], r["t_frame_done_wall_ns"]) for r in records if r["point"] == POINT
    )
    latencies = []
    for t_write in writes_ns:
        first = next((done for src, done in shown if src >= t_write), None)
        if first is not None:
            latencies.append((first - t_write) / 1e6)
    return latencies, stats


def run(quick: bool) -> list[Row]:
    latencies, stats = measure(8.0 if quick else 30.0)
    note = f"poll {POLL_MS} ms, {FPS} fps cap, {len(latencies)} writes, CURVE"
    target_ms = POLL_MS + 2 * 1000 / FPS
    rows = []
    if not quick:
        plain, _ = measure(30.0, secure=False)
        rows.append(Row("latency", "sensor-to-pixel p99, plaintext", _percentile(plain, 0.99),
                        "ms", target=target_ms, better="lower",
                        note=f"poll {POLL_MS} ms, {FPS} fps cap, {len(plain)} writes, --insecure"))
    rows += [
        Row(
            "latency",
            "sensor-to-pixel p50",
            _percentile(latencies, 0.5),
            "ms",
            target=None,
            better="lower",
            note=note,
        ),
        Row(
            "latency",
            "sensor-to-pixel p99",
            _percentile(latencies, 0.99),
            "ms",
            target=target_ms,
            better="lower",
            note=note,
        ),
    ]
    frame = stats.get("timings_ms", {}).get("ingest+sim+sync", {})
    rows.append(
        Row(
            "latency",
            "viewer ingest+sim+sync CPU per frame p50, pump station",
            float(frame.get("p50", float("nan"))),
            "ms",
            target=2.0,
            better="lower",
        )
    )
    rows.append(
        Row(
            "latency",
            "viewer ingest+sim+sync CPU per frame p99, pump station",
            float(frame.get("p99", float("nan"))),
            "ms",
            target=None,
            better="lower",
        )
    )
    return rows
