"""Alarm latency row: a reading crossing a limit on the bus to the alarm in the viewer's banner.

Issue 12's target: device limit crossing to banner p99 <= poll period + on-delay + 2 frames. The
poll period and the on-delay are configuration (the adapter suite measures polling); this row
measures the rest: the reading published, the alarm service evaluating and journaling (fsync)
and publishing the event, the viewer's feed thread receiving it and a 60 fps frame loop draining
it into the board, whose banner then names the alarm. Target: 2 frames (33.3 ms).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from runtime.alarms import AlarmDef, AlarmEngine, AlarmJournal, AlarmSet, Rationalization
from runtime.alarms.board import AlarmBoard
from runtime.alarms.feed import AlarmFeed
from runtime.alarms.service import AlarmService
from runtime.bus.endpoints import BusEndpoints
from runtime.bus.publisher import Publisher
from runtime.bus.server import BusServer
from runtime.bus.wire import Reading
from tools.bench.row import Row

FRAME_S = 1 / 60


def _defs(n: int) -> AlarmSet:
    why = Rationalization("bench", "bench", "bench")
    return AlarmSet(path=Path("alarms.yaml"), alarms=tuple(
        AlarmDef(id=f"B-{i}", point=f"B{i}/v", type="high", limit=1.0, priority="High",
                 message=f"bench alarm {i}", rationalization=why) for i in range(n)))


def run(quick: bool) -> list[Row]:
    trials = 20 if quick else 200
    server = BusServer(BusEndpoints.from_address("tcp://127.0.0.1:0"))
    bus_thread = server.start_thread()
    with tempfile.TemporaryDirectory() as folder:
        journal = AlarmJournal(Path(folder) / "journal.jsonl")
        service = AlarmService(AlarmEngine(_defs(trials), journal), server.endpoints)
        thread = service.start_thread()
        pub = Publisher(server.endpoints, "adapter-bench")
        feed = AlarmFeed(server.endpoints)
        board = AlarmBoard()
        latencies: list[float] = []
        try:
            points = [Reading(f"B{i}/v", 0.0, 0, 0, 1) for i in range(trials)]
            deadline = time.monotonic() + 20
            while service.stats["readings"] < trials and time.monotonic() < deadline:
                pub.publish(points)
                time.sleep(0.05)
            while not board.connected and time.monotonic() < deadline:
                feed.drain(board)
                time.sleep(FRAME_S)
            for i in range(trials):
                t0 = time.perf_counter()
                pub.publish([Reading(f"B{i}/v", 2.0, 0, 0, time.time_ns())])
                next_frame = t0
                while time.perf_counter() - t0 < 5.0:
                    feed.drain(board)
                    seen = board.alarms.get(f"B-{i}")
                    if seen is not None and seen.state == "unack":
                        latencies.append(time.perf_counter() - t0)
                        break
                    next_frame += FRAME_S
                    time.sleep(max(0.0, next_frame - time.perf_counter()))
                time.sleep(0.02)
        finally:
            feed.close()
            pub.close()
            service.stop()
            thread.join(5)
            journal.close()
            server.stop()
            bus_thread.join(5)
    ms = np.array(latencies) * 1e3 if latencies else np.array([float("nan")])
    note = f"{len(latencies)}/{trials} alarms seen; 60 fps frame loop; journal fsync included"
    return [
        Row("alarms", "reading to banner p50 (excl. poll + on-delay)",
            float(np.percentile(ms, 50)), "ms", 2 * FRAME_S * 1e3, "lower", note),
        Row("alarms", "reading to banner p99 (excl. poll + on-delay)",
            float(np.percentile(ms, 99)), "ms", 2 * FRAME_S * 1e3, "lower", note),
    ]
