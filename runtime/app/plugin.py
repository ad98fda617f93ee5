"""Plugins only register (Bevy's ``Plugin::build``): tasks at their phase, panels, keys.

A :class:`Twin` is what a plugin registers into: the Panda3D app, the viewer, the session and
the live view. Building a plugin does nothing else; the frame runs its tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from runtime.ui.hud import HudElement, HudProvider

if TYPE_CHECKING:
    from runtime.app.session import Session
    from runtime.live.live_viewer import LiveViewer
    from runtime.render.app import ViewerApp
    from runtime.render.viewer import Viewer


class Plugin(Protocol):
    def build(self, twin: Twin) -> None:
        """Register tasks, panels and keys on ``twin``; run nothing."""
        ...


@dataclass
class Twin:
    """One world on one screen: what plugins register into."""

    app: ViewerApp
    viewer: Viewer
    session: Session
    live: LiveViewer
    interactive: bool
    plugins: list[Plugin] = field(default_factory=list)
    hud: list[HudProvider] = field(default_factory=list)
    clicks: list = field(default_factory=list)
    """Functions (x, y normalised -1..1) -> True when a 2D panel took the click; the
    navigation plugin asks them in order before picking in the world."""
    header_bottoms: list = field(default_factory=list)
    """Functions -> the bottom edge (aspect2d) of a band along the top of the screen (the status
    bar, the alarm banner) or None while it is hidden: the faceplate starts under the lowest."""
    bus_lost: bool = False
    """Set by the status plugin while the whole bus is lost (one banner says so)."""
    viewport: tuple[int, int, int, int] | None = None
    """(x, y, w, h) pixels from the top-left of the window when a layout gives the twin's own
    view part of it (runtime.app.layout); None: the whole window."""
    """Each plugin's 2D elements for ``--hud-json`` (the live view's badges and panel first)."""

    def __post_init__(self) -> None:
        self.hud.append(self.live.hud_elements)

    def add(self, plugin: Plugin) -> Plugin:
        plugin.build(self)
        self.plugins.append(plugin)
        return plugin

    def size(self) -> tuple[int, int]:
        """The size in pixels of the twin's own view (the window, or its layout region)."""
        if self.viewport is not None:
            return self.viewport[2], self.viewport[3]
        return self.app.win.get_x_size(), self.app.win.get_y_size()

    def hud_elements(self) -> list[HudElement]:
        """Every 2D element on screen now, boxes in window pixels (elements of other layout
        regions carry a ``region`` key and are placed already)."""
        out = [e for provider in self.hud for e in provider()]
        if self.viewport is not None:
            x0, y0 = self.viewport[0], self.viewport[1]
            for e in out:
                if "region" not in e:
                    box = e["bbox"]
                    e["bbox"] = [round(box[0] + x0, 1), round(box[1] + y0, 1), box[2], box[3]]
        return out
