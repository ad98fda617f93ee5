"""The kiosk's behaviour on a twin: attract loop when idle, home on any input, a friendly card
while live data is paused, and a staff exit behind a key chord and a PIN.

States: ``home`` (a visitor may be exploring; the idle timer runs) and ``attract`` (the tour
loops by itself). After ``idle_s`` without input the view goes home and the attract loop starts;
any key, click, touch or mouse movement stops it and brings the home view back. The exit chord
opens a PIN prompt (digits, Enter; Esc cancels); a right PIN sets :attr:`exit_requested`,
:data:`MAX_PIN_TRIES` wrong ones lock the prompt for :data:`LOCKOUT_S`. Nothing else leaves:
Escape and Q do nothing here and the window's close button is ignored.

Time comes from ``now_s`` so tests drive idle and attract by hand.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

from direct.showbase.DirectObject import DirectObject
from direct.task.Task import Task
from panda3d.core import NodePath, TextNode

from runtime.app.plugin import Twin
from runtime.app.tour_plugin import TourPlugin
from runtime.phases import Phase
from runtime.ui.hud import HudElement, element

MAX_PIN_TRIES = 3
LOCKOUT_S = 60.0
PROMPT_TIMEOUT_S = 20.0
ATTRACT_SPIN_DEG_S = 4.0
"""With no tour in the scene the attract loop turns slowly round the home view."""
MODIFIER_ORDER = ("shift", "control", "alt", "meta")
"""The order Panda3D's ShowBase prefixes modifiers onto a button event's name."""
MODIFIER_ALIASES = {"ctrl": "control", "control": "control", "shift": "shift", "alt": "alt",
                    "meta": "meta", "cmd": "meta"}
PAUSED_TEXT = ("Live data paused: the numbers you see are the last ones received.\n"
               "They will update again by themselves as soon as the plant is back.")


def chord_event(chord: str) -> str:
    """``ctrl+shift+k`` (or ``control-shift-k``) -> Panda3D's event name ``shift-control-k``.

    ValueError when it has no plain key or no modifier (a lone key would be pressed by chance).
    """
    parts = [p.strip().lower() for p in chord.replace("-", "+").split("+") if p.strip()]
    mods = {MODIFIER_ALIASES[p] for p in parts if p in MODIFIER_ALIASES}
    keys = [p for p in parts if p not in MODIFIER_ALIASES]
    if len(keys) != 1 or not mods:
        raise ValueError(f"exit chord {chord!r}: give modifiers and one key, e.g. ctrl+shift+k")
    return "-".join([m for m in MODIFIER_ORDER if m in mods] + keys)


def pin_digest(pin: str) -> bytes:
    return hashlib.sha256(pin.strip().encode()).digest()


class KioskPlugin:
    def __init__(self, *, idle_s: float, tour: TourPlugin, exit_chord: str,
                 pin_sha256: bytes | None, now_s: Callable[[], float] | None = None) -> None:
        self.idle_s = idle_s
        self.tour = tour
        self.exit_event = chord_event(exit_chord)
        self._pin = pin_sha256
        self._now_s = now_s or time.monotonic
        self.state = "home"
        self.exit_requested = False
        self.prompt: str | None = None
        """The PIN typed so far while the exit prompt is open (None when closed)."""
        self.tries = 0
        self._locked_until_s = -1.0
        self._prompt_since_s = 0.0
        self._last_input_s = self._now_s()
        self._last_tick_s = self._last_input_s
        self._last_mouse: tuple[float, float] | None = None
        self._events = DirectObject()
        self.twin: Twin | None = None
        self._paused: NodePath | None = None
        self._prompt_card: NodePath | None = None
        self.paused_shown = False

    def build(self, twin: Twin) -> None:
        self.twin = twin
        self._paused = self._card("kiosk-paused", PAUSED_TEXT, (0.25, 0.27, 0.30, 0.92), 0.62)
        self._prompt_card = self._card("kiosk-pin", "", (0.12, 0.13, 0.14, 0.95), 0.0)
        twin.hud.append(self.hud)
        twin.app.task_mgr.add(self._task, "kiosk", sort=Phase.INPUT - 1)
        self._events.accept(self.exit_event, self.open_prompt)
        self._events.accept("kiosk-button", self._on_button)
        self._events.accept("kiosk-keystroke", self._on_keystroke)
        self._events.accept("kiosk-close-request", lambda: None)  # only the PIN leaves
        if twin.interactive:
            for thrower in getattr(twin.app, "buttonThrowers", None) or []:
                thrower.node().set_button_down_event("kiosk-button")
                thrower.node().set_keystroke_event("kiosk-keystroke")
            twin.app.win.set_close_request_event("kiosk-close-request")

    def _card(self, name: str, text: str, rgba: tuple[float, ...], z: float) -> NodePath:
        assert self.twin is not None
        tn = TextNode(name)
        tn.set_align(TextNode.A_center)
        tn.set_text_color(1, 1, 1, 1)
        tn.set_card_color(*rgba)
        tn.set_card_as_margin(0.8, 0.8, 0.5, 0.4)
        tn.set_text(text)
        node = self.twin.app.aspect2d.attach_new_node(tn)
        node.set_scale(0.045)
        node.set_pos(0, 0, z)
        node.set_bin("fixed", 70)
        node.hide()
        return node

    # -- actions ------------------------------------------------------------------------------

    def input(self) -> None:
        """Any input from a visitor: the attract loop stops and the home view comes back."""
        self._last_input_s = self._now_s()
        if self.state == "attract":
            self.tour.stop()
            self.go_home()

    def go_home(self) -> None:
        assert self.twin is not None
        for plugin in self.twin.plugins:
            if getattr(plugin, "walking", False):
                plugin.to_orbit()  # type: ignore[attr-defined]
        self.twin.live.select(None)
        self.twin.viewer.camera.reset()
        self.state = "home"

    def start_attract(self) -> None:
        self.go_home()
        self.state = "attract"
        self.tour.start()

    def open_prompt(self) -> None:
        now = self._now_s()
        self._last_input_s = now
        if now < self._locked_until_s:
            self._show_prompt(f"Exit locked for {self._locked_until_s - now:.0f} s")
            return
        self.prompt = ""
        self._prompt_since_s = now
        self._show_prompt("Staff exit: type the PIN, then Enter (Esc cancels)")

    def type_pin(self, char: str) -> bool | None:
        """One character at the PIN prompt; True when Enter accepted the PIN, False when it
        refused it, None otherwise."""
        if self.prompt is None:
            return None
        if char in ("\r", "\n"):
            return self._check_pin()
        if char == "\x1b":
            self.close_prompt()
        elif char == "\b":
            self.prompt = self.prompt[:-1]
        elif char.isdigit() and len(self.prompt) < 12:
            self.prompt += char
        if self.prompt is not None:
            self._show_prompt("Staff exit: type the PIN, then Enter (Esc cancels)\n"
                              + "*" * len(self.prompt))
        return None

    def close_prompt(self) -> None:
        self.prompt = None
        if self._prompt_card is not None:
            self._prompt_card.hide()

    def _check_pin(self) -> bool:
        typed, self.prompt = self.prompt or "", None
        ok = self._pin is not None and hmac.compare_digest(pin_digest(typed), self._pin)
        if ok:
            self.exit_requested = True
            self.close_prompt()
            return True
        self.tries += 1
        if self.tries >= MAX_PIN_TRIES:
            self.tries = 0
            self._locked_until_s = self._now_s() + LOCKOUT_S
        self.prompt = ""
        self._show_prompt("Wrong PIN. Type the PIN, then Enter (Esc cancels)")
        return False

    def _show_prompt(self, text: str) -> None:
        if self._prompt_card is not None:
            self._prompt_card.node().set_text(text)
            self._prompt_card.show()

    # -- events and frame ---------------------------------------------------------------------

    def _on_button(self, button: str) -> None:
        if self.prompt is None:
            self.input()

    def _on_keystroke(self, char: str) -> None:
        if self.prompt is not None:
            self.type_pin(char)

    def tick(self) -> None:
        """Once a frame: mouse movement counts as input; idle starts the attract loop; the
        paused card follows the bus."""
        twin = self.twin
        assert twin is not None
        now = self._now_s()
        dt_s, self._last_tick_s = min(max(now - self._last_tick_s, 0.0), 0.25), now
        watcher = twin.app.mouseWatcherNode
        if twin.interactive and watcher is not None and watcher.has_mouse():
            m = watcher.get_mouse()
            pos = (round(m.x, 3), round(m.y, 3))
            if self._last_mouse is not None and pos != self._last_mouse and self.prompt is None:
                self.input()
            self._last_mouse = pos
        if self.prompt is not None and now - self._prompt_since_s > PROMPT_TIMEOUT_S:
            self.close_prompt()
        if self.state == "home" and now - self._last_input_s >= self.idle_s:
            self.start_attract()
        if self.state == "attract" and self.tour.player is None:
            cam = twin.viewer.camera  # no tour in the scene: turn slowly round the site
            cam.orbit(ATTRACT_SPIN_DEG_S * dt_s, 0.0)
        lost = twin.bus_lost
        if lost != self.paused_shown and self._paused is not None:
            self.paused_shown = lost
            (self._paused.show if lost else self._paused.hide)()
            print(f"kiosk: live data {'paused (bus lost)' if lost else 'back'}", flush=True)

    def _task(self, task: Task) -> int:
        self.tick()
        return Task.cont

    def hud(self) -> list[HudElement]:
        twin = self.twin
        if twin is None:
            return []
        out = []
        for kind, node, shown in (("paused", self._paused, self.paused_shown),
                                  ("prompt", self._prompt_card, self.prompt is not None)):
            if node is None or not shown:
                continue
            left, right, bottom, top = node.node().get_card_actual()
            pos, k = node.get_pos(), node.get_scale().x
            out.append(element(kind, node.node().get_text(),
                               (pos.x + left * k, pos.x + right * k, pos.z + bottom * k,
                                pos.z + top * k), twin.viewer.aspect, twin.size()))
        return out
