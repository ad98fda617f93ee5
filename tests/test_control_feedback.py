"""A setpoint confirmed through a separate feedback point (devices.yaml ``feedback:``): the
write is confirmed when the device's own report comes within the tolerance in time, else it
fails with ``feedback_timeout`` and says where the feedback stands. Bad feedback declarations
are refused by file, line and key."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import run_cli

from runtime.control.ack import Outcome
from runtime.control.audit import AuditLog
from runtime.control.command import ControlCommand
from runtime.control.executor import Executor
from runtime.control.policy import WritePolicy
from runtime.control.readings import Reading
from runtime.scene import load_devices, load_scene

FEEDBACK = ("{point: FV-101/position_sp_pct, table: holding, address: 0, type: float32, "
            "unit: \"%\", writable: true, min: 0, max: 100, "
            "feedback: {point: FV-101/position_pct, tolerance: 1.0, timeout_ms: 400}}")


def _with_feedback(scene_copy: Path, feedback: str = FEEDBACK) -> Path:
    path = scene_copy / "devices.yaml"
    lines = path.read_text().splitlines()
    i = next(k for k, li in enumerate(lines) if "point: FV-101/position_sp_pct" in li)
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    lines[i] = f"{indent}- {feedback}"
    path.write_text("\n".join(lines) + "\n")
    return path


class Writer:
    """The register write and its read-back (the plant's register echoes what was written)."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    async def write(self, point: str, value: float) -> None:
        self.values[point] = value

    async def read_back(self, point: str) -> float:
        return self.values[point]


def _run(scene_copy: Path, tmp_path: Path, moves_to: float | None):  # noqa: ANN202
    scene = load_scene(scene_copy)
    devices = load_devices(_with_feedback(scene_copy), scene)
    readings = {p.point: Reading(0.0) for d in devices.devices for p in d.points}
    readings["LIC-102/mode"] = Reading(0.0)
    executor = Executor(WritePolicy(devices), AuditLog(tmp_path / "audit.log"), Writer(),
                        readings)
    command = ControlCommand.from_message({"id": "c1", "point": "FV-101/position_sp_pct",
                                           "value": 30.0, "role": "operator", "actor": "ana"})

    async def go():  # noqa: ANN202
        async def valve_travels() -> None:
            await asyncio.sleep(0.15)
            if moves_to is not None:
                readings["FV-101/position_pct"] = Reading(moves_to)

        mover = asyncio.create_task(valve_travels())
        ack = await executor.execute(command)
        await mover
        return ack

    return asyncio.run(go())


def test_a_setpoint_is_confirmed_when_its_feedback_arrives(scene_copy: Path,
                                                           tmp_path: Path) -> None:
    ack = _run(scene_copy, tmp_path, moves_to=29.6)
    assert ack.outcome is Outcome.CONFIRMED and ack.readback == pytest.approx(29.6)
    assert "FV-101/position_pct reached 29.6 %" in ack.text


def test_a_setpoint_whose_feedback_never_comes_fails_and_says_where_it_stands(
        scene_copy: Path, tmp_path: Path) -> None:
    ack = _run(scene_copy, tmp_path, moves_to=12.0)
    assert ack.outcome is Outcome.FAILED and ack.code == "feedback_timeout"
    assert "FV-101/position_pct is at 12 %, not 30 +/- 1 %" in ack.text


@pytest.mark.parametrize("feedback, words", [
    (FEEDBACK.replace("FV-101/position_pct,", "FV-101/nothing_pct,"), "not mapped"),
    (FEEDBACK.replace("FV-101/position_pct,", "LIC-102/setpoint_m,"), "writable"),
    (FEEDBACK.replace("FV-101/position_pct,", "FT-101/flow_m3_h,"), "is in 'm3/h'"),
    (FEEDBACK.replace("tolerance: 1.0", "tolerance: -1"), "tolerance"),
])
def test_bad_feedback_declarations_name_file_line_and_key(scene_copy: Path, feedback: str,
                                                          words: str) -> None:
    path = _with_feedback(scene_copy, feedback)
    line = next(i for i, li in enumerate(path.read_text().splitlines(), 1) if "feedback:" in li)
    result = run_cli("validate", str(scene_copy))
    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert f"devices.yaml:{line}" in result.stderr and "feedback" in result.stderr
