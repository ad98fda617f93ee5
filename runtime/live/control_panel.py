"""Operator control in the inspector: pick a writable point, two-step confirm, pending, outcome.

The viewer never decides whether a write is allowed: the adapter does (R13). This module only
*offers* the points the viewer's role may write (devices.yaml + :func:`may_write`), makes the
operator confirm the change with the current and requested values and units in front of them,
sends through a :class:`~runtime.live.commander.Commander`, and shows what became of it:

``pending...`` until the ack, then ``confirmed, read back 60.0 %``, ``refused: <code> - <text>``
(or ``failed: ...``), or ``no answer within 5 s`` when the ack timeout passes.

Setpoints take one command after the on-screen confirm (``write``). Equipment points
(``sbo: true``, pump ``run_cmd``) are select-before-operate: the confirm sends ``select`` (the
adapter already checks quality, range and interlocks), the panel then shows
``selected, operate within 10 s``, and Enter sends ``operate`` of the same value while Escape
sends ``cancel`` to give the selection back. Ids follow ``twinstage write --confirm``:
``<id>.select``, ``<id>.operate``, ``<id>.cancel``.

Keyboard-first (kiosk, touch-less, testable headless), as methods the viewer binds to keys:

- LIST: Up/Down move the highlight, W or Enter opens a write on the highlighted point;
- EDIT: ``+``/``-`` (or Up/Down) step the value, digits and ``.`` type one, Backspace erases,
  Enter goes to CONFIRM, Escape cancels;
- CONFIRM: Enter sends (or selects), Escape goes back without sending anything;
- SELECTED (sbo): Enter operates, Escape cancels the selection.

UI-free (no Panda3D): :meth:`ControlPanel.lines` is the text, tested without a window.
:class:`ScriptedWrites` drives the same keys for ``twinstage view --write POINT=VALUE``.
"""

from __future__ import annotations

import math
import textwrap
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from runtime.control.pending import PendingState, TrackedCommand, new_command_id
from runtime.control.policy import SELECT_TIMEOUT_NS
from runtime.control.roles import Role, may_write
from runtime.quality import Quality
from runtime.scene.model import DevicePoint, Devices
from runtime.world import World

LINE_WIDTH = 88
"""Characters per panel line (the inspector's point table is 89 wide)."""
INTEGER_TYPES = frozenset({"int16", "uint16", "int32", "uint32", "bool"})
NO_SUFFIX_UNITS = frozenset({"", "bool", "enum"})
"""Units not printed after a value: a bool or an enum reads better as its label or number."""
KEYS_HINT = "Up/Down pick, W or Enter write"
TYPED_KEYS = "0123456789.+=-"


class Tone(StrEnum):
    """An accent for a control line. The words always say the state; colour only helps find
    the line (R3: never colour alone)."""

    ASK = "ask"
    """The operator is being asked something (edit, confirm, operate)."""
    WAIT = "wait"
    """Sent, no answer yet."""
    GOOD = "good"
    """Confirmed, selected, cancelled as asked."""
    BAD = "bad"
    """Refused, failed, no answer."""


class Mode(StrEnum):
    """Where the operator is in a write."""

    LIST = "list"
    """Browsing the writable points (the last command's fate shown below)."""
    EDIT = "edit"
    """Choosing the requested value."""
    CONFIRM = "confirm"
    """Step 1 of 2: current and requested values shown; Enter sends, Escape goes back."""
    SELECTING = "selecting"
    """sbo: ``select`` sent, waiting for the adapter."""
    SELECTED = "selected"
    """sbo: the adapter holds the point for us; Enter operates within the expiry."""


