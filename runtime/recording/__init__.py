"""Recordings: the flight recorder's MCAP files, written and read back.

The recorder process hands the :class:`~runtime.recording.writer.RecordingWriter` what it
receives from the bus; the replay source reads files back through
:func:`~runtime.recording.reader.open_recording`. Files are MCAP with ``json`` messages and
``jsonschema`` schemas (``runtime.recording.schemas``), so Foxglove, Lichtblick and the ``mcap``
CLI open them too. The format is described in ``docs/recording-format.md``.

No Panda3D and no ZeroMQ here: a recorder and a replay tool stay light. Import the submodules
directly (``runtime.recording.writer``, ``runtime.recording.reader``, ...).
"""
