"""``twinstage analytics``: the connected analytics as a bus service.

Subscribes to the readings, keeps a world, and once a second advances the
:class:`~runtime.analytics.engine.AnalyticsEngine`: KPI readings go out as readings of source
``analytics`` (so the recorder and historian store them like any other point), a model
disagreement as an event of source ``analytics`` (``kind: model_disagreement``). The key needs
``publish: ["analytics"]``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from runtime.analytics.engine import AnalyticsEngine
from runtime.bus.endpoints import BusEndpoints
from runtime.bus.wire import Reading
from runtime.quality import Quality, Reason
from runtime.scene.model import Scene

SOURCE = "analytics"
PERIOD_S = 1.0


def run_service(scene: Scene, address: str, *, security: object = None,
                seconds: float | None = None, on_event: Callable[[dict], None] | None = None,
                on_tick: Callable[[dict[str, float]], None] | None = None,
                stop: Callable[[], bool] = lambda: False, warmup_s: float | None = None) -> int:
    """Run until ``seconds`` pass or ``stop()``; returns the number of disagreements flagged."""
    from runtime.bus.events import EventPublisher
    from runtime.bus.publisher import Publisher
    from runtime.bus.subscriber import Subscriber
    from runtime.sources.live_bus import LiveBusSource
    from runtime.whatif.snapshot import world_for

    endpoints = BusEndpoints.from_address(address)
    world = world_for(scene)
    sub = Subscriber(endpoints, security=security)  # type: ignore[arg-type]
    source = LiveBusSource(sub, world)
    engine = AnalyticsEngine(world, **({} if warmup_s is None else {"warmup_s": warmup_s}))
    publisher = Publisher(endpoints, SOURCE, security=security)  # type: ignore[arg-type]
    events = EventPublisher(endpoints, SOURCE, security=security)  # type: ignore[arg-type]
    flagged = 0
    start = time.monotonic()
    last = time.monotonic_ns()
    try:
        while not stop() and (seconds is None or time.monotonic() - start < seconds):
            source.drain(world, time.monotonic_ns(), 20_000_000)
            publisher.tick()
            now = time.monotonic_ns()
            if now - last < PERIOD_S * 1e9 or not source.synced:
                time.sleep(0.02)
                continue
            dt, last = now - last, now
            for d in engine.update(dt):
                flagged += 1
                event = d.event(time.time_ns())
                events.publish([event])
                if on_event is not None:
                    on_event(event)
            values = engine.readings()
            t = time.time_ns()
            if values:
                publisher.publish([Reading(p, v, int(Quality.GOOD), int(Reason.NONE), t)
                                   for p, v in values.items()])
            if on_tick is not None:
                on_tick(values)
    finally:
        events.close()
        publisher.close()
        source.close()
    return flagged
