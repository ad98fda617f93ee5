"""A training session: one stack (bus, plant, adapter, alarms, recorder) and the runs on it.

Runs follow one another on the same processes: each starts by restoring the plant's pristine
snapshot, so a second run (another scenario chosen at the instructor station, or the next
autopilot in CI) starts from the same state as the first.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from runtime.bus.security import client_security
from runtime.scenarios.hub import Hub
from runtime.scenarios.model import Autopilot, Scenario
from runtime.scenarios.plant_link import PlantLink
from runtime.scenarios.run_folder import RunFolder
from runtime.scenarios.runner import RunOptions, ScenarioRun
from runtime.scenarios.stack import Stack


class Session:
    def __init__(self, scene_dir: Path, out: Path, *, bus_port: int = 5555,
                 port_offset: int = 0, keys: Path | None = None, speed: float = 1.0,
                 record: bool = True, log: Any = print) -> None:
        self.stack = Stack(scene_dir, out, bus_port, port_offset, keys, speed, record, log)
        self.out = out
        self.log = log
        self.plant: PlantLink | None = None
        self.hub: Hub | None = None
        self.current: ScenarioRun | None = None
        self._stop = threading.Event()
        self.runs = 0

    def start(self) -> None:
        self.stack.start()
        self.plant = PlantLink("127.0.0.1", self.stack.control_port)
        self.security = client_security(self.stack.key("scenario"), command="scenario")
        self.operator = client_security(self.stack.key("operator"), command="scenario")
        self.hub = Hub(self.stack.endpoints, self.security, self.stack.scene_dir, self.plant)

    def request_stop(self) -> None:
        self._stop.set()
        if self.current is not None:
            self.current.stop.set()

    def run(self, scenario: Scenario, pilot: Autopilot | None, *, headless: bool = False,
            speed: float | None = None, trainee_timeout_s: float = 5.0,
            wait_trainee_s: float | None = None, folder: Path | None = None) -> dict[str, Any]:
        assert self.plant is not None
        self.runs += 1
        options = RunOptions(headless=headless, autopilot=pilot, speed=speed,
                             trainee_timeout_s=trainee_timeout_s, wait_trainee_s=wait_trainee_s)
        run = ScenarioRun(self.stack, scenario, RunFolder(folder or self.out), options,
                          log=self.log, hub=self.hub)
        if self._stop.is_set():
            run.stop.set()
        self.current = run
        try:
            return run.run(self.plant, self.security, self.operator)
        finally:
            self.current = None

    def next_scenario(self) -> Scenario | None:
        """The scenario the instructor chose to run next (None: none, or stopping)."""
        if self.hub is None or not self.hub.queued or self._stop.is_set():
            return None
        from runtime.scenarios.load import load_scenario, scenario_dir

        return load_scenario(scenario_dir(self.stack.scene_dir) / f"{self.hub.queued}.yaml")

    def stop(self) -> dict[str, int]:
        if self.hub is not None:
            self.hub.close()
        if self.plant is not None:
            self.plant.close()
        return self.stack.stop() if hasattr(self.stack, "sup") else {}
