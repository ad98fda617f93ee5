"""Modbus register encoding shared by the virtual plant and the adapter.

A point's engineering value is ``raw * scale + offset`` (devices.yaml). Registers are 16-bit
words, bytes big-endian within a word (the Modbus rule); 32-bit types span two registers in the
device's ``word_order``: ``big`` puts the high word first, ``little`` the low word first.

Both sides of the wire use these two functions, so a value written by the plant decodes to the
same number in the adapter and a test can check one against the other.
"""

from __future__ import annotations

import math
import struct

REGISTER_COUNT: dict[str, int] = {
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "float32": 2,
    "bool": 1,
}
"""Registers (or bits, for bool) each data type occupies."""

_INT_RANGE: dict[str, tuple[int, int]] = {
    "int16": (-(1 << 15), (1 << 15) - 1),
    "uint16": (0, (1 << 16) - 1),
    "int32": (-(1 << 31), (1 << 31) - 1),
    "uint32": (0, (1 << 32) - 1),
}
_PACK = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f"}
_FLOAT32_MAX = 3.4028234663852886e38


def _check(dtype: str, word_order: str, scale: float) -> None:
    if dtype not in REGISTER_COUNT:
        raise ValueError(f"unknown data type {dtype!r} (known: {', '.join(REGISTER_COUNT)})")
    if word_order not in ("big", "little"):
        raise ValueError(f"unknown word order {word_order!r} (big or little)")
    if scale == 0:
        raise ValueError("scale must not be 0")


def raw_from_value(dtype: str, scale: float, offset: float, value: float) -> float | int:
    """Engineering value -> raw number the registers hold.

    Integer types round to nearest and saturate at the type's limits (a plant reading past a
    register's range shows the limit, like a real transmitter pinned at full scale). NaN cannot be
    represented in an integer register and raises ValueError.
    """
    _check(dtype, "big", scale)
    raw = (float(value) - offset) / scale
    if dtype == "bool":
        if math.isnan(raw):
            raise ValueError("NaN cannot be encoded as bool")
        return 1 if raw != 0 else 0
    if dtype == "float32":
        if math.isfinite(raw) and abs(raw) > _FLOAT32_MAX:
            return math.copysign(math.inf, raw)
        return raw
    if math.isnan(raw):
        raise ValueError(f"NaN cannot be encoded as {dtype}")
    lo, hi = _INT_RANGE[dtype]
    if raw >= hi:
        return hi
    if raw <= lo:
        return lo
    return int(round(raw))


def encode_value(
    dtype: str, word_order: str, scale: float, offset: float, value: float
) -> list[int]:
    """Engineering value -> register words (each 0..65535), in the device's word order.

    ``bool`` gives ``[0]`` or ``[1]`` (one bit for coils and discrete inputs).
    """
    _check(dtype, word_order, scale)
    raw = raw_from_value(dtype, scale, offset, value)
    if dtype == "bool":
        return [int(raw)]
    data = struct.pack(_PACK[dtype], raw)
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    if word_order == "little" and len(words) == 2:
        words.reverse()
    return words


def decode_value(
    dtype: str, word_order: str, scale: float, offset: float, regs: list[int]
) -> float:
    """Register words (device word order) -> engineering value ``raw * scale + offset``.

    Raises ValueError when ``regs`` has the wrong length or a word outside 0..65535: a short reply
    must never turn into a wrong number (reliability R6).
    """
    _check(dtype, word_order, scale)
    count = REGISTER_COUNT[dtype]
    if len(regs) != count:
        raise ValueError(f"{dtype} needs {count} register(s), got {len(regs)}")
    for w in regs:
        if not 0 <= int(w) <= 0xFFFF:
            raise ValueError(f"register word {w} is outside 0..65535")
    if dtype == "bool":
        raw: float = 1.0 if regs[0] else 0.0
        return raw * scale + offset
    words = [int(w) for w in regs]
    if word_order == "little" and count == 2:
        words.reverse()
    data = b"".join(w.to_bytes(2, "big") for w in words)
    (raw,) = struct.unpack(_PACK[dtype], data)
    return float(raw) * scale + offset


__all__ = ["REGISTER_COUNT", "decode_value", "encode_value", "raw_from_value"]
