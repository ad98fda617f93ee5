"""Append-only, hash-chained audit log of write attempts (reliability R14).

Format: JSON Lines, one record per line, each line the canonical JSON of the record (keys
sorted, no spaces, ASCII only) followed by ``\\n``. Fields::

    seq, t_ns, actor, role, host, command_id, point, action, old_value, new_value,
    outcome, reason, detail, prev_hash, hash

``seq`` counts from 1 with no gaps; ``t_ns`` is wall-clock Unix time in ns; ``prev_hash`` is
the previous record's ``hash`` (64 zeros for the first); ``hash`` is the SHA-256 hex digest of
the canonical JSON of the record without ``hash``. Changing any byte, deleting, inserting or
reordering records breaks the chain at a line :func:`verify` names. Cutting records off the
end cannot be seen from the file alone: keep the ``seq`` and ``hash`` that ``twinstage audit
verify`` prints somewhere else if that matters.

Keyed chains (R20): with a key (32 secret bytes the adapter holds, ``keys/audit.key``) every
``hash`` is HMAC-SHA256 under that key instead of SHA-256, and the log starts with a header
record (action ``audit``, outcome ``keyed``, detail ``hmac-sha256 key id <16 hex>``). Whoever can
write the file but does not hold the key cannot recompute the chain after an edit: verify
finds the first altered record. A keyed log is verified with its key only; an unkeyed log is
refused by an adapter that holds a key (start a new log), so the header cannot simply be
stripped.

Durability: :meth:`AuditLog.append` writes the whole line, then ``os.fsync``, before it returns;
the caller sends its acknowledgement only after that. A crash mid-append leaves at most one
incomplete last line (no ``\\n``). Opening the log verifies the whole chain; an incomplete last
line is completed if it is a valid record, otherwise cut off, and the repair is itself
recorded (action ``audit``, outcome ``recovered``). Any other damage is never repaired: the log
is unavailable and every write is refused until a person looks at it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first record."""
FIELDS = (
    "seq",
    "t_ns",
    "actor",
    "role",
    "host",
    "command_id",
    "point",
    "action",
    "old_value",
    "new_value",
    "outcome",
    "reason",
    "detail",
    "prev_hash",
    "hash",
)
"""Every record has exactly these keys."""


class AuditUnavailableError(Exception):
    """The log cannot be written (or was found damaged): writes must be refused."""


AuditUnavailable = AuditUnavailableError
"""Short name used in the issue and the design notes."""


def canonical(record: dict[str, Any]) -> bytes:
    """The one byte form of a record: sorted keys, no spaces, ASCII, no NaN."""
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def record_hash(record: dict[str, Any], key: bytes | None = None) -> str:
    """SHA-256 hex (HMAC-SHA256 under ``key`` when given) over the canonical JSON of
    ``record`` without its ``hash`` key."""
    body = canonical({k: v for k, v in record.items() if k != "hash"})
    if key is not None:
        return hmac.new(key, body, hashlib.sha256).hexdigest()
    return hashlib.sha256(body).hexdigest()


KEYED_ACTION, KEYED_OUTCOME = "audit", "keyed"


def key_id(key: bytes) -> str:
    """A public name for an audit key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:16]


def _keyed_header(raw: bytes) -> str | None:
    """The key id a log's first line declares, or None when it is not a keyed header."""
    try:
        record = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("action") != KEYED_ACTION or \
            record.get("outcome") != KEYED_OUTCOME:
        return None
    detail = str(record.get("detail", ""))
    return detail.rsplit(" ", 1)[-1] if detail.startswith("hmac-sha256 key id ") else ""


def _json_value(value: float | None) -> float | str | None:
    """Numbers as JSON allows: NaN and infinities (a bad request) are kept as text."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else repr(value)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of :func:`verify`: ``ok``, or the first bad line (1-based) and what is wrong."""

    ok: bool
    records: int
    """Records checked and found good (all of them when ok)."""
    last_seq: int
    head_hash: str
    """``hash`` of the last good record (GENESIS_HASH for an empty log)."""
    line: int | None = None
    problem: str = ""
    torn_tail: bool = False
    """The only problem is an incomplete last line: what a crash mid-append leaves."""
    good_bytes: int = 0
    """Length of the file up to the end of the last good line."""


