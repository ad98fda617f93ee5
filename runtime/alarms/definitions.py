"""Load and validate ``alarms.yaml`` into an :class:`AlarmSet` (docs/alarms.md).

Every mistake is a :class:`~runtime.scene.errors.SceneError` naming file, line and key, so
``twinstage validate`` reports alarm files exactly as it reports scene and device files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.scene.fields import Doc, Path_
from runtime.scene.gc_pause import gc_paused
from runtime.scene.load import MAX_POINT_ID_LEN
from runtime.scene.model import INTERLOCK_OPS, Devices, Scene
from runtime.scene.yaml_located import load_located

ALARMS_FORMAT = "twinstage.alarms/1"
PRIORITIES = ("Low", "Medium", "High", "Critical")
"""In rising order of importance; the index is the priority's rank (0 = Low)."""
ALARM_TYPES = (
    "high",
    "high_high",
    "low",
    "low_low",
    "deviation",
    "rate",
    "discrete",
    "bad_quality",
    "command_disagree",
)
RATE_DIRECTIONS = ("either", "rising", "falling")
CONDITION_OPS = INTERLOCK_OPS
"""``==``, ``!=``, ``>``, ``>=``, ``<``, ``<=``: a closed set, so nothing is ever evaluated."""
DEFAULT_SHELVE_MAX_MIN = 480.0
"""Eight hours: one shift (EEMUA 191 advises a shelving limit; ISA-18.2 requires one)."""
MAX_ALARM_ID_LEN = 64
_BUS_NAME = re.compile(r"[\x21-\x7e]+")
"""What the bus accepts in a name: visible ASCII, no spaces."""

_ROOT_KEYS = {"format", "shelve_max_minutes", "operators", "alarms"}
_ALARM_KEYS = {
    "id",
    "point",
    "type",
    "limit",
    "setpoint_point",
    "direction",
    "window_s",
    "state",
    "value",
    "command_point",
    "feedback_point",
    "timeout_s",
    "tolerance",
    "priority",
    "deadband",
    "on_delay_s",
    "off_delay_s",
    "message",
    "rationalization",
    "suppress_when",
    "shelve_max_minutes",
}
_RATIONALIZATION_KEYS = ("cause", "consequence", "response")
_CONDITION_KEYS = {"point", "op", "value"}
_LIMIT_TYPES = ("high", "high_high", "low", "low_low", "deviation", "rate")
_LADDER = ("low_low", "low", "high", "high_high")
_ORDER = tuple((a, b) for i, a in enumerate(_LADDER) for b in _LADDER[i + 1:])
"""Pairs on one point whose limits must rise in this order (LL < L < H < HH)."""
_NAMES = {"low_low": "LL", "low": "L", "high": "H", "high_high": "HH"}


@dataclass(frozen=True, slots=True)
class Condition:
    """``<point> <op> <value>`` on the latest reading of ``point`` (suppression by design)."""

    point: str
    op: str
    value: float


@dataclass(frozen=True, slots=True)
class Rationalization:
    """Why the alarm exists (ISA-18.2 rationalization): what causes it, what happens if it is
    ignored, what the operator should do."""

    cause: str
    consequence: str
    response: str


@dataclass(frozen=True, slots=True)
class AlarmDef:
    """One validated alarm definition."""

    id: str
    point: str
    """The process value the alarm judges (for command_disagree: the feedback point)."""
    type: str
    priority: str
    message: str
    rationalization: Rationalization
    limit: float = 0.0
    """high/low: the limit; deviation: allowed |pv - sp|; rate: units per minute;
    command_disagree: allowed |command - feedback| (``tolerance``)."""
    setpoint_point: str = ""
    """deviation: the setpoint; command_disagree: the command point."""
    direction: str = "either"
    """rate: ``either``, ``rising`` or ``falling``."""
    window_s: float = 60.0
    """rate: the rate is the change over this window (a transmitter's noise divided by a 0.1 s
    step would be a rate of metres per minute)."""
    value: float = 1.0
    """discrete: the value that is the alarm (``state: true`` is 1, ``false`` 0)."""
    deadband: float = 0.0
    on_delay_s: float = 0.0
    off_delay_s: float = 0.0
    suppress_when: tuple[Condition, ...] = ()
    """All must hold for the alarm to be suppressed by design; empty: never suppressed."""
    shelve_max_minutes: float = DEFAULT_SHELVE_MAX_MIN
    line: int = 0

    @property
    def asset(self) -> str:
        return self.point.split("/", 1)[0]

    @property
    def priority_rank(self) -> int:
        return PRIORITIES.index(self.priority)


