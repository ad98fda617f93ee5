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
- ``quality`` uint8: ``runtime.quality.Quality`` of the entity; ``reason`` uint8 its
  ``Reason``; ``age_s`` float32: seconds since its last good reading (-1: never had one).
  Non-Good entities are greyed, get a "?" (Uncertain) or "!" (Bad) marker above them
  (:mod:`runtime.render.cues`) and their label says the quality, reason and age in words, so the
  cue does not rely on colour alone.
- ``running`` / ``tripped`` int8: -1 unknown, 0 no, 1 yes (pumps). Running lights the run lamp
  green (the turning rotor says it too); tripped shows a flashing red beacon and the word TRIP
  on the label.
- ``flow_m3_h`` float32: flow through each pipe, source to target (NaN unknown); the flow
  markers (:mod:`runtime.render.flow`) move at the matching velocity.
- ``highlight`` uint8: 0 none, 1 hover, 2 selected (the inspector's), a brighter colour scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from panda3d.core import NodePath

from runtime.quality import Quality, Reason
from runtime.render.labels import Label, LabelLayer
from runtime.render.procedural.base import AssetVisual

if TYPE_CHECKING:
    from runtime.render.cues import QualityIcons
    from runtime.render.far_field import NearCells
    from runtime.render.flow import FlowMarkers
    from runtime.render.materials import Materials

SPIN_DISPLAY_FACTOR = 1.0 / 25.0
"""Displayed revolutions per real revolution: 1,480 rpm shows as about one turn a second."""
QUALITY_TINT = {
    int(Quality.UNCERTAIN): (0.75, 0.72, 0.55, 1.0),
    int(Quality.BAD): (0.45, 0.45, 0.45, 1.0),
}
"""Colour scale for non-Good entities (the words on the label carry the same cue)."""
HIGHLIGHT_SCALE = {1: (1.35, 1.35, 1.25, 1.0), 2: (1.6, 1.55, 1.2, 1.0)}
"""Hover (1) and selected (2) brighten the asset; the inspector panel names it as well."""
BEACON_FLASH_S = (0.7, 0.3)
_SPIN_SETTER = {"x": NodePath.set_p, "y": NodePath.set_r, "z": NodePath.set_h}
"""Rotor axis -> the NodePath setter turning about it (pitch is about X, roll about Y)."""
"""A tripped pump's beacon is lit, then dark, this long (s): movement, not just red."""
AGE_WORDS_PER_FRAME = 24
"""Cards on screen whose status changed only in its age are rewritten this many a frame at
most (a change of quality, reason or TRIP is written at once): 400 cards in ~0.5 s at 30 fps."""


class RenderSync:
    """Owns the per-entity visual arrays and the node handles they drive."""

    def __init__(self, entity_ids: Sequence[str], visuals: Sequence[AssetVisual | None],
                 *, fill_band_m: Sequence[float], stem_travel_m: Sequence[float],
                 labels: LabelLayer | None = None, materials: Materials | None = None) -> None:
        n = len(entity_ids)
        self.entity_ids = tuple(entity_ids)
        self.row = {eid: i for i, eid in enumerate(self.entity_ids)}
        self.fill_fraction = np.full(n, np.nan, dtype=np.float32)
        self.rotor_speed_rpm = np.zeros(n, dtype=np.float32)
        self.rotor_angle_deg = np.zeros(n, dtype=np.float64)
        self.stem_fraction = np.full(n, np.nan, dtype=np.float32)
        self.tint_rgba = np.ones((n, 4), dtype=np.float32)
        self.quality = np.zeros(n, dtype=np.uint8)
        self.reason = np.zeros(n, dtype=np.uint8)
        self.age_s = np.zeros(n, dtype=np.float32)
        self.running = np.full(n, -1, dtype=np.int8)
        self.tripped = np.full(n, -1, dtype=np.int8)
        self.flow_m3_h = np.full(n, np.nan, dtype=np.float32)
        self.highlight = np.zeros(n, dtype=np.uint8)
        self.icons: QualityIcons | None = None
        """The "?"/"!" markers; the live viewer sets it (static views draw no icons)."""
        self.flow: FlowMarkers | None = None
        """Pipe flow markers; the live viewer sets it."""
        self._materials = materials
        self._time_s = 0.0
        self.near_cells: NearCells | None = None
        """A far-field scene's cells (:mod:`runtime.render.far_field`): only rows drawn as
        models near the camera get their nodes updated; None updates every row."""
        self.eye_m: tuple[float, float, float] | None = None
        """The camera in the scene root's frame, set by the viewer before :meth:`apply`."""
        self._all = np.ones(n, dtype=bool)

        self._roots = [v.root if v is not None else None for v in visuals]
        self._fill = [v.parts.get("fill") if v else None for v in visuals]
        self._rotor = [v.parts.get("rotor") if v else None for v in visuals]
        self._spin = [_SPIN_SETTER[v.spin_axis] if v else _SPIN_SETTER["x"] for v in visuals]
        """Per row: the NodePath method that turns its rotor about its axis."""
        self._stem = [v.parts.get("stem") if v else None for v in visuals]
        self._lamp = [v.parts.get("run_lamp") if v else None for v in visuals]
        self._beacon = [v.parts.get("trip_beacon") if v else None for v in visuals]
        self._band_m = np.asarray(fill_band_m, dtype=np.float32)
        self._travel_m = np.asarray(stem_travel_m, dtype=np.float32)
        self.fill_rows = _rows_with(self._fill)
        self.rotor_rows = _rows_with(self._rotor)
        self.stem_rows = _rows_with(self._stem)
        self.lamp_rows = _rows_with(self._lamp)
        self.beacon_rows = _rows_with(self._beacon)
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
        self._shown_highlight = self.highlight.copy()
        self._shown_running = self.running.copy()
        self._shown_beacon = np.zeros(n, dtype=np.int8)
        self._shown_status = np.full(n, -1, dtype=np.int64)
        self._status_key = np.zeros(n, dtype=np.int64)
        self._shown_words = np.full(n, -1, dtype=np.int64)
        self._age_cursor = 0
        self._label_of: np.ndarray | None = None
        self._label_count = -1
        self.status_text: Sequence[str] = _StatusWords(self)
        """Per row: the label's status line for the current state (tests and the inspector
        read it; worded on reading, so rows whose cards are hidden cost nothing a frame)."""
        self._quiet_no_comm = False

    def set_quiet_no_comm(self, quiet: bool) -> None:
        """While the whole bus is lost one banner says so: assets whose only problem is no
        communication keep their grey tint and held values but show no '!' and no words."""
        if quiet != self._quiet_no_comm:
            self._quiet_no_comm = quiet
            self._shown_quality[:] = 255  # every cue again
            self._shown_status[:] = -1
            self._shown_words[:] = -1

    # -- writers ---------------------------------------------------------------------------

    def sync(self, *, fill_fraction: np.ndarray | None = None,
             rotor_speed_rpm: np.ndarray | None = None,
             stem_fraction: np.ndarray | None = None, tint_rgba: np.ndarray | None = None,
             quality: np.ndarray | None = None, age_s: np.ndarray | None = None,
             reason: np.ndarray | None = None, running: np.ndarray | None = None,
             tripped: np.ndarray | None = None, flow_m3_h: np.ndarray | None = None) -> None:
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
        if reason is not None:
            self.reason[:] = reason
        for src, dst in ((running, self.running), (tripped, self.tripped)):
            if src is not None:
                dst[:] = src
        if flow_m3_h is not None:
            self.flow_m3_h[:] = flow_m3_h

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
        self._time_s += dt_s
        if self.flow is not None:
            drawn = self.drawn_rows() if self.near_cells is not None else None
            self.flow.advance(self.flow_m3_h, dt_s, drawn)

    # -- push to the scene graph -------------------------------------------------------------

    def drawn_rows(self) -> np.ndarray:
        """bool (N,): rows whose models may be drawn this frame. In a far-field scene, rows of
        distant cells (drawn as boxes) are left out: their nodes catch up when they come near,
        since what they show is compared with what is wanted then."""
        if self.near_cells is None or self.eye_m is None:
            return self._all
        return self.near_cells.rows_mask(self.eye_m)

    def apply(self) -> None:
        """Push changed values to their nodes (a few dozen Python calls at most per frame)."""
        drawn = self.drawn_rows()
        for i in _changed(self.fill_rows, self.fill_fraction, self._shown_fill, drawn):
            f = float(self.fill_fraction[i])
            self._fill[i].set_sz(max(f, 1e-3) * float(self._band_m[i]))
        for i in _changed(self.rotor_rows, self.rotor_angle_deg, self._shown_angle, drawn):
            self._spin[i](self._rotor[i], float(self.rotor_angle_deg[i]))
        for i in _changed(self.stem_rows, self.stem_fraction, self._shown_stem, drawn):
            self._stem[i].set_z(float(self.stem_fraction[i]) * float(self._travel_m[i]))
        self._apply_cues(drawn)

    def _apply_cues(self, drawn: np.ndarray) -> None:
        """Colour scale, lamps, beacons, icons and label status for state and quality changes.

        This is the one place where data quality becomes visible: a grey/khaki colour scale, a
        "?" or "!" marker above the asset, and the words (quality, reason, age of the last good
        value) on its label. Only rows whose inputs changed are touched.
        """
        tint_changed = np.any(self.tint_rgba != self._shown_tint, axis=1)
        quality_changed = self.quality != self._shown_quality
        changed = np.flatnonzero((tint_changed | quality_changed
                                  | (self.highlight != self._shown_highlight)) & drawn)
        for i in changed:
            root = self._roots[i]
            q = int(self.quality[i])
            if root is not None:
                cue = np.asarray(QUALITY_TINT.get(q, (1.0, 1.0, 1.0, 1.0)), np.float32)
                hl = np.asarray(HIGHLIGHT_SCALE.get(int(self.highlight[i]), (1.0,) * 4),
                                np.float32)
                root.set_color_scale(*map(float, cue * hl * self.tint_rgba[i]))
            if self.icons is not None and self.quality[i] != self._shown_quality[i]:
                quiet = self._quiet_no_comm and self.reason[i] == Reason.NO_COMMUNICATION
                self.icons.set_quality(int(i), int(Quality.GOOD) if quiet else q)
            self._shown_tint[i] = self.tint_rgba[i]
            self._shown_quality[i] = q
            self._shown_highlight[i] = self.highlight[i]
        self._apply_lamps(drawn)
        if self.labels is None:
            return
        not_good = self.quality != Quality.GOOD
        age = np.where(self.age_s < 0, -1, self.age_s.astype(np.int64))
        # One integer per row that changes whenever the status words would: the quality,
        # reason and TRIP part, and the age part (whole seconds).
        words = np.where(not_good, 1 + self.quality.astype(np.int64) * 256 + self.reason, 0) \
            + (self.tripped == 1) * (1 << 40)
        self._status_key = words + np.where(not_good, age + 1, 0) * 65536
        # Only cards on screen take their words now; a hidden card takes them when it is
        # next shown (LabelLayer.on_show): thousands of Bad assets age every second.
        label_of = self._label_rows()
        on_screen = (label_of >= 0) & self.labels.shown_mask[np.maximum(label_of, 0)]
        stale = on_screen & (self._status_key != self._shown_status)
        now = stale & (words != self._shown_words)
        rows = np.flatnonzero(now).tolist()
        # A card whose words only age catches up a few a frame, round robin (each rewrite
        # lays the text out again: hundreds of Bad cards ticking together cost a frame).
        aged = np.flatnonzero(stale & ~now)
        if len(aged):
            start = int(np.searchsorted(aged, self._age_cursor))
            aged = np.concatenate([aged[start:], aged[:start]])[:AGE_WORDS_PER_FRAME]
            self._age_cursor = int(aged[-1]) + 1
            rows += aged.tolist()
        for i in rows:
            self._label_status(i)

    def _label_rows(self) -> np.ndarray:
        """int (N,): each row's index in the label layer, -1 for a row without a label."""
        labels = self.labels
        assert labels is not None
        if self._label_of is None or len(labels.labels) != self._label_count:
            index = {label.entity_id: k for k, label in enumerate(labels.labels)}
            self._label_of = np.array([index.get(eid, -1) for eid in self.entity_ids],
                                      dtype=np.int64)
            self._label_count = len(labels.labels)
            labels.on_show = self._on_label_shown
        return self._label_of

    def _on_label_shown(self, label: Label) -> None:
        i = self.row.get(label.entity_id)
        if i is not None and self._shown_status[i] != self._status_key[i]:
            self._label_status(i)

    def _label_status(self, i: int) -> None:
        """Write row ``i``'s status words on its label."""
        assert self.labels is not None
        self._shown_status[i] = self._status_key[i]
        self._shown_words[i] = self._status_key[i] % 65536 + (self._status_key[i] >> 40 << 40)
        self.labels.set_status(self.entity_ids[i], self.status_of(i))

    def status_of(self, i: int) -> str:
        """Row ``i``'s status words as its label shows them (quality, reason, age, TRIP)."""
        q = int(self.quality[i])
        if self._quiet_no_comm and self.reason[i] == Reason.NO_COMMUNICATION:
            q = int(Quality.GOOD)
        return status_words(q, int(self.reason[i]), float(self.age_s[i]),
                            tripped=bool(self.tripped[i] == 1))

    def _apply_lamps(self, drawn: np.ndarray) -> None:
        """Run lamp material on change; trip beacon shown, flashing while tripped."""
        if self._materials is not None:
            rows = self.lamp_rows[drawn[self.lamp_rows]]
            diff = rows[self.running[rows] != self._shown_running[rows]]
            for i in diff:
                name = "lamp_run" if self.running[i] == 1 else "lamp_off"
                self._lamp[i].set_material(self._materials.get(name), 2)
                self._shown_running[i] = self.running[i]
        rows = self.beacon_rows[drawn[self.beacon_rows]]
        lit = self._time_s % sum(BEACON_FLASH_S) < BEACON_FLASH_S[0]
        want = ((self.tripped[rows] == 1) & lit).astype(np.int8)
        for i in rows[want != self._shown_beacon[rows]]:
            if self.tripped[i] == 1 and lit:
                self._beacon[i].show()
            else:
                self._beacon[i].hide()
            self._shown_beacon[i] = 1 - self._shown_beacon[i]

    def root(self, entity_id: str) -> NodePath | None:
        """The entity's root node (None for an entity drawn without a model)."""
        return self._roots[self.row[entity_id]]


class _StatusWords(Sequence[str]):
    """``RenderSync.status_text``: row -> its status words, worded when read."""

    def __init__(self, sync: RenderSync) -> None:
        self._sync = sync

    def __len__(self) -> int:
        return len(self._sync.quality)

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        if isinstance(i, slice):
            return [self._sync.status_of(k) for k in range(len(self))[i]]  # type: ignore
        return self._sync.status_of(int(i))


def format_age(age_s: float) -> str:
    """``12 s``, ``4 min``, ``2 h``; ``no good value yet`` for a negative age."""
    if age_s < 0:
        return "no good value yet"
    if age_s < 120:
        return f"{int(age_s)} s"
    if age_s < 7200:
        return f"{int(age_s // 60)} min"
    return f"{int(age_s // 3600)} h"


def status_words(quality: int, reason: int, age_s: float, *, tripped: bool = False) -> str:
    """The label's status line, e.g. ``TRIP`` or ``BAD no communication - 12 s``."""
    parts = ["TRIP"] if tripped else []
    if quality != Quality.GOOD:
        try:
            why = Reason(reason).name.lower().replace("_", " ") if reason else ""
        except ValueError:
            why = f"reason {reason}"
        words = Quality(quality).name + (f" {why}" if why else "")
        parts.append(f"{words} - {format_age(age_s)}")
    return " - ".join(parts)


def _rows_with(parts: list[NodePath | None]) -> np.ndarray:
    return np.array([i for i, p in enumerate(parts) if p is not None], dtype=np.int64)


def _changed(rows: np.ndarray, wanted: np.ndarray, shown: np.ndarray,
             drawn: np.ndarray) -> np.ndarray:
    """Drawn rows whose wanted value differs from what is on screen; marks them shown."""
    rows = rows[drawn[rows]]
    diff = rows[wanted[rows] != shown[rows]]
    shown[diff] = wanted[diff]
    return diff
