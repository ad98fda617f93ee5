"""Start child processes, wait until they serve, and stop them all cleanly.

Used by ``twinstage demo`` and by end-to-end tests. Each child runs in its own session so a
terminal's Ctrl-C reaches only us, and we stop the children in reverse start order: first an
interrupt (they shut down and free their ports), then, after a grace period, a kill.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from runtime import REPO_ROOT
from runtime.errors import UsageError


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` (we can bind it ourselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_accepts(host: str, port: int, timeout_s: float = 0.2) -> bool:
    """True when a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def free_port_block(count: int, host: str = "127.0.0.1", start: int = 20000) -> int:
    """First port of ``count`` consecutive free ports at or above ``start`` (for tests)."""
    port = start
    while port + count < 65000:
        if all(port_is_free(host, port + i) for i in range(count)):
            return port
        port += count + 7
    raise UsageError(f"no {count} consecutive free ports on {host}")


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen
    log_path: Path | None


@dataclass
class Supervisor:
    """Owns child processes; ``stop_all`` leaves none behind."""

    log_dir: Path | None = None
    """Where each child's output goes (``<name>.log``); None: inherit our stdout/stderr."""
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, args: Sequence[str], env: dict[str, str] | None = None) -> Child:
        """Start ``twinstage ARGS`` with this interpreter as child ``name``."""
        argv = [sys.executable, "-m", "runtime.cli", *args]
        child_env = dict(os.environ)
        child_env["PYTHONUNBUFFERED"] = "1"
        if env:
            child_env.update(env)
        log_path = None
        out = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"{name}.log"
            out = log_path.open("wb")
        process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
        )
        if out is not None:
            out.close()
        child = Child(name, argv, process, log_path)
        self.children.append(child)
        return child

    def wait_until(self, child: Child, ready: Callable[[], bool], timeout_s: float) -> None:
        """Poll ``ready`` until true; fail clearly if the child exits or time runs out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                raise UsageError(
                    f"{child.name} exited with code {child.process.returncode}"
                    f"{self._log_hint(child)}"
                )
            if ready():
                return
            time.sleep(0.05)
        raise UsageError(
            f"{child.name} was not ready after {timeout_s:.0f} s{self._log_hint(child)}"
        )

    def first_exit(self) -> Child | None:
        """A child that has exited, or None while all run."""
        for child in self.children:
            if child.process.poll() is not None:
                return child
        return None

    def stop_all(self, grace_s: float = 5.0) -> dict[str, int]:
        """Interrupt children in reverse order, kill any still alive after ``grace_s``."""
        for child in reversed(self.children):
            self._signal(child, signal.SIGINT)
        deadline = time.monotonic() + grace_s
        codes: dict[str, int] = {}
        for child in reversed(self.children):
            remaining = max(0.0, deadline - time.monotonic())
            try:
                codes[child.name] = child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                self._signal(child, signal.SIGKILL)
                codes[child.name] = child.process.wait()
        self.children.clear()
        return codes

    @staticmethod
    def _signal(child: Child, sig: int) -> None:
        if child.process.poll() is not None:
            return
        try:
            os.killpg(child.process.pid, sig)  # the child leads its own process group
        except ProcessLookupError:
            pass

    @staticmethod
    def _log_hint(child: Child) -> str:
        if child.log_path is None or not child.log_path.exists():
            return ""
        tail = child.log_path.read_text(errors="replace").strip().splitlines()[-5:]
        return f"; its log ({child.log_path}) ends:\n  " + "\n  ".join(tail)
