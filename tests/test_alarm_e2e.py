"""Alarms end to end with real processes: a plant fault raises an alarm an operator sees in the
list, in the banner and in 3D, acknowledges from the command line and finds in the journal and
the report; the service killed with -9 during a flood restarts with no transition lost (R17)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import yaml
from conftest import run_cli
from e2e_fixtures import live_stack, wait_for
from security_fixtures import session_client

from runtime.alarms.journal import scan
from runtime.bus.events import EventSubscriber
from runtime.bus.publisher import Publisher
from runtime.bus.wire import Reading


def _alarms(stack, tmp: Path, *extra: str):  # noqa: ANN001, ANN202
    return stack.sup.start("alarms", ["alarms", *extra, "--bus", stack.bus_address,
                                      "--journal", str(tmp / "journal.jsonl"),
                                      "--audit-log", str(tmp / "alarms-audit.jsonl")])


def _listed(bus: str) -> list[dict]:
    out = run_cli("alarms", "list", "--json", "--bus", bus, "--timeout", "2")
    return json.loads(out.stdout)["alarms"] if out.returncode == 0 else []


def test_a_pump_trip_is_alarmed_seen_acknowledged_journaled_and_reported(tmp_path: Path) -> None:
    with live_stack(tmp_path) as stack:
        _alarms(stack, tmp_path, "pump_station")
        wait_for(lambda: run_cli("alarms", "list", "--bus", stack.bus_address,
                                 "--timeout", "2").returncode == 0, 60, "the alarm service")
        fault = run_cli("fault", "trip", "P-101", "--port-offset", str(stack.port_offset))
        assert fault.returncode == 0, fault.stderr
        took = wait_for(lambda: any(a["id"] == "P-101-TRIP" and a["state"] == "unack"
                                    for a in _listed(stack.bus_address)), 20, "P-101-TRIP")
        trip = next(a for a in _listed(stack.bus_address) if a["id"] == "P-101-TRIP")
        assert trip["priority"] == "High" and trip["asset"] == "P-101"
        print(f"trip to alarm list: {took:.2f} s")

        # The operator's screen: banner and marker (headless, through --hud-json).
        hud = tmp_path / "hud.json"
        view = run_cli("view", "pump_station", "--bus", stack.bus_address, "--headless",
                       "--seconds", "4", "--screenshot", str(tmp_path / "alarm.png"),
                       "--hud-json", str(hud), "--select", "P-101", timeout_s=180)
        assert view.returncode == 0, view.stderr[-2000:]
        elements = json.loads(hud.read_text())["elements"]
        banner = [e for e in elements if e["kind"] == "banner"]
        assert banner and "HIGH" in banner[0]["text"] and "UNACK" in banner[0]["text"]
        face = next(e for e in elements if e["kind"] == "faceplate")
        assert "P-101-TRIP" in face["text"] and "cause:" in face["text"]
        assert (tmp_path / "alarm.png").stat().st_size > 10_000

        ack = run_cli("alarms", "ack", "P-101-TRIP", "--bus", stack.bus_address,
                      "--comment", "standby took over")
        assert ack.returncode == 0 and ack.stdout.startswith("confirmed"), ack.stdout + ack.stderr
        wait_for(lambda: any(a["id"] == "P-101-TRIP" and a["state"] == "ack"
                             for a in _listed(stack.bus_address)), 10, "the acknowledgement")
        unknown = run_cli("alarms", "ack", "NOPE-1", "--bus", stack.bus_address)
        assert unknown.returncode == 1 and "NOPE-1" in unknown.stdout
        assert "Traceback" not in unknown.stderr

    journal = run_cli("alarms", "journal", "--journal", str(tmp_path / "journal.jsonl"),
                      "--point", "P-101/*", "--csv")
    assert journal.returncode == 0, journal.stderr
    lines = journal.stdout.splitlines()
    assert "P-101-TRIP" in lines[1] and any(",ack," in line for line in lines)
    report = run_cli("alarms", "report", "--journal", str(tmp_path / "journal.jsonl"), "--json")
    data = json.loads(report.stdout)
    assert data["alarm_count"] >= 1 and any(t["id"] == "P-101-TRIP" for t in data["top"])


def _flood_scene(scene_copy: Path, n: int) -> None:
    alarms = [{"id": f"FL-{i}", "point": "PT-101/pressure_kpa", "type": "high",
               "limit": float(i), "priority": ("Critical", "High", "Medium", "Low")[i % 4],
               "message": f"flood test alarm {i}",
               "rationalization": {"cause": "test", "consequence": "test", "response": "test"}}
              for i in range(n)]
    (scene_copy / "alarms.yaml").write_text(yaml.safe_dump(
        {"format": "twinstage.alarms/1", "alarms": alarms}))


def test_killed_during_a_flood_the_service_restarts_with_no_transition_lost(
        tmp_path: Path, scene_copy: Path) -> None:
    n = 200
    _flood_scene(scene_copy, n)
    with live_stack(tmp_path, adapter=False) as stack:
        events = EventSubscriber(stack.endpoints, ["alarms"], security=session_client("viewer"))
        pub = Publisher(stack.endpoints, "adapter-flood", security=session_client("adapter"))
        seen: dict[int, dict] = {}
        try:
            service = _alarms(stack, tmp_path, str(scene_copy))
            journal = tmp_path / "journal.jsonl"

            def drive(value: float) -> None:
                pub.publish([Reading("PT-101/pressure_kpa", value, 0, 0, time.time_ns())])
                for batch in events.poll(timeout_ms=10):
                    for e in batch.events:
                        seen[e["journal_seq"]] = e

            wait_for(lambda: drive(0.0) or journal.exists(), 60, "the journal")
            # Sweep the pressure up and down across every limit until a good part of the flood
            # is journaled, then kill -9 in the middle of it.
            sweep = 0
            while not (journal.exists() and journal.stat().st_size > 60_000):
                drive(float(n + 5) if sweep % 2 == 0 else -1.0)
                sweep += 1
                assert sweep < 2000, "the flood never reached the journal"
            os.kill(service.process.pid, signal.SIGKILL)
            service.process.wait(timeout=10)
            stack.sup.children.remove(service)
            restarted = _alarms(stack, tmp_path, str(scene_copy))
            wait_for(lambda: run_cli("alarms", "list", "--bus", stack.bus_address, "--timeout",
                                     "2").returncode == 0, 60, "the restarted service")
            for _ in range(20):
                drive(-1.0)
            assert restarted.process.poll() is None
        finally:
            events.close()
            pub.close()
    rows, _ = scan(tmp_path / "journal.jsonl")
    seqs = [r["journal_seq"] for r in rows]
    assert seqs == list(range(1, len(seqs) + 1)), "journal sequence has a hole"
    # Everything published before the kill was journaled first, identically.
    by_seq = {r["journal_seq"]: r for r in rows}
    published = [s for s in seen if s <= seqs[-1]]
    assert published, "no events were heard"
    for s in published:
        assert by_seq[s]["id"] == seen[s]["id"] and by_seq[s]["state"] == seen[s]["state"]
    # The restarted service rebuilt each alarm's state from the journal and carried on.
    listing = run_cli("alarms", "journal", "--journal", str(tmp_path / "journal.jsonl"))
    assert listing.returncode == 0
