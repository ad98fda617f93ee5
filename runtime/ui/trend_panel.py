"""The trend panel: up to 8 points over 10 minutes to 7 days, pan and zoom, a cursor readout
with units, alarm limits drawn, Bad periods hatched (a line never crosses Bad data).

Each pen has its own scale (its data and its limits), a number (1-8) at its line's end and in
the legend, so pens are told apart by more than colour. The panel draws what it is given; it
never waits for data (the trend plugin's worker thread fetches). Geometry is rebuilt only when
the data, the window, the cursor or the place changed, and a live window slides in steps of
1/300 of its width: most frames cost a comparison.
"""

from __future__ import annotations

import time

import numpy as np
from panda3d.core import NodePath, TextNode

from runtime.quality import describe
from runtime.ui.sparkline import Lines, card, text
from runtime.ui.trend_geometry import PanelRect, TrendSeries, hatch, polyline, value_range

MAX_PENS = 8
PENS_PER_FRAME = 2
"""Pens whose lines are rebuilt in one frame after a change (the rest follow next frames)."""
EMPTY_SEGMENTS = np.empty((0, 4))
WINDOWS_NS = [m * 60_000_000_000 for m in (10, 30, 60, 120, 360, 720, 1440, 2880, 10080)]
"""Zoom steps: 10 min, 30 min, 1 h, 2 h, 6 h, 12 h, 1 day, 2 days, 7 days."""
PEN_RGBA = [(0.92, 0.93, 0.95, 1), (0.55, 0.75, 0.95, 1), (0.95, 0.80, 0.45, 1),
            (0.60, 0.85, 0.60, 1), (0.85, 0.60, 0.85, 1), (0.55, 0.85, 0.85, 1),
            (0.85, 0.70, 0.60, 1), (0.70, 0.70, 0.70, 1)]
BG_RGBA = (0.05, 0.07, 0.09, 0.97)
LIMIT_RGBA = (0.95, 0.55, 0.25, 0.9)
BAD_RGBA = (0.95, 0.55, 0.25, 0.55)
GRID_RGBA = (0.30, 0.32, 0.35, 1.0)
CURSOR_RGBA = (1.0, 1.0, 1.0, 0.8)
LIMIT_WORDS = {"high_high": "HH", "high": "H", "low": "L", "low_low": "LL"}
WIDTH = 1.25
HEIGHT = 0.95
ROW = 0.036
SCALE = 0.028


def window_words(window_ns: int) -> str:
    m = window_ns // 60_000_000_000
    if m < 60:
        return f"{m} min"
    if m < 1440:
        return f"{m // 60} h"
    return f"{m // 1440} day" + ("s" if m >= 2880 else "")


def _clock(t_ns: int, window_ns: int) -> str:
    fmt = "%H:%M:%S" if window_ns <= 7_200_000_000_000 else "%m-%d %H:%M"
    return time.strftime(fmt, time.localtime(t_ns / 1e9))


