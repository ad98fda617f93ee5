"""The ``alarms`` region of a control-room layout: the alarm list, always open, filling its
region (runtime/app/panel_registry.py maps the kind here).

It shows the board of the twin's :class:`~runtime.app.alarm_plugin.AlarmPlugin` (the alarm
service live, or the recording's alarms in replay) with the same panel and rows as the list
the L key toggles: priority marker and number, never colour alone. A view without alarms (a
scene with no ``alarms.yaml``, or the scene's model alone) says so in the panel's title.
"""

from __future__ import annotations

from runtime.app.alarm_plugin import AlarmPlugin
from runtime.app.panel_registry import PanelContext
from runtime.ui.alarm_list import BOTTOM, PAGE_SIZE, WIDTH, AlarmListPanel
from runtime.ui.alarm_text import list_row
from runtime.ui.hud import HudElement, element

REFRESH_S = 0.5
MARGIN = 0.04


class AlarmRegion:
    def __init__(self, ctx: PanelContext) -> None:
        self.ctx = ctx
        self.plugin = next((p for p in ctx.twin.plugins if isinstance(p, AlarmPlugin)), None)
        self.panel = AlarmListPanel(ctx.root, ctx.aspect, loader=ctx.twin.app.loader)
        self.panel.place(WIDTH / 2)  # centred on x = 0 in the panel's own units
        self.scale = min((2 * ctx.aspect - 2 * MARGIN) / WIDTH,
                         (2 - 2 * MARGIN) / self.panel.height)
        self.panel.root.set_scale(self.scale)
        self.panel.root.set_z(-(BOTTOM + self.panel.height / 2) * self.scale)
        self._due_ns = 0

    def update(self) -> None:
        wall_ns = self.ctx.twin.session.wall_ns
        if wall_ns < self._due_ns and self.panel.visible:
            return
        self._due_ns = wall_ns + int(REFRESH_S * 1e9)
        if self.plugin is None:
            self.panel.show("Alarms: none in this view (no alarm definitions or no data "
                            "source)", [], [], "", None, True)
            return
        board = self.plugin.board
        rows, page, pages = board.page(0, PAGE_SIZE, "")
        total = len(board.listed(""))
        title = f"Alarms: {total} listed" + (f", page 1/{pages}" if pages > 1 else "")
        blink_on = int(wall_ns / 1e9 * 2) % 2 == 0
        self.panel.show(title, rows, [list_row(a) for a in rows],
                        "Acknowledge at an operator station (K)", None, blink_on)

    def hud(self) -> list[HudElement]:
        left, right, bottom, top = self.panel.rect
        k, z = self.scale, self.panel.root.get_z()
        rect = (left * k, right * k, bottom * k + z, top * k + z)
        return [element("alarm-list", "\n".join(self.panel.lines), rect, self.ctx.aspect,
                        self.ctx.size_px)]


def layout_panel(ctx: PanelContext) -> AlarmRegion:
    return AlarmRegion(ctx)
