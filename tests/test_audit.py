"""The audit log (R14): hash chain, fsync before ack, tamper detection, crash survival."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT, run_cli
from control_fixtures import ManualClock, good_readings, pump_devices
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.control.ack import Outcome
from runtime.control.audit import (
    GENESIS_HASH,
    AuditLog,
    AuditUnavailableError,
    canonical,
    record_hash,
    verify,
)
from runtime.control.command import ControlCommand
from runtime.control.executor import Executor
from runtime.control.policy import WritePolicy


def _append(log: AuditLog, n: int, point: str = "P-101/speed_sp_rpm") -> None:
    for i in range(n):
        log.append(
            actor="ann",
            role="operator",
            host="hmi-1",
            command_id=f"c{i}",
            point=point,
            action="write",
            old_value=float(i),
            new_value=float(i + 1),
            outcome="refused" if i % 2 else "pending",
            reason="range" if i % 2 else "",
            detail=f"attempt {i} — naïve text",
        )


def _make_log(tmp_path: Path, n: int = 5) -> Path:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, clock=ManualClock())
    _append(log, n)
    log.close()
    return path


def test_records_chain_from_genesis(tmp_path: Path) -> None:
    path = _make_log(tmp_path, 3)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[0]["prev_hash"] == GENESIS_HASH
    for prev, rec in zip(records, records[1:], strict=False):
        assert rec["prev_hash"] == prev["hash"]
    assert all(r["hash"] == record_hash(r) for r in records)
    result = verify(path)
    assert result.ok and result.records == 3 and result.head_hash == records[-1]["hash"]


def test_reopen_continues_the_chain(tmp_path: Path) -> None:
    path = _make_log(tmp_path, 2)
    log = AuditLog(path)
    assert log.available and log.last_seq == 2
    _append(log, 2)
    log.close()
    result = verify(path)
    assert result.ok and result.last_seq == 4


def test_non_finite_values_are_kept_as_text(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    rec = log.append(
        actor="a", role="operator", host="h", command_id="c", point="p", action="write",
        old_value=None, new_value=float("nan"), outcome="refused", reason="range",
    )  # fmt: skip
    assert rec["new_value"] == "nan"
    assert verify(tmp_path / "a.jsonl").ok


# -- tampering ---------------------------------------------------------------------------------


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_changed_byte_is_detected(tmp_path: Path, data: st.DataObject) -> None:
    path = tmp_path / "audit.jsonl"
    if not path.exists():
        _make_log(tmp_path, 4)
    original = path.read_bytes()
    pos = data.draw(st.integers(0, len(original) - 1), label="position")
    new = data.draw(st.integers(0, 255).filter(lambda b: b != original[pos]), label="byte")
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_bytes(original[:pos] + bytes([new]) + original[pos + 1 :])
    result = verify(tampered)
    assert not result.ok
    line_of_pos = original[:pos].count(b"\n") + 1
    assert result.line is not None and result.line <= line_of_pos + 1


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


@pytest.mark.parametrize("index", [0, 2])
def test_deleted_record_is_detected(tmp_path: Path, index: int) -> None:
    path = _make_log(tmp_path, 5)
    lines = _lines(path)
    del lines[index]
    path.write_bytes(b"".join(lines))
    result = verify(path)
    assert not result.ok and result.line == index + 1
    assert "chain broken" in result.problem


def test_cut_off_tail_changes_the_head(tmp_path: Path) -> None:
    """Cutting records off the end keeps a valid chain (documented limit); the head printed
    by `audit verify` changes, which is what an external copy of it catches."""
    path = _make_log(tmp_path, 5)
    before = verify(path)
    path.write_bytes(b"".join(_lines(path)[:-1]))
    after = verify(path)
    assert after.ok and after.last_seq == before.last_seq - 1
    assert after.head_hash != before.head_hash


def test_reordered_records_are_detected(tmp_path: Path) -> None:
    path = _make_log(tmp_path, 5)
    lines = _lines(path)
    lines[1], lines[3] = lines[3], lines[1]
    path.write_bytes(b"".join(lines))
    result = verify(path)
    assert not result.ok and result.line == 2


def test_rehashed_edit_breaks_the_next_link(tmp_path: Path) -> None:
    """An editor who recomputes the edited record's own hash still breaks the chain."""
    path = _make_log(tmp_path, 4)
    lines = _lines(path)
    rec = json.loads(lines[1])
    rec["new_value"] = 9999.0
    rec["hash"] = record_hash(rec)
    lines[1] = canonical(rec) + b"\n"
    path.write_bytes(b"".join(lines))
    result = verify(path)
    assert not result.ok and result.line == 3 and "chain broken" in result.problem


