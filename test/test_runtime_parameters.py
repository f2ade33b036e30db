"""Parameters through the ROS parameter services: each takes effect at run time or is read-only.

Set with rcl_interfaces' SetParameters service (what `ros2 param set` calls) on the real node
process: the context monitor's energy parameters apply at once, to every battery source (here
BatteryState's capacity); its source-choosing parameters are read-only and refused; an
enumerated parameter outside its choices stops the node at start with the choices as reason.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import DescribeParameters, ListParameters, SetParameters
from sensor_msgs.msg import BatteryState

from adaspring_ros.nodes.context_monitor import ENERGY_PARAMETERS
from adaspring_ros.testing.fault_scenarios import start
from adaspring_ros.tools import graph

YAML = Path(graph.default_params_file()).read_text()
#: declared by rclpy itself on every node
BUILTIN = {"use_sim_time", "start_type_description_service"}


def _call(ros, srv_type, name: str, request, timeout: float = 30.0):
    client = ros.default_node().create_client(srv_type, name)
    assert ros.spin_until(client.service_is_ready, timeout), f"{name} not available"
    future = client.call_async(request)
    assert ros.spin_until(future.done, timeout), f"{name} did not answer"
    return future.result()


def _set(ros, node: str, name: str, value):
    if isinstance(value, float):
        pv = ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value)
    else:
        pv = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value)
    request = SetParameters.Request(parameters=[Parameter(name=name, value=pv)])
    return _call(ros, SetParameters, f"/{node}/set_parameters", request).results[0]


@pytest.mark.ros
def test_context_monitor_parameters_apply_at_run_time_or_are_read_only(ros):
    states = ros.subscribe(BatteryState, "battery_state")
    monitor = start(ros, "context_monitor", battery_source="simulated")
    states.wait_for(1, timeout=60)

    names = _call(ros, ListParameters, "/context_monitor/list_parameters",
                  ListParameters.Request()).result.names
    described = _call(ros, DescribeParameters, "/context_monitor/describe_parameters",
                      DescribeParameters.Request(names=list(names))).descriptors
    writable = {d.name for d in described if not d.read_only} - BUILTIN
    assert writable == set(ENERGY_PARAMETERS), writable  # the others are read-only

    result = _set(ros, "context_monitor", "capacity_wh", 40.0)
    assert result.successful, result.reason
    count = len(states.messages)
    assert ros.spin_until(lambda: any(m.capacity == pytest.approx(40.0 / 11.1)
                                      for m in states.messages[count:]), 10)

    refused = _set(ros, "context_monitor", "battery_source", "psutil")
    assert not refused.successful and "read-only" in refused.reason.lower(), refused.reason
    out_of_range = _set(ros, "context_monitor", "base_power_w", -1.0)
    assert not out_of_range.successful
    assert monitor.running, monitor.output()


@pytest.mark.ros
def test_enumerated_parameter_outside_its_choices_is_refused_at_start(ros):
    monitor = start(ros, "context_monitor", battery_pack="4S")
    assert monitor.wait(timeout=60) == 1, monitor.output()
    out = monitor.output()
    assert "battery_pack='4S' is not one of 3S, 2S" in out and "Traceback" not in out, out


def _writable(ros, node: str) -> set[str]:
    names = _call(ros, ListParameters, f"/{node}/list_parameters",
                  ListParameters.Request(), timeout=120).result.names
    for name in set(names) - BUILTIN:  # every parameter the node declares is documented
        assert any(ln.strip().startswith(name + ":") for ln in YAML.splitlines()), name
    described = _call(ros, DescribeParameters, f"/{node}/describe_parameters",
                      DescribeParameters.Request(names=list(names))).descriptors
    return {d.name for d in described if not d.read_only} - BUILTIN


@pytest.mark.ros
def test_every_node_declares_only_its_run_time_parameters_writable(ros):
    """A parameter `ros2 param set` accepts must take effect; all others are read-only."""
    params = {"microphone": {"source": "scene"}}
    for spec in (*graph.NODES, graph.SCENE_CLOCK):
        start(ros, spec.name, **params.get(spec.name, {}))
    for spec in (*graph.NODES, graph.SCENE_CLOCK):
        runtime = importlib.import_module(spec.module).RUNTIME_PARAMETERS
        assert _writable(ros, spec.name) == set(runtime), spec.name
