"""A training run's events go into the recording (``record --events scenario``) and come back
as markers on the replay's timeline."""

from __future__ import annotations

import time
from pathlib import Path

from security_fixtures import client, make_keys, secure_bus

from runtime.app.markers import recording_markers
from runtime.bus.events import EventPublisher, EventSubscriber
from runtime.bus.subscriber import Subscriber
from runtime.recording.reader import open_recording
from runtime.recording.recorder import Recorder
from runtime.recording.writer import RecordingWriter


def test_scenario_events_recorded_as_timeline_markers(tmp_path: Path) -> None:
    keys = make_keys(tmp_path / "keys")
    with secure_bus(keys) as bus:
        endpoints = bus.endpoints
        viewer = client(keys, "viewer")
        sub = Subscriber(endpoints, acks=True, security=viewer)
        events = EventSubscriber(endpoints, ["scenario"], security=viewer)
        writer = RecordingWriter(tmp_path / "rec", scene="pump_station")
        recorder = Recorder(sub, writer, events=events)
        pub = EventPublisher(endpoints, "scenario", security=client(keys, "adapter"))
        try:
            deadline = time.monotonic() + 20
            n = 0
            while recorder.counts.events < 3 and time.monotonic() < deadline:
                n += 1  # the first messages may go before the subscription is through
                pub.publish([{"t_s": 30.0, "kind": "trigger", "text": f"event trip {n}",
                              "scenario_event": "trigger", "id": "trip"}])
                recorder.run_once()
                time.sleep(0.02)
            assert recorder.counts.events >= 3
        finally:
            pub.close()
            sub.close()
            events.close()
            recorder.close()
    recording = open_recording(tmp_path / "rec")
    texts = [m.text for m in recording_markers(recording) if m.kind == "event"]
    assert any(t.startswith("event trip") for t in texts), texts