class CommandSink(Protocol):
    """What the panel needs from a commander (a fake in unit tests)."""

    role: str

    def send(self, point: str, value: float, now_ns: int, *, action: str = "write",
             unit: str = "", command_id: str | None = None) -> TrackedCommand: ...

    def poll(self, now_ns: int) -> list[TrackedCommand]: ...

    def get(self, command_id: str) -> TrackedCommand | None: ...

    def outcome(self, command_id: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class WritablePoint:
    """A point the role may write, with what the panel needs to edit and show it."""

    point: str
    entity: str
    unit: str
    type: str
    minimum: float | None
    maximum: float | None
    sbo: bool
    step: float
    """What one ``+``/``-`` press changes, in the point's unit."""
    decimals: int
    column: int
    """The point's column in the world (-1 when the scene does not read it back)."""

    @property
    def name(self) -> str:
        return self.point.split("/", 1)[1]

    def labels(self) -> Mapping[float, str] | None:
        """Words for a two-state point's values, so ``1`` is never the only cue."""
        if self.name.endswith("run_cmd"):
            return {0.0: "stop", 1.0: "run"}
        if self.unit == "bool" or self.type == "bool":
            return {0.0: "off", 1.0: "on"}
        return None

    def format(self, value: float | None) -> str:
        """``60.0 %``, ``1200 rpm``, ``run (1)``, or ``?`` for no usable value."""
        if value is None or not math.isfinite(value):
            return "?"
        labels = self.labels()
        if labels is not None and value in labels:
            return f"{labels[value]} ({value:g})"
        text = f"{value:.{self.decimals}f}"
        return text if self.unit in NO_SUFFIX_UNITS else f"{text} {self.unit}"

    def limits_text(self) -> str:
        lo = "" if self.minimum is None else f"{self.minimum:g}"
        hi = "" if self.maximum is None else f"{self.maximum:g}"
        return f"[{lo} .. {hi}]" if lo or hi else ""

    def out_of_range(self, value: float) -> str:
        """Why the adapter will refuse ``value`` on range, or ``""``: a warning, never a block."""
        if self.maximum is not None and value > self.maximum:
            return f"above the maximum {self.format(self.maximum)}"
        if self.minimum is not None and value < self.minimum:
            return f"below the minimum {self.format(self.minimum)}"
        return ""


def _step_and_decimals(p: DevicePoint) -> tuple[float, int]:
    integral = p.type in INTEGER_TYPES and p.scale == 1 and p.offset == 0
    if p.unit in ("bool", "enum") or p.type == "bool":
        return 1.0, 0
    step = 1.0
    if p.min is not None and p.max is not None and p.max > p.min:
        step = 10.0 ** math.floor(math.log10((p.max - p.min) / 20))
    if integral:
        return max(1.0, float(round(step))), 0
    return step, max(0, min(4, 1 - math.floor(math.log10(step))))


def writable_points(devices: Devices | None, world: World,
                    role: Role | None) -> dict[str, tuple[WritablePoint, ...]]:
    """Per entity id, the points ``role`` may write, in devices.yaml order.

    A point is listed under the entity its id names (``FV-101/position_sp_pct`` under FV-101).
    Empty for the viewer role and for a scene without devices.yaml: no control UI at all.
    """
    out: dict[str, list[WritablePoint]] = {}
    if devices is None or role is None:
        return {}
    for device in devices.devices:
        for p in device.points:
            entity = p.point.split("/", 1)[0]
            if not may_write(role, p) or entity not in world.entity_row:
                continue
            step, decimals = _step_and_decimals(p)
            out.setdefault(entity, []).append(WritablePoint(
                point=p.point, entity=entity, unit=p.unit, type=p.type, minimum=p.min,
                maximum=p.max, sbo=bool(p.sbo), step=step, decimals=decimals,
                column=world.point_column.get(p.point, -1)))
    return {k: tuple(v) for k, v in out.items()}


@dataclass
class _Flow:
    """One write in progress, from EDIT to the ack of its last command."""

    point: WritablePoint
    value: float
    base_id: str
    typed: str | None = None
    """What the operator has typed so far (None: the value came from stepping)."""
    current: float | None = None
    """The reading shown in the confirm line (kept so the line does not change under Enter)."""
    select_id: str | None = None
    select_sent_ns: int = 0
    cancel_when_selected: bool = False


@dataclass
class ControlPanel:
    """The control section of the inspector for one viewer (role fixed by configuration)."""

    world: World
    offered: dict[str, tuple[WritablePoint, ...]]
    commander: CommandSink
    ack_timeout_s: float = 5.0
    clock: Callable[[], int] = time.monotonic_ns
    """Monotonic ns for send times (tests pass their own)."""
    entity: str | None = None
    mode: Mode = Mode.LIST
    highlight: int = 0
    version: int = 0
    """Bumped on every change of what the panel shows, so the viewer refreshes it at once."""
    last_id: str | None = None
    """The command whose fate the status line shows."""
    note: str = ""
    """A line of the panel's own (cancelled, selection expired) shown in place of a status."""
    _flow: _Flow | None = None
    _countdown_s: int = -1
    _now_ns: int = 0
    history: list[str] = field(default_factory=list)
    """Every status line shown, in order (stats and tests: brief states are not lost)."""
    consequence: Callable[[str, float], tuple[str, bool] | None] | None = None
    """The predicted consequence of writing a value, checked by simulation (the what-if
    plugin): (text, flagged) shown above the edit/confirm line, flagged as a warning when the
    forecast trips equipment or raises a High/Critical alarm; None while there is none."""
    explain: Callable[[TrackedCommand], str] | None = None
    """Plain words for a refusal or failure whose code alone would puzzle (the faceplate's
    ``outcome_words``); the code stays in parentheses."""

    @property
    def role(self) -> str:
        return self.commander.role

    @property
    def points(self) -> tuple[WritablePoint, ...]:
        return self.offered.get(self.entity or "", ())

    @property
    def flow_point(self) -> str | None:
        return None if self._flow is None else self._flow.point.point

    def _changed(self) -> None:
        self.version += 1

    # -- readings ---------------------------------------------------------------------------

    def current(self, wp: WritablePoint) -> float | None:
        """The point's latest Good reading, or None (shown as ``?``)."""
        c = wp.column
        if c < 0:
            return None
        s = self.world.state
        v = float(s.value[c])
        return v if int(s.quality[c]) == Quality.GOOD and math.isfinite(v) else None

    def has_reading(self, point: str) -> bool:
        c = self.world.point_column.get(point, -1)
        return c >= 0 and int(self.world.state.t_receive_ns[c]) >= 0

    def find(self, point: str) -> WritablePoint | None:
        for points in self.offered.values():
            for wp in points:
                if wp.point == point:
                    return wp
        return None

    # -- selection --------------------------------------------------------------------------

    def set_entity(self, entity: str | None) -> None:
        """Follow the inspector's selection; an unsent edit is dropped when it moves away.

        A select already sent stays with its point (its line names the point in full), so the
        operator can still operate or cancel it, or let it expire.
        """
        if entity == self.entity:
            return
        self.entity = entity
        self.highlight = 0
        if self.mode in (Mode.EDIT, Mode.CONFIRM):
            self._flow = None
            self.mode = Mode.LIST
            self.note = "write cancelled (selection changed); nothing sent"
        elif self.mode is Mode.LIST:
            self.last_id = None  # the last outcome belonged to the asset left behind
            self.note = ""
        self._changed()

    # -- keys -------------------------------------------------------------------------------

    def key_up(self) -> None:
        if self.mode is Mode.EDIT:
            self.nudge(+1)
        elif self.mode is Mode.LIST and self.points:
            self.highlight = (self.highlight - 1) % len(self.points)
            self._changed()

    def key_down(self) -> None:
        if self.mode is Mode.EDIT:
            self.nudge(-1)
        elif self.mode is Mode.LIST and self.points:
            self.highlight = (self.highlight + 1) % len(self.points)
            self._changed()

    def key_write(self) -> None:
        """W: open a write on the highlighted point."""
        if self.mode is Mode.LIST and self.points:
            self.open(self.points[self.highlight % len(self.points)].point)

    def key_enter(self) -> None:
        """Enter: open (LIST), to the confirm (EDIT), send (CONFIRM), operate (SELECTED)."""
        if self.mode is Mode.LIST:
            self.key_write()
        elif self.mode is Mode.EDIT:
            self.to_confirm()
        elif self.mode is Mode.CONFIRM:
            self.send()
        elif self.mode is Mode.SELECTED:
            self.operate()

    def key_escape(self) -> bool:
        """Escape: back out of the write in progress; False when there was none (the viewer
        then clears its selection as before)."""
        flow = self._flow
        if self.mode in (Mode.EDIT, Mode.CONFIRM):
            self._flow = None
            self.mode = Mode.LIST
            self.note = "write cancelled; nothing sent"
        elif self.mode is Mode.SELECTED and flow is not None:
            self._cancel_selection(flow)
        elif self.mode is Mode.SELECTING and flow is not None:
            flow.cancel_when_selected = True
            self.note = "cancel requested: the selection is given back when it is confirmed"
        else:
            return False
        self._changed()
        return True

    def key_char(self, ch: str) -> None:
        """A typed character in EDIT: digits and ``.`` type, ``+``/``=``/``-`` step."""
        if self.mode is not Mode.EDIT or self._flow is None:
            return
        if ch in "+=":
            self.nudge(+1)
        elif ch == "-":
            self.nudge(-1)
        elif ch.isdigit() or ch == ".":
            flow = self._flow
            typed = (flow.typed or "") + ch
            try:
                value = float(typed)
            except ValueError:
                return
            if len(typed) <= 12 and math.isfinite(value):
                flow.typed, flow.value = typed, value
                self._changed()

    def key_typed(self, ch: str) -> None:
        """The keystroke event (layout-aware typed text): only digits, ``.``, ``+``, ``=`` and
        ``-`` mean anything here; letters stay with their own key bindings."""
        if len(ch) == 1 and ch in TYPED_KEYS:
            self.key_char(ch)

    def key_backspace(self) -> None:
        flow = self._flow
        if self.mode is not Mode.EDIT or flow is None or not flow.typed:
            return
        typed = flow.typed[:-1]
        flow.typed = typed or None
        if typed:
            try:
                flow.value = float(typed)
            except ValueError:  # only "." left
                pass
        self._changed()

    # -- the flow ---------------------------------------------------------------------------

    def open(self, point: str) -> None:
        """Start a write on ``point`` (one of the selected entity's offered points).

        The value starts at the current reading; for a two-state equipment point at the other
        state (the likely intent: stop a running pump), so the operator only confirms.
        """
        wp = next((p for p in self.points if p.point == point), None)
        if wp is None:
            raise KeyError(f"{point} is not offered to role {self.role} on {self.entity}")
        if self.mode in (Mode.SELECTING, Mode.SELECTED):
            raise RuntimeError("finish or cancel the selected equipment command first")
        current = self.current(wp)
        if current is None:
            value = wp.minimum if wp.minimum is not None else 0.0
        elif wp.labels() is not None and current in (0.0, 1.0):
            value = 1.0 - current
        else:
            value = current
        self.highlight = self.points.index(wp)
        self._flow = _Flow(wp, float(value), new_command_id())
        self.mode = Mode.EDIT
        self.note = ""
        self._changed()

    def set_value(self, value: float) -> None:
        """Set the requested value (EDIT), as typing it would."""
        if self.mode is not Mode.EDIT or self._flow is None:
            raise RuntimeError("no write is being edited")
        if not math.isfinite(value):
            raise ValueError(f"value {value!r} is not finite")
        self._flow.value, self._flow.typed = float(value), None
        self._changed()

    def nudge(self, direction: int) -> None:
        """One step up or down, kept within the point's limits (typing may go outside them:
        the adapter then refuses, visibly)."""
        flow = self._flow
        if flow is None:
            return
        wp = flow.point
        value = round(flow.value / wp.step) * wp.step + direction * wp.step
        if wp.maximum is not None:
            value = min(value, wp.maximum)
        if wp.minimum is not None:
            value = max(value, wp.minimum)
        flow.value, flow.typed = round(value, wp.decimals), None
        self._changed()

    def to_confirm(self) -> None:
        """Step 1 of 2: freeze the current reading next to the requested value."""
        flow = self._flow
        if self.mode is not Mode.EDIT or flow is None:
            return
        flow.current = self.current(flow.point)
        self.mode = Mode.CONFIRM
        self._changed()

    def send(self) -> None:
        """Step 2 of 2: ``write`` a setpoint, or ``select`` an equipment point."""
        flow = self._flow
        if self.mode is not Mode.CONFIRM or flow is None:
            return
        wp = flow.point
        now = self.clock()
        if wp.sbo:
            flow.select_id = f"{flow.base_id}.select"
            item = self.commander.send(wp.point, flow.value, now, action="select",
                                       unit=wp.unit, command_id=flow.select_id)
            flow.select_sent_ns = item.sent_ns
            self.mode = Mode.SELECTING
        else:
            self.commander.send(wp.point, flow.value, now, action="write", unit=wp.unit,
                                command_id=flow.base_id)
            self._flow = None
            self.mode = Mode.LIST
        self.last_id = flow.select_id or flow.base_id
        self.note = ""
        self._changed()
        self._record()

    def operate(self) -> None:
        """sbo step 2: ``operate`` the value the ``select`` named."""
        flow = self._flow
        if self.mode is not Mode.SELECTED or flow is None:
            return
        cid = f"{flow.base_id}.operate"
        self.commander.send(flow.point.point, flow.value, self.clock(), action="operate",
                            unit=flow.point.unit, command_id=cid)
        self.last_id = cid
        self._flow = None
        self.mode = Mode.LIST
        self.note = ""
        self._changed()
        self._record()

    def _cancel_selection(self, flow: _Flow) -> None:
        cid = f"{flow.base_id}.cancel"
        self.commander.send(flow.point.point, flow.value, self.clock(), action="cancel",
                            unit=flow.point.unit, command_id=cid)
        self.last_id = cid
        self._flow = None
        self.mode = Mode.LIST
        self.note = ""

    def update(self, now_ns: int) -> None:
        """Once a frame: collect acks (never blocks), move SELECTING/SELECTED along, expire."""
        self._now_ns = now_ns
        settled = self.commander.poll(now_ns)
        if settled:
            self._changed()
        flow = self._flow
        if flow is not None and self.mode is Mode.SELECTING and flow.select_id is not None:
            item = self.commander.get(flow.select_id)
            if item is not None and item.done:
                if item.state is PendingState.CONFIRMED:
                    self.mode = Mode.SELECTED
                    if flow.cancel_when_selected:
                        self._cancel_selection(flow)
                else:
                    self._flow = None
                    self.mode = Mode.LIST
                self._changed()
        flow = self._flow
        if flow is not None and self.mode is Mode.SELECTED:
            left_ns = flow.select_sent_ns + SELECT_TIMEOUT_NS - now_ns
            if left_ns <= 0:
                self._flow = None
                self.mode = Mode.LIST
                self.note = (f"{flow.point.point}: selection expired after "
                             f"{SELECT_TIMEOUT_NS / 1e9:g} s; nothing operated, select again")
                self._changed()
            elif math.ceil(left_ns / 1e9) != self._countdown_s:
                self._countdown_s = math.ceil(left_ns / 1e9)
                self._changed()
        self._record()

    def _record(self) -> None:
        status = self.status_line()
        if status and (not self.history or self.history[-1] != status):
            self.history.append(status)

    # -- text -------------------------------------------------------------------------------

    def status_line(self) -> str:
        """The fate of the last command (or the panel's own note), one line, no wrapping."""
        return self._status()[0]

    def _status(self) -> tuple[str, Tone | None]:
        if self.note:
            return self.note, None
        if self.last_id is None:
            return "", None
        item = self.commander.get(self.last_id)
        if item is None:
            return "", None
        wp = self.find(item.point)
        fmt = wp.format if wp is not None else (lambda v: "?" if v is None else f"{v:g}")
        head = f"{item.point} {fmt(item.requested)}"
        if item.action in ("select", "operate", "cancel"):
            head = f"{item.action} {head}"
        if item.state is PendingState.PENDING:
            return f"{head}: pending...", Tone.WAIT
        if item.state is PendingState.EXPIRED:
            return (f"{head}: no answer within {self.ack_timeout_s:g} s; check the reading "
                    "before trying again"), Tone.BAD
        if item.state is PendingState.CONFIRMED:
            if item.action == "select":
                return f"{head}: selected", Tone.GOOD
            if item.action == "cancel":
                return f"{head}: cancelled, selection given back", Tone.GOOD
            read = "" if item.read_back is None else f", read back {fmt(item.read_back)}"
            return f"{head}: confirmed{read}", Tone.GOOD
        outcome = self.commander.outcome(item.id) or "refused"
        if outcome not in ("refused", "failed"):
            outcome = "refused"
        why = " - ".join(part for part in (item.reason, item.text) if part) or "no reason given"
        plain = self.explain(item) if self.explain is not None else ""
        if plain:
            return f"{head}: {plain} ({outcome}: {item.reason or 'no code'})", Tone.BAD
        return f"{head}: {outcome}: {why}", Tone.BAD

    def flow_line(self, now_ns: int | None = None) -> str:
        """What the operator is being asked now (edit, confirm, selected), or ``""``."""
        flow = self._flow
        if flow is None:
            return ""
        wp = flow.point
        requested = wp.format(flow.value) if flow.typed is None else (
            flow.typed if wp.unit in NO_SUFFIX_UNITS else f"{flow.typed} {wp.unit}")
        if self.mode is Mode.EDIT:
            return (f"Set {wp.point} to [{requested}]  (+/- step {wp.step:g}, type digits; "
                    "Enter to confirm, Esc to cancel)")
        warn = wp.out_of_range(flow.value)
        warn = f" ({warn}: the adapter will refuse)" if warn else ""
        if self.mode is Mode.CONFIRM:
            verb = "select" if wp.sbo else "send"
            return (f"Confirm: {wp.point} {wp.format(flow.current)} -> {requested}?{warn} "
                    f"Enter to {verb}, Esc to cancel")
        if self.mode is Mode.SELECTING:
            return f"select {wp.point} {requested}: pending..."
        if self.mode is Mode.SELECTED:
            now = self._now_ns if now_ns is None else now_ns
            left = max(0, math.ceil((flow.select_sent_ns + SELECT_TIMEOUT_NS - now) / 1e9))
            return (f"{wp.point} {requested}: selected, operate within "
                    f"{SELECT_TIMEOUT_NS / 1e9:g} s ({left} s left): Enter to operate, "
                    "Esc to cancel")
        return ""

    def predicted(self) -> tuple[str, bool] | None:
        """The simulation check of the write being edited or confirmed, or None."""
        flow = self._flow
        if self.consequence is None or flow is None or self.mode not in (Mode.EDIT,
                                                                          Mode.CONFIRM):
            return None
        return self.consequence(flow.point.point, flow.value)

    def lines(self) -> list[str]:
        """The panel's control section for the selected entity; empty when it offers nothing
        to this role (and always for the viewer role: no control UI at all)."""
        return [text for text, _tone in self.styled_lines()]

    def styled_lines(self) -> list[tuple[str, Tone | None]]:
        """:meth:`lines` with an accent per line (the panel colours them)."""
        flow_line = self.flow_line()
        flow_tone = Tone.WAIT if self.mode is Mode.SELECTING else Tone.ASK
        status, status_tone = self._status() if self.note or self.mode is Mode.LIST \
            else ("", None)
        points = self.points
        if not points and not flow_line:
            return []
        head = f"control ({self.role}): {KEYS_HINT}" if points else f"control ({self.role})"
        out: list[tuple[str, Tone | None]] = [(head, None)]
        for i, wp in enumerate(points):
            mark = ">" if i == self.highlight and self.mode is Mode.LIST else " "
            kind = "select+operate" if wp.sbo else "setpoint"
            out.append((f"{mark} {wp.name:<20}{wp.format(self.current(wp)):>14}  "
                        f"{wp.limits_text():<16}{kind}", None))
        rows = [(flow_line, flow_tone)]
        predicted = self.predicted()  # the what-if simulation check, above the question
        if predicted is not None:
            rows.insert(0, (f"Predicted: {predicted[0]}", Tone.BAD if predicted[1] else Tone.ASK))
        for text, tone in (*rows, (status, status_tone)):
            if text:
                out.extend((part, tone) for part in textwrap.wrap(
                    text, LINE_WIDTH, subsequent_indent="    ", break_on_hyphens=False))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "mode": str(self.mode),
            "offered": {eid: [wp.point for wp in pts] for eid, pts in self.offered.items()},
            "flow": self.flow_line(),
            "status": self.status_line(),
            "history": list(self.history),
        }


