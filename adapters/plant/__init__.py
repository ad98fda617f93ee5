"""The virtual plant served as Modbus TCP devices: register images, servers, faults, control.

Entry point: :class:`adapters.plant.runner.PlantRunner` (used by ``twinstage plant``).
"""
