"""Pipelined block reads (``pipeline_depth``) and interop with a real libmodbus device.

- a libmodbus server process (``tools/bench/libmodbus_device.py``, Debian ``libmodbus5``) polled
  by the real DevicePoller, one request at a time and pipelined: every value right, an
  exception reply marks only its block;
- a strict test server that answers nothing until it holds the whole group (so only a client
  that really pipelines gets answers), and answers in reverse order (replies matched by
  transaction id);
- a server that answers only the first request of a group (a gateway that cannot pipeline):
  the device goes Bad within its bound and never shows a wrong value (R5, R6);
- ``pipeline_depth`` in devices.yaml: default 1, out of range names file, line and key.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from adapter_fixtures import REPO_ROOT, CaptureSink, free_port, point

from adapters.modbus.device_poller import DevicePoller
from runtime.quality import Quality, Reason
from runtime.registers import decode_value
from runtime.scene import SceneError, load_devices
from runtime.scene.model import DevicePoint, DeviceSpec
from tools.bench import libmodbus_device

GOOD, BAD = int(Quality.GOOD), int(Quality.BAD)
_MBAP = struct.Struct(">HHHB")
DEADLINE_S = 10.0


def _spec(port: int, points: list[DevicePoint], depth: int, *, period_ms: int = 20,
          timeout_ms: int = 500) -> DeviceSpec:
    return DeviceSpec("LM-1", "LM-1", "127.0.0.1", port, 3, "big", period_ms, timeout_ms,
                      tuple(points), pipeline_depth=depth)


def _expected(p: DevicePoint) -> float:
    """What the libmodbus device holds: register ``a`` = 1000 + a, bit ``a`` = a % 3 == 0."""
    if p.table in ("coil", "discrete"):
        return 1.0 if p.address % 3 == 0 else 0.0
    words = [1000 + p.address + k for k in range(p.register_count)]
    return decode_value(p.type, "big", p.scale, p.offset, words)


def _many_blocks() -> list[DevicePoint]:
    """Seven blocks: every table, and registers far enough apart to be separate reads."""
    pts = [point("A-1/c0", "coil", 0, "bool"), point("A-1/c3", "coil", 3, "bool"),
           point("A-1/d1", "discrete", 1, "bool"), point("A-1/d6", "discrete", 6, "bool")]
    for k, base in enumerate((0, 100, 200)):
        pts.append(point(f"A-1/h{k}_m", "holding", base, "uint16", scale=0.5))
        pts.append(point(f"A-1/f{k}_m", "holding", base + 2, "float32"))
    for k, base in enumerate((10, 300)):
        pts.append(point(f"A-1/i{k}_m", "input", base, "int32", scale=0.01))
    return pts


@contextlib.contextmanager
def _libmodbus(registers: int = 400) -> Iterator[int]:
    if not libmodbus_device.available():  # as PostgreSQL: `make test` works on a fresh machine,
        pytest.skip(f"{libmodbus_device.MISSING}; .ci/run installs it")  # CI always runs these
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.bench.libmodbus_device", str(port), "--registers",
         str(registers)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("READY"), line
        yield port
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


async def _run_until(poller: DevicePoller, sink: CaptureSink, done: object) -> None:
    task = asyncio.create_task(poller.run())
    try:
        deadline = time.monotonic() + DEADLINE_S
        while not done() and time.monotonic() < deadline:  # type: ignore[operator]
            await asyncio.sleep(0.01)
    finally:
        poller.stop()
        await asyncio.gather(task, return_exceptions=True)


def _latest(sink: CaptureSink) -> dict[str, tuple[float, int, int]]:
    return {c.point: (c.value, c.quality, c.reason) for c in sink.batches[-1][2]}


@pytest.mark.parametrize("depth", [1, 4, 16])
def test_libmodbus_device_every_value_right(depth: int) -> None:
    points = _many_blocks()
    with _libmodbus() as port:
        sink = CaptureSink()
        poller = DevicePoller(_spec(port, points, depth), sink)
        assert len(poller.blocks) == 7
        asyncio.run(_run_until(poller, sink, lambda: poller.stats.replies >= 7 * 5))
    assert poller.stats.replies >= 35, poller.stats
    assert poller.stats.timeouts == poller.stats.bad_replies == poller.stats.exceptions == 0
    latest = _latest(sink)
    for p in points:
        value, quality, reason = latest[p.point]
        assert quality == GOOD and reason == int(Reason.NONE), p.point
        assert value == pytest.approx(_expected(p)), p.point


def test_libmodbus_exception_marks_only_its_block_in_a_group() -> None:
    """Registers 390..409 run past the device's 400: libmodbus answers exception 2 (illegal
    address) for that block alone; the blocks before and after it in the group stay Good."""
    points = [point("A-1/h0_m", "holding", 0, "uint16"),
              point("A-1/past_m", "holding", 398, "int32"),
              point("A-1/i0_m", "input", 5, "uint16")]
    with _libmodbus(registers=399) as port:
        sink = CaptureSink()
        poller = DevicePoller(_spec(port, points, 8), sink)
        asyncio.run(_run_until(poller, sink, lambda: poller.stats.exceptions >= 1
                               and poller.stats.replies >= 6))
    assert poller.stats.exception_codes.get(2, 0) >= 1
    latest = _latest(sink)
    assert latest["A-1/past_m"][1:] == (BAD, int(Reason.CONFIGURATION_ERROR))
    assert latest["A-1/h0_m"] == (1000.0, GOOD, int(Reason.NONE))
    assert latest["A-1/i0_m"] == (1005.0, GOOD, int(Reason.NONE))


class _GroupServer:
    """Reads requests until ``group`` are complete, then answers them all in reverse order
    (``answer_all``) or only the first one, and never again on that connection."""

    def __init__(self, group: int, answer_all: bool, reply_gap_s: float = 0.0) -> None:
        self.group = group
        self.answer_all = answer_all
        self.reply_gap_s = reply_gap_s
        """With a gap, the replies go out one by one, this long apart (a slow device)."""
        self.groups_answered = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                frames = [await reader.readexactly(12) for _ in range(self.group)]
                replies = []
                for frame in frames:
                    tid, _pid, _length, unit = _MBAP.unpack_from(frame)
                    fc, address, count = struct.unpack_from(">BHH", frame, 7)
                    words = [7 * address + k for k in range(count)]
                    pdu = struct.pack(f">BB{count}H", fc, 2 * count, *words)
                    replies.append(_MBAP.pack(tid, 0, len(pdu) + 1, unit) + pdu)
                if not self.answer_all:
                    writer.write(replies[0])
                    await writer.drain()
                    await reader.read()  # the client gives up and closes
                    return
                if self.reply_gap_s:
                    for reply in replies:
                        await asyncio.sleep(self.reply_gap_s)
                        writer.write(reply)
                        await writer.drain()
                else:
                    writer.write(b"".join(reversed(replies)))
                    await writer.drain()
                self.groups_answered += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def _group_server(server: _GroupServer) -> AsyncIterator[int]:
    srv = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    try:
        yield srv.sockets[0].getsockname()[1]
    finally:
        srv.close()


def _registers(n: int) -> list[DevicePoint]:
    return [point(f"B-1/r{k}_m", "holding", 100 * k, "uint16") for k in range(n)]


def test_group_is_really_pipelined_and_matched_by_transaction_id() -> None:
    """The server answers nothing until all four requests are in, then answers last first:
    only a client that writes the group at once and matches by id gets Good, right values."""
    server = _GroupServer(group=4, answer_all=True)
    sink = CaptureSink()

    async def main() -> DevicePoller:
        async with _group_server(server) as port:
            poller = DevicePoller(_spec(port, _registers(4), 4), sink)
            await _run_until(poller, sink, lambda: server.groups_answered >= 3)
            return poller

    poller = asyncio.run(main())
    assert poller.stats.timeouts == 0 and poller.stats.connects == 1
    latest = _latest(sink)
    for k in range(4):
        assert latest[f"B-1/r{k}_m"] == (700.0 * k, GOOD, int(Reason.NONE))


def test_slow_group_that_keeps_answering_stays_good() -> None:
    """Replies 140 ms apart at a 100 ms poll: each is later than a period after the one
    before (a missed reply by the first rule), and the group takes longer than the stale
    bound, but the device is never silent for two periods, so no batch may turn Bad: the
    partial replies count as contact, as each reply does without pipelining."""
    server = _GroupServer(group=4, answer_all=True, reply_gap_s=0.14)
    sink = CaptureSink()

    async def main() -> DevicePoller:
        async with _group_server(server) as port:
            poller = DevicePoller(_spec(port, _registers(4), 4, period_ms=100,
                                        timeout_ms=5000), sink)
            await _run_until(poller, sink, lambda: server.groups_answered >= 3)
            return poller

    poller = asyncio.run(main())
    qualities = [all(c.quality == GOOD for c in batch) for _, _, batch in sink.batches]
    first_good = qualities.index(True)
    assert all(qualities[first_good:]), "a device that kept answering was published Bad"
    assert poller.stats.timeouts == 0 and poller.stats.replies >= 12


def test_device_that_cannot_pipeline_goes_bad_within_its_bound() -> None:
    """A gateway that answers only the first request of a group: the group times out, every
    point is Bad (no communication), and no value from the half-answered group is published."""
    server = _GroupServer(group=3, answer_all=False)
    sink = CaptureSink()
    period_ms = 50
    no_comm = int(Reason.NO_COMMUNICATION)

    def all_no_communication() -> bool:
        return bool(sink.batches) and all(c.quality == BAD and c.reason == no_comm
                                          for c in sink.batches[-1][2])

    async def main() -> tuple[DevicePoller, int]:
        async with _group_server(server) as port:
            poller = DevicePoller(_spec(port, _registers(3), 3, period_ms=period_ms,
                                        timeout_ms=1000), sink)
            task = asyncio.create_task(poller.run())
            try:
                deadline = time.monotonic() + DEADLINE_S
                while time.monotonic() < deadline and not (
                        poller.stats.requests >= 3 and all_no_communication()):
                    await asyncio.sleep(0.005)
                timeouts_when_bad = poller.stats.timeouts
            finally:
                poller.stop()
                await asyncio.gather(task, return_exceptions=True)
            return poller, timeouts_when_bad

    poller, timeouts_when_bad = asyncio.run(main())
    assert all_no_communication()
    assert all(c.quality == BAD for _, _, batch in sink.batches for c in batch), \
        "a value from a half-answered group was published"
    # Bad by the missed-reply watchdog (two periods), before the 1 s timeout fired.
    assert poller.stats.requests >= 3 and timeouts_when_bad == 0


DEVICE_YAML = """\
format: twinstage.devices/1
devices:
  - id: D-1
    host: 127.0.0.1
    port: 15020
{extra}    points:
      - {{point: X-1/a_m, table: holding, address: 0, type: uint16, unit: m}}
"""


def test_pipeline_depth_in_the_device_file(tmp_path: Path) -> None:
    path = tmp_path / "devices.yaml"
    path.write_text(DEVICE_YAML.format(extra=""))
    assert load_devices(path).devices[0].pipeline_depth == 1
    path.write_text(DEVICE_YAML.format(extra="    pipeline_depth: 16\n"))
    assert load_devices(path).devices[0].pipeline_depth == 16
    for bad in ("0", "17", "two"):
        path.write_text(DEVICE_YAML.format(extra=f"    pipeline_depth: {bad}\n"))
        with pytest.raises(SceneError) as caught:
            load_devices(path)
        assert caught.value.path == path
        assert caught.value.key == "devices[0].pipeline_depth"
        assert caught.value.line == 6
