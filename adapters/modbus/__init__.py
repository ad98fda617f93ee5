"""Modbus TCP adapter: polls devices, decodes blocks, stamps quality, publishes.

Files, one job each: ``blocks`` plans coalesced reads, ``tcp_client`` is the adapter's own small
Modbus TCP client (MBAP framing, one request in flight, every reply checked), ``decode`` turns a
block's registers into point values, ``validate`` names reply failures (and checks replies that
come through pymodbus; ``fast_pdu`` speeds up pymodbus's register replies), ``quality_map`` maps
exception codes to quality and back-off, ``backoff`` is the capped exponential back-off with
jitter, ``device_poller`` runs one device (connection, liveness, reconnects, writes),
``write_policy`` decides whether a write may reach a device, ``adapter`` wires every device to
the bus. Nothing runs at import.
"""