@dataclass(frozen=True, slots=True)
class AlarmSet:
    """A validated alarms.yaml: definitions in file order."""

    path: Path
    alarms: tuple[AlarmDef, ...]
    shelve_max_minutes: float = DEFAULT_SHELVE_MAX_MIN
    operators: int = 1
    """Operator consoles the alarms are shared between (EEMUA rates are per operator)."""

    def by_id(self) -> dict[str, AlarmDef]:
        return {a.id: a for a in self.alarms}


def load_alarms(
    path: str | Path, scene: Scene | None = None, devices: Devices | None = None
) -> AlarmSet:
    """Read and validate an alarms file (or a scene folder holding ``alarms.yaml``).

    With ``scene`` every point must be declared in it; with ``devices`` every point must also be
    mapped by a device (otherwise it never has a reading on the bus). Raises SceneError.
    """
    with gc_paused():
        return _load(Path(path), scene, devices)


def _load(path: Path, scene: Scene | None, devices: Devices | None) -> AlarmSet:
    if path.is_dir():
        path = path / "alarms.yaml"
    data, lines = load_located(path)
    doc = Doc(path, lines)
    root = doc.mapping(data, ())
    doc.only_keys(root, (), _ROOT_KEYS)
    fmt = doc.string(root, (), "format")
    if fmt != ALARMS_FORMAT:
        raise doc.fail(("format",), f"unsupported format {fmt!r}; expected {ALARMS_FORMAT!r}")
    site_max = doc.number(root, (), "shelve_max_minutes", default=DEFAULT_SHELVE_MAX_MIN,
                          positive=True)
    operators = doc.integer(root, (), "operators", default=1, lo=1, hi=1000)
    points = _known_points(scene, devices)
    alarms: list[AlarmDef] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(doc.sequence(doc.required(root, (), "alarms"), ("alarms",))):
        at: Path_ = ("alarms", i)
        alarm = _alarm(doc, doc.mapping(raw, at), at, site_max, points)
        if alarm.id in seen:
            raise doc.fail(at + ("id",), f"duplicate alarm id {alarm.id!r} (first at line "
                           f"{seen[alarm.id]})")
        seen[alarm.id] = alarm.line
        alarms.append(alarm)
    _check_limit_order(doc, alarms)
    return AlarmSet(path=path, alarms=tuple(alarms), shelve_max_minutes=site_max,
                    operators=operators)


class _Points:
    """Which points exist (scene) and which have readings (devices); None: not checked."""

    def __init__(self, declared: set[str] | None, mapped: set[str] | None) -> None:
        self.declared = declared
        self.mapped = mapped

    def check(self, doc: Doc, at: Path_, point: str) -> None:
        if len(point) > MAX_POINT_ID_LEN or not _BUS_NAME.fullmatch(point) or "/" not in point:
            raise doc.fail(at, f"{point!r} is not a point id: write <entity>/<point> in visible "
                           f"ASCII without spaces, at most {MAX_POINT_ID_LEN} characters, "
                           "e.g. P-101/tripped")
        if self.declared is not None and point not in self.declared:
            raise doc.fail(at, f"unknown point {point!r}: the scene declares no such point")
        if self.mapped is not None and point not in self.mapped:
            raise doc.fail(at, f"point {point!r} has no reading: no device in devices.yaml "
                           "maps it, so the alarm could never be judged")


