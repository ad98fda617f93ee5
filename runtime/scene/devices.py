"""Load and validate ``devices.yaml`` into :class:`~runtime.scene.model.Devices`."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from math import isfinite
from pathlib import Path
from typing import Any

from runtime.scene.errors import SceneError
from runtime.scene.fields import Doc, Path_
from runtime.scene.gc_pause import gc_paused
from runtime.scene.load import MAX_POINT_ID_LEN
from runtime.scene.model import (
    DATA_TYPES,
    DEVICE_TABLES,
    INTERLOCK_OPS,
    REGISTERS_OF_TYPE,
    WORD_ORDERS,
    WRITE_ROLES,
    DevicePoint,
    Devices,
    DeviceSpec,
    Interlock,
    InterlockCondition,
    PointSpec,
    Scene,
)
from runtime.scene.units import unit_problem
from runtime.scene.yaml_located import load_located

_WIRE_NAME = re.compile(r"[\x21-\x7e]+")
"""What the bus accepts in a name: visible ASCII, no spaces."""

DEVICES_FORMAT = "twinstage.devices/1"
MAX_PIPELINE_DEPTH = 16
"""Most block reads the adapter may write at once to one device (``pipeline_depth``)."""
_DEVICE_KEYS = {
    "id",
    "name",
    "host",
    "port",
    "unit_id",
    "word_order",
    "poll_period_ms",
    "timeout_ms",
    "pipeline_depth",
    "points",
}
_POINT_KEYS = {
    "point",
    "table",
    "address",
    "type",
    "unit",
    "scale",
    "offset",
    "writable",
    "min",
    "max",
    "roles",
    "max_rate_per_s",
    "sbo",
    "feedback",
}
_WRITE_ONLY_KEYS = ("roles", "max_rate_per_s", "sbo", "feedback")
_FEEDBACK_KEYS = {"point", "tolerance", "timeout_ms"}
"""Point keys that only mean something on a writable point (see docs/control.md)."""
_INTERLOCK_KEYS = {"id", "blocks", "when", "above", "below", "unless_value", "message"}
_CONDITION_KEYS = {"point", "op", "value"}
_BIT_TABLES = ("coil", "discrete")
_WRITABLE_TABLES = ("holding", "coil")
_MAX_ADDRESS = 65535


def load_devices(path: str | Path, scene: Scene | None = None) -> Devices:
    """Read and validate a devices file; with ``scene``, every point must be declared there."""
    with gc_paused():
        return _load_devices(Path(path), scene)


def _load_devices(path: Path, scene: Scene | None) -> Devices:
    if path.is_dir():
        path = path / "devices.yaml"
    data, lines = load_located(path)
    doc = Doc(path, lines)
    root = doc.mapping(data, ())
    doc.only_keys(root, (), {"format", "devices", "interlocks"})
    fmt = doc.string(root, (), "format")
    if fmt != DEVICES_FORMAT:
        raise doc.fail(("format",), f"unsupported format {fmt!r}; expected {DEVICES_FORMAT!r}")
    devices: list[DeviceSpec] = []
    ids: set[str] = set()
    owners: dict[str, str] = {}
    endpoints: dict[tuple[str, int, int], str] = {}
    for i, raw in enumerate(doc.sequence(doc.required(root, (), "devices"), ("devices",))):
        at: Path_ = ("devices", i)
        device = _device(doc, doc.mapping(raw, at), at, scene)
        if device.id in ids:
            raise doc.fail(at + ("id",), f"duplicate device id {device.id!r}")
        ids.add(device.id)
        key = (device.host, device.port, device.unit_id)
        if key in endpoints:
            raise doc.fail(
                at + ("port",),
                f"{device.host}:{device.port} unit {device.unit_id} "
                f"is already device {endpoints[key]}",
            )
        endpoints[key] = device.id
        for j, p in enumerate(device.points):
            if p.point in owners:
                raise doc.fail(
                    at + ("points", j, "point"),
                    f"point {p.point} is already mapped by device {owners[p.point]}",
                )
            owners[p.point] = device.id
        devices.append(device)
    _check_feedback(doc, devices)
    interlocks = _interlocks(doc, root, devices)
    return Devices(path=path, devices=tuple(devices), interlocks=interlocks)


def _check_feedback(doc: Doc, devices: list[DeviceSpec]) -> None:
    """A feedback point must be mapped, read-only, and in the same unit as its setpoint."""
    mapped: dict[str, DevicePoint] | None = None  # at the first feedback: most files have none
    for i, device in enumerate(devices):
        for j, p in enumerate(device.points):
            if p.feedback is None:
                continue
            if mapped is None:
                mapped = {p.point: p for d in devices for p in d.points}
            at: Path_ = ("devices", i, "points", j, "feedback", "point")
            fb = mapped.get(p.feedback)
            if fb is None:
                raise doc.fail(at, f"feedback point {p.feedback!r} is not mapped by any device")
            if fb.writable:
                raise doc.fail(at, f"feedback point {p.feedback} is writable; feedback must be "
                               "a read-only point the device reports")
            if fb.unit != p.unit:
                raise doc.fail(at, f"feedback point {p.feedback} is in {fb.unit!r}, the "
                               f"setpoint in {p.unit!r}")


def _interlocks(doc: Doc, root: dict[str, Any], devices: list[DeviceSpec]) -> tuple[Interlock, ...]:
    """Validate the top-level ``interlocks:`` list against the points the devices map."""
    if "interlocks" not in root or root["interlocks"] is None:
        return ()
    mapped = {p.point: p for d in devices for p in d.points}
    result: list[Interlock] = []
    for i, raw in enumerate(doc.sequence(root["interlocks"], ("interlocks",))):
        at: Path_ = ("interlocks", i)
        spec = doc.mapping(raw, at)
        doc.only_keys(spec, at, _INTERLOCK_KEYS)
        ident = doc.string(spec, at, "id")
        if any(il.id == ident for il in result):
            raise doc.fail(at + ("id",), f"duplicate interlock id {ident!r}")
        blocks = doc.string(spec, at, "blocks")
        target = mapped.get(blocks)
        if target is None:
            raise doc.fail(at + ("blocks",), f"point {blocks!r} is not mapped by any device")
        if not target.writable:
            raise doc.fail(
                at + ("blocks",), f"point {blocks} is not writable, so there is nothing to block"
            )
        when_raw = doc.required(spec, at, "when")
        items = when_raw if isinstance(when_raw, list) else [when_raw]
        if not items:
            raise doc.fail(at + ("when",), "needs at least one condition {point, op, value}")
        when = []
        for j, item in enumerate(items):
            c_at: Path_ = at + (("when", j) if isinstance(when_raw, list) else ("when",))
            cond = doc.mapping(item, c_at)
            doc.only_keys(cond, c_at, _CONDITION_KEYS)
            point = doc.string(cond, c_at, "point")
            if point not in mapped:
                raise doc.fail(
                    c_at + ("point",),
                    f"point {point!r} is not mapped by any device, so it has no reading",
                )
            when.append(
                InterlockCondition(
                    point=point,
                    op=doc.choice(cond, c_at, "op", INTERLOCK_OPS),
                    value=doc.number(cond, c_at, "value"),
                    line=doc.line(c_at) or 0,
                )
            )
        above = doc.number(spec, at, "above") if "above" in spec else None
        below = doc.number(spec, at, "below") if "below" in spec else None
        unless = doc.number(spec, at, "unless_value") if "unless_value" in spec else None
        if unless is not None and (above is not None or below is not None):
            raise doc.fail(
                at + ("unless_value",), "use either unless_value or above/below, not both"
            )
        message = spec.get("message", "")
        if not isinstance(message, str):
            raise doc.fail(at + ("message",), "expected text")
        result.append(
            Interlock(
                id=ident,
                blocks=blocks,
                when=tuple(when),
                above=above,
                below=below,
                unless_value=unless,
                message=message,
                line=doc.line(at) or 0,
            )
        )
    return tuple(result)


def _device(doc: Doc, raw: dict[str, Any], at: Path_, scene: Scene | None) -> DeviceSpec:
    doc.only_keys(raw, at, _DEVICE_KEYS)
    ident = doc.string(raw, at, "id")
    host = doc.string(raw, at, "host")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost" and not host.replace("-", "").replace(".", "").isalnum():
            raise doc.fail(
                at + ("host",), f"host {host!r} is neither an IP address nor a host name"
            ) from None
    declared = scene.points_by_id() if scene is not None else None
    points_at = at + ("points",)
    points = tuple(
        _point(doc, p, points_at + (j,), scene, declared)
        for j, p in enumerate(doc.sequence(doc.required(raw, at, "points"), points_at))
    )
    _check_overlaps(doc, points, at)
    return DeviceSpec(
        id=ident,
        name=doc.string(raw, at, "name", default=ident),
        host=host,
        port=doc.integer(raw, at, "port", lo=1, hi=65535),
        unit_id=doc.integer(raw, at, "unit_id", default=1, lo=0, hi=255),
        word_order=doc.choice(raw, at, "word_order", WORD_ORDERS, default="big"),
        poll_period_ms=doc.integer(raw, at, "poll_period_ms", default=1000, lo=1, hi=3_600_000),
        timeout_ms=doc.integer(raw, at, "timeout_ms", default=1000, lo=10, hi=60_000),
        points=points,
        line=doc.line(at) or 0,
        pipeline_depth=doc.integer(raw, at, "pipeline_depth", default=1, lo=1,
                                   hi=MAX_PIPELINE_DEPTH),
    )


def _point(  # noqa: C901 - one pass over one point, in the order its problems are reported
    doc: Doc, raw: Any, at: Path_, scene: Scene | None, declared: Mapping[str, PointSpec] | None
) -> DevicePoint:
    """Check one point mapping. Runs 10,000 times for a large file, so each check first tests
    the usual case inline and calls the ``Doc`` helper only when that test fails: the helper
    then raises the message naming line and key (or, for a case the inline test is too strict
    for, returns what it would have returned anyway)."""
    spec = raw if type(raw) is dict else doc.mapping(raw, at)
    if not spec.keys() <= _POINT_KEYS:
        doc.only_keys(spec, at, _POINT_KEYS)
    point = spec.get("point")
    if type(point) is not str or not point.strip():
        point = doc.string(spec, at, "point")
    entity, _, name = point.partition("/")
    if not entity or not name or "/" in name or not _WIRE_NAME.fullmatch(point):
        raise doc.fail(
            at + ("point",), f"point {point[:80]!r} must be <entity>/<point> (one '/', visible "
            "ASCII, no spaces), e.g. P-101/speed_rpm"
        )
    if len(point) > MAX_POINT_ID_LEN:
        raise doc.fail(at + ("point",), f"point {point[:40]}... is {len(point)} characters; the "
                       f"bus carries at most {MAX_POINT_ID_LEN}")
    unit = spec.get("unit")
    if type(unit) is not str or not unit.strip():
        unit = doc.string(spec, at, "unit")
    problem = unit_problem(name, unit)
    if problem:
        raise doc.fail(at + ("unit",), problem)
    if scene is not None and declared is not None:
        in_scene = declared.get(point)
        if in_scene is None:
            raise doc.fail(
                at + ("point",), f"point {point!r} is not declared in {scene.path / 'scene.yaml'}"
            )
        if in_scene.unit != unit:
            raise doc.fail(
                at + ("unit",),
                f"unit {unit!r} differs from the scene's {in_scene.unit!r} for {point}",
            )
    table = spec.get("table")
    if table not in DEVICE_TABLES:
        table = doc.choice(spec, at, "table", DEVICE_TABLES)
    dtype = spec.get("type")
    if dtype not in DATA_TYPES:
        dtype = doc.choice(spec, at, "type", DATA_TYPES)
    if (table in _BIT_TABLES) != (dtype == "bool"):
        hint = (
            "bits: use type bool"
            if table in _BIT_TABLES
            else "registers: a bool lives in a coil or discrete input"
        )
        raise doc.fail(at + ("type",), f"table {table!r} holds {hint}")
    writable = spec.get("writable", False)
    if type(writable) is not bool:
        writable = doc.boolean(spec, at, "writable", False)
    if writable and table not in _WRITABLE_TABLES:
        raise doc.fail(
            at + ("writable",),
            f"table {table!r} is read-only in Modbus; writable points live in holding or coil",
        )
    lo = doc.number(spec, at, "min") if "min" in spec else None
    hi = doc.number(spec, at, "max") if "max" in spec else None
    if lo is not None and hi is not None and lo > hi:
        raise doc.fail(at + ("min",), f"min {lo} is above max {hi}")
    roles = max_rate = feedback = None
    tolerance, timeout_ms, sbo = 0.0, 10_000, False
    if not writable:
        for key in _WRITE_ONLY_KEYS:
            if key in spec:
                raise doc.fail(at + (key,), f"{key} only applies to a point with writable: true")
    else:
        roles = _roles(doc, spec, at) if "roles" in spec else None
        max_rate = (doc.number(spec, at, "max_rate_per_s", positive=True)
                    if "max_rate_per_s" in spec else None)
    scale = spec.get("scale", 1.0)
    if type(scale) is not float or not isfinite(scale) or scale == 0:
        scale = doc.number(spec, at, "scale", default=1.0)
        if scale == 0:
            raise doc.fail(at + ("scale",), "scale must not be 0")
    address = spec.get("address")
    if type(address) is not int or not 0 <= address <= _MAX_ADDRESS:
        address = doc.integer(spec, at, "address", lo=0, hi=_MAX_ADDRESS)
    if writable:
        if "feedback" in spec:
            feedback, tolerance, timeout_ms = _feedback(doc, spec["feedback"], at + ("feedback",))
    offset = spec.get("offset", 0.0)
    if type(offset) is not float or not isfinite(offset):
        offset = doc.number(spec, at, "offset", default=0.0)
    if writable:
        sbo = spec.get("sbo", False)
        if type(sbo) is not bool:
            sbo = doc.boolean(spec, at, "sbo", False)
    line = doc.lines.get(at)
    if line is None:
        line = doc.line(at) or 0
    if address + REGISTERS_OF_TYPE[dtype] - 1 > _MAX_ADDRESS:
        raise doc.fail(at + ("address",), "point runs past the last Modbus address 65535")
    return DevicePoint(
        point=point,
        table=table,
        address=address,
        type=dtype,
        unit=unit,
        scale=scale,
        offset=offset,
        writable=writable,
        min=lo,
        max=hi,
        line=line,
        roles=roles,
        max_rate_per_s=max_rate,
        sbo=sbo,
        feedback=feedback,
        feedback_tolerance=tolerance,
        feedback_timeout_ms=timeout_ms,
    )


def _roles(doc: Doc, spec: dict[str, Any], at: Path_) -> tuple[str, ...]:
    names = []
    for k, role in enumerate(doc.sequence(spec["roles"], at + ("roles",))):
        if role not in WRITE_ROLES:
            why = "the viewer role never writes" if role == "viewer" else f"role {role!r}"
            allowed = ", ".join(WRITE_ROLES)
            raise doc.fail(at + ("roles", k), f"{why}; allowed here: {allowed}")
        names.append(role)
    if not names:
        raise doc.fail(at + ("roles",), "an empty list; to forbid writes use writable: false")
    return tuple(dict.fromkeys(names))


def _feedback(doc: Doc, raw: Any, at: Path_) -> tuple[str, float, int]:
    """(point, tolerance, timeout_ms) of a writable point's ``feedback:`` block."""
    fb = doc.mapping(raw, at)
    doc.only_keys(fb, at, _FEEDBACK_KEYS)
    return (
        doc.string(fb, at, "point"),
        doc.number(fb, at, "tolerance", minimum=0.0),
        doc.integer(fb, at, "timeout_ms", default=10_000, lo=100, hi=600_000),
    )


def _check_overlaps(doc: Doc, points: tuple[DevicePoint, ...], at: Path_) -> None:
    used: dict[tuple[str, int], int] = {}
    for j, p in enumerate(points):
        table, address = p.table, p.address
        for k in range(REGISTERS_OF_TYPE[p.type]):
            slot = (table, address + k)
            first = used.setdefault(slot, j)
            if first != j:
                other = points[first].point
                raise doc.fail(
                    at + ("points", j, "address"),
                    f"{p.table} address {p.address + k} is already used by {other}",
                )


__all__ = ["DEVICES_FORMAT", "SceneError", "load_devices"]
