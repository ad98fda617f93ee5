"""Flow along pipes: bright beads that travel each pipe's route at the flow's velocity.

Each pipe gets beads every ``SPACING_M`` along its polyline; a bead's arc position is the pipe's
phase plus its index times the spacing, so one phase per pipe is all the state there is. Per
frame the phases advance by velocity * dt (velocity = flow / bore area, source to target; a
reversed flow runs backwards), and every bead's position is interpolated along the routes in one
vectorised pass and uploaded as instances (:class:`runtime.render.instancing.InstancedRenderer`):
one array copy per bead size, however many pipes. A pipe with no flow keeps its beads still and
dimmed; one whose flow is unknown hides them.
"""

from __future__ import annotations

import numpy as np
from panda3d.core import NodePath

from runtime.render.instancing import InstancedRenderer, box_geom

SPACING_M = 1.5
BEAD_FACTOR = 1.25
"""Bead edge = pipe diameter * this, so the beads stand out of the pipe wall."""
STILL_M_S = 0.01
"""Below this velocity a pipe counts as having no flow."""
MOVING_RGBA = (0.75, 0.95, 1.0, 1.0)
STILL_RGBA = (0.25, 0.28, 0.30, 1.0)
MIN_VISIBLE_M_S = 0.15
"""Slow flows are shown at least this fast so a trickle still visibly moves."""


class FlowMarkers:
    """Beads along ``routes`` (entity row -> polyline, metres), driven by flow per row."""

    def __init__(self, parent: NodePath, routes: dict[int, list[np.ndarray]],
                 diameters_m: dict[int, float], area_m2: dict[int, float]) -> None:
        self.rows = np.array(sorted(routes), dtype=np.int64)
        seg_a, seg_b, seg_s0, seg_len = [], [], [], []
        bead_pipe, bead_k, bead_group = [], [], []
        self.length_m = np.zeros(len(self.rows))
        sizes = sorted({round(diameters_m[r] * BEAD_FACTOR, 3) for r in self.rows})
        self._base = np.zeros(len(self.rows))
        total = 0.0
        for p, row in enumerate(self.rows):
            pts = np.asarray(routes[int(row)], dtype=np.float64)
            d = np.linalg.norm(np.diff(pts, axis=0), axis=1)
            cum = np.concatenate([[0.0], np.cumsum(d)])
            self.length_m[p] = cum[-1]
            self._base[p] = total
            for i in range(len(d)):
                if d[i] > 1e-9:
                    seg_a.append(pts[i])
                    seg_b.append(pts[i + 1])
                    seg_s0.append(total + cum[i])
                    seg_len.append(d[i])
            total += cum[-1] + 1.0  # a gap so a bead never interpolates into the next pipe
            n = max(int(cum[-1] // SPACING_M), 1)
            bead_pipe += [p] * n
            bead_k += list(range(n))
            bead_group += [sizes.index(round(diameters_m[int(row)] * BEAD_FACTOR, 3))] * n
        self._seg_a = np.asarray(seg_a).reshape(-1, 3)
        self._seg_dir = (np.asarray(seg_b).reshape(-1, 3) - self._seg_a) / \
            np.asarray(seg_len).reshape(-1, 1)
        self._seg_s0 = np.asarray(seg_s0)
        self._bead_pipe = np.asarray(bead_pipe, dtype=np.int64)
        self._bead_k = np.asarray(bead_k, dtype=np.float64)
        self._spacing = np.where(self.length_m > 0,
                                 self.length_m / np.maximum(np.bincount(self._bead_pipe,
                                                            minlength=len(self.rows)), 1),
                                 SPACING_M)
        self._area = np.array([area_m2[int(r)] for r in self.rows])
        self.phase_m = np.zeros(len(self.rows))
        """Arc position of each pipe's first bead, metres in [0, spacing)."""
        self.velocity_m_s = np.zeros(len(self.rows))
        group = np.asarray(bead_group, dtype=np.int64)
        self._groups: list[tuple[InstancedRenderer, np.ndarray]] = []
        self.root = parent.attach_new_node("flow-markers")
        for g, size in enumerate(sizes):
            members = np.flatnonzero(group == g)
            renderer = InstancedRenderer(self.root, box_geom((size, size, size), z0=-size / 2),
                                         len(members), name=f"flow-beads-{g}")
            self._groups.append((renderer, members))
        self.advance(np.zeros(0, dtype=np.float32), 0.0)

    @property
    def bead_count(self) -> int:
        return len(self._bead_pipe)

    def advance(self, flow_m3_h: np.ndarray, dt_s: float,
                drawn: np.ndarray | None = None) -> None:
        """Move beads by one frame. ``flow_m3_h`` is RenderSync's (N,) array (NaN: unknown);
        ``drawn`` (bool (N,), RenderSync's rows drawn as models) leaves out the beads of pipes
        drawn as far-field boxes: a 10,000-asset site has tens of thousands of beads."""
        flow = flow_m3_h[self.rows] if len(flow_m3_h) else np.full(len(self.rows), np.nan)
        known = np.isfinite(flow)
        v = np.where(known, flow, 0.0) / 3600.0 / self._area
        shown_v = np.where(np.abs(v) < STILL_M_S, 0.0,
                           np.sign(v) * np.maximum(np.abs(v), MIN_VISIBLE_M_S))
        self.velocity_m_s[:] = v
        self.phase_m = np.mod(self.phase_m + shown_v * dt_s, self._spacing)
        if drawn is None or bool(drawn[self.rows].all()):
            beads = None
            pipe, k = self._bead_pipe, self._bead_k
        else:
            beads = drawn[self.rows][self._bead_pipe]
            pipe, k = self._bead_pipe[beads], self._bead_k[beads]
        s = self.phase_m[pipe] + k * self._spacing[pipe]
        s = np.minimum(s, self.length_m[pipe] - 1e-6) + self._base[pipe]
        seg = np.clip(np.searchsorted(self._seg_s0, s, side="right") - 1, 0, len(self._seg_s0) - 1)
        pos = self._seg_a[seg] + self._seg_dir[seg] * (s - self._seg_s0[seg])[:, None]
        moving = (shown_v != 0.0)[pipe]
        visible = known[pipe]
        if beads is not None:
            at = np.cumsum(beads) - 1  # bead index -> its place among the drawn beads
        for renderer, members in self._groups:
            if beads is not None:
                members = at[members[beads[members]]]
            n = len(members)
            renderer.position_m[:n] = pos[members]
            renderer.rgba[:n] = np.where(moving[members, None], MOVING_RGBA, STILL_RGBA)
            renderer.rgba[:n, 3] = visible[members]
            # Hidden beads are parked far below the ground rather than re-sorted.
            renderer.position_m[:n, 2] -= np.where(visible[members], 0.0, 1e4)
            renderer.upload(n)
