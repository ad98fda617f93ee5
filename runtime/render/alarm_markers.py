"""Alarm markers in the 3D world: on each alarmed asset's body, its most important active alarm's
priority marker (shape and number, hmi.md), facing the camera, blinking while unacknowledged
(ISA-101), drawn over the equipment so a pipe never hides it. Markers are pooled per asset and
priority, so a flood changes visibility, not the scene graph."""

from __future__ import annotations

from panda3d.core import NodePath

from runtime.alarms.board import AlarmView
from runtime.ui.priority_marker import priority_marker

SIZE_M = 1.3


class AlarmMarkers:
    """:meth:`update` with each asset's alarm every refresh; :meth:`blink` every frame."""

    def __init__(self, render: NodePath, positions: dict[str, tuple[float, float, float]]) -> None:
        self.root = render.attach_new_node("alarm-markers")
        self.root.set_depth_test(False)
        self.root.set_depth_write(False)
        self.root.set_bin("fixed", 40)
        self.root.set_light_off(1)
        self.root.set_shader_off(1)
        self._positions = positions
        """Entity id -> where its marker floats (the middle of the asset), world metres."""
        self._pool: dict[tuple[str, str], NodePath] = {}
        self._shown: dict[str, tuple[NodePath, bool]] = {}

    def _marker(self, asset: str, priority: str) -> NodePath | None:
        key = (asset, priority)
        node = self._pool.get(key)
        if node is None:
            pos = self._positions.get(asset)
            if pos is None:
                return None
            holder = self.root.attach_new_node(f"alarm-{asset}-{priority}")
            holder.set_pos(*pos)
            holder.set_billboard_point_eye()
            priority_marker(holder, priority, SIZE_M)
            holder.set_transparency(True)
            node = self._pool[key] = holder
        return node

    def update(self, by_asset: dict[str, AlarmView]) -> None:
        for asset, (node, _) in list(self._shown.items()):
            alarm = by_asset.get(asset)
            if alarm is None or (asset, alarm.priority) not in self._pool or \
                    self._pool[(asset, alarm.priority)] is not node:
                node.hide()
                del self._shown[asset]
        for asset, alarm in by_asset.items():
            node = self._marker(asset, alarm.priority)
            if node is None:
                continue
            node.show()
            self._shown[asset] = (node, alarm.unacked)

    def blink(self, on: bool) -> None:
        for node, unacked in self._shown.values():
            node.set_alpha_scale(1.0 if on or not unacked else 0.4)

    @property
    def shown(self) -> dict[str, bool]:
        """Asset -> unacknowledged, for every marker on screen (tests, stats)."""
        return {a: u for a, (_, u) in self._shown.items()}


__all__ = ["AlarmMarkers"]
