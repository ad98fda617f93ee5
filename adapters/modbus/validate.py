"""Check every reply against its request before a single value is believed (reliability R6).

pymodbus matches replies to requests loosely: a reply with transaction id 0 is accepted for any
request, a read reply's byte count is not compared with the requested count, and a coil reply's
bits are whatever bytes arrived. Each of those would turn a faulty or malicious device into a
wrong number shown as Good. So we compare function code, unit id, transaction id and count (and
the echo of a write) ourselves, and name each failure.

The error classes here are shared with the adapter's own client (``adapters.modbus.tcp_client``),
which the pollers use and which makes the same checks on the raw frames; the functions check
replies that come through a pymodbus client.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymodbus.pdu import ExceptionResponse, ModbusPDU


class RequestError(Exception):
    """A request did not produce a usable reply."""


class NoCommunicationError(RequestError):
    """Not connected, connection lost, or no reply within the timeout."""


class BadReplyError(RequestError):
    """A reply arrived but does not answer the request (R6): treated as Bad, never as a value."""


class DeviceExceptionError(RequestError):
    """The device answered with a Modbus exception code."""

    def __init__(self, code: int, function_code: int) -> None:
        super().__init__(f"exception code {code} for function {function_code}")
        self.code = code
        self.function_code = function_code


def check_reply(request: ModbusPDU, response: object) -> ModbusPDU:
    """Raise DeviceExceptionError or BadReplyError unless ``response`` answers ``request``."""
    if not isinstance(response, ModbusPDU):
        raise BadReplyError(f"no PDU in reply ({type(response).__name__})")
    if response.transaction_id != request.transaction_id:
        raise BadReplyError(
            f"transaction id {response.transaction_id}, expected {request.transaction_id}"
        )
    if response.dev_id != request.dev_id:
        raise BadReplyError(f"unit id {response.dev_id}, expected {request.dev_id}")
    if isinstance(response, ExceptionResponse):
        if response.function_code != (request.function_code | 0x80):
            raise BadReplyError(
                f"exception reply for function {response.function_code & 0x7F}, "
                f"expected {request.function_code}"
            )
        raise DeviceExceptionError(int(response.exception_code), request.function_code)
    if response.function_code != request.function_code:
        raise BadReplyError(
            f"function code {response.function_code}, expected {request.function_code}"
        )
    return response


def read_values(request: ModbusPDU, response: ModbusPDU) -> Sequence[int] | Sequence[bool]:
    """Registers (FC3/FC4) or bits (FC1/FC2) of a checked read reply, with its count checked.

    Bits come padded to whole bytes, as sent; the decoder checks the padded length.
    """
    if request.function_code in (3, 4):
        regs = response.registers
        if len(regs) != request.count:
            raise BadReplyError(f"{len(regs)} registers in reply, requested {request.count}")
        byte_count = getattr(response, "byte_count", 2 * request.count)  # set by fast_pdu
        payload = getattr(response, "payload_len", byte_count)
        if byte_count != 2 * request.count or payload != byte_count:
            raise BadReplyError(f"byte count {byte_count} with {payload} data bytes, "
                                f"requested {request.count} registers")
        return regs
    bits = response.bits
    expected = (request.count + 7) // 8 * 8
    if len(bits) != expected:
        raise BadReplyError(
            f"{len(bits) // 8} bytes of bits in reply, requested {request.count} bits")
    return bits


def check_write_echo(request: ModbusPDU, response: ModbusPDU) -> None:
    """FC5/FC6 echo address and value; FC16 echoes address and count (R6: echo of writes)."""
    if response.address != request.address:
        raise BadReplyError(f"write echo address {response.address}, expected {request.address}")
    fc = request.function_code
    if fc == 5 and [bool(b) for b in response.bits[:1]] != [bool(request.bits[0])]:
        raise BadReplyError(
            f"write echo value {list(response.bits)[:1]}, expected {request.bits[:1]}")
    if fc == 6 and list(response.registers) != list(request.registers):
        raise BadReplyError(f"write echo value {list(response.registers)}, "
                       f"expected {list(request.registers)}")
    if fc == 16 and response.count != request.count:
        raise BadReplyError(f"write echo count {response.count}, expected {request.count}")


__all__ = [
    "BadReplyError",
    "DeviceExceptionError",
    "NoCommunicationError",
    "RequestError",
    "check_reply",
    "check_write_echo",
    "read_values",
]
