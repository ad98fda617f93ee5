"""The inspector: click an asset (or Tab to it) and a panel lists its points.

Each line is one point: value with unit, quality in words, age of the last good value, and the
residual between the measurement and the viewer's own model. Points bound to the asset's
visuals from elsewhere (the transmitter that measures a tank's level) are listed under the
asset's own, with their full id. The panel lives in ``aspect2d`` so it renders offscreen too,
and a test or ``--select`` can open it without a mouse. Keyboard: Tab / Shift-Tab cycle the
selection through the assets in scene order, Escape clears it (kiosk and touch-less use).

:func:`inspector_lines` builds the text from the arrays alone, so it is tested without Panda3D.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from panda3d.core import NodePath, TextNode, TextProperties, TextPropertiesManager

from runtime.quality import Quality, Reason
from runtime.render.sync import format_age, status_words
from runtime.world import World

TEXT_SCALE = 0.032
CARD_RGBA = (0.05, 0.07, 0.09, 0.92)
TEXT_RGBA = (1.0, 1.0, 1.0, 1.0)
MONO_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
              "/usr/share/fonts/TTF/DejaVuSansMono.ttf",
              "/Library/Fonts/Menlo.ttc", "C:/Windows/Fonts/consola.ttf")
"""A fixed-width face lines the columns up; Panda's default font is used when none is found."""
REFRESH_S = 0.25
"""Panel text is rebuilt at most 4 times a second (text layout costs ~0.3 ms)."""
TONE_RGBA = {
    "ask": (1.0, 0.82, 0.35, 1.0),
    "wait": (0.55, 0.80, 1.0, 1.0),
    "good": (0.55, 0.95, 0.55, 1.0),
    "bad": (1.0, 0.55, 0.45, 1.0),
}
"""Accents for lines that need the eye (the control section's question, pending, outcome). The
words carry the meaning; the colour only helps find the line."""
HEADER = f"{'point':<22}{'value':>14} {'unit':<6} {'quality':<26}{'age':>8} {'residual':>10}"


def _number(v: float) -> str:
    if not math.isfinite(v):
        return "-"
    if abs(v) >= 1000:
        return f"{v:.1f}"
    if abs(v) >= 10:
        return f"{v:.2f}"
    return f"{v:.3f}"


def inspector_lines(world: World, row: int, columns: Sequence[int], now_ns: int, *,
                    estimate: np.ndarray | None = None, residual: np.ndarray | None = None,
                    visual_quality: int = 0, visual_reason: int = 0,
                    visual_age_s: float = 0.0, tripped: bool = False) -> list[str]:
    """The panel's lines for entity ``row``: title, status, header, one line per point."""
    eid = world.entities.ids[row]
    entity = world.scene.entities[row]
    lines = [f"{eid}  {entity.name}  ({entity.type})"]
    status = status_words(visual_quality, visual_reason, visual_age_s, tripped=tripped)
    lines.append(status or "GOOD")
    lines.append(HEADER)
    s = world.state
    served = world.points.poll_period_ns
    for c in columns:
        pid = world.points.ids[c]
        name = pid.split("/", 1)[1] if world.points.entity[c] == row else pid
        unit = world.points.units[c]
        if served[c] < 0:
            value = float(estimate[c]) if estimate is not None else math.nan
            quality, age = "simulated", "-"
        else:
            q, r = int(s.quality[c]), int(s.reason[c])
            held = q != Quality.GOOD and math.isfinite(s.good_value[c])
            value = float(s.good_value[c] if held else s.value[c])
            if r == Reason.INITIAL and s.t_receive_ns[c] < 0:
                quality = "BAD no reading yet"
            else:
                quality = status_words(q, r, 0.0).split(" - ")[0] or "GOOD"
                if held:
                    quality += " (held)"
            t_good = int(s.good_t_receive_ns[c])
            age = format_age((now_ns - t_good) / 1e9) if t_good >= 0 else "never"
            if t_good >= 0 and now_ns - t_good < 10_000_000_000:
                age = f"{(now_ns - t_good) / 1e9:.1f} s"
        res = float(residual[c]) if residual is not None and served[c] >= 0 else math.nan
        res_text = "-" if not math.isfinite(res) else f"{res:+.3g}"
        lines.append(f"{name:<22}{_number(value):>14} {unit:<6} {quality:<26}{age:>8} "
                     f"{res_text:>10}")
    return lines


class InspectorPanel:
    """The text panel in ``aspect2d``; shows whatever :meth:`show` is given."""

    def __init__(self, overlay: NodePath, aspect_ratio: float, *, loader: object = None) -> None:
        self.aspect = aspect_ratio
        self.text = TextNode("inspector")
        font = mono_font(loader)
        if font is not None:
            self.text.set_font(font)
        self.text.set_align(TextNode.A_left)
        self.text.set_text_color(TEXT_RGBA)
        self.text.set_card_color(CARD_RGBA)
        self.text.set_card_as_margin(0.6, 0.6, 0.4, 0.3)
        self.text.set_card_decal(True)
        self.node = overlay.attach_new_node(self.text)
        self.node.set_scale(TEXT_SCALE)
        self.node.set_bin("fixed", 50)
        self.node.hide()
        self.lines: list[str] = []
        self._tones: list[str | None] = []
        self.top = 0.96
        """Where the panel's top edge stands (aspect2d): under the status bar when there is
        one (its plugin moves it)."""
        self._placed_top = None
        _register_tones()

    @property
    def visible(self) -> bool:
        return not self.node.is_hidden()

    def show(self, lines: list[str], tones: Sequence[str | None] | None = None) -> None:
        """Show ``lines`` at the top right of the screen (text rebuilt only if it changed).

        ``tones`` gives an accent per line (a key of :data:`TONE_RGBA`, or None); :attr:`lines`
        keeps the plain text.
        """
        tones = list(tones) if tones is not None else [None] * len(lines)
        if lines != self.lines or tones != self._tones or self._placed_top != self.top:
            self.lines = list(lines)
            self._tones = tones
            self._placed_top = self.top
            self.text.set_text("\n".join(_toned(line, tone) for line, tone
                                         in zip(lines, tones, strict=False)))
            left, right, bottom, top = self.text.get_card_actual()
            x = self.aspect - 0.04 - right * TEXT_SCALE
            self.node.set_pos(x, 0, self.top - top * TEXT_SCALE)
        self.node.show()

    def hide(self) -> None:
        self.node.hide()

    def screen_rect(self) -> tuple[float, float, float, float] | None:
        """(left, right, bottom, top) in aspect2d units while shown, else None (tests)."""
        if not self.visible:
            return None
        left, right, bottom, top = self.text.get_card_actual()
        p = self.node.get_pos()
        return (p.x + left * TEXT_SCALE, p.x + right * TEXT_SCALE,
                p.z + bottom * TEXT_SCALE, p.z + top * TEXT_SCALE)


