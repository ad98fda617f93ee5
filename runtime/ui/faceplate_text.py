"""Faceplates: one per asset type, in words an operator reads at a glance (hmi.md).

A faceplate says what the asset is doing (Running / Stopped / TRIPPED, Auto / Manual), its
values with units (measured against commanded: speed against its setpoint, valve position
against its setpoint, a tank's level against its limits, a controller's SP / PV / OUT), and
which commands the operator may give, each with the reason it cannot be done **before** the
operator tries (role, Auto mode of a sequencer or controller, an interlock, bad data). Built
from plain data, so it is tested without Panda3D; the engineering table stays behind a key.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from runtime.control.interlocks import blocking, by_point
from runtime.control.readings import Reading
from runtime.control.roles import may_write, parse_role
from runtime.quality import Quality
from runtime.scene.model import Devices, Entity
from runtime.ui.badge_text import format_value
from runtime.world import World

AUTO = 1
"""``mode`` enum value meaning Auto (scene states are ``[manual, auto]``)."""


@dataclass(frozen=True, slots=True)
class FaceplateLine:
    text: str
    tone: str | None = None
    """An accent (``bad``, ``ask``, ``good``) for lines that need the eye; words carry meaning."""


class PlantView:
    """What the faceplates read: the world's values and the scene's controllers."""

    def __init__(self, world: World, devices: Devices | None,
                 estimate: np.ndarray | None = None) -> None:
        self.world = world
        self.estimate = estimate
        """The viewer model's value per point column, for points no instrument measures."""
        self.devices = devices
        self.interlocks = by_point(devices.interlocks) if devices is not None else {}
        self.controllers = [e for e in world.scene.entities if e.type == "controller"]
        self.extra_lines: list[Callable[[str], list[FaceplateLine]]] = []
        """Functions entity id -> more lines, placed before the commands, by the plugins that
        own them (alarms with their rationalization; what-if: KPIs, model disagreement,
        forecast)."""

    def value(self, point: str) -> float:
        c = self.world.point_column.get(point)
        if c is None:
            return math.nan
        if self.world.points.poll_period_ns[c] < 0 and self.estimate is not None:
            return float(self.estimate[c])
        s = self.world.state
        good = s.quality[c] == Quality.GOOD or not math.isfinite(s.good_value[c])
        return float(s.value[c] if good else s.good_value[c])

    def good(self, point: str) -> bool:
        c = self.world.point_column.get(point)
        return c is not None and int(self.world.state.quality[c]) == Quality.GOOD

    def readings(self) -> Mapping[str, Reading]:
        """The world's latest readings as the interlock evaluation reads them."""
        w = self.world
        return {p: Reading(float(w.state.value[c]), int(w.state.quality[c]))
                for p, c in w.point_column.items()}

    def show(self, point: str, entity: Entity | None = None) -> str:
        unit = self.world.points.units[self.world.point_column[point]] \
            if point in self.world.point_column else ""
        states: tuple[str, ...] = ()
        if entity is not None:
            spec = next((p for p in entity.points if p.id == point), None)
            states = spec.states if spec is not None else ()
        return format_value(self.value(point), unit, name=point, states=states)

    def sequencer_of(self, pump_id: str) -> Entity | None:
        for e in self.controllers:
            if e.params.get("algorithm") == "duty_standby" and pump_id in (
                    e.params.get("duty"), e.params.get("standby")):
                return e
        return None

    def pid_driving(self, point: str) -> Entity | None:
        for e in self.controllers:
            if e.params.get("algorithm") == "pid" and e.params.get("output") == point:
                return e
        return None

    def in_auto(self, controller: Entity) -> bool:
        return self.value(f"{controller.id}/mode") == AUTO


def _command_lines(view: PlantView, entity: Entity, role: str) -> list[FaceplateLine]:
    """Each writable point of the asset with whether it can be operated now, and why not."""
    devices = view.devices
    if devices is None:
        return []
    out: list[FaceplateLine] = []
    readings = None
    parsed = parse_role(role)
    for p in entity.points:
        found = devices.owner_of(p.id)
        if found is None or not found[1].writable:
            continue
        spec = found[1]
        label = _command_label(p.name)
        why = ""
        if role == "viewer":
            why = "view only: sign in as an operator to operate"
        elif not may_write(parsed, spec):
            why = f"your role ({role}) may not operate it"
        else:
            why = _auto_reason(view, entity, p.name)
            if not why:
                readings = readings if readings is not None else view.readings()
                target = _target_value(view, p.id, p.name)
                block = blocking(view.interlocks.get(p.id, ()), target, readings) \
                    if target is not None else None
                if block is not None:
                    il = block.interlock
                    why = f"interlock {il.id}: {il.message or 'active'}"
        out.append(FaceplateLine(f"  {label:<12} " + (f"not now - {why}" if why else "ready"),
                                 "bad" if why and role != "viewer" else None))
    return out


def _command_label(name: str) -> str:
    return {"run_cmd": "Start/Stop", "speed_sp_rpm": "Speed SP", "reset_cmd": "Trip reset",
            "mode": "Auto/Manual", "setpoint_m": "Setpoint", "position_sp_pct": "Position SP",
            }.get(name, name)


def _target_value(view: PlantView, point: str, name: str) -> float | None:
    """The value the obvious command would write (toggle a run command), for interlock hints."""
    if name == "run_cmd":
        return 0.0 if view.value(point) >= 0.5 else 1.0
    return None


