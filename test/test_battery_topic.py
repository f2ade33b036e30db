"""The robot's own sensor_msgs/BatteryState topic as the context monitor's battery, over DDS.

A driver stand-in in the test process publishes BatteryState; the real context monitor process
republishes its level on battery_state and in the context, rejects a message in the wrong units
(counted on /diagnostics), and when the driver stops, reports the level unknown and the topic
stale on /diagnostics (WARN) instead of reusing the last reading.
"""

from __future__ import annotations

import math

import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from sensor_msgs.msg import BatteryState

from adaspring_ros.msg import DeploymentContext
from adaspring_ros.testing.fault_scenarios import Diagnostics, start


def _driver_msg(percentage: float) -> BatteryState:
    return BatteryState(percentage=percentage, voltage=11.3, current=-0.6, present=True,
                        power_supply_status=BatteryState.POWER_SUPPLY_STATUS_DISCHARGING)


@pytest.mark.ros
def test_battery_topic_is_used_and_a_silent_driver_turns_stale(ros):
    diags = Diagnostics(ros)
    node = ros.default_node()
    driver = node.create_publisher(BatteryState, "/robot_battery", 10)
    published = node.create_timer(0.1, lambda: driver.publish(_driver_msg(0.42)))
    states = ros.subscribe(BatteryState, "battery_state")
    contexts = ros.subscribe(DeploymentContext, "context")
    monitor = start(ros, "context_monitor", battery_topic="/robot_battery", battery_stale_s=1.5)

    assert ros.spin_until(lambda: any(abs(m.percentage - 0.42) < 1e-6 for m in states.messages),
                          60), monitor.output()
    fresh = [m for m in states.messages if abs(m.percentage - 0.42) < 1e-6][-1]
    assert fresh.location == "topic" and fresh.voltage == pytest.approx(11.3)
    assert fresh.capacity == pytest.approx(80.0 / 11.1)  # capacity_wh applies to every source
    assert ros.spin_until(lambda: any(c.battery == pytest.approx(0.42)
                                      and c.battery_source == "topic"
                                      for c in contexts.messages), 10)
    assert ros.spin_until(lambda: diags.values("context_monitor").get("battery_source")
                          == "topic", 10)

    driver.publish(_driver_msg(42.0))  # a driver in percent, not 0-1: refused, counted
    assert ros.spin_until(lambda: diags.counter("context_monitor", "battery_msgs_rejected")
                          >= 1, 10)

    node.destroy_timer(published)  # the driver stops
    count = len(states.messages)
    assert ros.spin_until(lambda: any(math.isnan(m.percentage)
                                      for m in states.messages[count:]), 10), monitor.output()
    assert ros.spin_until(
        lambda: "stale" in getattr(diags.latest.get("context_monitor"), "message", ""), 10)
    assert diags.latest["context_monitor"].level == DiagnosticStatus.WARN
    assert monitor.running, monitor.output()