def test_cli_verify_exit_codes(tmp_path: Path) -> None:
    path = _make_log(tmp_path, 4)
    ok = run_cli("audit", "verify", str(path))
    assert ok.returncode == 0, ok.stderr
    assert "ok" in ok.stdout and "4 records" in ok.stdout
    lines = _lines(path)
    lines[2] = lines[2].replace(b'"actor":"ann"', b'"actor":"eve"')
    path.write_bytes(b"".join(lines))
    bad = run_cli("audit", "verify", str(path))
    assert bad.returncode == 1
    assert f"{path}:3:" in bad.stderr and "altered" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = run_cli("audit", "verify", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr and "Traceback" not in missing.stderr


# -- unavailable log: writes stop --------------------------------------------------------------


class RecordingWriter:
    """A DeviceWriter that remembers what it was asked to write (no device)."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, float]] = []
        self.values: dict[str, float] = {}

    async def write(self, point: str, value: float) -> None:
        self.writes.append((point, value))
        self.values[point] = value

    async def read_back(self, point: str) -> float:
        return self.values[point]


def _executor(audit: AuditLog) -> tuple[Executor, RecordingWriter]:
    devices = pump_devices()
    writer = RecordingWriter()
    return Executor(WritePolicy(devices), audit, writer, good_readings(devices)), writer


def _setpoint(ident: str, value: float = 3.0) -> ControlCommand:
    return ControlCommand(
        id=ident, point="LIC-102/setpoint_m", value=value, role="operator", actor="ann",
        host="hmi-1",
    )  # fmt: skip


def test_unopenable_log_refuses_writes(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path)  # a folder, not a file
    assert not audit.available
    executor, writer = _executor(audit)
    ack = asyncio.run(executor.execute(_setpoint("c1")))
    assert (ack.outcome, ack.code) == (Outcome.REFUSED, "audit_unavailable")
    assert writer.writes == []


def test_disk_full_stops_writes(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path)
    executor, writer = _executor(audit)
    assert asyncio.run(executor.execute(_setpoint("c1"))).outcome is Outcome.CONFIRMED
    # Swap the log's descriptor for /dev/full: every write fails with ENOSPC.
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, audit._fd)  # type: ignore[arg-type]
    os.close(full)
    ack = asyncio.run(executor.execute(_setpoint("c2", 3.5)))
    assert (ack.outcome, ack.code) == (Outcome.REFUSED, "audit_unavailable")
    assert writer.writes == [("LIC-102/setpoint_m", 3.0)]
    with pytest.raises(AuditUnavailableError):
        _append(audit, 1)
    ack = asyncio.run(executor.execute(_setpoint("c3", 3.5)))
    assert ack.code == "audit_unavailable" and len(writer.writes) == 1
    assert verify(path).ok


def test_damaged_log_is_not_opened_for_writing(tmp_path: Path) -> None:
    path = _make_log(tmp_path, 3)
    lines = _lines(path)
    path.write_bytes(lines[0] + lines[2])
    audit = AuditLog(path)
    assert not audit.available and "line 2" in (audit.problem or "")
    executor, writer = _executor(audit)
    assert asyncio.run(executor.execute(_setpoint("c1"))).code == "audit_unavailable"
    assert writer.writes == []
    assert path.read_bytes() == lines[0] + lines[2]  # never repaired silently


@pytest.mark.parametrize("cut", [1, 40])
def test_torn_tail_is_repaired_and_recorded(tmp_path: Path, cut: int) -> None:
    path = _make_log(tmp_path, 3)
    whole = path.read_bytes()
    path.write_bytes(whole + _lines(path)[0][:cut])  # a half-written fourth line
    assert verify(path).torn_tail
    audit = AuditLog(path)
    assert audit.available and audit.repaired and "removed" in audit.repaired
    audit.close()
    result = verify(path)
    assert result.ok and result.records == 4
    last = json.loads(_lines(path)[-1])
    assert (last["action"], last["outcome"], last["reason"]) == ("audit", "recovered", "torn_tail")


def test_unterminated_but_complete_record_is_kept(tmp_path: Path) -> None:
    path = _make_log(tmp_path, 3)
    path.write_bytes(path.read_bytes()[:-1])
    audit = AuditLog(path)
    assert audit.available and audit.last_seq == 4 and "completed" in (audit.repaired or "")
    audit.close()
    assert verify(path).ok


# -- crashes -----------------------------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    sys.path.insert(0, "tests")
    from control_fixtures import LoopbackPlant, good_readings, pump_devices
    from runtime.control.audit import AuditLog
    from runtime.control.command import ControlCommand
    from runtime.control.executor import Executor
    from runtime.control.modbus_writer import ModbusDeviceWriter
    from runtime.control.policy import WritePolicy

    class StallAfterWrite:
        # Real Modbus write, then hang before read-back: the ack never goes out.
        def __init__(self, inner):
            self.inner = inner
        async def write(self, point, value):
            await self.inner.write(point, value)
            print("WRITTEN", flush=True)
        async def read_back(self, point):
            await asyncio.sleep(3600)

    async def main():
        devices = pump_devices()
        plant = await LoopbackPlant(devices).start()
        writer = await ModbusDeviceWriter.connect(devices, hosts=plant.hosts)
        ex = Executor(WritePolicy(devices), AuditLog(sys.argv[1]), StallAfterWrite(writer),
                      good_readings(devices))
        cmd = ControlCommand(id="kill-me", point="LIC-102/setpoint_m", value=2.5,
                             role="operator", actor="ann", host="hmi-1")
        ack = await ex.execute(cmd)
        print("ACKED", ack, flush=True)

    asyncio.run(main())
    """
)


