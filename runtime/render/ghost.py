"""The forecast in the world: translucent copies ("ghosts") of the assets whose forecast state
differs from now, drawn over the assets themselves.

A ghost is a copy of the asset's built model (made once, on first need, without the meshes in
``DECOR``) with a pale blue colour scale, alpha blending, no depth writes and a slightly larger
scale so it wraps the real asset: a tank's ghost is its level band, cyan up to the forecast
level, over the real band; a valve's ghost its body with the stem at the forecast travel; a
pump forecast to stop is a ghost with its run lamp dark, one forecast to run a ghost with it
lit. Assets whose state does not differ show no ghost, so the
eye goes to what changes. Words carry the same (the forecast panel names each ghost and its
value): never colour alone.

:meth:`GhostLayer.show` is called only when the forecast or the scrubbed time changes; a frame
in between costs nothing. Each call touches only ghosts whose state changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from panda3d.core import NodePath, TransparencyAttrib

from runtime.render.procedural.base import AssetVisual

GHOST_RGBA = (0.55, 0.9, 1.3, 0.35)
"""Colour scale of a ghost: pale blue and translucent (the forecast, not the present). Filled,
not wireframe: polygon-mode lines take Mesa's slow path in software rendering (llvmpipe drew
the same ghosts about 4x slower as wire)."""
FILL_RGBA = (0.25, 0.8, 1.0, 0.9)
"""A ghost tank's forecast water band: near-solid cyan over the translucent shell, easy to
compare with the real band under it."""
GHOST_SCALE = 1.04
"""A ghost wraps its asset (no z-fighting with the real surfaces)."""
GHOST_BIN_SORT = 30
DECOR = frozenset({"handrail", "rings", "plinth", "status_posts", "trip_beacon", "skid", "shell",
                   "roof"})
"""Meshes a ghost leaves out: what says nothing about the forecast state. A tank's ghost is
its level band (glass and water), not its shell: the shell covers the most pixels, and blending
it cost ~7 ms a frame in software rendering (llvmpipe) against ~0.2 ms for the band; its rings
and handrail are 12,000 of its 15,000 vertices. Pumps and valves keep their bodies."""


@dataclass(frozen=True, slots=True)
class GhostState:
    """What one ghost shows; None leaves that part as built."""

    fill_fraction: float | None = None
    stem_fraction: float | None = None
    running: bool | None = None


def _child_path(root: NodePath, node: NodePath) -> tuple[int, ...]:
    path = []
    while node != root:
        parent = node.get_parent()
        path.append(parent.node().find_child(node.node()))
        node = parent
    return tuple(reversed(path))


def _follow(root: NodePath, path: tuple[int, ...]) -> NodePath:
    for index in path:
        root = root.get_child(index)
    return root


class _Ghost:
    def __init__(self, visual: AssetVisual, parent: NodePath, band_m: float,
                 travel_m: float) -> None:
        self.root = visual.root.copy_to(parent)
        self.root.set_scale(visual.root.get_scale() * GHOST_SCALE)
        self.parts = {name: _follow(self.root, _child_path(visual.root, node))
                      for name, node in visual.parts.items()}
        for node in self.root.find_all_matches("**/+GeomNode"):
            if node.get_name() in DECOR:
                node.remove_node()
        fill = self.parts.get("fill")
        if fill is not None:
            fill.set_color(*FILL_RGBA, 2)
            fill.set_color_scale(1, 1, 1, 1, 2)
        self.band_m = band_m
        self.travel_m = travel_m
        self.state: GhostState | None = None

    def apply(self, state: GhostState) -> None:
        if state == self.state:
            return
        self.state = state
        fill = self.parts.get("fill")
        if fill is not None and state.fill_fraction is not None:
            fill.set_sz(max(1e-3, min(1.0, state.fill_fraction)) * self.band_m)
        stem = self.parts.get("stem")
        if stem is not None and state.stem_fraction is not None:
            stem.set_z(min(1.0, max(0.0, state.stem_fraction)) * self.travel_m)
        lamp = self.parts.get("run_lamp")
        if lamp is not None and state.running is not None:
            if state.running:
                lamp.show()
            else:
                lamp.hide()


class GhostLayer:
    """Ghost copies of a scene's assets under one root (hidden until shown)."""

    def __init__(self, parent: NodePath, visuals: dict[str, AssetVisual],
                 band_m: dict[str, float], travel_m: dict[str, float]) -> None:
        self.root = parent.attach_new_node("forecast-ghosts")
        self.root.set_transparency(TransparencyAttrib.M_alpha)
        self.root.set_color_scale(*GHOST_RGBA)
        self.root.set_depth_write(False)
        self.root.set_bin("transparent", GHOST_BIN_SORT)
        self.root.set_light_off(1)  # flat: a ghost reads as an overlay, not a second asset
        self.visuals = visuals
        self.band_m = band_m
        self.travel_m = travel_m
        self.ghosts: dict[str, _Ghost] = {}
        self.shown: set[str] = set()
        self.calls = 0

    def show(self, states: dict[str, GhostState]) -> None:
        """Show exactly the ghosts in ``states`` (others hidden), each in its state."""
        self.calls += 1
        for eid in self.shown - states.keys():
            self.ghosts[eid].root.hide()
        for eid, state in states.items():
            ghost = self.ghosts.get(eid)
            if ghost is None:
                vis = self.visuals.get(eid)
                if vis is None:
                    continue
                ghost = _Ghost(vis, self.root, self.band_m.get(eid, 0.0),
                               self.travel_m.get(eid, 0.0))
                self.ghosts[eid] = ghost
            ghost.apply(state)
            if eid not in self.shown:
                ghost.root.show()
        self.shown = {eid for eid in states if eid in self.ghosts}

    def hide(self) -> None:
        self.show({})

    def destroy(self) -> None:
        self.root.remove_node()
        self.ghosts.clear()
        self.shown.clear()
