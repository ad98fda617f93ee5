"""The run's bus side: scenario events out, trainee presence and instructor requests in.

Until the bus's event and service channels are available this hub only keeps presence
bookkeeping; the runner calls ``poll``, ``publish``, ``observe_alarms`` and
``trainee_present`` each tick.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from runtime.bus.endpoints import BusEndpoints
from runtime.bus.security import ClientSecurity
from runtime.scenarios.plant_link import PlantLink


class Hub:
    def __init__(self, endpoints: BusEndpoints, security: ClientSecurity | None,
                 scene_dir: Path, plant: PlantLink) -> None:
        self.endpoints = endpoints
        self.security = security
        self.scene_dir = scene_dir
        self.plant = plant
        self._trainee: tuple[str, float] | None = None

    def poll(self, run: Any) -> None:
        return None

    def publish(self, events: list[dict[str, Any]]) -> None:
        return None

    def observe_alarms(self, run: Any) -> None:
        return None

    def trainee_present(self, timeout_s: float) -> bool:
        return self._trainee is not None and time.monotonic() - self._trainee[1] < timeout_s

    def trainee_name(self) -> str:
        return self._trainee[0] if self._trainee else ""

    def close(self) -> None:
        return None
