"""Operator control: who may write which point, when, and the audit trail of every attempt.

The adapter alone decides whether a write reaches a device (design.md, Control; reliability R13,
R14). This package holds that decision as plain data and functions so it can be tested without
sockets: ``policy`` decides, ``audit`` records, ``executor`` runs decide -> audit -> write ->
read back -> audit -> ack against any ``DeviceWriter`` (``modbus_writer`` is the real one), and
``pending`` is the client-side tracker the viewer and ``twinstage write`` share.
Nothing here imports Panda3D or ZeroMQ.
"""
