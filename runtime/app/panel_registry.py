"""Which 2D panel fills a layout region of a given kind (``alarms``, ``trend``, ...).

A tiny registry so layouts do not depend on panels that are built elsewhere: a provider is a
function ``(PanelContext) -> Panel``. It is found in :data:`PROVIDERS` (kind -> ``module:function``,
imported only when a layout asks for that kind) or registered at run time with
:func:`register_panel` (tests, plugins). A kind with no provider that can be loaded gets a
:class:`PlaceholderPanel`: a card that says what would be there, never a blank region.

To plug a panel in, add one line to :data:`PROVIDERS` and give the module a function taking a
:class:`PanelContext` and returning an object with ``update()`` and ``hud()``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from panda3d.core import CardMaker, NodePath, TextNode

from runtime.ui.hud import HudElement, element

if TYPE_CHECKING:
    from runtime.app.plugin import Twin

Rect = tuple[float, float, float, float]

PROVIDERS: dict[str, str] = {
    "alarms": "runtime.app.alarm_region:layout_panel",
    "trend": "runtime.app.trend_region:layout_panel",
}
"""Kind -> ``module:function`` of its provider; modules are imported on first use."""
TITLES = {"alarms": "Alarm list", "trend": "Trend"}
_REGISTERED: dict[str, Callable[[PanelContext], Panel]] = {}


class Panel(Protocol):
    def update(self) -> None:
        """Redraw from the world (called once a frame in the HUD phase)."""
        ...

    def hud(self) -> list[HudElement]:
        """This panel's 2D elements for ``--hud-json``."""
        ...


@dataclass
class PanelContext:
    """What a panel gets: the twin, its own 2D root (aspect-corrected: x spans +-aspect, y
    +-1 over the region), the region's aspect ratio and pixel size, a text scale for far
    viewing, and the region's own options from the layout file."""

    twin: Twin
    root: NodePath
    aspect: float
    size_px: tuple[int, int]
    ui_scale: float
    options: dict[str, Any] = field(default_factory=dict)
    kind: str = ""


def register_panel(kind: str, factory: Callable[[PanelContext], Panel]) -> None:
    _REGISTERED[kind] = factory


def unregister_panel(kind: str) -> None:
    _REGISTERED.pop(kind, None)


def find_provider(kind: str) -> Callable[[PanelContext], Panel] | None:
    """The provider of ``kind``: registered first, else :data:`PROVIDERS` (None when its
    module is not there yet)."""
    if kind in _REGISTERED:
        return _REGISTERED[kind]
    target = PROVIDERS.get(kind)
    if target is None:
        return None
    module_name, _, func = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None  # not built yet: the placeholder says so
        raise
    return getattr(module, func, None)


def make_panel(ctx: PanelContext) -> Panel:
    provider = find_provider(ctx.kind)
    return provider(ctx) if provider is not None else PlaceholderPanel(ctx)


class PlaceholderPanel:
    """A card in place of a panel that no provider fills yet."""

    def __init__(self, ctx: PanelContext) -> None:
        self.ctx = ctx
        a, k = ctx.aspect, ctx.ui_scale
        self.rect: Rect = (-a + 0.04, a - 0.04, -0.92, 0.92)
        cm = CardMaker("placeholder-bg")
        cm.set_frame(*self.rect)
        bg = ctx.root.attach_new_node(cm.generate())
        bg.set_color(0.16, 0.17, 0.18, 1.0)
        title = TITLES.get(ctx.kind, ctx.kind.capitalize())
        self.text = (f"{title}\n\nnot available in this build: no panel is registered for "
                     f"'{ctx.kind}' regions")
        tn = TextNode(f"placeholder-{ctx.kind}")
        tn.set_align(TextNode.A_center)
        tn.set_text_color(0.85, 0.87, 0.90, 1.0)
        scale = 0.07 * k
        tn.set_wordwrap(2 * (a - 0.1) / scale)
        tn.set_text(self.text)
        node = ctx.root.attach_new_node(tn)
        node.set_scale(scale)
        node.set_pos(0, 0, 0.25)

    def update(self) -> None:
        return None

    def hud(self) -> list[HudElement]:
        return [element("placeholder", self.text, self.rect, self.ctx.aspect, self.ctx.size_px)]
