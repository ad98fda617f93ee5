"""Time as data: the virtual clock a session runs on and the FrameTime every phase receives."""

from runtime.time.frame_time import FrameTime
from runtime.time.virtual_clock import MAX_SPEED, MIN_SPEED, VirtualClock

__all__ = ["MAX_SPEED", "MIN_SPEED", "FrameTime", "VirtualClock"]
