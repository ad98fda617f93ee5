"""Modbus TCP adapter: polls devices with pymodbus, decodes blocks, stamps quality, publishes.

Files, one job each: ``blocks`` plans coalesced reads, ``decode`` turns a block's registers into
point values, ``validate`` checks every reply, ``quality_map`` maps exception codes to quality and
back-off, ``backoff`` is the capped exponential back-off with jitter, ``device_poller`` runs one
device (connection, liveness, reconnects, writes), ``write_policy`` decides whether a write may
reach a device, ``adapter`` wires every device to the bus. Nothing runs at import.
"""
