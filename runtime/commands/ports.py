"""Port options, checked the same way by every command before anything binds or connects.

A port outside 1..65535 reached the socket layer and ended in an OverflowError traceback
(``demo --bus-port 70000``). Each command now calls these checks at the top of ``run`` and a bad
value is one line naming the option and the range to give (exit 2, like every UsageError).

``--port-offset N`` means the same in ``plant``, ``adapter``, ``demo`` and ``fault``: add N to
every device port in devices.yaml and to the plant's control port, so several plants can share
one machine.
"""

from __future__ import annotations

from collections.abc import Iterable

from runtime.errors import UsageError

MAX_PORT = 65535
"""The largest TCP port."""

DEFAULT_CONTROL_PORT = 15019
"""The virtual plant's fault/control socket before ``--port-offset`` (``plant`` and ``fault``)."""


def check_port(option: str, port: int, *, span: int = 1, zero_means: str = "") -> int:
    """``port`` itself when it and the ``span - 1`` ports after it are TCP ports.

    ``zero_means``: what 0 stands for where an option accepts it ("none", "free ports"); empty
    when 0 is not allowed.
    """
    if port == 0 and zero_means:
        return port
    if 1 <= port <= MAX_PORT - (span - 1):
        return port
    uses = f" (it and the next {span - 1} are used)" if span > 1 else ""
    zero = f", or 0 for {zero_means}" if zero_means else ""
    raise UsageError(f"{option} {port} is not a usable TCP port; give 1..{MAX_PORT - (span - 1)}"
                     f"{uses}{zero}")


def check_offset(offset: int, ports: Iterable[tuple[str, int]], *,
                 option: str = "--port-offset") -> int:
    """``offset`` itself when every ``(what, port)`` plus it stays a TCP port.

    ``what`` names the port in the error ("device PLC-101", "the control port").
    """
    for what, port in ports:
        moved = port + offset
        if not 1 <= moved <= MAX_PORT:
            raise UsageError(f"{option} {offset} puts {what} on port {moved} ({port} + {offset}); "
                             f"ports must stay within 1..{MAX_PORT}")
    return offset
