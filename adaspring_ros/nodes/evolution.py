"""Evolution node: runs Runtime3C when the context changes enough, periodically, or on request.

Inputs: ``context`` (latest sample only: a burst is coalesced to its last message) and its own
parameters (the application's latency budget and accuracy-loss threshold, μ1/μ2, trigger
thresholds). Output: ``compression_config``, transient-local, so a late or restarted inference
node gets the configuration in force at once.

The search trades accuracy loss against the predicted energy of one window (``energy_objective``
joules, core/model/energy.py, constants as parameters) or, selectable at start, against the
paper's Eq. (2) E; every configuration published carries both.

Setting a parameter at run time (`ros2 param set`) re-evolves immediately; values outside their
declared range are refused by rclpy with the range as the reason. If no context arrives for
``stale_timeout_s`` the node reports it and holds a conservative configuration (worst plausible
platform, see core.context.evolution_policy) until the monitor returns. When to search
is decided by core.context.evolution_scheduler; this node only feeds it and publishes.

Latency is judged on what the robot measures: the inference node's ``inference/latency``
reports correct the profile's table (nodes.measured_latency, core.model.latency_feedback), the
search sees the budget on the table's scale, and a measured p95 that stays over the budget
re-evolves ("measured latency over budget"), a load that falls scales back up ("load fell").
"""

from __future__ import annotations

from functools import partial
import math
import time

from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter

from adaspring_ros.core.context.deployment_context import ContextError
from adaspring_ros.core.context.evolution_policy import TriggerThresholds, conservative_context
from adaspring_ros.core.context.evolution_scheduler import (
    OUT_OF_ORDER,
    RESTORED,
    STALE,
    EvolutionScheduler,
)
from adaspring_ros.core.model import checkpoint, energy_calibration
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.energy import (
    ACTIVE_POWER_W,
    JOULES_PER_BYTE,
    JOULES_PER_MAC,
    WindowEnergy,
)
from adaspring_ros.core.search import runtime3c
from adaspring_ros.core.search.objective import ENERGY_OBJECTIVES
from adaspring_ros.msg import CompressionConfig, DeploymentContext
from adaspring_ros.nodes import conversions, node_main, qos, topics
from adaspring_ros.nodes.health import Health
from adaspring_ros.nodes.measured_latency import MeasuredLatency
from adaspring_ros.nodes.params import check_choice, declare
from adaspring_ros.nodes.scene_clock import wall_timer

#: Parameters whose change re-runs the search (the others only affect when it runs).
SEARCH_PARAMETERS = ("latency_budget_ms", "accuracy_loss_threshold", "mu1", "mu2", "seed",
                     "joules_per_mac", "joules_per_byte", "active_power_w")
TRIGGER_PARAMETERS = ("battery_delta", "storage_delta_bytes", "event_rate_rel", "period_s")
#: the parameters `ros2 param set` may change (the others are read-only)
RUNTIME_PARAMETERS = SEARCH_PARAMETERS + TRIGGER_PARAMETERS


