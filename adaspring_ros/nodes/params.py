"""Declaring parameters with descriptors and ranges, the way `ros2 param describe` shows them."""

from __future__ import annotations

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter


def declare(node, name: str, default, description: str, *, low=None, high=None,
            choices=None, read_only: bool = False):
    """Declare one parameter and return its value.

    Numeric ranges are enforced by rclpy itself (a `ros2 param set` outside the range is refused
    with a reason); ``choices`` is listed in the description, and a value outside them (from the
    YAML or a launch override) stops the node here with the choices as the reason. A node whose
    enumerated parameter can change at run time also checks it with `check_choice`.
    """
    extra = f" One of: {', '.join(choices)}." if choices else ""
    desc = ParameterDescriptor(description=description + extra, read_only=read_only)
    if low is not None and isinstance(default, float):
        desc.floating_point_range = [FloatingPointRange(from_value=float(low), to_value=float(high),
                                                        step=0.0)]
    elif low is not None and isinstance(default, int) and not isinstance(default, bool):
        desc.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=1)]
    value = node.declare_parameter(name, default, desc).value
    if choices and value not in choices:
        raise ValueError(check_choice(name, value, choices).reason)
    return value


def check_choice(name: str, value, choices) -> SetParametersResult:
    if value not in choices:
        return SetParametersResult(
            successful=False, reason=f"{name}={value!r} is not one of {', '.join(choices)}")
    return SetParametersResult(successful=True)


def set_request(name: str, value) -> SetParameters.Request:
    """The request `ros2 param set` sends for one value (its type taken from the value)."""
    return SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
