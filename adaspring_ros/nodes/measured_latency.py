"""The evolution node's side of adapting on measured latency (ROS glue; the logic is in core).

The inference node publishes what it measures on ``inference/latency`` (ModelLatency, one
message per configuration about once a second). This object subscribes, feeds the core
correction (`core.model.latency_feedback`), and gives the evolution node:

- ``search_context(ctx)``: the context with the latency budget on the table's scale, so the
  unchanged Runtime3C judges T_table x correction + T_load <= T_bgt;
- ``reason(config_id, budget)``: "measured latency over budget: ...", "load fell: ...",
  "probing: ..." or None (`core.model.latency_governor`: hysteresis, hold, probe backoff);
- ``annotate(msg)``: the published prediction on the measured scale, and how it was judged;
- the quick on-device latency table (`core.model.device_table`), measured in a background
  thread once the inference node's first report shows the backbone serving, when the
  profile's machine is not this one (``on_device_table: auto``); ``take_profile()`` hands it
  over once.
Rejected reports are counted per kind on /diagnostics with the correction factor.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time

from adaspring_ros.core.context.cpu_busy import CpuBusyMeter
from adaspring_ros.core.model import checkpoint, device_table
from adaspring_ros.core.model.latency_feedback import (
    FeedbackSettings,
    LatencyFeedback,
    ReportRejected,
    fastest_table_ms,
)
from adaspring_ros.core.model.latency_governor import LatencyGovernor
from adaspring_ros.core.search import runtime3c
from adaspring_ros.core.search.elite_space import elite_space
from adaspring_ros.msg import ModelLatency
from adaspring_ros.nodes import conversions, qos, topics
from adaspring_ros.nodes.params import declare

TABLE_MODES = ("auto", "off")


class MeasuredLatency:
    def __init__(self, node, profile, version: str, checkpoint_path: str) -> None:
        self.node = node
        self.enabled = declare(node, "latency_feedback", True, "Correct the latency table from "
                               "the inference node's measurements and re-evolve on them.",
                               read_only=True)
        self.cpu_fall_share = declare(
            node, "latency_cpu_fall_share", 0.2, "While a latency hold is on, a drop of the "
            "machine's CPU busy share (0-1, all cores) this large also counts as load fell, and "
            "a latency fall does not count while the share stays within half of it; 0 judges "
            "on latency reports only.", low=0.0, high=1.0, read_only=True)
        self._new_governor(version, self._settings(node), profile)
        self.mode = declare(node, "on_device_table", "off", "Measure a quick latency table when "
                            "the profile's machine is not this one.", choices=TABLE_MODES,
                            read_only=True)
        self.table_budget_s = declare(node, "on_device_table_budget_s", 60.0, "Longest the quick "
                                      "on-device table may take, real s.", low=5.0, high=600.0,
                                      read_only=True)
        if self.mode not in TABLE_MODES:
            raise ValueError(f"on_device_table={self.mode!r} is not one of auto, off")
        self.profile = profile
        self.configs: dict[int, tuple] = {}
        self._ready = None
        self._unreachable: tuple[float, float] | None = None
        self.cpu_meter = CpuBusyMeter()
        self.table_source = "profile"
        node.create_subscription(ModelLatency, topics.LATENCY, self.on_latency, qos.reliable(50))
        # measured once the inference node reports (it serves): on a first start the table
        # (torch, the weights, up to table_budget_s of one core) competed with the graph's
        # start-up and delayed the first classified window by 4-5 s (bench_startup --cold)
        self._table_pending = checkpoint_path if self.mode == "auto" else None

    @staticmethod
    def _settings(node) -> FeedbackSettings:
        return FeedbackSettings(
            half_life_s=declare(node, "latency_half_life_s", 4.0, "Half-life of a latency "
                                "report in the correction, real s.", low=0.1, high=3600.0,
                                read_only=True),
            over_hold_s=declare(node, "latency_over_hold_s", 1.5, "Measured p95 above the "
                                "budget this long (real s) re-evolves.", low=0.0, high=600.0,
                                read_only=True),
            fall_ratio=declare(node, "latency_fall_ratio", 0.7, "Correction at or below this "
                               "share of the last search's = load fell: scale back up.",
                               low=0.05, high=0.95, read_only=True),
            fall_hold_s=declare(node, "latency_fall_hold_s", 4.0, "The fall must hold this "
                                "long, real s.", low=0.0, high=600.0, read_only=True),
            min_dwell_s=declare(node, "latency_min_dwell_s", 3.0, "Least real time from an "
                                "evolution to one caused by measured latency.", low=0.0,
                                high=3600.0, read_only=True),
            over_margin=declare(node, "latency_over_margin", 0.1, "After measured latency "
                                "went over budget, searches aim this share below T_bgt.",
                                low=0.0, high=0.89, read_only=True),
            probe_s=declare(node, "latency_probe_s", 20.0, "Try a larger configuration after "
                            "this long in a reduced one (doubles after each failed try, and while "
                            "the CPU is as busy as when the hold was taken), real s.",
                            low=1.0, high=86400.0, read_only=True),
            swap_amortise_windows=declare(node, "swap_amortise_windows", 50, "Windows one "
                                          "swap's time (T_load) is spread over.", low=1,
                                          high=1_000_000, read_only=True)).validate()

    def _new_governor(self, version: str, settings: FeedbackSettings, profile,
                      rejected: dict | None = None) -> None:
        self.feedback = LatencyFeedback(version, settings, rejected=dict(rejected or {}))
        self.feedback.floor_ms = fastest_table_ms(profile)  # see latency_governor
        self.governor = LatencyGovernor(self.feedback, self.cpu_fall_share)

    # ------------------------------------------------------------------ inputs
    def on_latency(self, msg: ModelLatency) -> None:
        if self._table_pending is not None:
            threading.Thread(target=self._table_thread, args=(self._table_pending,),
                             daemon=True, name="on_device_table").start()
            self._table_pending = None
        try:
            self.feedback.add(conversions.latency_report_from_msg(msg, time.monotonic()))
        except ReportRejected as exc:
            self.node.get_logger().warning(f"latency report ignored: {exc}",
                                           throttle_duration_sec=5.0)

    def published(self, config_id: int, config: tuple, table_ms: float) -> None:
        """A configuration went out (or the startup backbone, id 0): judge reports against it."""
        self.configs[config_id] = tuple(config)
        self.feedback.register(config_id, table_ms)
        self.governor.mark_searched(time.monotonic())

    # ------------------------------------------------------------------ deciding
    def search_context(self, ctx):
        """``ctx`` with the table budget the measured latency allows.

        When that is below the fastest configuration within the accuracy and storage limits
        (a preemption tail longer than the budget: no network fits), the search gets that
        configuration's latency instead, so it does not trade accuracy for a latency nothing can
        reach; `annotate` then reports the latency constraint as violated.
        """
        if not self.enabled:
            return ctx
        budget = self.governor.search_budget(ctx.latency_budget_ms, time.monotonic())
        floor = self._fastest_within(ctx)
        self._unreachable = (budget, floor) if budget < floor else None
        return dataclasses.replace(ctx, latency_budget_ms=max(budget, floor))

    def _fastest_within(self, ctx) -> float:
        fastest = elite_space(self.profile).fastest_within(ctx.accuracy_loss_threshold,
                                                           ctx.storage_budget_bytes)
        return self.feedback.floor_ms if fastest is None else fastest

    def reason(self, config_id: int, budget_ms: float) -> str | None:
        if not self.enabled:
            return None
        now = time.monotonic()
        if self.cpu_fall_share > 0.0:
            # busy share of all cores since the previous scan (per-process CPU time: a periodic
            # load does not alias it as it does /proc/stat; core.context.cpu_busy)
            busy = self.cpu_meter.sample()
            if busy is not None:
                self.governor.note_cpu(now, busy)
        return self.governor.decide(config_id, budget_ms, now)

    def annotate(self, msg, table_ms: float) -> None:
        """Publish T on the measured scale and say how the latency constraint was judged."""
        if not self.enabled:
            return
        now = time.monotonic()
        budget = msg.context.latency_budget_ms
        msg.predicted_latency_ms = float(self.governor.corrected_ms(table_ms, budget, now))
        msg.reason += (f"; latency judged on the measured scale: table budget "
                       f"{self.governor.search_budget(budget, now):.3f} ms for T_bgt "
                       f"{budget:.3f} ms (p95 = table x factor + tail + T_load; "
                       f"{self.table_source} table)")
        if self._unreachable is not None and math.isfinite(msg.predicted_latency_ms):
            msg.feasible = False
            if "latency" not in msg.violated_constraints:
                msg.violated_constraints = [*msg.violated_constraints, "latency"]
            msg.reason += (f"; T_bgt unreachable on the measured scale (needs table <= "
                           f"{self._unreachable[0]:.3f} ms, fastest within the accuracy and "
                           f"storage limits {self._unreachable[1]:.3f} ms): took that one")

    def diagnostics(self) -> dict[str, str]:
        values = self.governor.diagnostics(time.monotonic())
        values["latency_table"] = self.table_source
        return values

    # ------------------------------------------------------------------ on-device table
    def _table_thread(self, checkpoint_path: str) -> None:
        log = self.node.get_logger()
        threads = int(self.profile.meta.get("latency_threads", 1))
        machine = device_table.machine_fingerprint(threads)
        try:
            profile, source = device_table.table_for_machine(
                self.profile, machine, lambda: checkpoint.load(checkpoint_path or None).net,
                log=log.info, budget_s=self.table_budget_s)
            runtime3c.prepare(profile)  # Δ' depends on latency: rebuilt here, off the executor
        except Exception as exc:  # noqa: BLE001 - any failure leaves the shipped table in use
            log.error(f"on-device latency table failed ({exc}); keeping the profile's table")
            return
        if source != "profile":
            log.info(f"latency table for this machine ready ({source})")
            self._ready = (profile, source)

    def take_profile(self):
        """The on-device profile once it is ready (then None again); re-bases the correction."""
        ready, self._ready = self._ready, None
        if ready is None:
            return None
        profile, self.table_source = ready
        self.profile = profile
        self._new_governor(self.feedback.checkpoint_version, self.feedback.settings, profile,
                           self.feedback.rejected)
        for config_id, config in self.configs.items():
            self.feedback.register(config_id, profile.predict(config).latency_ms)
        return profile