class EvolutionNode(Node):
    """Contexts and parameters in, configurations out; when to search is the scheduler's call."""

    def __init__(self, **kwargs) -> None:
        super().__init__("evolution", **kwargs)
        self.health = Health(self)
        path = declare(self, "checkpoint", "", "Self-evolutionary network checkpoint ('' = the "
                       "shipped models/ubiear_supernet.pt).", read_only=True)
        declare(self, "latency_budget_ms", 4.0, "Application latency budget T_bgt per window.",
                low=0.01, high=10000.0)
        declare(self, "accuracy_loss_threshold", 1.0,
                "Largest tolerated accuracy loss A_thr, percentage points.", low=0.0, high=100.0)
        declare(self, "mu1", 0.4, "Energy proxy weight of C/Sp (paper Eq. 2).", low=0.0, high=1.0)
        declare(self, "mu2", 0.6, "Energy proxy weight of C/Sa (paper Eq. 2).", low=0.0, high=1.0)
        declare(self, "seed", 0, "Seed of Runtime3C's channel-noise mutation.", low=0, high=2**31)
        self.energy_objective = self._declare_energy()
        declare(self, "battery_delta", 0.05, "Battery change that triggers evolution (0-1).",
                low=0.0, high=1.0)
        declare(self, "storage_delta_bytes", 65536, "Storage budget change that triggers "
                "evolution, bytes.", low=0, high=2**40)
        declare(self, "event_rate_rel", 1.0, "Relative event-rate change that triggers evolution.",
                low=0.0, high=100.0)
        declare(self, "period_s", 7200.0, "Evolve at least this often, scene seconds (paper: 2 h).",
                low=1.0, high=864000.0)
        # read once into the scheduler: read-only (the search and trigger ones apply at once)
        stale_timeout_s = declare(self, "stale_timeout_s", 3.0,
                                  "No context for this long (real seconds) = stale.",
                                  low=0.1, high=3600.0, read_only=True)
        min_interval_ms = declare(self, "min_interval_ms", 5.0,
                                  "Least time between two searches, ms.", low=0.0, high=60000.0,
                                  read_only=True)
        self.conservative_storage = declare(
            self, "conservative_storage_bytes", 1024 * 1024,
            "Storage budget assumed while the context is stale, bytes.", low=0, high=2**40,
            read_only=True)
        # the search needs the profile only, not the weights (nor torch): cached by the file's
        # hash after the first start; CheckpointError: node_main reports it
        loaded = checkpoint.load_profile(path or None)
        self.profile = loaded.profile
        self.version = loaded.version
        self.get_logger().info(f"profile of {loaded.path} from {loaded.source}")
        # context-free part of the search (Δ' of the chosen objective): cached like the profile
        runtime3c.prepare(self.profile, self.energy_objective, self._window(),
                          self.get_parameter("mu1").value, self.get_parameter("mu2").value)
        self.scheduler = EvolutionScheduler(self._thresholds(), stale_timeout_s=stale_timeout_s,
                                            min_interval_s=min_interval_ms / 1000.0)
        self.config_id = 0
        self.latency = MeasuredLatency(self, self.profile, self.version, path)
        backbone = ss.backbone_configuration(self.profile.arch)  # what inference runs at first
        self.latency.published(0, backbone, self.profile.predict(backbone).latency_ms)
        self.latest_msg: DeploymentContext | None = None
        self.last_result = None
        self.pub = self.create_publisher(CompressionConfig, topics.CONFIG, qos.latched())
        self.create_subscription(DeploymentContext, topics.CONTEXT, self.on_context,
                                 qos.latest_only())
        self.add_on_set_parameters_callback(self.on_parameters)
        wall_timer(self, 0.01, self.tick)
        wall_timer(self, 1.0, self.publish_health)

    def _declare_energy(self) -> str:
        """The energy term of Eq. (1) (read-only: its Δ' is built at start) and the per-window
        energy constants (core/model/energy.py gives their sources; they apply at run time)."""
        objective = declare(self, "energy_objective", ENERGY_OBJECTIVES[0], "Energy term of "
                            "Eq. (1): joules = predicted energy per window, paper = Eq. (2)'s E.",
                            choices=ENERGY_OBJECTIVES, read_only=True)
        if not check_choice("energy_objective", objective, ENERGY_OBJECTIVES).successful:
            raise ValueError(check_choice("energy_objective", objective, ENERGY_OBJECTIVES).reason)
        declare(self, "joules_per_mac", JOULES_PER_MAC, "Energy per multiply-accumulate, J.",
                low=0.0, high=1e-6)
        declare(self, "joules_per_byte", JOULES_PER_BYTE,
                "Energy per parameter/activation byte moved, J.", low=0.0, high=1e-6)
        declare(self, "active_power_w", ACTIVE_POWER_W, "Busy-core power that does not scale "
                "with its work, W (python -m adaspring_ros.tools.calibrate_energy on a Jetson).",
                low=0.0, high=100.0)
        self._calibrated_active_power(declare(
            self, "active_power_source", "auto", "auto: active_power_w as jetson-stats measured "
            "it on this machine (calibrate_energy), where stored; parameter: as set.",
            choices=energy_calibration.SOURCES, read_only=True))
        return objective

    def _calibrated_active_power(self, source: str) -> None:
        """Where jetson-stats measured this machine's active power, price windows with it: set
        at start as the parameter's value (`ros2 param get` shows what is in force, `ros2 param
        set` still overrides it); why, on /diagnostics."""
        watts, why = energy_calibration.active_power(source,
                                                     self.get_parameter("active_power_w").value)
        if watts != self.get_parameter("active_power_w").value:
            result = self.set_parameters([Parameter("active_power_w", value=watts)])[0]
            if not result.successful:
                why = f"{self.get_parameter('active_power_w').value:.4f} W from " \
                      f"active_power_w (calibration refused: {result.reason})"
        self.health.values["active_power"] = why
        self.get_logger().info(f"active power: {why}")

    def _window(self) -> WindowEnergy:
        return WindowEnergy(*(self.get_parameter(n).value
                              for n in ("joules_per_mac", "joules_per_byte", "active_power_w")))

    # ------------------------------------------------------------------ inputs
    def _thresholds(self, **changed) -> TriggerThresholds:
        values = {n: self.get_parameter(n).value for n in TRIGGER_PARAMETERS}
        return TriggerThresholds(**{**values, **changed})

    def on_parameters(self, params) -> SetParametersResult:
        changed = {p.name: p.value for p in params}
        try:
            self._thresholds(**{n: v for n, v in changed.items()
                                if n in TRIGGER_PARAMETERS}).validate()
        except (TypeError, ValueError) as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        if any(n in SEARCH_PARAMETERS for n in changed):
            listed = ", ".join(f"{n}={v}" for n, v in changed.items())
            self.scheduler.request(f"parameter set: {listed}")
        if any(n in TRIGGER_PARAMETERS for n in changed):
            self.scheduler.request("trigger thresholds changed", keep_earlier=True)
        return SetParametersResult(successful=True)

    def on_context(self, msg: DeploymentContext) -> None:
        try:
            ctx = self._to_context(msg)
        except (ContextError, ValueError) as exc:
            self.health.count("contexts_rejected")
            self.get_logger().warning(f"context rejected: {exc}", throttle_duration_sec=5.0)
            return
        latest = self.scheduler.latest
        verdict = self.scheduler.offer(ctx, time.monotonic())
        if verdict == OUT_OF_ORDER:
            self.health.count("contexts_out_of_order")
            self.get_logger().warning(
                f"context stamp went back ({ctx.stamp_s:.3f} < {latest.stamp_s:.3f} s);"
                " dropped", throttle_duration_sec=5.0)
            return
        self.health.count("contexts_received")
        self.latest_msg = msg
        if verdict == RESTORED:
            self.health.clear("stale")
            self.get_logger().info("context monitor is back; evolution resumes")
        self.tick()

    def _to_context(self, msg: DeploymentContext):
        return conversions.msg_to_context(
            msg, latency_budget_ms=self.get_parameter("latency_budget_ms").value,
            accuracy_loss_threshold=self.get_parameter("accuracy_loss_threshold").value)

    # ------------------------------------------------------------------ deciding
    def _latency_requests(self) -> None:
        """Searches asked for by measured latency; none before the first one (the first
        context triggers it, with whatever table is ready by then)."""
        if self.latency.take_profile() is not None:  # the on-device table is ready
            self.profile = self.latency.profile
            if self.config_id:
                self.scheduler.request(
                    f"latency table for this machine ({self.latency.table_source})")
        if not self.config_id:
            return
        measured = self.latency.reason(self.config_id,
                                       self.get_parameter("latency_budget_ms").value)
        if measured is not None:
            self.scheduler.request(measured, keep_earlier=True)

    def tick(self) -> None:
        self._latency_requests()
        decision = self.scheduler.due(time.monotonic())
        if decision is None:
            return
        if decision.kind == STALE:
            self._go_stale(decision.reason)
            return
        ctx = self.scheduler.latest
        if decision.refresh:
            ctx = self._refresh_context()
            if ctx is None:
                return
        self.evolve(ctx, self.latest_msg, decision.reason)

    def _refresh_context(self):
        """The latest context rebuilt with the application limits just set, or None."""
        try:
            ctx = self._to_context(self.latest_msg)
        except (ContextError, ValueError) as exc:
            self.health.count("contexts_rejected")
            self.get_logger().warning(f"context rejected after parameter change: {exc}")
            self.scheduler.drop_pending()
            return None
        self.scheduler.refreshed(ctx, self._thresholds())
        return ctx

    def _go_stale(self, text: str) -> None:
        self.get_logger().warning(text + "; holding a conservative configuration")
        self.health.warn("stale", "context stale: " + text)
        self.health.count("stale_periods")
        latest = self.scheduler.latest
        ctx = conservative_context(
            latest, storage_floor_bytes=self.conservative_storage,
            latency_budget_ms=self.get_parameter("latency_budget_ms").value,
            accuracy_loss_threshold=self.get_parameter("accuracy_loss_threshold").value,
            now_s=latest.stamp_s if latest else 0.0).validated()
        ctx_msg = conversions.context_to_msg(
            ctx, battery_source="unknown",
            scene_time_s=self.latest_msg.scene_time_s if self.latest_msg else math.nan,
            stamp=self.get_clock().now().to_msg())
        self.evolve(ctx, ctx_msg, "context stale: " + text)

    def evolve(self, ctx, ctx_msg: DeploymentContext, reason: str) -> None:
        self.scheduler.evolved(ctx, time.monotonic())
        result = runtime3c.search(self.profile, self.latency.search_context(ctx),
                                  seed=self.get_parameter("seed").value,
                                  mu1=self.get_parameter("mu1").value,
                                  mu2=self.get_parameter("mu2").value,
                                  energy_objective=self.energy_objective, window=self._window())
        self.config_id += 1
        effective = conversions.context_to_msg(
            ctx, battery_source=ctx_msg.battery_source, scene_time_s=ctx_msg.scene_time_s,
            stamp=ctx_msg.header.stamp)
        msg = conversions.result_to_msg(
            result, config_id=self.config_id, checkpoint_version=self.version, trigger=reason,
            context=effective, stamp=self.get_clock().now().to_msg())
        self.latency.annotate(msg, result.metrics.latency_ms)
        self.latency.published(self.config_id, result.config, result.metrics.latency_ms)
        self.pub.publish(msg)
        self.last_result = result
        self._report(result, reason)

    def publish_health(self) -> None:
        self.health.values.update(self.latency.diagnostics())
        self.health.publish()

    def _report(self, result, reason: str) -> None:
        self.health.count("evolutions")
        self.health.values["last_search_ms"] = f"{result.search_time_ms:.3f}"
        self.health.values["config"] = " ".join(result.config)
        self.health.values["energy_per_window_mj"] = f"{result.energy_per_window_j * 1e3:.3f}"
        if result.feasible:
            self.health.clear("infeasible")
        else:
            self.health.warn("infeasible", "constraints not met: " + ", ".join(result.violated))
        self.get_logger().info(
            f"config {self.config_id} [{' '.join(result.config)}] in "
            f"{result.search_time_ms:.2f} ms ({reason}); "
            + ("all constraints met" if result.feasible
               else "violates " + ", ".join(result.violated)))


#: the executable's entry point (setup.py) and ``python -m``'s
main = partial(node_main.run, EvolutionNode)


if __name__ == "__main__":
    main()
