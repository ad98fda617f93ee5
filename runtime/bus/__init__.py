"""The ZeroMQ bus: wire format, endpoints, publisher, subscriber, command path, bus server.

Nothing here imports Panda3D, so adapters, the plant and tools stay light (see design.md).
Import the submodules directly (``runtime.bus.wire``, ``runtime.bus.publisher``, ...).
"""
