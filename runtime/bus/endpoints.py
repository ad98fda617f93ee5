"""Where the bus's five sockets live, derived from one base address.

One address on the command line (``--bind``/``--bus``) is easier to get right than five, so the
sockets sit on consecutive ports: base for readings in, base+1 for readings out, base+2 for
snapshots, base+3 for commands and base+4 for adapters. A base port of 0 asks the bus to pick
free ports itself (tests); :class:`runtime.bus.server.BusServer` then reports the real ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_HOST = "127.0.0.1"
DEFAULT_BASE_PORT = 5555
DEFAULT_ADDRESS = f"tcp://{DEFAULT_HOST}:{DEFAULT_BASE_PORT}"

_ADDRESS = re.compile(r"^(?:tcp://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.*-]+)(?::(?P<port>\d+))?$")


@dataclass(frozen=True, slots=True)
class BusEndpoints:
    """The bus's socket addresses as ``tcp://host:port`` strings.

    The bus binds all five; clients connect to the ones they need.
    """

    pub_in: str
    """XSUB on the bus: publishers (adapters, the plant) connect a PUB here."""
    sub_out: str
    """XPUB on the bus: subscribers (viewers, tap, recorder) connect a SUB here."""
    snapshot: str
    """ROUTER on the bus: late joiners connect a DEALER and ask for the last values."""
    commands: str
    """ROUTER on the bus: command clients (write, viewers) connect a DEALER."""
    adapters: str
    """ROUTER on the bus: adapters connect a DEALER, register their points, receive commands."""

    @classmethod
    def from_address(cls, addr: str = DEFAULT_ADDRESS) -> BusEndpoints:
        """Build the five addresses from ``tcp://host:port``, ``host:port`` or ``host``.

        Raises ValueError with the accepted forms when ``addr`` is not one of them.
        """
        match = _ADDRESS.match(addr.strip())
        if match is None:
            raise ValueError(
                f"bad bus address {addr!r}: expected tcp://HOST:PORT, HOST:PORT or HOST"
            )
        host = match["host"]
        port = DEFAULT_BASE_PORT if match["port"] is None else int(match["port"])
        if port == 0:
            ports = [0] * 5
        elif not 1 <= port <= 65535 - 4:
            raise ValueError(
                f"bad bus address {addr!r}: base port must be 1..65531 (the bus uses it and "
                "the next four), or 0 for free ports"
            )
        else:
            ports = [port + i for i in range(5)]
        urls = [f"tcp://{host}:{p}" for p in ports]
        return cls(*urls)

    @classmethod
    def from_ports(cls, host: str, ports: list[int] | tuple[int, ...]) -> BusEndpoints:
        """Five explicit ports in field order (tests pick free, non-consecutive ones)."""
        if len(ports) != 5:
            raise ValueError(
                f"need 5 ports (pub_in, sub_out, snapshot, commands, adapters), got {len(ports)}"
            )
        return cls(*(f"tcp://{host}:{p}" for p in ports))

    def items(self) -> list[tuple[str, str]]:
        """(name, address) pairs in a fixed order, for messages and logs."""
        return [
            ("pub_in", self.pub_in),
            ("sub_out", self.sub_out),
            ("snapshot", self.snapshot),
            ("commands", self.commands),
            ("adapters", self.adapters),
        ]
