"""Analytics over a world of measurements: the residual monitor and the KPI engine together,
stepped in whole seconds, with what is new since the last step (flags) and what to publish
(KPI readings). The service (:mod:`runtime.analytics.service`) and the viewer both use it."""

from __future__ import annotations

import math

from runtime.analytics.kpis import KpiEngine
from runtime.analytics.residual import Disagreement, ResidualMonitor
from runtime.world import World


class AnalyticsEngine:
    def __init__(self, world: World, **monitor_options: float) -> None:
        self.world = world
        self.monitor = ResidualMonitor(world, **monitor_options)
        self.kpis = KpiEngine(world.scene)
        self._kpi_cols = {p: world.point_column[p] for p in self.kpis.points()
                          if p in world.point_column}
        self.t_s = 0.0

    def update(self, dt_ns: int) -> list[Disagreement]:
        """Advance ``dt_ns`` of plant time; new model disagreements."""
        flags = self.monitor.update(dt_ns)
        self.t_s += dt_ns / 1e9
        good = self.world.state.good_value
        self.kpis.update({p: float(good[c]) for p, c in self._kpi_cols.items()}, self.t_s)
        return flags

    def readings(self) -> dict[str, float]:
        """KPI points to publish, plus each instrument's residual (``LT-101/residual_m``)."""
        out = self.kpis.readings()
        for p, r in zip(self.monitor.points, self.monitor.residual, strict=True):
            if math.isfinite(r):
                ent, _, name = p.partition("/")
                unit = name.rsplit("_", 1)[-1] if "_" in name else ""
                out[f"{ent}/residual_{unit}" if unit else f"{ent}/residual"] = float(r)
        return out

    def disagreement_lines(self, entity: str) -> list[str]:
        """Faceplate lines: a flagged instrument of (or measuring) ``entity``."""
        lines = []
        measures = {e.id: str(e.params.get("measures", "")).split("/", 1)[0]
                    for e in self.world.scene.entities if e.type == "transmitter"}
        for d in self.monitor.flags:
            if d.entity == entity or measures.get(d.entity) == entity:
                if self.monitor.flagged(d.point):
                    lines.append(d.text())
        return lines
