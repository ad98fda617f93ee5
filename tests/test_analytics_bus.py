"""``twinstage analytics`` on a real bus (CURVE, loopback) as a real subprocess: KPI readings
arrive as readings of source ``analytics``; an instrument running away from the model raises a
``model_disagreement`` event of source ``analytics``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from live_fixtures import live_bus
from security_fixtures import session_client, session_keys

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.events import EventSubscriber
from runtime.bus.subscriber import Subscriber

WARMUP_S = 3
WARMUP_TICKS = WARMUP_S + 1
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_analytics_publishes_kpis_and_disagreement_events() -> None:
    with live_bus() as (address, plant):
        endpoints = BusEndpoints.from_address(address)
        events = EventSubscriber(endpoints, ["analytics"], security=session_client("viewer"))
        sub = Subscriber(endpoints, security=session_client("viewer"))
        proc = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "analytics", "pump_station", "--bus", address,
             "--keys", str(session_keys()), "--warmup", str(WARMUP_S), "--seconds", "60"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        try:
            kpis: dict = {}
            flagged: list[dict] = []
            deadline = time.monotonic() + 50
            level = plant.values["RTU-101"]["LT-101/level_m"]
            ticks: set[int] = set()  # the service's ticks (1 s apart), by their readings' time
            drift_from = None
            while time.monotonic() < deadline:
                for u in sub.poll(20_000_000):
                    if u.source == "analytics":
                        kpis[u.point] = u.value
                        ticks.add(u.t_source_ns)
                for batch in events.poll(100, timeout_ms=20):
                    flagged += [e for e in batch.events if e.get("point") == "LT-101/level_m"]
                # After the warm-up (3 s of the service's ticks, the 4th tick is past it),
                # LT-101 starts to read 2 cm/s above what it did (a drift).
                if drift_from is None and len(ticks) >= WARMUP_TICKS:
                    drift_from = time.monotonic()
                if drift_from is not None:
                    plant.values["RTU-101"]["LT-101/level_m"] = level + 0.02 * (
                        time.monotonic() - drift_from)
                if flagged and "P-101/efficiency_pct" in kpis:
                    break
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert "P-101/efficiency_pct" in kpis and "P-101/starts" in kpis, kpis
            assert "LT-101/residual_m" in kpis
            assert drift_from is not None, f"the service ticked {len(ticks)} times"
            assert flagged, "no model_disagreement event for LT-101"
            event = flagged[0]
            assert event["kind"] == "model_disagreement" and event["asset"] == "LT-101"
            assert "model disagrees with LT-101" in event["message"]
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            out, err = proc.communicate(timeout=20)
            events.close()
            sub.close()
        assert proc.returncode == 0, err[-2000:]
        assert "event: model disagrees with LT-101" in out
