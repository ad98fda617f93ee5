"""The one error type for bad scene and device files."""

from __future__ import annotations

from pathlib import Path


class SceneError(Exception):
    """A user mistake in a scene or device file: says where (file, line, key) and what to do."""

    def __init__(self, path: Path | str, line: int | None, key: str, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.key = key
        self.message = message
        super().__init__(self.format())

    def format(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else f"{self.path}"
        key = f" [{self.key}]" if self.key else ""
        return f"{where}:{key} {self.message}"
