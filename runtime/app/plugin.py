"""Plugins only register (Bevy's ``Plugin::build``): tasks at their phase, panels, keys.

A :class:`Twin` is what a plugin registers into: the Panda3D app, the viewer, the session and
the live view. Building a plugin does nothing else; the frame runs its tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

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

    def add(self, plugin: Plugin) -> Plugin:
        plugin.build(self)
        self.plugins.append(plugin)
        return plugin
