"""Modbus exception code -> quality reason, scope and retry back-off (reliability R4).

An exception reply is the device telling us something precise; each code gets the handling an
operator would expect:

- 1-3 (illegal function, address, value): the register map is wrong. Retrying soon cannot help
  and a retry storm would load the PLC, so the block backs off for a long time.
- 4 (server device failure): the device (or one of its modules) failed; retried with a capped
  back-off so recovery is seen.
- 5/6 (acknowledge, busy): the unit asks us to come back later; the whole unit backs off,
  capped, so we stop adding load.
- 0x0A/0x0B (gateway path unavailable, target failed to respond): this unit behind the gateway
  is unreachable; only this unit is Bad and the TCP connection is kept, because other units may
  share it.

Codes the spec reserves or we do not know are treated like a device failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.quality import Reason

UNIT = "unit"
"""The whole unit backs off (no requests to it until the delay passes)."""
BLOCK = "block"
"""Only the block that drew the exception backs off; other blocks keep polling."""


@dataclass(frozen=True, slots=True)
class ExceptionPolicy:
    """How to treat one exception code."""

    reason: Reason
    scope: str
    """``unit`` or ``block``."""
    backoff_initial_s: float
    backoff_max_s: float
    label: str
    """Human name of the code, for logs and write refusals."""


_CONFIG = (Reason.CONFIGURATION_ERROR, BLOCK, 5.0, 60.0)
_FAILURE = (Reason.DEVICE_FAILURE, BLOCK, 0.5, 5.0)
_BUSY = (Reason.DEVICE_BUSY, UNIT, 0.1, 2.0)
_GATEWAY = (Reason.GATEWAY, UNIT, 0.5, 5.0)

POLICIES: dict[int, ExceptionPolicy] = {
    0x01: ExceptionPolicy(*_CONFIG, "illegal function"),
    0x02: ExceptionPolicy(*_CONFIG, "illegal data address"),
    0x03: ExceptionPolicy(*_CONFIG, "illegal data value"),
    0x04: ExceptionPolicy(*_FAILURE, "server device failure"),
    0x05: ExceptionPolicy(*_BUSY, "acknowledge (busy with a long command)"),
    0x06: ExceptionPolicy(*_BUSY, "server device busy"),
    0x08: ExceptionPolicy(*_FAILURE, "memory parity error"),
    0x0A: ExceptionPolicy(*_GATEWAY, "gateway path unavailable"),
    0x0B: ExceptionPolicy(*_GATEWAY, "gateway target device failed to respond"),
}


def policy_for(code: int) -> ExceptionPolicy:
    """The policy for exception ``code``; unknown codes are a device failure."""
    policy = POLICIES.get(code)
    if policy is not None:
        return policy
    return ExceptionPolicy(*_FAILURE, f"exception code {code}")


__all__ = ["BLOCK", "POLICIES", "UNIT", "ExceptionPolicy", "policy_for"]
