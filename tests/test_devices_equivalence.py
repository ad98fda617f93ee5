"""The device loader against the one before its per-point checks were made cheap (issue 17).

Random edits of the pump station's devices.yaml (a point's keys set to tricky values or removed,
a point replaced by a non-mapping, unknown keys, device keys changed) must load to exactly the
same Devices as tests/devices_reference.py, or fail with exactly the same file, line, key and
message: the loader checks the usual case inline and leaves every message to the Doc helpers,
and this is what shows that the inline checks accept nothing more and nothing less.
"""

from __future__ import annotations

import copy
import datetime
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import PUMP_STATION
from devices_reference import reference_load_devices
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.scene import SceneError, load_devices, load_scene
from runtime.scene.generated import write_generated_plant

_DELETE = "<delete>"
_VALUES: list[Any] = [
    _DELETE, None, True, False, 0, 1, -1, 2, 3, 100, 65534, 65535, 65536, 10**20, 1.5, 0.0, -0.0,
    0.001, -2.5, float("inf"), float("-inf"), float("nan"), "", " ", "x", "input", "holding",
    "coil", "discrete", "float32", "bool", "uint16", "int16", "int32", "uint32", "float64", "m",
    "rpm", "kPa", "%", "enum", "degC", "furlongs", "P-101/run_cmd", "P-101/speed_rpm",
    "P-101/speed_sp_rpm", "LT-101/level_m", "FV-101/position_pct", "X-1/y_m", "a b/c_m",
    "P-101/speed/rpm", "/speed_rpm", "P-101/", "P-101/" + "x" * 130 + "_rpm", [], ["operator"],
    ["viewer"], ["admin"], ["operator", "instructor", "operator"], [1, 2], {},
    {"point": "P-101/speed_rpm", "tolerance": 5},
    {"point": "P-101/speed_rpm", "tolerance": -1},
    {"point": "FV-101/position_pct", "tolerance": 1, "timeout_ms": 50},
    {"point": "P-101/speed_sp_rpm", "tolerance": 1},
    {"point": "LT-101/level_m", "tolerance": 0.1, "timeout_ms": 5000, "colour": "red"},
    datetime.date(2024, 5, 1),
]
_POINT_KEYS = ["point", "table", "address", "type", "unit", "scale", "offset", "writable", "min",
               "max", "roles", "max_rate_per_s", "sbo", "feedback", "colour"]
_DEVICE_KEYS = ["id", "name", "host", "port", "unit_id", "word_order", "poll_period_ms",
                "timeout_ms", "pipeline_depth", "points", "colour"]
_BASE = yaml.safe_load((PUMP_STATION / "devices.yaml").read_text())
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _dump(doc: dict[str, Any], flow: bool | None = None) -> str:
    return yaml.dump(doc, Dumper=_DUMPER, sort_keys=False, default_flow_style=flow)


def _outcome(load: Any, path: Path, scene: Any) -> tuple[str, Any]:
    try:
        return "ok", repr(load(path, scene))
    except SceneError as err:
        return "error", (err.path, err.line, err.key, err.message)


_edit = st.one_of(
    st.tuples(st.just("point"), st.integers(0, 30), st.sampled_from(_POINT_KEYS),
              st.sampled_from(_VALUES)),
    st.tuples(st.just("point"), st.integers(0, 30), st.sampled_from(_POINT_KEYS),
              st.sampled_from(_VALUES)),
    st.tuples(st.just("point"), st.integers(0, 30), st.sampled_from(_POINT_KEYS),
              st.sampled_from(_VALUES)),
    st.tuples(st.just("device"), st.integers(0, 2), st.sampled_from(_DEVICE_KEYS),
              st.sampled_from(_VALUES)),
    st.tuples(st.just("whole point"), st.integers(0, 30), st.just(""),
              st.sampled_from([None, "x", 3, [1], ["point", "table"]])),
)


def _apply(doc: dict[str, Any], edit: tuple[str, int, str, Any]) -> None:
    where, index, key, value = edit
    device = doc["devices"][index % 3] if where == "device" else None
    if device is not None:
        target: Any = device
    else:
        points = [(d, j) for d in doc["devices"] if isinstance(d.get("points"), list)
                  for j in range(len(d["points"]))]
        if not points:
            return
        owner, j = points[index % len(points)]
        if where == "whole point":
            owner["points"][j] = value
            return
        target = owner["points"][j]
        if not isinstance(target, dict):
            return
    if value == _DELETE:
        target.pop(key, None)
    else:
        target[key] = copy.deepcopy(value)


@pytest.fixture(scope="module")
def pump_scene() -> Any:
    return load_scene(PUMP_STATION)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(_edit, min_size=1, max_size=4), flow=st.sampled_from([None, False]),
       with_scene=st.booleans())
def test_edited_device_files_load_or_fail_as_the_reference_does(
    pump_scene: Any, edits: list[tuple[str, int, str, Any]], flow: bool | None,
    with_scene: bool
) -> None:
    doc = copy.deepcopy(_BASE)
    for edit in edits:
        _apply(doc, edit)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "devices.yaml"
        path.write_text(_dump(doc, flow))
        scene = pump_scene if with_scene else None
        assert _outcome(load_devices, path, scene) == _outcome(reference_load_devices, path,
                                                               scene)


def test_many_edits_are_errors_and_some_load(pump_scene: Any, tmp_path: Path) -> None:
    """The comparison above is only worth something if both outcomes happen: single edits of
    each point key to each value give errors of many kinds, and loads."""
    messages, loads = set(), 0
    path = tmp_path / "devices.yaml"
    for key in _POINT_KEYS:
        for value in _VALUES:
            doc = copy.deepcopy(_BASE)
            _apply(doc, ("point", 1, key, value))  # P-101/speed_sp_rpm, a writable point
            path.write_text(_dump(doc))
            outcome = _outcome(load_devices, path, pump_scene)
            assert outcome == _outcome(reference_load_devices, path, pump_scene), (key, value)
            if outcome[0] == "ok":
                loads += 1
            else:
                messages.add(outcome[1][3].split(" ")[0])
    assert loads >= 30 and len(messages) >= 12, (loads, sorted(messages))


def test_generated_plant_loads_as_the_reference_does(tmp_path: Path) -> None:
    write_generated_plant(tmp_path, 0, devices=3, points_per_device=40)
    scene = load_scene(tmp_path)
    new = load_devices(tmp_path / "devices.yaml", scene)
    assert repr(new) == repr(reference_load_devices(tmp_path / "devices.yaml", scene))
    assert sum(len(d.points) for d in new.devices) == 120
