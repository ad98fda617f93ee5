"""runtime/scene/fields.py before its helpers got fast paths for the usual case (issue 17), kept as
the reference tests/test_fields_equivalence.py compares Doc against. Verbatim but for this
docstring. Not used by the runtime.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.scene.errors import SceneError
from runtime.scene.yaml_located import Lines, dotted

Path_ = tuple[str | int, ...]


@dataclass
class Doc:
    """A parsed YAML document with its line table, for precise error messages."""

    path: Path
    lines: Lines

    def line(self, at: Path_) -> int | None:
        while at:
            if at in self.lines:
                return self.lines[at]
            at = at[:-1]
        return self.lines.get(())

    def fail(self, at: Path_, message: str) -> SceneError:
        return SceneError(self.path, self.line(at), dotted(at), message)

    def mapping(self, value: Any, at: Path_) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(at, f"expected a mapping (key: value), got {_kind(value)}")
        return value

    def sequence(self, value: Any, at: Path_) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(at, f"expected a list, got {_kind(value)}")
        return value

    def only_keys(self, obj: dict[str, Any], at: Path_, allowed: set[str]) -> None:
        if obj.keys() <= allowed:  # the usual case, in C: the loop below finds which key
            return
        for key in obj:
            if key not in allowed:
                hint = ", ".join(sorted(allowed))
                raise self.fail(at + (key,), f"unknown key {key!r} (allowed here: {hint})")

    def required(self, obj: dict[str, Any], at: Path_, key: str) -> Any:
        if key not in obj or obj[key] is None:
            raise self.fail(at, f"missing required key {key!r}")
        return obj[key]

    def string(self, obj: dict[str, Any], at: Path_, key: str, default: str | None = None) -> str:
        if key not in obj and default is not None:
            return default
        value = self.required(obj, at, key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(at + (key,), f"expected a non-empty string, got {_kind(value)}")
        return value

    def number(
        self,
        obj: dict[str, Any],
        at: Path_,
        key: str,
        *,
        default: float | None = None,
        minimum: float | None = None,
        positive: bool = False,
    ) -> float:
        if key not in obj and default is not None:
            return default
        value = self.required(obj, at, key)
        return self.as_number(value, at + (key,), minimum=minimum, positive=positive)

    def as_number(
        self, value: Any, at: Path_, *, minimum: float | None = None, positive: bool = False
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(at, f"expected a number, got {_kind(value)}")
        number = float(value)
        if not math.isfinite(number):
            raise self.fail(at, "expected a finite number")
        if positive and number <= 0:
            raise self.fail(at, f"must be greater than 0, got {value}")
        if minimum is not None and number < minimum:
            raise self.fail(at, f"must be at least {minimum}, got {value}")
        return number

    def integer(
        self,
        obj: dict[str, Any],
        at: Path_,
        key: str,
        *,
        default: int | None = None,
        lo: int | None = None,
        hi: int | None = None,
    ) -> int:
        if key not in obj and default is not None:
            return default
        value = self.required(obj, at, key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(at + (key,), f"expected an integer, got {_kind(value)}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise self.fail(at + (key,), f"must be between {lo} and {hi}, got {value}")
        return value

    def boolean(self, obj: dict[str, Any], at: Path_, key: str, default: bool) -> bool:
        if key not in obj:
            return default
        value = obj[key]
        if not isinstance(value, bool):
            raise self.fail(at + (key,), f"expected true or false, got {_kind(value)}")
        return value

    def choice(
        self,
        obj: dict[str, Any],
        at: Path_,
        key: str,
        options: tuple[str, ...],
        default: str | None = None,
    ) -> str:
        value = self.string(obj, at, key, default)
        if value not in options:
            raise self.fail(at + (key,), f"must be one of {', '.join(options)}; got {value!r}")
        return value

    def vector(self, value: Any, at: Path_, length: int) -> tuple[float, ...]:
        items = self.sequence(value, at)
        if len(items) != length:
            raise self.fail(at, f"expected {length} numbers, got {len(items)}")
        return tuple(self.as_number(v, at + (i,)) for i, v in enumerate(items))


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
