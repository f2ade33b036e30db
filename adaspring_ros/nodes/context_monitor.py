"""Context monitor node: what the platform can afford right now.

Publishes, for rqt and for the evolution node (reliable QoS throughout):
  battery_state            sensor_msgs/BatteryState, percentage 0-1, NaN where unknown
  context/storage_budget   std_msgs/UInt64, parameter bytes the model may occupy
  context                  adaspring_ros/DeploymentContext: battery, storage budget, event rate
                           (latency budget and accuracy threshold are NaN: the application's,
                           set on the evolution node)
  /diagnostics             battery source and why others were passed over, counters

Battery: jetson-stats, else psutil, else a simulation that drains with the energy the inference
actually spends (core.battery documents the model). It learns the running configuration from
compression_config and the detections from sound_events, both real topics.
"""

from __future__ import annotations

import math

from rclpy.node import Node
from sensor_msgs.msg import BatteryState
from std_msgs.msg import UInt64

from adaspring_ros.core.context import battery as battery_lib
from adaspring_ros.core.context.cache_budget import CacheContention, detect_l2_cache_bytes
from adaspring_ros.core.context.evolution_policy import EventRateMeter
from adaspring_ros.msg import CompressionConfig, DeploymentContext, SoundEvent
from adaspring_ros.nodes import conversions, node_main, qos, topics
from adaspring_ros.nodes.health import Health
from adaspring_ros.nodes.params import declare
from adaspring_ros.nodes.scene_clock import clock_started, scene_seconds, wall_timer

BATTERY_SOURCES = ("auto", "jetson-stats", "psutil", "simulated")
PACK_VOLTAGE = 11.1  # 3S Li-ion, the Jetbot pack of the case study


class ContextMonitorNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("context_monitor", **kwargs)
        source = declare(self, "battery_source", "auto", "Battery reading source; auto tries "
                         "jetson-stats, then psutil, then the simulation.", choices=BATTERY_SOURCES)
        initial = declare(self, "initial_battery", 0.86, "Simulated battery at start (0-1).",
                          low=0.0, high=1.0)
        model = battery_lib.EnergyModel(
            capacity_wh=declare(self, "capacity_wh", 80.0, "Pack energy, Wh.", low=1.0, high=1e4),
            base_power_w=declare(self, "base_power_w", 2.5, "Robot base load, W.",
                                 low=0.0, high=100.0),
            joules_per_mac=declare(self, "joules_per_mac", 1e-9, "Energy per MAC, J.",
                                   low=0.0, high=1e-6),
            joules_per_byte=declare(self, "joules_per_byte", 0.5e-9,
                                    "Energy per parameter/activation byte moved, J.",
                                    low=0.0, high=1e-6),
            joules_per_notification=declare(self, "joules_per_notification", 2.0,
                                            "Energy per notified detection, J.",
                                            low=0.0, high=1000.0),
        )
        l2 = declare(self, "l2_cache_bytes", 2 * 1024 * 1024,
                     "L2 cache size; 0 = read it from sysfs (paper: 2 MiB on the Jetbot).",
                     low=0, high=2**40)
        self.contention = CacheContention(
            seed=declare(self, "contention_seed", 0, "Seed of the hourly contention σ.",
                         low=0, high=2**31 - 1),
            l2_bytes=l2 or detect_l2_cache_bytes() or 2 * 1024 * 1024,
            sigma_mean_mib=declare(self, "contention_mean_mib", 0.35, "Mean σ, MiB.",
                                   low=0.0, high=64.0),
            sigma_std_mib=declare(self, "contention_std_mib", 0.25, "Std of σ, MiB.",
                                  low=0.0, high=64.0),
            sigma_max_mib=declare(self, "contention_max_mib", 1.0, "Largest σ, MiB.",
                                  low=0.0, high=64.0),
        )
        self.rate = EventRateMeter(declare(self, "event_rate_window_s", 1800.0,
                                           "Sliding window of the event rate, scene seconds.",
                                           low=1.0, high=86400.0))
        period = declare(self, "publish_period_s", 0.2, "Context publish period, real seconds.",
                         low=0.01, high=60.0)
        self.health = Health(self)
        self.battery, passed_over = battery_lib.open_battery(source, simulated_initial=initial)
        if isinstance(self.battery, battery_lib.SimulatedBattery):
            self.battery.model = model
        for reason in passed_over:  # logged once, kept on diagnostics
            self.get_logger().warning(f"battery source passed over: {reason}")
        if passed_over:
            self.health.warn("battery", "battery fallback to " + self.battery.name + " ("
                             + "; ".join(passed_over) + ")")
        self.health.values["battery_source"] = self.battery.name
        self.live = not self.get_parameter("use_sim_time").value
        self._energy_per_window = model.inference_joules(0, 0, 0)
        self._last_scene = None
        self.pub_battery = self.create_publisher(BatteryState, topics.BATTERY, qos.reliable())
        self.pub_storage = self.create_publisher(UInt64, topics.STORAGE_BUDGET, qos.reliable())
        self.pub_context = self.create_publisher(DeploymentContext, topics.CONTEXT, qos.reliable())
        self.create_subscription(SoundEvent, topics.EVENTS, self.on_event, qos.reliable(100))
        self.create_subscription(CompressionConfig, topics.CONFIG, self.on_config, qos.latched())
        wall_timer(self, period, self.tick)
        wall_timer(self, 1.0, self.health.publish)

    def on_config(self, msg: CompressionConfig) -> None:
        model = getattr(self.battery, "model", battery_lib.EnergyModel())
        self._energy_per_window = model.inference_joules(msg.macs, msg.params_bytes,
                                                         msg.activation_bytes)
        self.health.values["energy_per_window_mj"] = f"{self._energy_per_window * 1e3:.3f}"

    def on_event(self, msg: SoundEvent) -> None:
        if msg.label == "background":
            return
        self.rate.add(scene_seconds(self))
        if isinstance(self.battery, battery_lib.SimulatedBattery):
            self.battery.notify()

    def tick(self) -> None:
        if not clock_started(self):
            return  # use_sim_time and no /clock yet: the day has not begun
        now = scene_seconds(self)
        if self._last_scene is not None and now < self._last_scene:
            self.health.count("clock_went_back")
            self._last_scene = now
        if isinstance(self.battery, battery_lib.SimulatedBattery) and self._last_scene is not None:
            self.battery.advance(now - self._last_scene, self._energy_per_window)
        self._last_scene = now
        self._publish(now, self._read_battery())

    def _read_battery(self):
        try:
            return self.battery.read()
        except Exception as exc:  # a flaky driver gives "unknown", not a crash
            self.health.count("battery_read_errors")
            self.get_logger().warning(f"battery read failed: {exc}", throttle_duration_sec=60)
            return battery_lib.BatteryReading(percentage=math.nan)

    def _publish(self, now: float, reading) -> None:
        storage = self.contention.budget_bytes(now)
        rate = self.rate.rate_per_min(now)
        stamp = self.get_clock().now().to_msg()
        capacity_wh = getattr(self.battery, "model", battery_lib.EnergyModel()).capacity_wh
        self.pub_battery.publish(conversions.battery_state_msg(
            reading, capacity_ah=capacity_wh / PACK_VOLTAGE, location=self.battery.name,
            stamp=stamp))
        self.pub_storage.publish(UInt64(data=storage))
        self.pub_context.publish(conversions.platform_context_msg(
            battery=reading.percentage, battery_source=self.battery.name,
            storage_budget_bytes=storage, event_rate_per_min=rate,
            scene_time_s=math.nan if self.live else now, stamp=stamp))
        self.health.values["battery"] = f"{reading.percentage:.3f}"
        self.health.values["storage_budget_bytes"] = str(storage)
        self.health.values["event_rate_per_min"] = f"{rate:.2f}"

    def destroy_node(self) -> None:
        self.battery.close()
        super().destroy_node()


def main(args=None) -> None:
    node_main.run(ContextMonitorNode, args)


if __name__ == "__main__":
    main()
