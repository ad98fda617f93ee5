"""Block reply -> engineering values of the points in that block.

``runtime.registers.decode_value`` is the reference codec shared with the virtual plant. Calling it
once per point costs a few microseconds; at 100 devices x 10 Hz x 125 registers that alone would
eat a large share of a core. So each block gets a decoder compiled once at start-up: the words of
little-endian 32-bit points are swapped by one precomputed permutation, the whole block is packed
into bytes by one ``struct.pack`` (which also rejects words outside 0..65535), and one
``struct.unpack`` with pad bytes for the gaps yields every raw value. The tests check that this
gives exactly what ``decode_value`` gives for every type, word order, scale and offset.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from operator import add, itemgetter, mul

from adapters.modbus.blocks import Block
from runtime.registers import decode_value

_CODES = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "float32": "f"}


class DecodeError(ValueError):
    """The reply cannot be decoded into this block's points (short, long or out-of-range words).

    The caller marks the block Bad (bad reply): a short reply never becomes a wrong value (R6).
    """


class BlockDecoder:
    """Decodes one planned block; build once per block and device word order."""

    __slots__ = ("block", "count", "_bits", "_fast", "_perm", "_unpack", "_pack", "_scales",
                 "_offsets", "_bit_index", "_word_order", "_direct", "_plain",
                 "_no_offsets", "may_be_non_finite")

    def __init__(self, block: Block, word_order: str) -> None:
        if word_order not in ("big", "little"):
            raise ValueError(f"unknown word order {word_order!r}")
        self.block = block
        self.count = block.count
        self._word_order = word_order
        self._bits = block.is_bits
        self._scales = [float(p.scale) for p in block.points]
        self._offsets = [float(p.offset) for p in block.points]
        self._bit_index = [p.address - block.start for p in block.points]
        self._fast = False
        self._direct = False
        self._no_offsets = not any(self._offsets)
        self._plain = all(s == 1.0 for s in self._scales) and self._no_offsets
        # An integer or bit times a finite scale of at most 1e290, plus a finite offset, is
        # finite: only float32 points or extreme scales need the NaN/Inf check per reply.
        self.may_be_non_finite = (
            any(p.type == "float32" for p in block.points)
            or not all(math.isfinite(s) and abs(s) <= 1e290 for s in self._scales)
            or not all(math.isfinite(o) and abs(o) <= 1e290 for o in self._offsets))
        """False when no reply can decode to NaN or Inf (the caller may skip the check)."""
        if self._bits:
            return
        self._fast = self._compile(block, word_order)

    def _compile(self, block: Block, word_order: str) -> bool:
        """Build the permutation and struct formats; False when points overlap (slow path)."""
        perm = list(range(block.count))
        fmt = [">"]
        cursor = block.start
        for p in block.points:
            if p.address < cursor or p.type not in _CODES:
                return False
            if p.address > cursor:
                fmt.append(f"{2 * (p.address - cursor)}x")
            fmt.append(_CODES[p.type])
            if p.register_count == 2 and word_order == "little":
                i = p.address - block.start
                perm[i], perm[i + 1] = perm[i + 1], perm[i]
            cursor = p.address + p.register_count
        if cursor < block.end:
            fmt.append(f"{2 * (block.end - cursor)}x")
        self._perm = itemgetter(*perm) if block.count > 1 else (lambda regs: (regs[0],))
        self._direct = perm == list(range(block.count))
        """No word swaps: the reply's bytes can be unpacked as they are."""
        self._pack = struct.Struct(f">{block.count}H").pack
        self._unpack = struct.Struct("".join(fmt)).unpack
        return True

    def decode(self, values: Sequence[int] | Sequence[bool]) -> list[float]:
        """Values in ``block.points`` order; NaN/Inf pass through for the caller to flag.

        ``values`` are the reply's registers, or its bits (padded to a whole byte, as Modbus
        sends them). Raises DecodeError when the reply does not match the request.
        """
        if self._bits:
            return self._decode_bits(values)
        if len(values) != self.count:
            raise DecodeError(f"expected {self.count} registers, got {len(values)}")
        if not self._fast:
            return self._decode_slow(values)
        try:
            data = self._pack(*self._perm(values))
        except (struct.error, TypeError) as exc:
            raise DecodeError(f"register word out of range: {exc}") from None
        raws = self._unpack(data)
        return [r * s + o for r, s, o in zip(raws, self._scales, self._offsets, strict=True)]

    def decode_bytes(self, data: bytes) -> list[float]:
        """Like :meth:`decode`, from a reply's data bytes (big-endian words, or bit bytes).

        Without word swaps the bytes are unpacked as they came: no list of registers at all.
        """
        if self._bits:
            return self._decode_bits([bool(b >> k & 1) for b in data for k in range(8)])
        if len(data) != 2 * self.count:
            raise DecodeError(f"expected {self.count} registers, got {len(data) / 2:g}")
        if not self._direct:
            return self.decode(struct.unpack(f">{self.count}H", data))
        raws = self._unpack(data)
        if self._plain:
            return list(map(float, raws))
        if self._no_offsets:  # the common case: one multiply per value (also makes it a float)
            return list(map(mul, raws, self._scales))
        return list(map(add, map(mul, raws, self._scales), self._offsets))

    def _decode_bits(self, bits: Sequence[int] | Sequence[bool]) -> list[float]:
        # A reply carries ceil(count / 8) whole bytes: anything else is short or padded wrongly.
        expected = (self.count + 7) // 8 * 8
        if len(bits) != expected:
            raise DecodeError(f"expected {expected} bits ({self.count} used), got {len(bits)}")
        return [
            (1.0 if bits[i] else 0.0) * s + o
            for i, s, o in zip(self._bit_index, self._scales, self._offsets, strict=True)
        ]

    def _decode_slow(self, regs: Sequence[int]) -> list[float]:
        out = []
        for p in self.block.points:
            i = p.address - self.block.start
            try:
                out.append(decode_value(p.type, self._word_order, p.scale, p.offset,
                                        [int(w) for w in regs[i : i + p.register_count]]))
            except (ValueError, TypeError) as exc:
                raise DecodeError(str(exc)) from None
        return out

    @staticmethod
    def non_finite(values: list[float]) -> list[int]:
        """Indexes of values that are NaN or infinite (float32, or a huge scale on an integer)."""
        # A NaN or an infinity makes the sum NaN or infinite; a finite sum proves every value
        # finite (and costs a third of checking each). A sum that overflows is checked exactly.
        if math.isfinite(sum(values)) or all(map(math.isfinite, values)):
            return []
        return [i for i, v in enumerate(values) if not math.isfinite(v)]


__all__ = ["BlockDecoder", "DecodeError"]
