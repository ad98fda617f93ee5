"""Visual state of a scene's entities as flat arrays, pushed to the scene graph once a frame.

The live twin (and replay, and what-if) writes these arrays in :attr:`Phase.SYNC` from the
world's blended state; :meth:`RenderSync.apply` then touches only the nodes whose value
changed. Rows follow ``scene.entities`` order, the same rows as the world's entity table.

Arrays (all shape (N,), N = number of entities; NaN or -1 where an entity has no such visual):

- ``fill_fraction`` float32: tank level / wall height, 0..1 (tanks only).
- ``rotor_speed_rpm`` float32: shaft speed of pumps and motors; :meth:`advance` turns it into
  ``rotor_angle_deg`` float64 (displayed spin is slowed by ``SPIN_DISPLAY_FACTOR`` so a
  1,480 rpm shaft reads as turning instead of strobing).
- ``stem_fraction`` float32: valve opening 0 (closed) .. 1 (open).
- ``tint_rgba`` float32 (N, 4): colour scale per entity (alarm highlight); 1 = as built.
- ``quality`` uint8: ``runtime.quality.Quality`` of the entity; ``age_s`` float32: seconds
  since its last good reading. Non-Good entities are greyed and their label says the quality and
  age in words, so the cue does not rely on colour alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from panda3d.core import NodePath

from runtime.quality import Quality
from runtime.render.labels import LabelLayer
from runtime.render.procedural.base import AssetVisual

SPIN_DISPLAY_FACTOR = 1.0 / 25.0
"""Displayed revolutions per real revolution: 1,480 rpm shows as about one turn a second."""
QUALITY_TINT = {
    int(Quality.UNCERTAIN): (0.75, 0.72, 0.55, 1.0),
    int(Quality.BAD): (0.45, 0.45, 0.45, 1.0),
}
"""Colour scale for non-Good entities (the words on the label carry the same cue)."""


class RenderSync:
    """Owns the per-entity visual arrays and the node handles they drive."""

    def __init__(self, entity_ids: Sequence[str], visuals: Sequence[AssetVisual | None],
                 *, fill_band_m: Sequence[float], stem_travel_m: Sequence[float],
                 labels: LabelLayer | None = None) -> None:
        n = len(entity_ids)
        self.entity_ids = tuple(entity_ids)
        self.row = {eid: i for i, eid in enumerate(self.entity_ids)}
        self.fill_fraction = np.full(n, np.nan, dtype=np.float32)
        self.rotor_speed_rpm = np.zeros(n, dtype=np.float32)
        self.rotor_angle_deg = np.zeros(n, dtype=np.float64)
        self.stem_fraction = np.full(n, np.nan, dtype=np.float32)
        self.tint_rgba = np.ones((n, 4), dtype=np.float32)
        self.quality = np.zeros(n, dtype=np.uint8)
        self.age_s = np.zeros(n, dtype=np.float32)

        self._roots = [v.root if v is not None else None for v in visuals]
        self._fill = [v.parts.get("fill") if v else None for v in visuals]
        self._rotor = [v.parts.get("rotor") if v else None for v in visuals]
        self._stem = [v.parts.get("stem") if v else None for v in visuals]
        self._band_m = np.asarray(fill_band_m, dtype=np.float32)
        self._travel_m = np.asarray(stem_travel_m, dtype=np.float32)
        self.fill_rows = _rows_with(self._fill)
        self.rotor_rows = _rows_with(self._rotor)
        self.stem_rows = _rows_with(self._stem)
        self.labels = labels
        """Where quality/age words go; the viewer sets it after building the labels."""
        for i in self.fill_rows:
            self.fill_fraction[i] = self._fill[i].get_sz() / max(float(self._band_m[i]), 1e-6)
        for i in self.stem_rows:
            self.stem_fraction[i] = self._stem[i].get_z() / max(float(self._travel_m[i]), 1e-6)
        self._shown_fill = self.fill_fraction.copy()
        self._shown_angle = self.rotor_angle_deg.copy()
        self._shown_stem = self.stem_fraction.copy()
        self._shown_tint = self.tint_rgba.copy()
        self._shown_quality = self.quality.copy()
        self._shown_age = np.full(n, -1, dtype=np.int64)

    # -- writers ---------------------------------------------------------------------------

    def sync(self, *, fill_fraction: np.ndarray | None = None,
             rotor_speed_rpm: np.ndarray | None = None,
             stem_fraction: np.ndarray | None = None, tint_rgba: np.ndarray | None = None,
             quality: np.ndarray | None = None, age_s: np.ndarray | None = None) -> None:
        """Copy whole-scene arrays (shape (N,) or (N, 4)) into the visual state.

        NaN entries in ``fill_fraction`` / ``stem_fraction`` leave that entity as it is, so a
        caller can pass one column of the world with gaps where a point is missing.
        """
        for src, dst in ((fill_fraction, self.fill_fraction), (stem_fraction, self.stem_fraction)):
            if src is not None:
                src = np.asarray(src, dtype=np.float32)
                ok = np.isfinite(src)
                dst[ok] = np.clip(src[ok], 0.0, 1.0)
        if rotor_speed_rpm is not None:
            speed = np.asarray(rotor_speed_rpm, dtype=np.float32)
            self.rotor_speed_rpm[:] = np.where(np.isfinite(speed), speed, 0.0)
        if tint_rgba is not None:
            self.tint_rgba[:] = tint_rgba
        if quality is not None:
            self.quality[:] = quality
        if age_s is not None:
            self.age_s[:] = age_s

    def set_fill(self, entity_id: str, fraction: float) -> None:
        self.fill_fraction[self.row[entity_id]] = min(max(fraction, 0.0), 1.0)

    def set_stem(self, entity_id: str, fraction: float) -> None:
        self.stem_fraction[self.row[entity_id]] = min(max(fraction, 0.0), 1.0)

    def set_speed(self, entity_id: str, speed_rpm: float) -> None:
        self.rotor_speed_rpm[self.row[entity_id]] = speed_rpm

    def advance(self, dt_s: float) -> None:
        """Integrate displayed rotor angles over one frame of ``dt_s`` seconds."""
        self.rotor_angle_deg += self.rotor_speed_rpm * (6.0 * SPIN_DISPLAY_FACTOR * dt_s)
        np.mod(self.rotor_angle_deg, 360.0, out=self.rotor_angle_deg)

    # -- push to the scene graph -------------------------------------------------------------

    def apply(self) -> None:
        """Push changed values to their nodes (a few dozen Python calls at most per frame)."""
        for i in _changed(self.fill_rows, self.fill_fraction, self._shown_fill):
            f = float(self.fill_fraction[i])
            self._fill[i].set_sz(max(f, 1e-3) * float(self._band_m[i]))
        for i in _changed(self.rotor_rows, self.rotor_angle_deg, self._shown_angle):
            self._rotor[i].set_p(float(self.rotor_angle_deg[i]))
        for i in _changed(self.stem_rows, self.stem_fraction, self._shown_stem):
            self._stem[i].set_z(float(self.stem_fraction[i]) * float(self._travel_m[i]))
        self._apply_cues()

    def _apply_cues(self) -> None:
        """Colour scale and label status for tint and quality changes.

        This is the one place where data quality becomes visible. Today: a grey/khaki colour
        scale plus the words UNCERTAIN/BAD and the age on the label. The live twin issue adds a
        hatched material and an icon here without touching the builders.
        """
        tint_changed = np.any(self.tint_rgba != self._shown_tint, axis=1)
        changed = np.flatnonzero(tint_changed | (self.quality != self._shown_quality))
        for i in changed:
            root = self._roots[i]
            if root is None:
                continue
            q = int(self.quality[i])
            cue = np.asarray(QUALITY_TINT.get(q, (1.0, 1.0, 1.0, 1.0)), np.float32)
            tint = cue * self.tint_rgba[i]
            root.set_color_scale(*map(float, tint))
            self._shown_tint[i] = self.tint_rgba[i]
            self._shown_quality[i] = q
        if self.labels is None:
            return
        age = np.where(self.quality == Quality.GOOD, -1, self.age_s.astype(np.int64))
        for i in np.flatnonzero(age != self._shown_age):
            eid = self.entity_ids[i]
            if eid in self.labels.by_id:
                q = Quality(int(self.quality[i]))
                self.labels.set_status(eid, "" if age[i] < 0 else f"{q.name} {age[i]} s old")
            self._shown_age[i] = age[i]

    def root(self, entity_id: str) -> NodePath | None:
        """The entity's root node (None for an entity drawn without a model)."""
        return self._roots[self.row[entity_id]]


def _rows_with(parts: list[NodePath | None]) -> np.ndarray:
    return np.array([i for i, p in enumerate(parts) if p is not None], dtype=np.int64)


def _changed(rows: np.ndarray, wanted: np.ndarray, shown: np.ndarray) -> np.ndarray:
    """Rows whose wanted value differs from what is on screen; marks them shown."""
    diff = rows[wanted[rows] != shown[rows]]
    shown[diff] = wanted[diff]
    return diff
