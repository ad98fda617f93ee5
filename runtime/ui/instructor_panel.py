"""The instructor station's panel (2D, right side) and the trainee's message box.

The text is built by plain functions (:func:`instructor_lines`, :func:`trainee_lines`) from
what the station link knows, so it is testable without a window; the panels only draw lines on
a dark card (hmi.md: greys, words not codes; the state is a word, never a colour alone).
"""

from __future__ import annotations

from typing import Any

from panda3d.core import CardMaker, NodePath, TextNode

from runtime.render.inspector import mono_font

TEXT_SCALE = 0.028
BG_RGBA = (0.06, 0.07, 0.09, 0.92)
WIDTH = 1.45
MAX_EVENT_LINES = 9

Rect = tuple[float, float, float, float]

KEYS_HELP = ("F2/F3 choose  F4 start  F5 freeze/run  F6/F7 speed  F8 snapshot  F9 back 60 s",
             "F10 choose malfunction  F11 inject  shift-F11 clear all  F12 message "
             "(shift-F12 hint)")


def _clock(t_s: float | None) -> str:
    if t_s is None:
        return "--:--"
    t = max(0, int(t_s))
    return f"{t // 60:d}:{t % 60:02d}"


def instructor_lines(view: dict[str, Any], chosen: int, malfunction: str,
                     typing: str | None) -> list[str]:
    """The panel's lines: run state and score, scenarios, recent events, feedback, keys."""
    st = view.get("status") or {}
    lines = ["INSTRUCTOR STATION"]
    if not view.get("connected"):
        lines.append(view.get("note") or "looking for a training run")
    else:
        state = st.get("state", "?")
        frozen = " (plant FROZEN)" if st.get("frozen") else ""
        lines.append(f"{st.get('name') or 'no scenario'}: {state}{frozen}, "
                     f"{_clock(st.get('time_s'))} of {_clock(st.get('end_after_s'))}, "
                     f"speed x{float(st.get('speed') or 1):g}")
        who = st.get("trainee") or "none yet"
        here = "connected" if st.get("trainee_present") else "NOT connected"
        lines.append(f"trainee: {who} ({here})")
        score = st.get("score") or {}
        if score:
            lines.append(f"score {score.get('score', 0):.1f} / 100 (base {score.get('base', 0):.1f}"
                         f", hints {score.get('hints', 0)}, warnings {score.get('warnings', 0)})"
                         + ("  ABORTED" if score.get("aborted") else ""))
            for c in score.get("components", [])[:6]:
                mark = {"met": "done", "missed": "MISSED", "pending": "open",
                        "unscored": "not scored"}.get(c.get("status", ""), "")
                what = mark or f"{100 * c['score']:.0f} %"
                lines.append(f"  {c['kind'][:5]} {c['id']}: {what} (weight {c['weight']:g})")
        faults = st.get("faults") or []
        lines.append("malfunctions on: " + (", ".join(faults) if faults else "none"))
        snaps = st.get("snapshots") or []
        if snaps:
            lines.append("snapshots: " + ", ".join(f"{s['id']} @{_clock(s.get('t_s'))}"
                                                   for s in snaps[-5:]))
    scenarios = view.get("scenarios") or []
    if scenarios:
        lines.append("scenarios:")
        for i, s in enumerate(scenarios):
            lines.append(f" {'>' if i == chosen else ' '} {s['name']} ({s['id']})")
    lines.append(f"malfunction to inject: {malfunction}")
    events = view.get("events") or []
    if events:
        lines.append("events:")
        for e in events[-MAX_EVENT_LINES:]:
            lines.append(f"  {_clock(e.get('t_s'))} {e['kind']}: {str(e['text'])[:60]}")
    for f in (view.get("feedback") or [])[-2:]:
        lines.append(f"> {f}")
    if typing is not None:
        lines.append(f"message: {typing}_   (Enter sends, Esc cancels)")
    lines.extend(KEYS_HELP)
    return lines


def trainee_lines(view: dict[str, Any], limit: int = 4) -> list[str]:
    """The trainee's box: the run's name and state, the newest messages and hints."""
    if not view.get("connected"):
        return []
    st = view.get("status") or {}
    msgs = view.get("messages") or []
    lines = [f"TRAINING: {st.get('scenario', '')} ({st.get('state', '')})"]
    for m in msgs[-limit:]:
        label = {"hint": "HINT", "message": "MESSAGE", "paused": "PAUSED",
                 "resumed": "RESUMED", "backtrack": "BACKTRACK"}.get(m["kind"], m["kind"].upper())
        lines.append(f"{label}: {m['text']}")
    return lines


class TextPanel:
    """Lines of text on a card anchored at a screen corner; :meth:`show` replaces them."""

    def __init__(self, aspect2d: NodePath, aspect: float, name: str, *, width: float = WIDTH,
                 top: float = 0.86, right: bool = True, max_lines: int = 40,
                 loader: object | None = None) -> None:
        self.aspect = aspect
        self.width = width
        self.root = aspect2d.attach_new_node(name)
        self.root.set_bin("fixed", 48)
        self.left = (aspect - 0.02 - width) if right else (-aspect + 0.02)
        self.top = top
        cm = CardMaker(f"{name}-bg")
        cm.set_frame(0, 1, 0, 1)
        self._bg = self.root.attach_new_node(cm.generate())
        self._bg.set_color(*BG_RGBA)
        self._bg.set_transparency(True)
        tn = TextNode(f"{name}-text")
        tn.set_text_color(0.92, 0.92, 0.92, 1)
        font = mono_font(loader)
        if font is not None:
            tn.set_font(font)
        tn.set_wordwrap(width / TEXT_SCALE - 1)
        self._text = self.root.attach_new_node(tn)
        self._text.set_scale(TEXT_SCALE)
        self.max_lines = max_lines
        self.lines: list[str] = []
        self.rect: Rect = (self.left, self.left + width, top, top)
        self.root.hide()

    def show(self, lines: list[str]) -> None:
        lines = lines[: self.max_lines]
        if lines == self.lines:
            return
        self.lines = lines
        if not lines:
            self.root.hide()
            self.rect = (self.left, self.left + self.width, self.top, self.top)
            return
        node: TextNode = self._text.node()
        node.set_text("\n".join(lines))
        height = node.get_height() * TEXT_SCALE + 0.04
        bottom = self.top - height
        self._bg.set_pos(self.left, 0, bottom)
        self._bg.set_scale(self.width, 1, height)
        self._text.set_pos(self.left + 0.02, 0, self.top - 0.01 - TEXT_SCALE)
        self.rect = (self.left, self.left + self.width, bottom, self.top)
        self.root.show()

    def reserved(self) -> Rect:
        return self.rect if self.lines else (0.0, 0.0, 0.0, 0.0)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)
