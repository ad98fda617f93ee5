"""Where a session's readings come from: the live bus or a recording (the ReadingSource seam)."""

from runtime.sources.base import ReadingSource
from runtime.sources.world_writer import WorldWriter

__all__ = ["ReadingSource", "WorldWriter"]
