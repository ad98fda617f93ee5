"""Scene and device files are untrusted input (R19): YAML bombs and over-long names are validate
errors naming the line, never a hang, a memory blow-up or a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli

from runtime.scene import SceneError, load_devices, load_scene
from runtime.scene.yaml_located import load_located

BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


@pytest.mark.parametrize("text, problem", [
    (BILLION_LAUGHS, "aliases"),
    ("a: &a\n  b: *a\n", "aliases"),  # a recursive anchor
    ("a: &a [1, *a]\n", "aliases"),
    ("x: " + "[" * 200 + "]" * 200 + "\n", "nested deeper"),
])
def test_yaml_bombs_are_refused_by_line(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "scene.yaml"
    path.write_text(text)
    with pytest.raises(SceneError, match=problem):
        load_located(path)


def test_validate_refuses_billion_laughs_quickly(scene_copy: Path) -> None:
    (scene_copy / "scene.yaml").write_text(BILLION_LAUGHS)
    r = run_cli("validate", str(scene_copy), timeout_s=60)
    assert r.returncode == 2 and "aliases" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_scalar_aliases_still_work(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: &v 3\nb: *v\n")
    assert load_located(path)[0] == {"a": 3, "b": 3}


def test_point_names_longer_than_the_wire_carries_are_validate_errors(scene_copy: Path) -> None:
    long = "level_" + "x" * 200 + "_m"
    scene_file = scene_copy / "scene.yaml"
    scene_file.write_text(scene_file.read_text().replace(
        "      - {name: level_m, unit: m, kind: process}",
        f"      - {{name: level_m, unit: m, kind: process}}\n"
        f"      - {{name: {long}, unit: m, kind: process}}", 1))
    with pytest.raises(SceneError, match="at most 128"):
        load_scene(scene_copy)


@pytest.mark.parametrize("point, problem", [
    ("P-101/" + "s" * 130 + "_rpm", "at most 128"),
    ("P-101/speed/rpm", "one '/'"),
    ("P-101/speed rpm", "one '/'"),
])
def test_device_point_names_the_wire_refuses_are_validate_errors(
        scene_copy: Path, point: str, problem: str) -> None:
    devices = scene_copy / "devices.yaml"
    devices.write_text(devices.read_text().replace("point: P-101/speed_sp_rpm,",
                                                   f"point: '{point}',", 1))
    scene = load_scene(scene_copy)
    with pytest.raises(SceneError, match=problem):
        load_devices(devices, scene)