def _known_points(scene: Scene | None, devices: Devices | None) -> _Points:
    declared = {p.id for p in scene.points} if scene is not None else None
    mapped = {p.point for d in devices.devices for p in d.points} if devices is not None else None
    return _Points(declared, mapped)


def _alarm(doc: Doc, spec: dict[str, Any], at: Path_, site_max: float,
           points: _Points) -> AlarmDef:
    doc.only_keys(spec, at, _ALARM_KEYS)
    ident = doc.string(spec, at, "id")
    if len(ident) > MAX_ALARM_ID_LEN or not _BUS_NAME.fullmatch(ident) or "*" in ident:
        raise doc.fail(at + ("id",), f"alarm id {ident!r} must be 1-{MAX_ALARM_ID_LEN} visible "
                       "ASCII characters without spaces or '*' (it travels on the bus as "
                       "alarm/<id>)")
    kind = doc.choice(spec, at, "type", ALARM_TYPES)
    priority = doc.choice(spec, at, "priority", PRIORITIES)
    fields: dict[str, Any] = {}
    if kind == "command_disagree":
        if "point" in spec:
            raise doc.fail(at + ("point",), "a command_disagree alarm names command_point and "
                           "feedback_point instead of point")
        point = doc.string(spec, at, "feedback_point")
        points.check(doc, at + ("feedback_point",), point)
        fields["setpoint_point"] = doc.string(spec, at, "command_point")
        points.check(doc, at + ("command_point",), fields["setpoint_point"])
        fields["limit"] = doc.number(spec, at, "tolerance", default=0.5, minimum=0.0)
        timeout = doc.number(spec, at, "timeout_s", minimum=0.0)
    else:
        point = doc.string(spec, at, "point")
        points.check(doc, at + ("point",), point)
        timeout = 0.0
        _not_for(doc, spec, at, kind, ("command_point", "feedback_point", "timeout_s",
                                       "tolerance"), "command_disagree")
    if kind in _LIMIT_TYPES:
        fields["limit"] = doc.number(spec, at, "limit", positive=kind in ("deviation", "rate"))
    else:
        _not_for(doc, spec, at, kind, ("limit",), "limit alarms (high, low, deviation, rate)")
    if kind == "deviation":
        fields["setpoint_point"] = doc.string(spec, at, "setpoint_point")
        points.check(doc, at + ("setpoint_point",), fields["setpoint_point"])
    else:
        _not_for(doc, spec, at, kind, ("setpoint_point",), "deviation")
    if kind == "rate":
        fields["direction"] = doc.choice(spec, at, "direction", RATE_DIRECTIONS, "either")
        fields["window_s"] = doc.number(spec, at, "window_s", default=60.0, positive=True)
    else:
        _not_for(doc, spec, at, kind, ("direction", "window_s"), "rate")
    if kind == "discrete":
        fields["value"] = _discrete_value(doc, spec, at)
    else:
        _not_for(doc, spec, at, kind, ("state", "value"), "discrete")
    deadband = _non_negative(doc, spec, at, "deadband")
    if deadband and kind not in _LIMIT_TYPES:
        raise doc.fail(at + ("deadband",), f"a deadband means nothing to a {kind} alarm "
                       "(only high, low, deviation and rate alarms have a limit to cross back)")
    if kind in ("deviation", "rate") and deadband >= fields["limit"]:
        raise doc.fail(at + ("deadband",), f"deadband {deadband} must be smaller than the "
                       f"limit {fields['limit']}, or the alarm could never clear")
    on_delay = _non_negative(doc, spec, at, "on_delay_s")
    max_minutes = doc.number(spec, at, "shelve_max_minutes", default=site_max, positive=True)
    if max_minutes > site_max:
        raise doc.fail(at + ("shelve_max_minutes",), f"{max_minutes:g} min is longer than the "
                       f"site's shelve_max_minutes ({site_max:g})")
    return AlarmDef(
        id=ident,
        point=point,
        type=kind,
        priority=priority,
        message=doc.string(spec, at, "message"),
        rationalization=_rationalization(doc, spec, at),
        deadband=deadband,
        on_delay_s=on_delay + timeout,
        off_delay_s=_non_negative(doc, spec, at, "off_delay_s"),
        suppress_when=_conditions(doc, spec, at, points),
        shelve_max_minutes=max_minutes,
        line=doc.line(at) or 0,
        **fields,
    )


