"""A throwaway PostgreSQL cluster on a unix socket in a temporary folder (tests and bench).

Uses Debian's server binaries (``/usr/lib/postgresql/*/bin``; ``.ci/run`` installs them).
initdb refuses to run as root, so as root the cluster runs as the ``postgres`` system user the
package creates, in a folder it owns.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path


def server_bin() -> Path | None:
    """The newest installed server's bin folder, or None when PostgreSQL is not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(found[-1]).parent if found else None


class PgCluster:
    """``start()`` -> a URL for ``--store``; ``stop()`` / ``start_server()`` for outage tests;
    ``destroy()`` removes everything."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        found = bin_dir or server_bin()
        if found is None:
            raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql "
                               "(apt-get install postgresql)")
        self.bin = found
        self.root = Path(tempfile.mkdtemp(prefix="twinstage-pg-"))
        self.data = self.root / "data"
        self.sock = self.root
        self._user = None
        if os.geteuid() == 0:
            self._user = pwd.getpwnam("postgres")
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        self.url = f"postgresql:///postgres?host={self.sock}&user=postgres&port=5432"

    def _run(self, *args: str, timeout: float = 120) -> None:
        def demote() -> None:
            if self._user is not None:
                os.setgid(self._user.pw_gid)
                os.setuid(self._user.pw_uid)

        res = subprocess.run([str(self.bin / args[0]), *args[1:]], preexec_fn=demote,
                             capture_output=True, text=True, timeout=timeout,
                             cwd=self.root, env={**os.environ, "LC_ALL": "C"})
        if res.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {res.stderr.strip() or res.stdout.strip()}")

    def start(self) -> str:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync", "--no-instructions")
        self.start_server()
        return self.url

    def start_server(self) -> None:
        opts = (f"-k {self.sock} -c listen_addresses='' -c max_connections=40 "
                "-c shared_buffers=64MB -c max_wal_size=1GB")
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"),
                  "-w", "-t", "60", "start")

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: clean shutdown with a checkpoint; ``immediate``: none)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def destroy(self) -> None:
        try:
            self.stop_server("immediate")  # its files are deleted next: no checkpoint
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.root, ignore_errors=True)
