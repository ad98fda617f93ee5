"""The ``trend`` region of a control-room layout: a trend panel filling its region.

It draws through the twin's :class:`~runtime.app.trend_plugin.TrendPlugin` (its query worker,
history and alarm limits; the frame never waits) with its own window. Pens: the region's
``points:`` option in the layout file, else the pens pinned with ``P``, else the selected
asset's trend points, so the wall follows what the operator looks at. No historian: the
panel says so in its title line instead of drawing nothing.
"""

from __future__ import annotations

from panda3d.core import TextNode

from runtime.app.panel_registry import PanelContext
from runtime.app.trend_plugin import TrendPlugin
from runtime.app.trend_worker import Want
from runtime.ui.hud import HudElement, element
from runtime.ui.trend_panel import MAX_PENS, TrendPanel

MARGIN = 0.05
KEY = "layout-region"


class TrendRegion:
    def __init__(self, ctx: PanelContext) -> None:
        self.ctx = ctx
        self.plugin = next((p for p in ctx.twin.plugins if isinstance(p, TrendPlugin)), None)
        self.panel = TrendPanel(ctx.root)
        note = TextNode("trend-region-note")
        note.set_align(TextNode.A_center)
        note.set_text_color(0.8, 0.82, 0.85, 1)
        self._note = ctx.root.attach_new_node(note)
        self._note.set_scale(0.06 * ctx.ui_scale)
        self.note = ""
        points = ctx.options.get("points") or []
        self.points = [str(p) for p in points][:MAX_PENS] if isinstance(points, list) else []
        a = ctx.aspect
        self.rect = (-a + MARGIN, a - MARGIN, -1 + MARGIN, 1 - MARGIN)

    def pens(self) -> list[str]:
        plugin = self.plugin
        if self.points or plugin is None:
            return self.points
        if plugin.pens:
            return plugin.pens[:MAX_PENS]
        selected = self.ctx.twin.live.selection.selected
        return plugin.trend_points(selected)[:MAX_PENS] if selected is not None else []

    def update(self) -> None:
        plugin = self.plugin
        if plugin is None or plugin.worker is None:
            return
        now = plugin.now_ns()
        pens = self.pens()
        t0, t1 = self.panel.window(now)
        plugin._ask(KEY, Want(tuple(pens), t0, t1))
        got = plugin.worker.take(KEY)
        version, series = (got[0], got[2]) if got else (0, {})
        shown = [series[p] for p in pens if p in series]
        if shown:
            self._say("")
            self.panel.draw(self.rect, shown, now, plugin.limits, version)
        else:
            self.panel.hide()
            self._say("Trend: select an asset (or pin points with P)" if not pens else
                      "Trend: no history for these points here (is a historian running?)")

    def _say(self, text: str) -> None:
        if text != self.note:
            self.note = text
            self._note.node().set_text(text)

    def hud(self) -> list[HudElement]:
        text = self.panel.text if self.panel.visible else self.note
        return [element("trend", text, self.rect, self.ctx.aspect, self.ctx.size_px)]


def layout_panel(ctx: PanelContext) -> TrendRegion:
    return TrendRegion(ctx)