def _wait_for_line(proc: subprocess.Popen[str], expected: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip() == expected:
            return
        if not line and proc.poll() is not None:
            raise AssertionError(f"child exited {proc.returncode}: {proc.stderr.read()}")  # type: ignore[union-attr]
    raise AssertionError(f"no {expected!r} from child")


def test_kill_9_between_write_and_ack_leaves_the_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_line(proc, "WRITTEN")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    result = verify(path)
    assert result.ok and result.records == 1
    record = json.loads(path.read_text())
    assert (record["command_id"], record["outcome"], record["new_value"]) == (
        "kill-me",
        "pending",
        2.5,
    )
    reopened = AuditLog(path)  # the restarted adapter carries on the same chain
    assert reopened.available and reopened.repaired is None
    _append(reopened, 1)
    reopened.close()
    assert verify(path).records == 2


_APPENDER = textwrap.dedent(
    """
    import sys
    from runtime.control.audit import AuditLog
    log = AuditLog(sys.argv[1])
    print("OPEN", flush=True)
    i = 0
    while True:
        i += 1
        log.append(actor="a" * (i % 300), role="operator", host="h", command_id=str(i),
                   point="P-101/speed_sp_rpm", action="write", old_value=0.0,
                   new_value=float(i), outcome="refused", reason="rate")
    """
)


def test_kill_9_during_appends_never_breaks_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    for round_ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", _APPENDER, str(path)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_for_line(proc, "OPEN")
            start = path.stat().st_size
            deadline = time.monotonic() + 20
            while path.stat().st_size < start + 4000 and time.monotonic() < deadline:
                time.sleep(0.005)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        result = verify(path)
        assert result.ok or result.torn_tail, (round_, result)
    audit = AuditLog(path)
    assert audit.available, audit.problem
    audit.close()
    assert verify(path).ok


def _keyed_log(path: Path, key: bytes, n: int = 5) -> None:
    log = AuditLog(path, key=key)
    for i in range(n):
        log.append(actor="alice", role="operator", host="ws-3", command_id=f"c{i}",
                   point="P-101/speed_sp_rpm", action="write", old_value=1.0,
                   new_value=float(i), outcome="confirmed", reason="", detail="")
    log.close()


def test_a_rewritten_keyed_chain_fails_verify(tmp_path: Path) -> None:
    """R20: whoever can write the file but not read the key cannot recompute the chain."""
    import hashlib as _hashlib

    from runtime.control.audit import canonical, key_id, verify

    key = bytes(range(32))
    path = tmp_path / "audit.jsonl"
    _keyed_log(path, key)
    assert verify(path, key).ok and verify(path, key).records == 6
    # The attacker edits a record and recomputes every hash as an unkeyed chain would.
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records[3]["new_value"] = 999.0
    prev = records[0]["prev_hash"]
    lines = []
    for r in records:
        r["prev_hash"] = prev
        r["hash"] = _hashlib.sha256(canonical({k: v for k, v in r.items()
                                               if k != "hash"})).hexdigest()
        prev = r["hash"]
        lines.append(canonical(r) + b"\n")
    path.write_bytes(b"".join(lines))
    bad = verify(path, key)
    assert not bad.ok and bad.line == 1 and "altered" in bad.problem
    # Stripping the keyed header leaves an unkeyed chain: refused when a key is given.
    path.write_bytes(b"".join(lines[1:]))
    stripped = verify(path, key)
    assert not stripped.ok and "not keyed" in stripped.problem
    # Without the key a keyed log is not called intact either.
    _keyed_log(tmp_path / "other.jsonl", key)
    assert "verify it with its key" in verify(tmp_path / "other.jsonl").problem
    assert key_id(key) in (tmp_path / "other.jsonl").read_text()


def test_keyed_log_reopens_and_refuses_a_wrong_key(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _keyed_log(path, b"k" * 32, 2)
    again = AuditLog(path, key=b"k" * 32)
    assert again.available and again.last_seq == 3
    again.close()
    wrong = AuditLog(path, key=b"x" * 32)
    assert not wrong.available and "key id" in (wrong.problem or "")


def test_verify_against_a_recorded_head_finds_a_rewritten_unkeyed_chain(tmp_path: Path) -> None:
    from runtime.control.audit import canonical, record_hash

    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    for i in range(4):
        log.append(actor="alice", role="operator", host="h", command_id=f"c{i}", point="P-1/x",
                   action="write", old_value=0.0, new_value=float(i), outcome="confirmed",
                   reason="", detail="")
    recorded = f"{log.last_seq}:{log.head_hash}"  # what the bus carried to the recorder
    log.close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records[1]["new_value"] = 99.0
    prev = "0" * 64
    for r in records:  # recompute the whole unkeyed chain: verify alone cannot tell
        r["prev_hash"] = prev
        r["hash"] = prev = record_hash(r)
    path.write_bytes(b"".join(canonical(r) + b"\n" for r in records))
    assert run_cli("audit", "verify", str(path), timeout_s=60).returncode == 0
    bad = run_cli("audit", "verify", str(path), "--head", recorded, timeout_s=60)
    assert bad.returncode == 1 and "rewritten" in bad.stderr, bad.stderr
