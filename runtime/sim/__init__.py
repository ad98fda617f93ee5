"""Plant simulation: numba kernels over struct-of-arrays tables, advanced in fixed steps.

Imports no Panda3D. Entry point: :class:`PlantModel` (``runtime.sim.plant_model``).
"""

from runtime.sim.tables import PLANT_STEP_NS

__all__ = ["PLANT_STEP_NS"]
