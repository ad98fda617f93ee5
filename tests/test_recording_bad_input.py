"""Bad recordings and bad disks: each is a RecordingError naming the file and the problem
(the CLI prints it and exits 2), never a traceback; a full disk stops the recording cleanly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcap.writer import Writer
from recording_fixtures import REPO_ROOT, T0_NS, fixed_clock, write_traffic

from runtime.bus.wire import columns, layout_of
from runtime.errors import UsageError
from runtime.recording.errors import (
    BadRecordingError,
    DiskFullError,
    RecordingError,
    RecordingWriteError,
)
from runtime.recording.mcap_file import McapFile
from runtime.recording.reader import open_recording
from runtime.recording.schemas import TOPIC_READINGS
from runtime.recording.writer import RecordingWriter


def _open_fails(path: Path, *words: str) -> RecordingError:
    with pytest.raises(RecordingError) as info:
        with open_recording(path) as rec:
            list(rec.iter_messages())
    text = str(info.value)
    assert str(path) in text, text
    for word in words:
        assert word in text, text
    return info.value


def test_recording_errors_are_usage_errors_so_the_cli_exits_2() -> None:
    assert issubclass(RecordingError, UsageError)
    assert issubclass(DiskFullError, RecordingWriteError)


def test_missing_file(tmp_path: Path) -> None:
    _open_fails(tmp_path / "nope.mcap", "no such file")


def test_directory_without_recordings(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a recording")
    _open_fails(tmp_path, "no .mcap")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "rec.mcap"
    path.touch()
    _open_fails(path, "empty")


def test_a_start_cut_inside_the_magic(tmp_path: Path) -> None:
    path = tmp_path / "rec.mcap"
    path.write_bytes(b"\x89MCA")
    _open_fails(path, "stopped before it wrote anything")


def test_not_mcap(tmp_path: Path) -> None:
    path = tmp_path / "rec.mcap"
    path.write_text("timestamp,point,value\n1,P-101/speed_rpm,1450\n")
    _open_fails(path, "not an MCAP file")


def test_foreign_mcap_says_which_channels_it_has(tmp_path: Path) -> None:
    path = tmp_path / "robot.mcap"
    with open(path, "wb") as f:
        writer = Writer(f)
        writer.start(profile="ros2", library="test")
        schema = writer.register_schema("sensor_msgs/msg/Temperature", "ros2msg", b"float64 t")
        channel = writer.register_channel("/robot/temperature", "cdr", schema)
        writer.add_message(channel, T0_NS, b"\x00" * 8, T0_NS)
        writer.finish()
    _open_fails(path, "not a twinstage recording", "/robot/temperature",
                "sensor_msgs/msg/Temperature")


def test_a_newer_format_version(tmp_path: Path) -> None:
    path = tmp_path / "rec.mcap"
    out = McapFile(path, start_ns=T0_NS, metadata={"format": "twinstage.recording",
                                                   "version": "2"})
    out.add(TOPIC_READINGS, T0_NS, b"{}", T0_NS)
    out.finish()
    _open_fails(path, "version '2'", "upgrade")


@pytest.mark.parametrize("payload, words", [
    (b'{"source":"a","epoch":1,"seq":1,"t_ns":5,"points":["P-1/x"],"values":[1.0],'
     b'"quality":[7],"reason":[0],"t_source_ns":[4]}', ["quality"]),
    (b'{"source":"a","epoch":1', ["not JSON"]),
    (b'\xff\xfe', ["not JSON"]),
    (b'[1, 2]', ["expected an object"]),
    (b'{"source":"a"}', ["missing"]),
])
def test_a_message_failing_validation_names_channel_and_time(
        tmp_path: Path, payload: bytes, words: list[str]) -> None:
    path = tmp_path / "rec.mcap"
    out = McapFile(path, start_ns=T0_NS)
    out.add(TOPIC_READINGS, T0_NS + 1_500_000_000, payload, T0_NS)
    out.finish()
    _open_fails(path, TOPIC_READINGS, "2025-11-24T16:00:01.500Z", "not valid", *words)


def test_unreadable_file(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    write_traffic(out, 2.0)
    (path,) = out.glob("*.mcap")
    path.chmod(0)
    code = ("import sys\nfrom pathlib import Path\n"
            "from runtime.recording.reader import open_recording\n"
            "from runtime.recording.errors import RecordingError\n"
            "try:\n    open_recording(Path(sys.argv[1]))\n"
            "except RecordingError as exc:\n    print(exc)\n    sys.exit(2)\n")
    command = [sys.executable, "-c", code, str(path)]
    if os.geteuid() == 0:  # root reads anything: drop the capabilities that allow that
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a file unreadable")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)), cwd=REPO_ROOT)
    assert done.returncode == 2, done.stderr
    assert str(path) in done.stdout and "permission denied" in done.stdout
    assert "Traceback" not in done.stderr


def test_a_directory_skips_an_empty_last_file_with_a_warning(tmp_path: Path) -> None:
    write_traffic(tmp_path, 3.0)
    empty = tmp_path / "rec-20991231T235959Z.mcap"
    empty.touch()
    with open_recording(tmp_path) as rec:
        assert any(str(empty) in w and "skipped" in w for w in rec.warnings)
        assert empty not in rec.files and len(rec.files) == 1


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_files_raise_only_recording_errors(
        tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    """Truncate and flip bytes anywhere in a real file: opening and reading it either works
    (maybe with warnings) or raises BadRecordingError; nothing else escapes."""
    source = _small_recording(tmp_path_factory)
    blob = bytearray(source)
    cut = data.draw(st.integers(0, len(blob)))
    del blob[cut:]
    for _ in range(data.draw(st.integers(0, 4))):
        if blob:
            i = data.draw(st.integers(0, len(blob) - 1))
            blob[i] = data.draw(st.integers(0, 255))
    path = tmp_path_factory.mktemp("fuzz") / "rec.mcap"
    path.write_bytes(bytes(blob))
    try:
        with open_recording(path) as rec:
            list(rec.iter_messages())
            rec.events()
            rec.seek_messages((rec.start_ns + rec.end_ns) // 2)
    except BadRecordingError as exc:
        assert str(path) in str(exc)


_SMALL: list[bytes] = []


def _small_recording(factory: pytest.TempPathFactory) -> bytes:
    if not _SMALL:
        out = factory.mktemp("small")
        write_traffic(out, 4.0, flush_s=0.5, keyframe_s=1.0)
        (path,) = out.glob("*.mcap")
        _SMALL.append(path.read_bytes())
    return _SMALL[0]


# -- disk full ------------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path):  # noqa: ANN201 - a generator fixture
    """A 256 KiB tmpfs (needs root); skipped, saying why, where it cannot be mounted."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs",
                           str(mount_point)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a 256 KiB tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_disk_full_stops_the_recording_with_a_clear_error(tiny_disk: Path) -> None:
    out = tiny_disk / "rec"
    layout = layout_of([f"P-{k}/value" for k in range(200)])
    rng = np.random.default_rng(3)
    writer = RecordingWriter(out, flush_s=0.1, clock=fixed_clock)
    with pytest.raises(DiskFullError) as info:
        for i in range(100_000):  # ~3 MB of poorly compressible values: the disk fills
            t = T0_NS + i * 10_000_000
            writer.write_readings(t, "plc", 1, i + 1, t, columns(
                layout, rng.random(200), np.zeros(200, np.uint8), np.zeros(200, np.uint8),
                np.full(200, t, np.int64)))
            writer.tick(t)
    error = info.value
    text = str(error)
    assert text.startswith(f"disk full writing {out}/rec-"), text
    assert "recording stopped" in text and "were not written" in text
    with pytest.raises(DiskFullError):  # stays stopped, same clear error
        writer.write_readings(T0_NS + 10**12, "plc", 1, 1, T0_NS, columns(
            layout, np.zeros(200), np.zeros(200, np.uint8), np.zeros(200, np.uint8),
            np.zeros(200, np.int64)))
    writer.close()  # releases the file, raises nothing more
    with open_recording(error.path) as rec:  # what reached the disk is readable
        assert rec.warnings and "interrupted" in rec.warnings[0]
        assert rec.channels()[TOPIC_READINGS] > 0
    json.dumps(text)  # one printable line
    assert "\n" not in text