class TrendPanel:
    """Draws pens into a rectangle; :meth:`draw` each frame (cheap when nothing changed)."""

    def __init__(self, overlay: NodePath) -> None:
        self.root = overlay.attach_new_node("trend-panel")
        self.root.set_bin("fixed", 45)
        self.root.set_depth_test(False)
        self.root.set_depth_write(False)
        self.root.hide()
        self.window_ns = WINDOWS_NS[0]
        self.offset_ns = 0
        """How far the window's end lies before now (0: following now)."""
        self.cursor_ns: int | None = None
        self.now_word = "live"
        """What the window's end is called when it follows the session ("live", "replay")."""
        self.rect: tuple[float, float, float, float] | None = None
        self.text = ""
        self.rebuilds = 0
        self._bg: NodePath | None = None
        self._grid = Lines(self.root, "trend-grid", GRID_RGBA)
        self._cursor = Lines(self.root, "trend-cursor", CURSOR_RGBA)
        self._pens = [Lines(self.root, f"trend-pen-{i}", PEN_RGBA[i], 1.6)
                      for i in range(MAX_PENS)]
        self._bads = [Lines(self.root, f"trend-bad-{i}", BAD_RGBA) for i in range(MAX_PENS)]
        self._lims = [Lines(self.root, f"trend-limits-{i}", LIMIT_RGBA) for i in range(MAX_PENS)]
        self._static = _Texts(self.root)
        self._pen_texts = [_Texts(self.root) for _ in range(MAX_PENS)]
        self._todo: list[tuple[int, TrendSeries]] = []
        self._ranges: list[tuple[float, float]] = []
        self._key: tuple | None = None
        self.plot: PanelRect | None = None

    @property
    def visible(self) -> bool:
        return not self.root.is_hidden()

    def show(self) -> None:
        self.root.show()

    def hide(self) -> None:
        self.root.hide()
        self.rect = None

    # -- view -----------------------------------------------------------------------------

    def zoom(self, steps: int) -> None:
        """Wider (+1) or narrower (-1) window, 10 minutes to 7 days."""
        i = min(range(len(WINDOWS_NS)), key=lambda k: abs(WINDOWS_NS[k] - self.window_ns))
        self.window_ns = WINDOWS_NS[max(0, min(len(WINDOWS_NS) - 1, i + steps))]

    def pan(self, fraction: float) -> None:
        """Move the window by ``fraction`` of its width (negative: back in time); panning
        forward past now follows now again."""
        self.offset_ns = max(0, self.offset_ns - int(fraction * self.window_ns))

    def window(self, now_ns: int) -> tuple[int, int]:
        """(start, end) of the shown window at session time ``now_ns``."""
        step = max(1, self.window_ns // 300)
        end = (now_ns - self.offset_ns) // step * step + step
        return end - self.window_ns, end

    def time_at(self, x_aspect: float) -> int | None:
        if self.plot is None or not self.plot.left <= x_aspect <= self.plot.right:
            return None
        return self.plot.t_at(x_aspect)

    # -- drawing --------------------------------------------------------------------------

    def draw(self, rect: tuple[float, float, float, float], pens: list[TrendSeries],
             now_ns: int, limits: dict[str, list[tuple[str, float]]], version: int) -> None:
        """Draw ``pens`` (at most 8) in ``rect`` (aspect2d l, r, b, t) for session time
        ``now_ns``. When something shown changed, the frame (legend, grid, cursor) is redrawn
        at once and the pens' lines ``PENS_PER_FRAME`` at a time over the next frames, so no
        frame pays for all eight; frames where nothing changed cost a comparison."""
        self.rect = rect
        self.root.show()
        t0, t1 = self.window(now_ns)
        pens = pens[:MAX_PENS]
        key = (rect, version, t0, t1, self.cursor_ns, len(pens))
        if key != self._key:
            self._key = key
            self.rebuilds += 1
            self._frame(rect, pens, t0, t1, limits)
            self._todo = [(i, s) for i, s in enumerate(pens)]
            for i in range(len(pens), MAX_PENS):
                self._pens[i].set(EMPTY_SEGMENTS)
                self._bads[i].set(EMPTY_SEGMENTS)
                self._lims[i].set(EMPTY_SEGMENTS)
                self._pen_texts[i].begin()
                self._pen_texts[i].end()
        for _ in range(PENS_PER_FRAME):
            if not self._todo:
                break
            i, s = self._todo.pop(0)
            self._pen(i, s, min(now_ns, t1), limits.get(s.point, []))

    def _frame(self, rect: tuple[float, float, float, float], pens: list[TrendSeries],
               t0: int, t1: int, limits: dict[str, list[tuple[str, float]]]) -> None:
        left, right, bottom, top = rect
        if self._bg is None or self._bg.get_python_tag("rect") != rect:
            if self._bg is not None:
                self._bg.remove_node()
            self._bg = card(self.root, "trend-bg", rect, BG_RGBA)
            self._bg.set_python_tag("rect", rect)
            self._bg.set_bin("fixed", 44)
        say = self._static
        say.begin()
        legend_top = top - 0.045
        plot = (left + 0.03, right - 0.09, bottom + 0.06, legend_top - ROW * max(1, len(pens))
                - 0.02)
        self.plot = PanelRect(*plot, t0, t1, 0.0, 1.0)
        live = self.now_word if self.offset_ns == 0 else \
            f"{window_words(self.offset_ns)} earlier"
        say(f"TREND  {window_words(self.window_ns)}  {live}   [T] close  [-] [=] zoom  "
            "[,] [.] pan", left + 0.02, top - 0.035, rgba=(0.85, 0.87, 0.9, 1))
        grid = [[plot[0], plot[2], plot[1], plot[2]], [plot[0], plot[3], plot[1], plot[3]],
                [plot[0], plot[2], plot[0], plot[3]], [plot[1], plot[2], plot[1], plot[3]]]
        for k in range(1, 4):
            x = plot[0] + k * (plot[1] - plot[0]) / 4
            grid.append([x, plot[2], x, plot[3]])
        self._grid.set(np.array(grid))
        say(_clock(t0, self.window_ns), plot[0], bottom + 0.025)
        say(_clock(t1, self.window_ns), plot[1], bottom + 0.025, align=TextNode.A_right)
        at = self.cursor_ns if self.cursor_ns is not None else t1
        words = []
        self._ranges = []
        for i, s in enumerate(pens):
            lims = limits.get(s.point, [])
            v0, v1 = value_range([s], t0, t1, [v for _t, v in lims])
            self._ranges.append((v0, v1))
            read = s.value_at(at)
            if read is None:
                reading = "no data"
            else:
                value, q, rs = read
                reading = f"{value:.4g} {s.unit}  {describe(q, rs)}" if q < 2 else \
                    describe(q, rs)
            words.append(f"{s.point} {reading}")
            say(f"{i + 1} {s.point:<22} {reading}   ({v0:.3g} .. {v1:.3g} {s.unit})",
                left + 0.02, legend_top - ROW * (i + 1) + 0.01, rgba=PEN_RGBA[i])
        if self.cursor_ns is not None and t0 <= self.cursor_ns <= t1:
            x = float(self.plot.x(np.array([self.cursor_ns]))[0])
            self._cursor.set(np.array([[x, plot[2], x, plot[3]]]))
            say(_clock(self.cursor_ns, self.window_ns), x, plot[3] + 0.005,
                align=TextNode.A_center, rgba=CURSOR_RGBA)
        else:
            self._cursor.set(EMPTY_SEGMENTS)
        if not pens:
            say("select an asset and press P to add its points", left + 0.05,
                (plot[2] + plot[3]) / 2, rgba=(0.75, 0.77, 0.8, 1))
        say.end()
        where = "at cursor " + _clock(at, self.window_ns) if self.cursor_ns is not None else \
            "to " + _clock(t1, self.window_ns)
        drawn = [f"{s.point} " + ", ".join(f"{LIMIT_WORDS.get(k, k)} {v:g}" for k, v in
                                           limits.get(s.point, [])) for s in pens
                 if limits.get(s.point)]
        if drawn:
            words.append("limits " + "; ".join(drawn))
        self.text = (f"Trend {window_words(self.window_ns)} {where}: " + "; ".join(words)
                     if words else f"Trend {window_words(self.window_ns)}: no points "
                     "(select an asset and press P to add it)")

    def _pen(self, i: int, s: TrendSeries, end_ns: int, lims: list[tuple[str, float]]) -> None:
        """Pen ``i``'s line, Bad hatching, limits and labels in the current frame."""
        assert self.plot is not None
        p = self.plot
        v0, v1 = self._ranges[i]
        r = PanelRect(p.left, p.right, p.bottom, p.top, p.t0_ns, p.t1_ns, v0, v1)
        self._pens[i].set(polyline(s, r, end_ns=end_ns))
        self._bads[i].set(hatch(s.bad_spans, r))
        say = self._pen_texts[i]
        say.begin()
        segs = []
        for kind, value in lims:
            z = float(r.z(np.array([value]))[0])
            xs = np.arange(r.left, r.right, 0.02)
            segs.append(np.stack([xs, np.full(len(xs), z), np.minimum(xs + 0.01, r.right),
                                  np.full(len(xs), z)], 1))
            say(f"{i + 1}{LIMIT_WORDS.get(kind, kind)} {value:g}", r.right + 0.005, z - 0.008,
                scale=SCALE * 0.8, rgba=LIMIT_RGBA)
        self._lims[i].set(np.concatenate(segs) if segs else EMPTY_SEGMENTS)
        last = np.flatnonzero((s.t_ns <= r.t1_ns) & (s.quality < 2))
        if len(last):
            j = int(last[-1])
            z = float(r.z(np.clip([s.value[j]], v0, v1))[0])
            say(str(i + 1), min(float(r.x([s.t_ns[j]])[0]), r.right) + 0.006, z - 0.01,
                scale=SCALE * 1.1, rgba=PEN_RGBA[i])
        say.end()


class _Texts:
    """Text lines reused from frame to frame (a TextNode is made once, then only changed)."""

    def __init__(self, parent: NodePath) -> None:
        self.parent = parent
        self.nodes: list[NodePath] = []
        self.used = 0

    def begin(self) -> None:
        self.used = 0

    def __call__(self, line: str, x: float, z: float, *, align: int = TextNode.A_left,
                 scale: float = SCALE, rgba: tuple = (1, 1, 1, 1)) -> None:
        if self.used == len(self.nodes):
            self.nodes.append(text(self.parent, "trend-text", x, z))
        node = self.nodes[self.used]
        self.used += 1
        tn = node.node()
        if tn.get_text() != line:
            tn.set_text(line)
        tn.set_align(align)
        tn.set_text_color(*rgba)
        node.set_scale(scale)
        node.set_pos(x, 0, z)
        node.show()

    def end(self) -> None:
        for node in self.nodes[self.used:]:
            node.hide()
