"""Context monitor node: what the platform can afford right now.

Publishes, for rqt and for the evolution node (reliable QoS throughout):
  battery_state            sensor_msgs/BatteryState, percentage 0-1, NaN where unknown
  context/storage_budget   std_msgs/UInt64, parameter bytes the model may occupy
  context                  adaspring_ros/DeploymentContext: battery, storage budget, event rate
                           (latency budget and accuracy threshold are NaN: the application's,
                           set on the evolution node)
  /diagnostics             battery source and why others were passed over, stale battery topic,
                           measured board power (jetson-stats), counters

Battery (core/context/battery.py, one interface for every source): the robot's own
BatteryState topic (``battery_topic``), else the JetBot's INA219 on I2C, else psutil, else a
simulation that drains with the energy the inference actually spends. It learns the running
configuration from compression_config and the detections from sound_events, both real topics.

Parameters: the energy-model ones (capacity, base power, per-MAC/byte/notification energy)
take effect at the next tick and apply to every source (the capacity fills BatteryState's
charge and capacity; the per-window energy is shown on diagnostics); the others choose sources
and seeds at start and are read-only.
"""

from __future__ import annotations

from functools import partial
import math

from rclpy.node import Node
from sensor_msgs.msg import BatteryState
from std_msgs.msg import UInt64

from adaspring_ros.core.context import battery as battery_lib
from adaspring_ros.core.context import ina219
from adaspring_ros.core.context.cache_budget import CacheContention, detect_l2_cache_bytes
from adaspring_ros.core.context.evolution_policy import EventRateMeter
from adaspring_ros.core.context.power_rails import JetsonPower, PowerUnavailable
from adaspring_ros.core.model.energy import JOULES_PER_BYTE, JOULES_PER_MAC
from adaspring_ros.msg import CompressionConfig, DeploymentContext, SoundEvent
from adaspring_ros.nodes import conversions, node_main, qos, topics
from adaspring_ros.nodes.health import Health
from adaspring_ros.nodes.params import declare
from adaspring_ros.nodes.scene_clock import clock_started, scene_seconds, wall_timer

#: energy-model field -> (parameter, default, description, high); settable at run time
ENERGY_PARAMETERS = {
    "capacity_wh": ("capacity_wh", 80.0, "Pack energy, Wh (every source).", 1e4),
    "base_power_w": ("base_power_w", 2.5, "Robot base load, W.", 100.0),
    "joules_per_mac": ("joules_per_mac", JOULES_PER_MAC, "Energy per MAC, J (only for a "
                       "configuration that carries no energy_per_window_mj).", 1e-6),
    "joules_per_byte": ("joules_per_byte", JOULES_PER_BYTE,
                        "Energy per parameter/activation byte moved, J (same fallback).", 1e-6),
    "joules_per_notification": ("joules_per_notification", 2.0,
                                "Energy per notified detection, J.", 1000.0),
}
#: the parameters `ros2 param set` may change (the others are read-only)
RUNTIME_PARAMETERS = tuple(ENERGY_PARAMETERS)
PACK_VOLTS = {"3S": 11.1, "2S": 7.4}  # nominal Li-ion pack voltage, for Wh -> Ah


class ContextMonitorNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("context_monitor", **kwargs)
        self.health = Health(self)
        self.model = battery_lib.EnergyModel()
        for name, default, description, high in ENERGY_PARAMETERS.values():
            declare(self, name, default, description, low=1.0 if name == "capacity_wh" else 0.0,
                    high=high)
        self._sync_energy_model()
        self.settings = self._battery_settings()
        self.contention = self._contention()
        self.rate = EventRateMeter(declare(self, "event_rate_window_s", 1800.0,
                                           "Sliding window of the event rate, scene seconds.",
                                           low=1.0, high=86400.0, read_only=True))
        period = declare(self, "publish_period_s", 0.2, "Context publish period, real seconds.",
                         low=0.01, high=60.0, read_only=True)
        self.battery = self._open_battery()
        self.power_meter = self._open_power_meter()
        self.live = not self.get_parameter("use_sim_time").value
        self._config_costs = (0, 0, 0, 0.0)  # MACs, parameter and activation bytes, T pred (ms)
        self._carried_j: float | None = None  # energy per window the configuration carries
        self._energy_per_window = 0.0
        self._last_scene = None
        self.pub_battery = self.create_publisher(BatteryState, topics.BATTERY, qos.reliable())
        self.pub_storage = self.create_publisher(UInt64, topics.STORAGE_BUDGET, qos.reliable())
        self.pub_context = self.create_publisher(DeploymentContext, topics.CONTEXT, qos.reliable())
        self.create_subscription(SoundEvent, topics.EVENTS, self.on_event, qos.reliable(100))
        self.create_subscription(CompressionConfig, topics.CONFIG, self.on_config, qos.latched())
        if self.battery.topic:  # best effort matches a reliable or a best-effort driver
            self.create_subscription(BatteryState, self.battery.topic, self.on_battery_msg,
                                     qos.audio(depth=5))
        wall_timer(self, period, self.tick)
        wall_timer(self, 1.0, self.health.publish)

    # ------------------------------------------------------------------ set-up
    def _battery_settings(self) -> battery_lib.BatterySettings:
        return battery_lib.BatterySettings(
            preference=declare(self, "battery_source", "auto", "Battery level source; auto "
                               "tries the topic, the INA219, psutil, then the simulation.",
                               choices=battery_lib.PREFERENCES, read_only=True),
            topic=declare(self, "battery_topic", "", "The robot's own sensor_msgs/BatteryState "
                          "topic ('' = none).", read_only=True),
            stale_s=declare(self, "battery_stale_s", 10.0, "A battery topic silent this long "
                            "(real s) is stale: unknown level.", low=0.1, high=3600.0,
                            read_only=True),
            pack=declare(self, "battery_pack", "3S", "Pack of the JetBot board (INA219 mapping "
                         "and Wh->Ah).", choices=tuple(ina219.PACKS), read_only=True),
            i2c_bus=declare(self, "ina219_bus", 1, "I2C bus of the INA219 (/dev/i2c-N).",
                            low=0, high=255, read_only=True),
            i2c_address=declare(self, "ina219_address", 0, "INA219 I2C address; 0 = the "
                                "JetBot board's for the pack (0x41 3S, 0x42 2S).",
                                low=0, high=127, read_only=True),
            simulated_initial=declare(self, "initial_battery", 0.86, "Simulated battery at "
                                      "start (0-1).", low=0.0, high=1.0, read_only=True),
            model=self.model,
        )

    def _contention(self) -> CacheContention:
        l2 = declare(self, "l2_cache_bytes", 2 * 1024 * 1024, "L2 cache size; 0 = read it from "
                     "sysfs (paper: 2 MiB on the Jetbot).", low=0, high=2**40, read_only=True)

        def mib(name, default, text):
            return declare(self, name, default, text, low=0.0, high=64.0, read_only=True)

        return CacheContention(
            seed=declare(self, "contention_seed", 0, "Seed of the hourly contention σ.",
                         low=0, high=2**31 - 1, read_only=True),
            l2_bytes=l2 or detect_l2_cache_bytes() or 2 * 1024 * 1024,
            sigma_mean_mib=mib("contention_mean_mib", 0.35, "Mean σ, MiB."),
            sigma_std_mib=mib("contention_std_mib", 0.25, "Std of σ, MiB."),
            sigma_max_mib=mib("contention_max_mib", 1.0, "Largest σ, MiB."),
        )

    def _open_battery(self) -> battery_lib.BatterySource:
        source, passed_over = battery_lib.open_battery(self.settings)
        for reason in passed_over:  # logged once, kept on diagnostics
            self.get_logger().warning(f"battery source passed over: {reason}")
        if passed_over:
            self.health.warn("battery", f"battery fallback to {source.name} ("
                             + "; ".join(passed_over) + ")")
        self.health.values["battery_source"] = source.name
        self.get_logger().info(f"battery source: {source.name}")
        return source

    def _open_power_meter(self) -> JetsonPower | None:
        try:
            meter = JetsonPower()
        except PowerUnavailable as exc:
            self.health.values["measured_power"] = f"none ({exc})".replace("\n", " ")
            return None
        self.health.values["measured_power"] = "jetson-stats"
        return meter

    def _sync_energy_model(self) -> None:
        """The energy parameters as they are now (`ros2 param set` applies at the next tick)."""
        for field, (name, *_rest) in ENERGY_PARAMETERS.items():
            setattr(self.model, field, self.get_parameter(name).value)

    # ------------------------------------------------------------------ inputs
    def on_config(self, msg: CompressionConfig) -> None:
        """Charge what the evolution node predicted for a window (the energy its objective
        priced); a configuration without a usable figure is priced here, and counted."""
        self._config_costs = (msg.macs, msg.params_bytes, msg.activation_bytes,
                              msg.predicted_latency_ms)
        mj = float(msg.energy_per_window_mj)
        self._carried_j = mj * 1e-3 if math.isfinite(mj) and mj > 0.0 else None
        if self._carried_j is None:
            self.health.count("config_energy_missing")

    def on_event(self, msg: SoundEvent) -> None:
        """One message per detected event (the inference node's event policy, not a window)
        counts once towards the event rate."""
        if msg.kind != SoundEvent.KIND_EVENT or msg.label == "background":
            return
        self.rate.add(scene_seconds(self))
        self.battery.notify()

    def on_battery_msg(self, msg: BatteryState) -> None:
        try:
            self.battery.receive(conversions.battery_reading_from_msg(msg))
        except ValueError as exc:
            self.health.count("battery_msgs_rejected")
            self.get_logger().warning(f"battery message rejected: {exc}",
                                      throttle_duration_sec=60)

    # ------------------------------------------------------------------ output
    def tick(self) -> None:
        if not clock_started(self):
            return  # use_sim_time and no /clock yet: the day has not begun
        self._sync_energy_model()
        self._energy_per_window = (self._carried_j if self._carried_j is not None
                                   else self.model.inference_joules(*self._config_costs))
        now = scene_seconds(self)
        if self._last_scene is not None and now < self._last_scene:
            self.health.count("clock_went_back")
            self._last_scene = now
        if self._last_scene is not None:
            self.battery.advance(now - self._last_scene, self._energy_per_window)
        self._last_scene = now
        reading = self._read_battery()
        storage = self.contention.budget_bytes(now)
        rate = self.rate.rate_per_min(now)
        stamp = self.get_clock().now().to_msg()
        self.pub_battery.publish(conversions.battery_state_msg(
            reading, capacity_ah=self._capacity_ah(), location=self.battery.name, stamp=stamp))
        self.pub_storage.publish(UInt64(data=storage))
        self.pub_context.publish(conversions.platform_context_msg(
            battery=reading.percentage, battery_source=self.battery.name,
            storage_budget_bytes=storage, event_rate_per_min=rate,
            scene_time_s=math.nan if self.live else now, stamp=stamp))
        self._report(reading, storage, rate)

    def _read_battery(self) -> battery_lib.BatteryReading:
        try:
            reading = self.battery.read()
        except Exception as exc:  # a flaky driver or bus gives "unknown", not a crash
            self.health.count("battery_read_errors")
            self.get_logger().warning(f"battery read failed: {exc}", throttle_duration_sec=60)
            reading = battery_lib.BatteryReading(percentage=math.nan)
        problem = self.battery.problem()
        if problem:
            self.health.warn("battery_stale", problem)
        else:
            self.health.clear("battery_stale")
        return reading

    def _capacity_ah(self) -> float:
        return self.model.capacity_wh / PACK_VOLTS[self.settings.pack]

    def _report(self, reading, storage, rate) -> None:
        values = self.health.values
        values["battery"] = f"{reading.percentage:.3f}"
        values["storage_budget_bytes"] = str(storage)
        values["event_rate_per_min"] = f"{rate:.2f}"
        values["energy_per_window_mj"] = f"{self._energy_per_window * 1e3:.3f}"
        if self.power_meter is not None:
            values["measured_power_w"] = f"{self.power_meter.read_watts():.2f}"

    def destroy_node(self) -> None:
        # getattr: rclpy also destroys a node whose __init__ failed half-way (bad parameter)
        for part in (getattr(self, "battery", None), getattr(self, "power_meter", None)):
            if part is not None:
                part.close()
        super().destroy_node()


#: the executable's entry point (setup.py) and ``python -m``'s
main = partial(node_main.run, ContextMonitorNode)


if __name__ == "__main__":
    main()
