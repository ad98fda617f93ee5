"""Industrial colours as PBR materials, one cached Material per name.

Colours follow plant practice so an operator reads the view at a glance: tanks in light steel
grey, pumps blue, motors green, control valves with grey bodies and a yellow actuator, water
pipes green (BS 1710 service colour). Values are linear-light base colours (simplepbr tonemaps),
so they are the sRGB swatch roughly squared.
"""

from __future__ import annotations

from dataclasses import dataclass

from panda3d.core import Material, NodePath


@dataclass(frozen=True, slots=True)
class Finish:
    """A named surface: base colour (linear RGB), roughness and metallic (0..1)."""

    rgb: tuple[float, float, float]
    roughness: float = 0.6
    metallic: float = 0.0
    emission: float = 0.0
    """Self-lit share of the base colour: lamps and beacons read in shade and in fog."""


FINISHES: dict[str, Finish] = {
    "steel": Finish((0.55, 0.57, 0.60), 0.45, 0.6),
    "steel_dark": Finish((0.20, 0.21, 0.23), 0.5, 0.7),
    "tank_shell": Finish((0.42, 0.44, 0.46), 0.5, 0.3),
    "tank_roof": Finish((0.30, 0.32, 0.34), 0.55, 0.3),
    "level_glass": Finish((0.03, 0.035, 0.04), 0.3, 0.0),
    "water": Finish((0.02, 0.20, 0.75), 0.25, 0.0),
    "pump_blue": Finish((0.02, 0.12, 0.45), 0.45, 0.2),
    "motor_green": Finish((0.05, 0.22, 0.10), 0.5, 0.2),
    "coupling_orange": Finish((0.80, 0.25, 0.02), 0.5, 0.1),
    "base_grey": Finish((0.12, 0.12, 0.13), 0.7, 0.3),
    "valve_body": Finish((0.30, 0.31, 0.33), 0.5, 0.4),
    "actuator_yellow": Finish((0.80, 0.55, 0.02), 0.45, 0.1),
    "pipe_water": Finish((0.05, 0.30, 0.08), 0.55, 0.1),
    "pipe_flange": Finish((0.03, 0.15, 0.04), 0.55, 0.2),
    "header_grey": Finish((0.25, 0.40, 0.25), 0.55, 0.2),
    "cabinet_grey": Finish((0.70, 0.70, 0.66), 0.6, 0.0),
    "screen": Finish((0.01, 0.03, 0.06), 0.2, 0.0),
    "instrument_head": Finish((0.55, 0.57, 0.60), 0.4, 0.5),
    "instrument_face": Finish((0.80, 0.80, 0.78), 0.4, 0.0),
    "concrete": Finish((0.16, 0.16, 0.155), 0.95, 0.0),
    "safety_yellow": Finish((0.85, 0.60, 0.02), 0.5, 0.0),
    "lamp_off": Finish((0.10, 0.11, 0.11), 0.3, 0.0),
    "lamp_run": Finish((0.05, 0.85, 0.12), 0.3, 0.0, emission=1.5),
    "beacon_red": Finish((0.95, 0.03, 0.02), 0.3, 0.0, emission=2.0),
    "flow_marker": Finish((0.70, 0.90, 1.00), 0.3, 0.0, emission=0.6),
}
"""Finish name -> surface. Builders refer to finishes by name only."""

PIPE_SERVICE_FINISH: dict[str, str] = {"water": "pipe_water"}
"""Pipe service -> finish; a connection's service defaults to water."""


class Materials:
    """Caches one Panda3D Material per finish so equal surfaces share state (fewer state
    changes, and the live twin can retint a finish in one place)."""

    def __init__(self, *, pipeline: str = "pbr") -> None:
        self._cache: dict[str, Material] = {}
        self.pipeline = pipeline
        self._display = pipeline != "pbr"
        """Without simplepbr nothing converts linear light to the display's sRGB, so the
        forward pipeline gets sRGB-encoded base colours and half the metallic darkening that
        Panda's fixed-function derivation (diffuse = base * (1 - metallic)) applies."""

    def get(self, name: str) -> Material:
        mat = self._cache.get(name)
        if mat is None:
            finish = FINISHES[name]
            mat = Material(name)
            rgb = tuple(c ** (1 / 2.2) for c in finish.rgb) if self._display else finish.rgb
            mat.set_base_color((*rgb, 1.0))
            mat.set_roughness(finish.roughness)
            # set_metallic after set_base_color: Panda derives the fixed-function diffuse and
            # ambient (used by the forward and p3tinydisplay paths) from both.
            mat.set_metallic(finish.metallic * (0.5 if self._display else 1.0))
            if finish.emission > 0:
                mat.set_emission((*(c * finish.emission for c in finish.rgb), 1.0))
            self._cache[name] = mat
        return mat

    def apply(self, np_: NodePath, name: str) -> NodePath:
        """Give ``np_`` the finish ``name``; returns ``np_`` for chaining."""
        np_.set_material(self.get(name), 1)
        return np_
