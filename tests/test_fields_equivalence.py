"""Doc's field checks against the ones before their fast paths (tests/fields_reference.py): for
every value in a palette of tricky ones, present or absent, with and without defaults and bounds,
the same value of the same type, or a SceneError with the same line, key and message. One
difference on purpose: a number too large for a float was an OverflowError traceback and is now
"expected a finite number"."""

from __future__ import annotations

import datetime
import itertools
from pathlib import Path
from typing import Any

import fields_reference
import pytest

from runtime.scene.errors import SceneError
from runtime.scene.fields import Doc

_ABSENT = object()
_VALUES: list[Any] = [
    _ABSENT, None, True, False, 0, 1, -1, 3, 7, 10**20, 10**400, 0.0, -0.0, 0.5, 2.0, -3.5, 1e308,
    float("inf"), float("-inf"), float("nan"), "", " ", "x", " x ", "big", "little", "0", [], [1],
    [1.0, 2.0, 3.0], [1, 2, 3], [0.5, True, 2.0], [1.0, "a", 2.0], [1.0, float("nan"), 0.0],
    [1.0, 2.0], [1.0, 10**400, 2.0], {}, {"a": 1}, datetime.date(2024, 5, 1), b"x",
]
_LINES = {(): 1, ("k",): 2, ("k", 0): 3, ("k", 1): 4, ("k", 2): 5}
_CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("string", (), {}),
    ("string", (), {"default": "d"}),
    ("number", (), {}),
    ("number", (), {"default": 1.0}),
    ("number", (), {"positive": True}),
    ("number", (), {"minimum": 0.0}),
    ("number", (), {"minimum": 1.0, "default": 5.0}),
    ("integer", (), {"lo": 0, "hi": 10}),
    ("integer", (), {"default": 3, "lo": 1}),
    ("boolean", (False,), {}),
    ("choice", (("big", "little"),), {}),
    ("choice", (("big", "little"),), {"default": "big"}),
]


def _outcome(doc: Any, method: str, value: Any, args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> tuple[str, Any]:
    obj = {} if value is _ABSENT else {"k": value}
    try:
        if method in ("as_number", "vector"):
            got = getattr(doc, method)(obj.get("k"), ("k",), *args, **kwargs)
        else:
            got = getattr(doc, method)(obj, (), "k", *args, **kwargs)
    except SceneError as err:
        return "error", (err.line, err.key, err.message)
    except OverflowError:
        return "overflow", None
    return "ok", repr((type(got).__name__, got))


@pytest.mark.parametrize(("method", "args", "kwargs"), _CALLS + [
    ("as_number", (), {}), ("as_number", (), {"positive": True}), ("vector", (3,), {}),
])
def test_field_checks_answer_as_before(method: str, args: tuple[Any, ...],
                                       kwargs: dict[str, Any]) -> None:
    path = Path("devices.yaml")
    new, old = Doc(path, _LINES), fields_reference.Doc(path, _LINES)
    seen = set()
    for value in _VALUES:
        got = _outcome(new, method, value, args, kwargs)
        want = _outcome(old, method, value, args, kwargs)
        if want[0] == "overflow":
            assert got == ("error", (got[1][0], got[1][1], "expected a finite number")), value
        else:
            assert got == want, (method, value)
        seen.add(got[0])
    assert seen >= {"ok", "error"}


def test_palette_reaches_every_message_of_number() -> None:
    doc = Doc(Path("x.yaml"), _LINES)
    messages = {_outcome(doc, "number", v, (), {"positive": True})[1][2].split(",")[0]
                for v, in itertools.product(_VALUES) if _outcome(doc, "number", v, (),
                                                                 {"positive": True})[0] == "error"}
    assert {"missing required key 'k'", "expected a finite number",
            "must be greater than 0"} <= messages, messages
