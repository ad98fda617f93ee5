"""A real libmodbus Modbus TCP device, driven through ctypes (Debian package ``libmodbus5``).

The bench and the interop tests need a device that is not ours and not Python's: libmodbus is
the C library most Modbus TCP devices and gateways on Linux are built with. This process links
the shared library at run time (no compiler, no headers): ``modbus_new_tcp``,
``modbus_tcp_listen``, ``modbus_mapping_new`` for the register tables, then per request
``modbus_receive`` + ``modbus_reply``, which frame, check and answer exactly as libmodbus does
(exception replies included). Each connection gets a thread and a libmodbus context of its own
(``modbus_set_socket``); libmodbus reads one request at a time from the stream, so pipelined
requests are answered in order.

Every unit id gets the same tables (libmodbus's TCP server answers any unit id and echoes it):
holding and input registers ``0..REGISTERS-1`` hold ``1000 + address``, coils and discrete
inputs ``0..BITS-1`` hold ``address % 3 == 0``.

    python -m tools.bench.libmodbus_device PORT [--registers N]   # prints READY once listening

:func:`load` returns None (and :data:`MISSING` says what to install) when the library is absent.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import socket
import sys
import threading

PACKAGE = "libmodbus5"
"""The Debian package that ships ``libmodbus.so.5``."""
MISSING = f"libmodbus is not installed (apt-get install {PACKAGE})"
MAX_ADU = 260
"""MODBUS_TCP_MAX_ADU_LENGTH."""
BITS = 64


class _Mapping(ctypes.Structure):
    """``modbus_mapping_t`` of libmodbus 3.1 (unchanged since 3.1.0)."""

    _fields_ = [
        ("nb_bits", ctypes.c_int), ("start_bits", ctypes.c_int),
        ("nb_input_bits", ctypes.c_int), ("start_input_bits", ctypes.c_int),
        ("nb_input_registers", ctypes.c_int), ("start_input_registers", ctypes.c_int),
        ("nb_registers", ctypes.c_int), ("start_registers", ctypes.c_int),
        ("tab_bits", ctypes.POINTER(ctypes.c_uint8)),
        ("tab_input_bits", ctypes.POINTER(ctypes.c_uint8)),
        ("tab_input_registers", ctypes.POINTER(ctypes.c_uint16)),
        ("tab_registers", ctypes.POINTER(ctypes.c_uint16)),
    ]


def load() -> ctypes.CDLL | None:
    """The libmodbus shared library with the prototypes used here, or None when missing."""
    name = ctypes.util.find_library("modbus") or "libmodbus.so.5"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    vp, cp, ip = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    lib.modbus_new_tcp.argtypes, lib.modbus_new_tcp.restype = [cp, ip], vp
    lib.modbus_tcp_listen.argtypes, lib.modbus_tcp_listen.restype = [vp, ip], ip
    lib.modbus_set_socket.argtypes, lib.modbus_set_socket.restype = [vp, ip], ip
    lib.modbus_mapping_new.argtypes = [ip, ip, ip, ip]
    lib.modbus_mapping_new.restype = ctypes.POINTER(_Mapping)
    lib.modbus_receive.argtypes, lib.modbus_receive.restype = [vp, ctypes.c_char_p], ip
    lib.modbus_reply.argtypes = [vp, ctypes.c_char_p, ip, ctypes.POINTER(_Mapping)]
    lib.modbus_reply.restype = ip
    lib.modbus_strerror.argtypes, lib.modbus_strerror.restype = [ip], cp
    lib.modbus_free.argtypes, lib.modbus_free.restype = [vp], None
    return lib


def available() -> bool:
    """True when ``libmodbus.so.5`` can be loaded."""
    return load() is not None


def serve(port: int, registers: int, host: str = "127.0.0.1") -> None:
    """Listen on ``host:port`` and answer every client with libmodbus until killed."""
    lib = load()
    if lib is None:
        print(f"ERROR {MISSING}", flush=True)
        raise SystemExit(2)
    ctx = lib.modbus_new_tcp(host.encode(), port)
    mapping = lib.modbus_mapping_new(BITS, BITS, registers, registers)
    if not ctx or not mapping:
        raise SystemExit("libmodbus: cannot allocate a context or a mapping")
    m = mapping.contents
    for a in range(registers):
        m.tab_registers[a] = m.tab_input_registers[a] = 1000 + a
    for a in range(BITS):
        m.tab_bits[a] = m.tab_input_bits[a] = 1 if a % 3 == 0 else 0
    listen_fd = lib.modbus_tcp_listen(ctx, 64)
    if listen_fd < 0:
        err = lib.modbus_strerror(ctypes.get_errno()).decode()
        print(f"ERROR listen on {host}:{port}: {err}", flush=True)
        raise SystemExit(1)
    listener = socket.socket(fileno=os.dup(listen_fd))
    os.close(listen_fd)
    print("READY", flush=True)
    while True:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=_serve_client, args=(lib, host, port, conn, mapping),
                         daemon=True).start()


def _serve_client(lib: ctypes.CDLL, host: str, port: int, conn: socket.socket,
                  mapping: ctypes._Pointer) -> None:  # type: ignore[type-arg]
    """One connection: ``modbus_receive`` then ``modbus_reply`` until the peer goes away (or
    sends a stream libmodbus cannot frame). A context of its own per connection (a libmodbus
    context is not thread-safe); ctypes releases the GIL inside each call."""
    ctx = lib.modbus_new_tcp(host.encode(), port)
    query = ctypes.create_string_buffer(MAX_ADU)
    try:
        lib.modbus_set_socket(ctx, conn.fileno())
        while True:
            rc = lib.modbus_receive(ctx, query)
            if rc > 0:
                rc = lib.modbus_reply(ctx, query, rc, mapping)
            if rc < 0:
                return
    finally:
        lib.modbus_free(ctx)
        conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="a libmodbus Modbus TCP device (ctypes)")
    parser.add_argument("port", type=int)
    parser.add_argument("--registers", type=int, default=2500)
    parser.add_argument("--host", default="127.0.0.1")
    ns = parser.parse_args()
    if ns.registers < 1 or ns.registers > 65536:
        sys.exit("--registers must be 1..65536")
    serve(ns.port, ns.registers, ns.host)