def bind_keys(accept: Callable[[str, Callable[..., None]], object],
              control: ControlPanel) -> list[str]:
    """Bind the control keys through ``accept(event, handler)`` (``ShowBase.accept``); returns
    the event names. Escape is not among them: the viewer routes it through
    :meth:`ControlPanel.key_escape` before clearing its selection."""
    bindings: dict[str, Callable[..., None]] = {
        "arrow_up": control.key_up,
        "arrow_up-repeat": control.key_up,
        "arrow_down": control.key_down,
        "arrow_down-repeat": control.key_down,
        "w": control.key_write,
        "enter": control.key_enter,
        "backspace": control.key_backspace,
        "keystroke": control.key_typed,
    }
    for event, handler in bindings.items():
        accept(event, handler)
    return list(bindings)


class ScriptedWrites:
    """``--write POINT=VALUE``: the same keys an operator presses, pressed on a timer.

    Per write: select the point's entity, open the write and set the value (EDIT), Enter
    (CONFIRM, held ``hold_s`` so a screenshot shows it), Enter (send, or select), for sbo points
    Enter again once selected (operate), then hold the outcome ``hold_s`` and go on. Each write
    first waits up to ``wait_reading_s`` for the point's first reading, so the confirm line can
    show the current value.
    """

    def __init__(self, control: ControlPanel, select: Callable[[str], None],
                 writes: list[tuple[str, float]], *, hold_s: float = 0.6,
                 wait_reading_s: float = 3.0) -> None:
        self.control = control
        self.select = select
        self.writes = list(writes)
        self.hold_ns = int(hold_s * 1e9)
        self.wait_ns = int(wait_reading_s * 1e9)
        self.index = 0
        self.phase = "wait"
        self._since_ns: int | None = None
        self.sent_ids: list[str] = []

    @property
    def done(self) -> bool:
        return self.index >= len(self.writes)

    def _to(self, phase: str, now_ns: int) -> None:
        self.phase, self._since_ns = phase, now_ns

    def update(self, now_ns: int) -> None:
        """One frame's worth of progress; call after :meth:`ControlPanel.update`."""
        if self.done:
            return
        if self._since_ns is None:
            self._since_ns = now_ns
        waited = now_ns - self._since_ns
        c = self.control
        point, value = self.writes[self.index]
        if self.phase == "wait":
            if c.mode in (Mode.SELECTING, Mode.SELECTED):
                return
            if c.has_reading(point) or waited >= self.wait_ns:
                wp = c.find(point)
                if wp is None:  # validated before start; a scene change could still get here
                    self.index += 1
                    return
                self.select(wp.entity)
                c.set_entity(wp.entity)
                c.open(point)
                c.set_value(value)
                self._to("edit", now_ns)
        elif self.phase == "edit" and waited >= self.hold_ns // 2:
            c.key_enter()
            self._to("confirm", now_ns)
        elif self.phase == "confirm" and waited >= self.hold_ns:
            c.key_enter()
            if c.last_id is not None:
                self.sent_ids.append(c.last_id)
            self._to("sent", now_ns)
        elif self.phase == "sent":
            if c.mode is Mode.SELECTED:
                self._to("selected", now_ns)
            elif c.mode is Mode.LIST:
                item = c.commander.get(c.last_id or "")
                if item is None or item.done:
                    self._to("result", now_ns)
        elif self.phase == "selected" and waited >= self.hold_ns:
            if c.mode is Mode.SELECTED:
                c.key_enter()
                if c.last_id is not None:
                    self.sent_ids.append(c.last_id)
            self._to("sent", now_ns)
        elif self.phase == "result" and waited >= self.hold_ns:
            self.index += 1
            self._to("wait", now_ns)


__all__ = [
    "ControlPanel",
    "bind_keys",
    "Mode",
    "ScriptedWrites",
    "Tone",
    "WritablePoint",
    "writable_points",
]
