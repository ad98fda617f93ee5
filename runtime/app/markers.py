"""A recording's events as timeline markers: sources falling silent and coming back, command
acks, and alarm or scenario events."""

from __future__ import annotations

from runtime.recording.reader import Recording
from runtime.recording.records import RecordedAck, RecordedEvent, RecordedSourceState
from runtime.ui.timeline_model import Marker

MAX_MARKERS = 2000
"""More than this many on one bar is noise; the first ones are kept."""


def recording_markers(recording: Recording) -> list[Marker]:
    out: list[Marker] = []
    for m in recording.events():
        if isinstance(m, RecordedSourceState):
            kind = "back" if m.alive else "silent"
            text = f"{m.source} {'back' if m.alive else 'silent'}"
        elif isinstance(m, RecordedAck):
            kind, text = "ack", f"{m.ack.point} {m.ack.outcome}"
        elif isinstance(m, RecordedEvent):
            kind, text = "event", m.text
        else:
            continue
        out.append(Marker(m.log_time_ns, kind, text))
        if len(out) >= MAX_MARKERS:
            break
    return out