BUTTON_SCALE = 0.04
BUTTON_GAP = 0.015
BUTTON_MIN_WIDTH = 1.6
BUTTON_BOTTOM, BUTTON_TOP = -0.55, 1.15
"""Every button's frame spans the same height (in text heights), whatever its label."""
"""Narrowest button, in text heights, so ``+`` and ``-`` are easy to hit."""
BUTTON_RGBA = (0.16, 0.22, 0.30, 0.95)


class ButtonRow:
    """Clickable buttons under the panel, for mouse users (window mode only).

    Every button does what one key does, so the keyboard alone always suffices (kiosk,
    touch-less, headless); a click on a button is not a click on the 3D scene (DirectGui
    suppresses the mouse event under it).
    """

    def __init__(self, overlay: NodePath, actions: Sequence[tuple[str, Callable[[], None]]],
                 *, font: object = None) -> None:
        from direct.gui.DirectButton import DirectButton
        from direct.gui.DirectGuiGlobals import FLAT

        self.root = overlay.attach_new_node("inspector-buttons")
        self.root.set_bin("fixed", 51)
        self.labels = [label for label, _ in actions]
        self.buttons = []
        x = 0.0
        self._top = 0.0
        for label, command in actions:
            kwargs = {"text_font": font} if font is not None else {}
            button = DirectButton(parent=self.root, text=label, command=command,
                                  scale=BUTTON_SCALE, relief=FLAT, pad=(0.4, 0.25),
                                  frameColor=BUTTON_RGBA, text_fg=TEXT_RGBA,
                                  text_align=TextNode.A_left, clickSound=None,
                                  rolloverSound=None, **kwargs)
            left, right, _bottom, _top = button.getBounds()
            extra = max(0.0, 0.5 * (BUTTON_MIN_WIDTH - (right - left)))
            left, right = left - extra, right + extra
            button["frameSize"] = (left, right, BUTTON_BOTTOM, BUTTON_TOP)
            self._top = BUTTON_TOP * BUTTON_SCALE
            button.set_x(x - left * BUTTON_SCALE)
            x += (right - left) * BUTTON_SCALE + BUTTON_GAP
            self.buttons.append(button)
        self.width = x - BUTTON_GAP
        self.root.hide()

    def show_under(self, rect: tuple[float, float, float, float]) -> None:
        """Right-align the row just under ``rect`` (the panel's left, right, bottom, top)."""
        _left, right, bottom, _top = rect
        self.root.set_pos(right - self.width, 0, bottom - 0.015 - self._top)
        self.root.show()

    def hide(self) -> None:
        self.root.hide()

    def destroy(self) -> None:
        for button in self.buttons:
            button.destroy()
        self.root.remove_node()


def _register_tones() -> None:
    """Named text properties for the embedded ``\\1name\\1...\\2`` markup (global in Panda)."""
    manager = TextPropertiesManager.get_global_ptr()
    for name, rgba in TONE_RGBA.items():
        if not manager.has_properties(f"tone-{name}"):
            props = TextProperties()
            props.set_text_color(*rgba)
            manager.set_properties(f"tone-{name}", props)


def _toned(line: str, tone: str | None) -> str:
    if tone is None or tone not in TONE_RGBA:
        return line
    return f"\1tone-{tone}\1{line}\2"


def mono_font(loader: object) -> object | None:
    """A fixed-width font from the system (None: Panda's default face)."""
    if loader is None:
        return None
    for path in MONO_FONTS:
        if Path(path).is_file():
            try:
                font = loader.load_font(path)  # type: ignore[attr-defined]
            except Exception:  # a broken font file: fall back to the default face
                continue
            if font is not None and font.is_valid():
                return font
    return None


class Selection:
    """Selected and hovered entity, and the Tab order (assets with a label, scene order)."""

    def __init__(self, order: Sequence[str]) -> None:
        self.order = list(order)
        self.selected: str | None = None
        self.hovered: str | None = None

    def select(self, entity_id: str | None) -> None:
        self.selected = entity_id

    def cycle(self, step: int) -> str | None:
        """Tab (+1) / Shift-Tab (-1): next or previous asset, wrapping; first Tab picks one."""
        if not self.order:
            return None
        if self.selected not in self.order:
            i = 0 if step > 0 else len(self.order) - 1
        else:
            i = (self.order.index(self.selected) + step) % len(self.order)
        self.selected = self.order[i]
        return self.selected

    def clear(self) -> bool:
        """Escape: drop the selection; False when there was none (the caller may then quit)."""
        had = self.selected is not None
        self.selected = None
        return had
