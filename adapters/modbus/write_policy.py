"""The adapter's write decision: the operator-control policy plus one last link, the registers.

There is one chain of checks, not two policies. :class:`AdapterWritePolicy` runs the control
policy of ``runtime.control.policy`` (duplicate id, point served and writable, role, action,
select-before-operate, quality Good, range and representability, rate of change, interlocks; see
docs/control.md) and then the only check that needs the device's register layout: the value must
encode into the point's registers and decode back to itself. ``encode_value`` saturates and
rounds silently, so without that last link a value the range check missed would reach the device
changed — R13 says refuse, never clamp. A refusal there uses the policy's ``range`` code.

The adapter's first, simpler checks (writable, min/max, finite, whole numbers, register range)
live on inside the control policy's ``range_problem``; this module only adds what it cannot know.
"""

from __future__ import annotations

from dataclasses import replace

from runtime.control.command import Action, ControlCommand, parse_action
from runtime.control.policy import Decision, Reason, Verdict, WritePolicy, readback_matches
from runtime.control.readings import Readings
from runtime.registers import decode_value, encode_value
from runtime.scene.model import DevicePoint, Devices, DeviceSpec


def encode_write(device: DeviceSpec, point: DevicePoint, value: float) -> list[int]:
    """Words to write for ``value`` (``[0|1]`` for a coil), in the device's word order.

    Raises ValueError when the register cannot hold ``value`` exactly (it would be saturated or
    rounded), naming point, value and register type.
    """
    dtype = "bool" if point.table in ("coil", "discrete") else point.type
    try:
        words = encode_value(dtype, device.word_order, point.scale, point.offset, value)
        back = decode_value(dtype, device.word_order, point.scale, point.offset, words)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"{point.point}: {value:g} cannot be encoded as {dtype}: {exc}") from None
    if not readback_matches(point, value, back):
        raise ValueError(
            f"{point.point}: {value:g} does not fit the {dtype} register exactly "
            f"(it would become {back:g}); refused, not rounded"
        )
    return words


def served_devices(devices: Devices, device_ids: set[str] | None = None) -> Devices:
    """``devices`` restricted to the devices this adapter polls, interlocks kept whole.

    A point of a device polled elsewhere is then ``unknown_point`` here, and an interlock input
    from such a device has no reading, so its interlock blocks (fail safe).
    """
    if device_ids is None:
        return devices
    return replace(devices, devices=tuple(d for d in devices.devices if d.id in device_ids))


class AdapterWritePolicy(WritePolicy):
    """The control policy with the register check as its last link (see the module doc)."""

    def __init__(self, devices: Devices, **kwargs: int) -> None:
        super().__init__(devices, **kwargs)
        self._device_of: dict[str, DeviceSpec] = {
            p.point: d for d in devices.devices for p in d.points
        }

    def device_of(self, point_id: str) -> DeviceSpec | None:
        """The device serving ``point_id``, or None."""
        return self._device_of.get(point_id)

    def decide(self, command: ControlCommand, now_ns: int, readings: Readings) -> Decision:
        decision = super().decide(command, now_ns, readings)
        if decision.verdict is not Verdict.ALLOW or command.value is None:
            return decision
        if parse_action(command.action) is Action.CANCEL:
            return decision
        spec = self.point(command.point)
        device = self._device_of.get(command.point)
        assert spec is not None and device is not None  # the policy refused unknown points
        try:
            encode_write(device, spec, command.value)
        except ValueError as exc:
            return Decision(Verdict.REFUSE, Reason.RANGE.value, str(exc))
        return decision


__all__ = ["AdapterWritePolicy", "encode_write", "served_devices"]
