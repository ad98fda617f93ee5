"""Bad model files from ``validate`` and ``view`` (real subprocesses): one located line naming
the scene file, the line and key of the model's ``gltf:`` (or the binding), exit 2, no
traceback."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gltf_fixtures import PUMP_GLB, REPO_ROOT, write_mm_box  # noqa: E402

SCENE = """\
format: twinstage.scene/1
name: bad model
entities:
  - id: P-1
    type: pump
    transform: {{position_m: [0, 0, 0]}}
    model:
      gltf: {file}
      bindings:
        - {{node: {node}, point: speed_rpm, action: spin}}
    pump: {{motor: M-1, rated_flow_m3_h: 100, rated_head_m: 20, shutoff_head_m: 25,
           rated_speed_rpm: 1480}}
    points:
      - {{name: speed_rpm, unit: rpm, kind: measurement}}
  - id: M-1
    type: motor
    motor: {{rated_power_kw: 30, rated_speed_rpm: 1480, inertia_kg_m2: 0.5}}
"""
GLTF_LINE = 8
BINDING_LINE = 10


def _glb_parts(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    n = struct.unpack_from("<I", raw, 12)[0]
    doc = json.loads(raw[20:20 + n])
    size = struct.unpack_from("<I", raw, 20 + n)[0]
    return doc, raw[28 + n:28 + n + size]


def _scene(folder: Path, file: str, node: str = "impeller") -> Path:
    (folder / "scene.yaml").write_text(SCENE.format(file=file, node=node))
    return folder


def _run(command: str, folder: Path) -> subprocess.CompletedProcess:
    extra = ["--headless", "--size", "160x90", "--screenshot", str(folder / "x.png")] \
        if command == "view" else []
    return subprocess.run([sys.executable, "-m", "runtime.cli", command, str(folder), *extra],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


def _broken_glb(folder: Path) -> str:
    (folder / "assets").mkdir()
    (folder / "assets" / "pump.glb").write_bytes(PUMP_GLB.read_bytes()[:3000])
    return "assets/pump.glb"


def _gltf_without_bin(folder: Path) -> str:
    doc, _ = _glb_parts(PUMP_GLB)
    doc["buffers"][0]["uri"] = "pump.bin"
    (folder / "assets").mkdir()
    (folder / "assets" / "pump.gltf").write_text(json.dumps(doc))
    return "assets/pump.gltf"


def _bad_accessor(folder: Path) -> str:
    doc, blob = _glb_parts(PUMP_GLB)
    doc["accessors"][0]["count"] = 10**7
    doc["buffers"][0]["uri"] = "pump.bin"
    (folder / "assets").mkdir()
    (folder / "assets" / "pump.gltf").write_text(json.dumps(doc))
    (folder / "assets" / "pump.bin").write_bytes(blob)
    return "assets/pump.gltf"


CASES = {
    "broken glb": (_broken_glb, "truncated", GLTF_LINE, "model.gltf"),
    "gltf missing bin": (_gltf_without_bin, "'pump.bin' not found", GLTF_LINE, "model.gltf"),
    "accessor past its data": (_bad_accessor, "accessor 0 needs", GLTF_LINE, "model.gltf"),
}


@pytest.mark.parametrize("command", ["validate", "view"])
@pytest.mark.parametrize("case", list(CASES))
def test_bad_model_file_is_a_located_error(tmp_path: Path, command: str, case: str) -> None:
    make, words, line, key = CASES[case]
    folder = _scene(tmp_path, make(tmp_path))
    proc = _run(command, folder)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"{folder / 'scene.yaml'}:{line}: [entities[0].{key}]" in lines[0]
    assert words in lines[0]
    assert not (folder / "x.png").exists()


@pytest.mark.parametrize("command", ["validate", "view"])
def test_unknown_node_in_binding_is_located_at_the_binding(tmp_path: Path, command: str) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "pump.glb").write_bytes(PUMP_GLB.read_bytes())
    folder = _scene(tmp_path, "assets/pump.glb", node="rotor")
    proc = _run(command, folder)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (f"scene.yaml:{BINDING_LINE}: [entities[0].model.bindings[0].node] model "
            "assets/pump.glb has no node named 'rotor'") in proc.stderr
    assert "impeller" in proc.stderr, "the message lists the nodes the file has"


def test_good_model_validates(tmp_path: Path) -> None:
    write_mm_box(tmp_path / "assets" / "box.glb")
    (tmp_path / "assets" / "pump.glb").write_bytes(PUMP_GLB.read_bytes())
    folder = _scene(tmp_path, "assets/pump.glb")
    proc = _run("validate", folder)
    assert proc.returncode == 0, proc.stderr
    assert "ok" in proc.stdout


@pytest.mark.parametrize(("name", "data", "command", "words"), [
    ("bad.bam", b"garbage", "validate", "not a Panda3D .bam file"),
    ("bad.bam", b"garbage", "view", "not a Panda3D .bam file"),
    ("bad.egg", b"<Group> broken {", "view", "Panda3D cannot read it (not a valid egg file)"),
])
def test_bad_bam_or_egg_is_one_located_line(tmp_path: Path, name: str, data: bytes,
                                            command: str, words: str) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / name).write_bytes(data)
    text = SCENE.format(file="x", node="x").replace("gltf: x", f"file: assets/{name}")
    text = "\n".join(ln for ln in text.splitlines() if "bindings" not in ln
                     and "node: x" not in ln)
    (tmp_path / "scene.yaml").write_text(text + "\n")
    proc = _run(command, tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"scene.yaml:{GLTF_LINE}: [entities[0].model.file]" in lines[0] and words in lines[0]


def test_required_extension_the_viewer_cannot_read(tmp_path: Path) -> None:
    doc, blob = _glb_parts(PUMP_GLB)
    doc["extensionsUsed"] = doc["extensionsRequired"] = ["KHR_draco_mesh_compression"]
    doc["buffers"][0]["uri"] = "pump.bin"
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "pump.gltf").write_text(json.dumps(doc))
    (tmp_path / "assets" / "pump.bin").write_bytes(blob)
    proc = _run("validate", _scene(tmp_path, "assets/pump.gltf"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"scene.yaml:{GLTF_LINE}: [entities[0].model.gltf]" in proc.stderr
    assert "requires the glTF extension(s) KHR_draco_mesh_compression" in proc.stderr