def _auto_reason(view: PlantView, entity: Entity, name: str) -> str:
    """Why a controller in Auto will undo a manual command, in words with the way out."""
    if entity.type == "pump" and name == "run_cmd":
        seq = view.sequencer_of(entity.id)
        if seq is not None and view.in_auto(seq):
            running = view.value(f"{entity.id}/running") >= 0.5
            verb = "stop" if running else "start"
            return (f"{seq.id} runs {entity.id} in Auto - switch {seq.id} to Manual to {verb} "
                    "it")
    if name.endswith("_sp_pct") or name == "position_sp_pct":
        pid = view.pid_driving(f"{entity.id}/{name}")
        if pid is not None and view.in_auto(pid):
            return f"{pid.id} sets it in Auto - switch {pid.id} to Manual first"
    return ""


def outcome_words(view: PlantView, point: str, requested: float | None, code: str) -> str:
    """Plain words for a refused or failed command where the code alone would puzzle, e.g.
    ``P-101 did not stop: UC-101 restarted it``; ``""`` when the adapter's text says enough."""
    entity_id, _, name = point.partition("/")
    if name == "run_cmd" and code == "readback_mismatch":
        seq = view.sequencer_of(entity_id)
        verb = "stop" if requested is not None and requested < 0.5 else "start"
        if seq is not None and view.in_auto(seq):
            other = "restarted" if verb == "stop" else "stopped"
            return f"{entity_id} did not {verb}: {seq.id} {other} it (it runs the pumps in Auto)"
        return f"{entity_id} did not {verb}: the device kept its state"
    return ""


def faceplate_lines(view: PlantView, row: int, role: str) -> list[FaceplateLine]:
    """The faceplate of entity ``row``."""
    world = view.world
    entity = world.scene.entities[row]
    e = entity.id
    lines = [FaceplateLine(f"{e}  {entity.name}  ({entity.type})")]

    def has(point: str) -> bool:
        return point in world.point_column

    if entity.type == "pump":
        tripped = view.value(f"{e}/tripped") >= 0.5
        state = "TRIPPED" if tripped else view.show(f"{e}/running")
        seq = view.sequencer_of(e)
        mode = ""
        if seq is not None:
            mode = f"   {'Auto' if view.in_auto(seq) else 'Manual'} ({seq.id})"
        lines.append(FaceplateLine(state + mode, "bad" if tripped else None))
        speed = f"Speed {view.show(f'{e}/speed_rpm')}"
        if has(f"{e}/speed_sp_rpm"):
            speed += f"  (SP {view.show(f'{e}/speed_sp_rpm')})"
        lines.append(FaceplateLine(speed))
        motor = str(entity.params.get("motor", ""))
        power = f"   Power {view.show(f'{motor}/power_kw')}" if has(f"{motor}/power_kw") else ""
        lines.append(FaceplateLine(f"Flow {view.show(f'{e}/flow_m3_h')} (model){power}"))
        if has(f"{e}/run_hours_h"):
            lines.append(FaceplateLine(f"Run hours {view.show(f'{e}/run_hours_h')}"))
    elif entity.type == "valve":
        pid = view.pid_driving(f"{e}/position_sp_pct")
        mode = f"   {'Auto' if view.in_auto(pid) else 'Manual'} ({pid.id})" if pid else ""
        lines.append(FaceplateLine(f"Position {view.show(f'{e}/position_pct')}  "
                                   f"(SP {view.show(f'{e}/position_sp_pct')}){mode}"))
    elif entity.type == "tank":
        level = next((f"{t.id}/level_m" for t in world.scene.entities
                      if t.type == "transmitter" and t.params.get("measures") == f"{e}/level_m"
                      and has(f"{t.id}/level_m")), f"{e}/level_m")
        height = float(entity.params.get("height_m", 0) or 0)
        overflow = float(entity.params.get("overflow_m", 0) or 0)
        lvl = view.value(level)
        pct = f"  {100 * lvl / height:.0f} %" if height and math.isfinite(lvl) else ""
        lines.append(FaceplateLine(f"Level {view.show(level)}{pct}  ({level})"))
        limits = f"Limits: overflow {overflow:.2f} m, height {height:.2f} m"
        near = math.isfinite(lvl) and overflow and lvl >= overflow - 0.2
        lines.append(FaceplateLine(limits + ("  - NEAR OVERFLOW" if near else ""),
                                   "bad" if near else None))
    elif entity.type == "controller":
        mode = view.show(f"{e}/mode", entity) if has(f"{e}/mode") else "-"
        lines.append(FaceplateLine(f"Mode {mode}"))
        if entity.params.get("algorithm") == "pid":
            pv = str(entity.params.get("pv", ""))
            lines.append(FaceplateLine(f"SP {view.show(f'{e}/setpoint_m')}   PV "
                                       f"{view.show(pv)}   OUT {view.show(f'{e}/output_pct')}"))
        elif has(f"{e}/duty_pump"):
            lines.append(FaceplateLine(f"Duty pump {view.show(f'{e}/duty_pump', entity)}"))
    else:
        for p in entity.points:
            if has(p.id):
                lines.append(FaceplateLine(f"{p.name:<18} {view.show(p.id, entity)}"))
    bad = [p.id for p in entity.points if has(p.id)
           and world.points.poll_period_ns[world.point_column[p.id]] >= 0 and not view.good(p.id)]
    if bad:
        lines.append(FaceplateLine(f"Data not Good: {', '.join(bad[:3])} (values held)", "bad"))
    for extra in view.extra_lines:
        lines.extend(extra(e))
    commands = _command_lines(view, entity, role)
    if commands:
        lines.append(FaceplateLine("Commands:"))
        lines.extend(commands)
    return lines
