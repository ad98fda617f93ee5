"""An autopilot: a script of operator actions sent as real bus commands with the operator's key.

It stands in for the trainee in CI. Steps run in order; each waits until its ``at`` (scenario
time) has come and its ``when`` condition holds on what the runner has observed, then sends its
command through the bus (DEALER -> ROUTER -> adapter, with select-before-operate for equipment
points) exactly as the viewer's faceplate would. Its conditions see point values as the bus
shows them, as a trainee would; a refused command is tried again (``RETRIES`` times,
``RETRY_S`` apart) as a person would after reading the refusal. It runs in its own thread so a
slow ack never stalls the runner's scoring loop.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

from runtime.bus.command_client import CommandTimeoutError, new_command_id, send_command
from runtime.bus.endpoints import BusEndpoints
from runtime.bus.handshake import BusRefusedError
from runtime.bus.security import ClientSecurity
from runtime.bus.wire import Command, WireError
from runtime.scenarios.conditions import Observed, holds
from runtime.scenarios.model import Autopilot, PilotStep

RETRIES = 3
RETRY_S = 0.3


class AutopilotThread:
    """Runs ``pilot`` against a run; ``report(kind, text, **data)`` records what it did."""

    def __init__(self, pilot: Autopilot, endpoints: BusEndpoints,
                 security: ClientSecurity | None, observe: Callable[[], Observed],
                 report: Callable[..., None], sbo_points: set[str]) -> None:
        self.pilot = pilot
        self.endpoints = endpoints
        self.security = security
        self.observe = observe
        self.report = report
        self.sbo = sbo_points
        self.stop = threading.Event()
        self.done = threading.Event()
        self.results: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._run, name="autopilot", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout_s: float = 10.0) -> None:
        self.stop.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        try:
            for step in self.pilot.steps:
                if not self._wait(step):
                    return
                for _ in range(RETRIES):
                    if self._do(step) or self.stop.wait(RETRY_S):
                        break
        finally:
            self.done.set()

    def _wait(self, step: PilotStep) -> bool:
        while not self.stop.is_set():
            seen = self.observe()
            if (step.at_s is None or seen.time_s >= step.at_s) and \
                    (step.when is None or holds(step.when, seen)):
                return True
            self.stop.wait(0.02)
        return False

    def _do(self, step: PilotStep) -> bool:
        """Send the step's command(s); True when done (or nothing to send)."""
        if step.action == "wait":
            return True
        role = self.security.role if self.security is not None and self.security.role \
            else "operator"
        host = socket.gethostname()[:512]
        base = new_command_id()
        if step.action == "ack":
            plan = [(f"alarm/{step.point}", 0.0, "ack")]
        elif step.point in self.sbo:
            plan = [(step.point, float(step.value), "select"),
                    (step.point, float(step.value), "operate")]
        else:
            plan = [(step.point, float(step.value), "write")]
        for point, value, action in plan:
            command = Command(f"{base}.{action}"[:64], point, value, role, "autopilot", host,
                              action)
            try:
                ack = send_command(self.endpoints, command, 5.0, security=self.security)
            except WireError as exc:  # this build cannot send it: trying again will not help
                self.report("autopilot", f"{step.describe()}: {action} not sent ({exc})",
                            ok=False)
                return True
            except (CommandTimeoutError, BusRefusedError) as exc:
                self.report("autopilot", f"{step.describe()}: {action} not done ({exc})",
                            ok=False)
                return False
            ok = ack.outcome in ("confirmed", "selected", "cancelled")
            self.report("autopilot", f"{step.describe()}: {action} {ack.outcome}"
                        + (f" ({ack.code}: {ack.text})" if not ok else ""), ok=ok)
            if not ok:
                return False
        return True
