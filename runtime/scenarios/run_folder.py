"""A run folder: what ``scenario run`` leaves behind and ``scenario report`` reads.

    <run>/scenario.json   what ran: scenario id, name, file, rationale, speed, autopilot, times
    <run>/events.jsonl    the scenario's events in order (time, kind, text, ...)
    <run>/samples.json    the watched points each tick: {"t_s": [...], "values": {point: [...]}}
    <run>/score.json      the final score and its breakdown (scoring.Scorer.result)
    <run>/recording/      the bus recorded as MCAP, scenario events included (view --replay)
    <run>/logs/           each child process's output
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runtime.errors import UsageError


class RunFolder:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def write_json(self, name: str, data: Any) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / f".{name}.tmp"
        tmp.write_text(json.dumps(data, indent=1, default=_default) + "\n")
        tmp.replace(self.path / name)

    def append_event(self, event: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / "events.jsonl").open("a") as f:
            f.write(json.dumps(event, default=_default) + "\n")

    def read_json(self, name: str) -> Any:
        path = self.path / name
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise UsageError(f"{self.path}: not a scenario run folder ({name} is missing)") \
                from None
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from None

    def events(self) -> list[dict[str, Any]]:
        path = self.path / "events.jsonl"
        if not path.is_file():
            return []
        out = []
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    raise UsageError(f"{path}:{n}: not a JSON line") from None
        return out


def _default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set):
        return sorted(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")