def _not_for(doc: Doc, spec: dict[str, Any], at: Path_, kind: str, keys: tuple[str, ...],
             owner: str) -> None:
    for key in keys:
        if key in spec:
            raise doc.fail(at + (key,), f"{key!r} belongs to {owner} alarms, not {kind}")


def _non_negative(doc: Doc, spec: dict[str, Any], at: Path_, key: str) -> float:
    if key not in spec:
        return 0.0
    value = doc.as_number(spec[key], at + (key,))
    if value < 0:
        raise doc.fail(at + (key,), f"{key} must not be negative, got {spec[key]}")
    return value


def _discrete_value(doc: Doc, spec: dict[str, Any], at: Path_) -> float:
    if ("state" in spec) == ("value" in spec):
        raise doc.fail(at, "a discrete alarm needs exactly one of 'state: true|false' or "
                       "'value: N' (the reading that is the alarm)")
    if "state" in spec:
        return 1.0 if doc.boolean(spec, at, "state", True) else 0.0
    return doc.number(spec, at, "value")


def _rationalization(doc: Doc, spec: dict[str, Any], at: Path_) -> Rationalization:
    r_at = at + ("rationalization",)
    raw = doc.mapping(doc.required(spec, at, "rationalization"), r_at)
    doc.only_keys(raw, r_at, set(_RATIONALIZATION_KEYS))
    for key in _RATIONALIZATION_KEYS:
        if key not in raw:
            raise doc.fail(r_at, f"missing rationalization field {key!r} (every alarm says its "
                           "cause, consequence and operator response)")
    return Rationalization(*(doc.string(raw, r_at, k) for k in _RATIONALIZATION_KEYS))


def _conditions(doc: Doc, spec: dict[str, Any], at: Path_, points: _Points
                ) -> tuple[Condition, ...]:
    if spec.get("suppress_when") is None:
        return ()
    raw = spec["suppress_when"]
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise doc.fail(at + ("suppress_when",), "needs at least one condition {point, op, value}")
    out = []
    for j, item in enumerate(items):
        c_at: Path_ = at + (("suppress_when", j) if isinstance(raw, list) else ("suppress_when",))
        cond = doc.mapping(item, c_at)
        doc.only_keys(cond, c_at, _CONDITION_KEYS)
        point = doc.string(cond, c_at, "point")
        points.check(doc, c_at + ("point",), point)
        op = doc.choice(cond, c_at, "op", CONDITION_OPS)
        value = cond.get("value")
        if isinstance(value, bool):
            number = 1.0 if value else 0.0
        else:
            number = doc.number(cond, c_at, "value")
        out.append(Condition(point=point, op=op, value=number))
    return tuple(out)


def _check_limit_order(doc: Doc, alarms: list[AlarmDef]) -> None:
    """LL < L < H < HH on the same point, whichever order the file lists them in."""
    by_point: dict[tuple[str, str], tuple[int, AlarmDef]] = {}
    for i, a in enumerate(alarms):
        if a.type in _NAMES:
            by_point.setdefault((a.point, a.type), (i, a))
    for i, a in enumerate(alarms):
        if a.type not in _NAMES:
            continue
        for lower, upper in _ORDER:
            if a.type not in (lower, upper):
                continue
            other_type = upper if a.type == lower else lower
            found = by_point.get((a.point, other_type))
            if found is None or found[0] > i:
                continue  # reported when the later of the two is reached
            lo = a if a.type == lower else found[1]
            hi = found[1] if a.type == lower else a
            if lo.limit >= hi.limit:
                raise doc.fail(("alarms", i, "limit"), f"{_NAMES[lower]} limit {lo.limit:g} on "
                               f"{a.point} is not below its {_NAMES[upper]} limit {hi.limit:g} "
                               f"({lo.id} / {hi.id})")