def _check_line(raw: bytes, prev: dict[str, Any] | None,
                key: bytes | None = None) -> tuple[dict[str, Any] | None, str]:
    try:
        record = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None, "not a valid JSON record (damaged or edited)"
    if not isinstance(record, dict):
        return None, "not a JSON object"
    keys = set(record)
    if keys != set(FIELDS):
        missing = sorted(set(FIELDS) - keys)
        extra = sorted(keys - set(FIELDS))
        return None, f"wrong fields (missing {missing}, unexpected {extra})"
    try:
        body = canonical(record)
    except ValueError:
        return None, "contains a value JSON does not allow"
    if body != raw:
        return None, "not in canonical form: the record was edited"
    if not isinstance(record["hash"], str) or not hmac.compare_digest(
            record["hash"], record_hash(record, key)):
        keyed = " or its key" if key is not None else ""
        return None, f"hash does not match the record's content{keyed}: the record was altered"
    expected_seq = 1 if prev is None else prev["seq"] + 1
    expected_prev = GENESIS_HASH if prev is None else prev["hash"]
    if record["prev_hash"] != expected_prev:
        where = "the start of the log" if prev is None else f"record seq {prev['seq']}"
        return None, (
            f"chain broken: prev_hash does not match {where} "
            "(a record was deleted, inserted or reordered)"
        )
    if record["seq"] != expected_seq:
        return None, f"seq {record['seq']} where {expected_seq} was expected"
    return record, ""


