"""History query bodies on the bus: numpy columns as bytes (little-endian, dtype named)."""

from __future__ import annotations

from typing import Any

import numpy as np

from runtime.history.batch import Samples
from runtime.history.query import Aggregates

SERVICE = "history"
"""The historian's service name on the bus (its key needs publish: ["history"])."""
METHODS = ("points", "query_raw", "query_agg", "value_at")


def _b(a: np.ndarray, dtype: str) -> bytes:
    return np.ascontiguousarray(a, dtype=dtype).tobytes()


def encode_samples(s: Samples) -> dict[str, Any]:
    return {"t_ns": _b(s.t_ns, "<i8"), "value": _b(s.value, "<f8"),
            "quality": _b(s.quality, "u1"), "reason": _b(s.reason, "u1")}


def decode_samples(body: dict[str, Any]) -> Samples:
    t = _arr(body, "t_ns", "<i8")
    n = len(t)
    return Samples(np.zeros(n, np.int64), t, _arr(body, "value", "<f8", n),
                   _arr(body, "quality", "u1", n).astype(np.int64),
                   _arr(body, "reason", "u1", n).astype(np.int64))


def encode_aggregates(a: Aggregates) -> dict[str, Any]:
    return {"t_ns": _b(a.t_ns, "<i8"), "min": _b(a.vmin, "<f8"), "max": _b(a.vmax, "<f8"),
            "avg": _b(a.avg, "<f8"), "last": _b(a.last, "<f8"), "n": _b(a.n, "<i8"),
            "bad_n": _b(a.bad_n, "<i8")}


def decode_aggregates(body: dict[str, Any]) -> Aggregates:
    t = _arr(body, "t_ns", "<i8")
    n = len(t)
    return Aggregates(t, _arr(body, "min", "<f8", n), _arr(body, "max", "<f8", n),
                      _arr(body, "avg", "<f8", n), _arr(body, "last", "<f8", n),
                      _arr(body, "n", "<i8", n), _arr(body, "bad_n", "<i8", n))


def _arr(body: dict[str, Any], key: str, dtype: str, n: int | None = None) -> np.ndarray:
    raw = body.get(key)
    if not isinstance(raw, bytes) or len(raw) % np.dtype(dtype).itemsize:
        raise ValueError(f"history reply: {key!r} is not a {dtype} column")
    a = np.frombuffer(raw, dtype=dtype)
    if n is not None and len(a) != n:
        raise ValueError(f"history reply: {key!r} has {len(a)} rows, expected {n}")
    return a.astype(dtype.replace("<", "="), copy=True)


def int_field(body: dict[str, Any], key: str, default: int | None = None) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key!r} must be an integer (ns since the epoch)")
    return value


def points_field(body: dict[str, Any]) -> list[str]:
    pts = body.get("points")
    if not isinstance(pts, list) or not pts or not all(isinstance(p, str) for p in pts):
        raise ValueError("'points' must be a non-empty list of point ids")
    if len(pts) > 64:
        raise ValueError("at most 64 points per request")
    return pts
