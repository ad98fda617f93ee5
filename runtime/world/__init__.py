"""The world: entity registry and struct-of-arrays tables built from a scene."""

from runtime.world.tables import EntityTable, PointState, PointTable
from runtime.world.world import World, build_world

__all__ = ["EntityTable", "PointState", "PointTable", "World", "build_world"]
