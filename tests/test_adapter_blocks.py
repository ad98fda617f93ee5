"""Block planner: coalescing, limits and gaps, with hypothesis over random register maps."""

from __future__ import annotations

from conftest import PUMP_STATION
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.modbus.blocks import MAX_BITS, MAX_REGISTERS, REGISTER_GAP, plan_blocks
from runtime.scene import load_devices, load_scene
from runtime.scene.model import DevicePoint

_WIDTH = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2, "bool": 1}


def _p(table: str, address: int, dtype: str) -> DevicePoint:
    return DevicePoint(point=f"E/{table}_{address}", table=table, address=address, type=dtype,
                       unit="bool" if dtype == "bool" else "m")


def test_pump_station_plc_needs_few_requests() -> None:
    devices = load_devices(PUMP_STATION / "devices.yaml", load_scene(PUMP_STATION))
    plc = devices.device("PLC-101")
    blocks = plan_blocks(plc.points)
    # holding 0..2, 10..12, 20 merge across gaps of 7; input likewise; coils; discretes.
    assert [(b.table, b.start, b.count) for b in blocks] == [
        ("coil", 0, 2), ("discrete", 0, 4), ("holding", 0, 21), ("input", 0, 23),
    ]
    assert sum(len(b.points) for b in blocks) == len(plc.points)


def test_gap_just_over_the_limit_splits() -> None:
    points = [_p("holding", 0, "uint16"), _p("holding", 1 + REGISTER_GAP, "uint16"),
              _p("holding", 2 + 2 * REGISTER_GAP + 1, "uint16")]
    blocks = plan_blocks(points)
    assert [(b.start, b.count) for b in blocks] == [
        (0, 2 + REGISTER_GAP), (2 + 2 * REGISTER_GAP + 1, 1)]


def test_block_never_exceeds_125_registers_or_splits_a_point() -> None:
    points = [_p("input", a, "float32") for a in range(0, 300, 2)]
    blocks = plan_blocks(points)
    assert all(b.count <= MAX_REGISTERS for b in blocks)
    assert [b.count for b in blocks] == [124, 124, 52]


def test_bits_coalesce_up_to_2000() -> None:
    points = [_p("coil", a, "bool") for a in range(0, 4100, 10)]
    blocks = plan_blocks(points)
    assert all(b.count <= MAX_BITS for b in blocks)
    assert len(blocks) == 3


_point_specs = st.lists(
    st.tuples(
        st.sampled_from(["holding", "input", "coil", "discrete"]),
        st.integers(0, 65535),
        st.sampled_from(["int16", "uint16", "int32", "uint32", "float32"]),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(_point_specs, st.integers(2, 125), st.integers(0, 20), st.integers(1, 2000),
       st.integers(0, 100))
def test_plan_invariants(specs: list[tuple[str, int, str]], max_regs: int, gap: int,
                         max_bits: int, bit_gap: int) -> None:
    points: list[DevicePoint] = []
    used: set[tuple[str, int]] = set()
    for table, address, dtype in specs:
        if table in ("coil", "discrete"):
            dtype = "bool"
        width = _WIDTH[dtype]
        slots = {(table, address + k) for k in range(width)}
        if address + width - 1 > 65535 or slots & used:
            continue  # the device loader rejects these maps
        used |= slots
        points.append(_p(table, address, dtype))
    blocks = plan_blocks(points, max_registers=max_regs, register_gap=gap, max_bits=max_bits,
                         bit_gap=bit_gap)
    covered = [p for b in blocks for p in b.points]
    assert sorted(p.point for p in covered) == sorted(p.point for p in points)
    for b in blocks:
        limit, max_gap = (max_bits, bit_gap) if b.is_bits else (max_regs, gap)
        assert 1 <= b.count <= limit
        assert b.start >= 0 and b.end - 1 <= 65535
        cursor = b.start
        for p in b.points:  # wholly inside, in order, gaps no larger than allowed
            assert b.start <= p.address and p.address + p.register_count <= b.end
            assert p.address - cursor <= max_gap
            cursor = max(cursor, p.address + p.register_count)
        assert cursor == b.end  # no padding after the last point
    by_table: dict[str, list] = {}
    for b in blocks:
        by_table.setdefault(b.table, []).append(b)
    for same in by_table.values():
        for a, b in zip(same, same[1:], strict=False):
            assert a.end <= b.start  # no overlap, address order
            limit, max_gap = (max_bits, bit_gap) if a.is_bits else (max_regs, gap)
            # Greedy is tight: the next block could not have been merged into this one.
            first = b.points[0]
            assert (first.address - a.end > max_gap
                    or first.address + first.register_count - a.start > limit)
