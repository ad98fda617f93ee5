"""The composition root: one place that builds a session for each clock (live from the bus,
replay from a recording, or the scene's model alone) and the plugins of the operator's display.
Commands call these; nothing here parses arguments or opens windows."""

from __future__ import annotations

import time
from fractions import Fraction
from typing import TYPE_CHECKING

from runtime.app.session import REPLAY_TICK_NS, Session
from runtime.live.observer import make_observer
from runtime.time.virtual_clock import VirtualClock
from runtime.world import World

if TYPE_CHECKING:
    from runtime.app.plugin import Twin
    from runtime.app.replay_plugin import ReplayPlugin
    from runtime.ui.timeline_model import Marker

LIVE_MAX_FRAME_WALL_NS = 1 << 62
"""Live virtual time is the monotonic clock itself: no frame cap (the observer caps its own)."""


INGEST_MODES = ("thread", "frame")
"""Where a live view decodes the bus: in an ingest thread (the default; docs/operations.md,
"The viewer's bus ingest") or in the frame's ingest phase (``twinstage view --ingest frame``)."""


def live_session(world: World, subscriber: object | None, *, ingest: str = "thread") -> Session:
    """The live clock: virtual now is ``time.monotonic_ns``; ``subscriber`` None shows the
    scene's model alone (no readings). ``ingest`` "thread" hands the subscriber to an ingest
    thread (:mod:`runtime.sources.live_thread`); "frame" drains it in the frame."""
    if ingest not in INGEST_MODES:
        raise ValueError(f"ingest must be one of {INGEST_MODES}, not {ingest!r}")
    source: object | None = None
    if subscriber is not None and ingest == "thread":
        from runtime.sources.live_thread import ThreadedLiveBusSource

        source = ThreadedLiveBusSource(subscriber, world)  # type: ignore[arg-type]
    elif subscriber is not None:
        from runtime.sources.live_bus import LiveBusSource

        source = LiveBusSource(subscriber, world)  # type: ignore[arg-type]
    now = time.monotonic_ns()
    clock = VirtualClock(now_ns=now, max_frame_wall_ns=LIVE_MAX_FRAME_WALL_NS)
    return Session(world, source, make_observer(world), clock=clock,  # type: ignore[arg-type]
                   wall_start_ns=now)


def add_display_plugins(twin: Twin, *, where: str, actor: str, role: str,
                        markers: list[Marker], security: object = None) -> ReplayPlugin | None:
    """The operator's display on a twin: status bar, badges, navigation, trends, walk mode and
    tours (stations without control), and for a replay the timeline (returned, so scripted runs
    can seek); nothing else is started here."""
    from runtime.app.badges_plugin import BadgesPlugin
    from runtime.app.navigation_plugin import NavigationPlugin
    from runtime.app.status_plugin import StatusPlugin
    from runtime.app.trend_plugin import TrendPlugin

    twin.add(StatusPlugin(where=where, user=actor, role=role))
    twin.add(BadgesPlugin())
    twin.add(NavigationPlugin())
    twin.add(TrendPlugin(where, security))
    from runtime.app.whatif_plugin import WhatIfPlugin  # look-ahead, ghosts, checked commands

    twin.add(WhatIfPlugin())
    if twin.live.control is None:
        # Walking (W A S D, arrows) and tours (O N B) for stations that operate nothing: an
        # operator's W, arrows and Enter belong to the faceplate's two-step write.
        from runtime.app.tour_plugin import TourPlugin
        from runtime.app.walk_plugin import WalkPlugin

        twin.add(WalkPlugin())
        twin.add(TourPlugin())
    if twin.session.mode != "replay":
        return None
    from runtime.app.replay_plugin import ReplayPlugin

    plugin = ReplayPlugin(markers)
    twin.add(plugin)
    return plugin


def replay_session(world: World, recording: object, *, at_ns: int | None = None,
                   speed: Fraction = Fraction(1), paused: bool = False) -> Session:
    """The replay clock over an open recording, seeked to ``at_ns`` (default: its start)."""
    from runtime.sources.recording import RecordingSource

    source = RecordingSource(recording, world)  # type: ignore[arg-type]
    assert source.start_ns is not None and source.end_ns is not None
    clock = VirtualClock(now_ns=source.start_ns, speed=speed, paused=paused,
                         start_ns=source.start_ns, end_ns=source.end_ns)
    observer = make_observer(world, whole_frame_ns=REPLAY_TICK_NS)
    session = Session(world, source, observer, clock=clock)
    session.seek(source.start_ns if at_ns is None else at_ns)
    return session


def add_training_plugins(twin: Twin, *, role: str, bus: str | None,
                         security: object | None) -> object | None:
    """A live station's training side (docs/training.md): the instructor station for the
    instructor role, the trainee's presence and message box for an operator; None otherwise.
    The returned plugin's ``close()`` stops its worker thread."""
    if bus is None or twin.session.mode == "replay" or role not in ("instructor", "operator"):
        return None
    from runtime.app.instructor_plugin import InstructorPlugin, TraineePlugin
    from runtime.bus.endpoints import BusEndpoints
    from runtime.scenarios.station_link import StationLink

    link = StationLink(BusEndpoints.from_address(bus), security=security,  # type: ignore[arg-type]
                       instructor=role == "instructor")
    plugin = InstructorPlugin(link) if role == "instructor" else TraineePlugin(link)
    twin.add(plugin)
    return plugin