def _lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes without newline, terminated) for each line of the file."""
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            terminated = raw.endswith(b"\n")
            yield number, raw[:-1] if terminated else raw, terminated


def is_keyed(path: str | Path) -> bool:
    """Whether the log at ``path`` starts with a keyed header (OSError if unreadable)."""
    with Path(path).open("rb") as f:
        return _keyed_header(f.readline().rstrip(b"\n")) is not None


def verify(path: str | Path, key: bytes | None = None) -> VerifyResult:
    """Check every record and the chain; stop at the first problem. Reads only.

    A keyed log needs its ``key`` (and an unkeyed log is refused when a key is given: a keyed
    log whose header was stripped and chain recomputed looks like one). Raises OSError if the
    file cannot be read (the CLI turns that into a usage error).
    """
    path = Path(path)
    prev: dict[str, Any] | None = None
    count = 0
    good_bytes = 0
    checked_header = False

    def result(**problem: Any) -> VerifyResult:
        """The verdict so far: ``problem`` holds ok/line/problem/torn_tail when it is bad."""
        return VerifyResult(
            ok=problem.pop("ok", False),
            records=count,
            last_seq=0 if prev is None else prev["seq"],
            head_hash=GENESIS_HASH if prev is None else prev["hash"],
            good_bytes=good_bytes,
            **problem,
        )

    for number, raw, terminated in _lines(path):
        if not checked_header:
            checked_header = True
            declared = _keyed_header(raw)
            if declared is not None and key is None:
                return result(line=number, problem=f"the log is keyed (HMAC, key id "
                              f"{declared}): verify it with its key (--key FILE)")
            if declared is None and key is not None:
                return result(line=number, problem="the log is not keyed, but a key was given: "
                              "an unkeyed chain can be rewritten by anyone who can write the "
                              "file (or a keyed log's header was removed)")
            if declared is not None and key is not None and declared != key_id(key):
                return result(line=number, problem=f"the log is keyed with key id {declared}, "
                              f"not with the given key ({key_id(key)})")
        record, problem = _check_line(raw, prev, key)
        if not terminated:
            what = "a valid record" if record is not None else "an incomplete record"
            return result(
                line=number,
                problem=(
                    f"the last line is {what} without its newline: a crash during an append; "
                    "opening the log for writing repairs it"
                ),
                torn_tail=True,
            )
        if record is None:
            return result(line=number, problem=problem)
        prev = record
        count += 1
        good_bytes += len(raw) + 1
    return result(ok=True)


def head_problem(path: str | Path, log_seq: int, head: str) -> str | None:
    """Why the log at ``path`` does not contain record ``log_seq`` with hash ``head`` (a head
    recorded elsewhere, e.g. from the bus), or None when it does."""
    for _number, raw, _terminated in _lines(Path(path)):
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("seq") == log_seq:
            if record.get("hash") == head:
                return None
            return (f"record seq {log_seq} has hash {str(record.get('hash'))[:16]}..., not the "
                    f"recorded head {head[:16]}...: the log was rewritten")
    return f"no record seq {log_seq}: the log was cut short after the head was recorded"


class AuditLog:
    """The adapter's audit log. Construction never raises: a log that cannot be opened, or is
    damaged, leaves :attr:`problem` set and every :meth:`append` raising AuditUnavailableError, so
    the adapter keeps polling but refuses writes.

    Thread-safe: the executor appends from a worker thread so ``fsync`` never stalls polling.
    """

    def __init__(self, path: str | Path, *, clock: Callable[[], int] = time.time_ns,
                 key: bytes | None = None) -> None:
        self.path = Path(path)
        self._clock = clock
        self._key = key
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._seq = 0
        self._head = GENESIS_HASH
        self._size = 0
        self.problem: str | None = None
        """Why writes are refused, or None while the log is healthy."""
        self.repaired: str | None = None
        """What opening repaired (an incomplete last line), or None."""
        try:
            self._open()
        except OSError as exc:
            self._fail(f"cannot open audit log {self.path}: {exc.strerror or exc}")

    @property
    def available(self) -> bool:
        return self.problem is None

    @property
    def last_seq(self) -> int:
        return self._seq

    @property
    def head_hash(self) -> str:
        return self._head

    def _open(self) -> None:
        created = not self.path.exists()
        if created:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        self._fd = fd
        if created:
            _fsync_dir(self.path.parent)
        result = verify(self.path, self._key)
        if not result.ok and not result.torn_tail:
            self._fail(
                f"audit log {self.path} is damaged at line {result.line}: {result.problem}; "
                "writes are refused until it is examined (twinstage audit verify)"
            )
            return
        self._seq = result.last_seq
        self._head = result.head_hash
        self._size = result.good_bytes
        if result.torn_tail:
            self._repair_tail(result)
        if self._key is not None and self._seq == 0:
            self.append(actor="twinstage", role="", host=socket.gethostname(), command_id="",
                        point="", action=KEYED_ACTION, old_value=None, new_value=None,
                        outcome=KEYED_OUTCOME, reason="hmac-sha256",
                        detail=f"hmac-sha256 key id {key_id(self._key)}")

    def _repair_tail(self, result: VerifyResult) -> None:
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        with self.path.open("rb") as f:
            f.seek(result.good_bytes)
            tail = f.read()
        record, _problem = _check_line(tail, None if self._seq == 0 else self._last_record(),
                                       self._key)
        if record is not None:
            os.write(self._fd, b"\n")
            os.fsync(self._fd)
            self._seq = record["seq"]
            self._head = record["hash"]
            self._size = size + 1
            self.repaired = f"completed the last record (seq {record['seq']}) with its newline"
        else:
            os.ftruncate(self._fd, result.good_bytes)
            os.fsync(self._fd)
            self._size = result.good_bytes
            self.repaired = (
                f"removed an incomplete last record ({size - result.good_bytes} bytes at "
                f"line {result.line}) left by a crash during an append"
            )
        self.append(
            actor="twinstage",
            role="",
            host=socket.gethostname(),
            command_id="",
            point="",
            action="audit",
            old_value=None,
            new_value=None,
            outcome="recovered",
            reason="torn_tail",
            detail=self.repaired,
        )

    def _last_record(self) -> dict[str, Any]:
        last = None
        for _n, raw, terminated in _lines(self.path):
            if terminated:
                last = raw
        assert last is not None
        return json.loads(last)

    def _fail(self, problem: str) -> None:
        self.problem = problem
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

    def append(
        self,
        *,
        actor: str,
        role: str,
        host: str,
        command_id: str,
        point: str,
        action: str,
        old_value: float | None,
        new_value: float | None,
        outcome: str,
        reason: str,
        detail: str = "",
    ) -> dict[str, Any]:
        """Append one record and fsync it; return the record once it is on disk.

        Raises AuditUnavailableError if the log is unavailable or this write fails; after a failure
        the log stays unavailable (a half-written line must not be followed by more records).
        """
        with self._lock:
            if self.problem is not None or self._fd is None:
                raise AuditUnavailableError(self.problem or "audit log is closed")
            record: dict[str, Any] = {
                "seq": self._seq + 1,
                "t_ns": int(self._clock()),
                "actor": str(actor),
                "role": str(role),
                "host": str(host),
                "command_id": str(command_id),
                "point": str(point),
                "action": str(action),
                "old_value": _json_value(old_value),
                "new_value": _json_value(new_value),
                "outcome": str(outcome),
                "reason": str(reason),
                "detail": str(detail),
                "prev_hash": self._head,
            }
            record["hash"] = record_hash(record, self._key)
            line = canonical(record) + b"\n"
            try:
                _write_all(self._fd, line)
                os.fsync(self._fd)
            except OSError as exc:
                self._undo_partial()
                self._fail(
                    f"cannot write audit log {self.path}: {exc.strerror or exc}; "
                    "writes are refused until the adapter is restarted with a writable log"
                )
                raise AuditUnavailableError(self.problem or "") from exc
            self._seq = record["seq"]
            self._head = record["hash"]
            self._size += len(line)
            return record

    def _undo_partial(self) -> None:
        """Best effort: cut a partly written line so the file ends on a whole record."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, self._size)
            os.fsync(self._fd)
        except OSError:
            pass

    def close(self) -> None:
        """Close the file; later appends raise AuditUnavailableError."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if self.problem is None:
                self.problem = "audit log is closed"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(directory: Path) -> None:
    """Make a newly created file's directory entry durable too."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = [
    "FIELDS",
    "GENESIS_HASH",
    "AuditLog",
    "AuditUnavailable",
    "AuditUnavailableError",
    "VerifyResult",
    "canonical",
    "head_problem",
    "record_hash",
    "verify",
]
