"""Fault injection: what each fault does to the model or a device server, and how it clears.

Kinds and targets:

==========  ================  ======================================================
kind        target            effect
==========  ================  ======================================================
freeze      transmitter       its reading stops changing
drift       transmitter       its reading gains ``rate`` (point unit) per second
stick       valve             the actuator stops moving; set point changes are ignored
trip        pump              the pump trips (latched, reason external) and coasts down
silent      device            requests get no answer; the socket stays open
down        device            the server closes its sockets (connection refused)
exception   device            every request answers Modbus exception ``code``
==========  ================  ======================================================

A target holds one fault at a time; a new one replaces it. Clearing a trip resets the pump.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.plant.server import CommMode, DeviceServer
from runtime.sim.plant_model import PlantModel

MODEL_FAULTS = {"freeze": "transmitter", "drift": "transmitter", "stick": "valve", "trip": "pump"}
DEVICE_FAULTS = {"silent": CommMode.SILENT, "down": CommMode.DOWN, "exception": CommMode.EXCEPTION}
KINDS = tuple(MODEL_FAULTS) + tuple(DEVICE_FAULTS)


class FaultError(ValueError):
    """A fault request that names an unknown kind or target, or a bad argument."""


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    target: str
    args: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        extra = "".join(f" {k}={v}" for k, v in self.args.items())
        return f"{self.kind} {self.target}{extra}"


def parse_spec(spec: str) -> Fault:
    """``kind:target[:arg]`` as given to ``twinstage plant --fault`` (``drift:LT-101:0.01``,
    ``exception:PLC-101:4``)."""
    parts = spec.split(":")
    if len(parts) < 2 or parts[0] not in KINDS:
        raise FaultError(f"fault {spec!r}: expected KIND:TARGET[:ARG] with KIND one of "
                         f"{', '.join(KINDS)}")
    kind, target = parts[0], parts[1]
    args: dict[str, Any] = {}
    try:
        if kind == "drift":
            args["rate"] = float(parts[2]) if len(parts) > 2 else 0.01
        elif kind == "exception":
            args["code"] = int(parts[2], 0) if len(parts) > 2 else 4
    except ValueError:
        raise FaultError(f"fault {spec!r}: {parts[2]!r} is not a number") from None
    return Fault(kind, target, args)


class FaultBoard:
    """Applies and clears faults on one plant (its model and its device servers)."""

    def __init__(self, model: PlantModel, servers: dict[str, DeviceServer]) -> None:
        self.model = model
        self.servers = servers
        self.active: dict[str, Fault] = {}

    async def apply(self, fault: Fault) -> None:
        if fault.kind not in KINDS:
            raise FaultError(f"unknown fault kind {fault.kind!r}; choose from {', '.join(KINDS)}")
        self._check_target(fault)
        if fault.target in self.active:
            await self.clear(fault.target)
        m = self.model
        k = fault.kind
        if k == "freeze":
            m.set_sensor_frozen(fault.target, True)
        elif k == "drift":
            rate = float(fault.args.get("rate", 0.01))
            if rate != rate or rate in (float("inf"), float("-inf")):
                raise FaultError("drift rate must be a finite number")
            m.set_sensor_drift(fault.target, rate)
        elif k == "stick":
            m.set_valve_stuck(fault.target, True)
        elif k == "trip":
            m.trip_pump(fault.target)
        else:
            code = int(fault.args.get("code", 4))
            if k == "exception" and not 1 <= code <= 255:
                raise FaultError(f"exception code {code} is not 1..255")
            await self.servers[fault.target].set_mode(DEVICE_FAULTS[k], code)
        self.active[fault.target] = fault

    async def clear(self, target: str) -> list[str]:
        """Clear the fault on ``target`` (or every fault for ``all``); returns what was cleared."""
        targets = list(self.active) if target == "all" else [target]
        cleared = []
        for t in targets:
            fault = self.active.pop(t, None)
            if fault is None:
                continue
            m = self.model
            if fault.kind == "freeze":
                m.set_sensor_frozen(t, False)
            elif fault.kind == "drift":
                m.set_sensor_drift(t, 0.0)
            elif fault.kind == "stick":
                m.set_valve_stuck(t, False)
            elif fault.kind == "trip":
                m.state.pump.reset_cmd[m.row_of(t)[1]] = 1  # the relay is reset by the operator
            else:
                await self.servers[t].set_mode(CommMode.OK)
            cleared.append(fault.describe())
        return cleared

    def _check_target(self, fault: Fault) -> None:
        if fault.kind in DEVICE_FAULTS:
            if fault.target not in self.servers:
                raise FaultError(f"{fault.kind} needs a device id; {fault.target!r} is not one "
                                 f"(devices: {', '.join(self.servers)})")
            return
        want = MODEL_FAULTS[fault.kind]
        where = self.model.compiled.index.get(fault.target)
        table = {"tx": "transmitter"}.get(where[0], where[0]) if where else None
        if table != want:
            raise FaultError(f"{fault.kind} needs a {want}; {fault.target!r} is "
                             f"{'a ' + table if table else 'not an entity of this scene'}")
