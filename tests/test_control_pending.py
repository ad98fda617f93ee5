"""The client-side pending tracker shared by the viewer and `twinstage write`."""

from __future__ import annotations

from runtime.control.ack import Ack, Outcome
from runtime.control.pending import PendingState, PendingTracker, confirm_text, new_command_id

S = 1_000_000_000


def test_lifecycle() -> None:
    t = PendingTracker(timeout_ns=5 * S)
    a = t.sent("a", "P-101/speed_sp_rpm", 1200.0, 0, unit="rpm")
    t.sent("b", "UC-101/mode", 1.0, 0)
    t.sent("c", "P-102/run_cmd", 1.0, 0, action="operate")
    assert [i.id for i in t.pending()] == ["a", "b", "c"]
    ack = Ack(
        id="a", point=a.point, action="write", outcome=Outcome.CONFIRMED,
        text="ok", requested=1200.0, readback=1200.0, written=True,
    )  # fmt: skip
    assert t.acked(ack, S) is a and a.state is PendingState.CONFIRMED and a.read_back == 1200.0
    assert a.outcome is Outcome.CONFIRMED
    refused = Ack("b", "UC-101/mode", Outcome.REFUSED, "no", None, "role")
    assert t.acked(refused, S).state is PendingState.REFUSED  # type: ignore[union-attr]
    assert t.get("b").reason == "role"  # type: ignore[union-attr]
    assert t.expire(4 * S) == []
    (expired,) = t.expire(5 * S)
    assert expired.id == "c" and expired.state is PendingState.EXPIRED
    late = Ack("c", "P-102/run_cmd", Outcome.FAILED, code="write_failed")
    item = t.acked(late, 6 * S)
    assert item is not None and item.late and item.state is PendingState.REFUSED
    assert t.acked(Ack("zzz", "p", Outcome.CONFIRMED), 0) is None
    assert t.pending() == []


def test_bounded_and_helpers() -> None:
    t = PendingTracker(keep=2)
    for i in range(3):
        t.sent(str(i), "p", 1.0, 0)
    assert [i.id for i in t.recent()] == ["1", "2"]
    assert confirm_text("P-101/speed_sp_rpm", 900, 1200, "rpm") == (
        "P-101/speed_sp_rpm: 900 rpm -> 1200 rpm"
    )
    assert confirm_text("P-101/run_cmd", None, 1, "bool") == "P-101/run_cmd: ? -> 1"
    assert new_command_id() != new_command_id()


def test_wire_ack_keeps_outcome_code_text_and_duplicate() -> None:
    from adapters.modbus.control_link import wire_ack
    from runtime.bus import wire

    base = {"id": "a", "point": "p/x"}
    ref = Ack(**base, outcome=Outcome.REFUSED, code="interlock:IL-1", text="P-101 runs")  # type: ignore[arg-type]
    sent = wire.decode_ack(wire.encode_ack(wire_ack(ref)))
    assert sent == Ack("a", "p/x", Outcome.REFUSED, "P-101 runs", None, "interlock:IL-1")
    ok = Ack(**base, outcome=Outcome.CONFIRMED, readback=2.0, duplicate=True)  # type: ignore[arg-type]
    sent = wire.decode_ack(wire.encode_ack(wire_ack(ok)))
    assert (sent.outcome, sent.readback, sent.duplicate, sent.code) == ("confirmed", 2.0, True, "")
    odd = Ack(**base, outcome=Outcome.FAILED, code="read back",  # type: ignore[arg-type]
              text="caf\u00e9 " + "x" * 600, readback=float("nan"))
    sent = wire.decode_ack(wire.encode_ack(wire_ack(odd)))
    assert sent.code == "read_back" and sent.readback is None
    assert sent.text.startswith("caf? ") and len(sent.text) == wire.MAX_TEXT_LEN


def test_tracker_takes_bus_acks() -> None:
    from runtime.bus.wire import decode_ack, encode_ack

    def WireAck(*fields: object) -> Ack:  # noqa: N802 - as the bus delivers it
        return decode_ack(encode_ack(Ack(*fields)))  # type: ignore[arg-type]

    t = PendingTracker(timeout_ns=5 * S)
    t.sent("w1", "P-101/speed_sp_rpm", 900.0, 0, unit="rpm")
    t.sent("w2", "P-101/speed_sp_rpm", 5000.0, 0, unit="rpm")
    done = t.acked(WireAck("w1", "P-101/speed_sp_rpm", "confirmed", "ok", 900.0), 1)
    assert done is not None and done.state is PendingState.CONFIRMED and done.read_back == 900.0
    no = t.acked(WireAck("w2", "P-101/speed_sp_rpm", "refused", "too high", None, "range"), 1)
    assert no is not None and no.state is PendingState.REFUSED
    assert (no.reason, no.text) == ("range", "too high")
