"""A load step through the real graph: does measured latency close the adaptation loop?

Used by benchmarks/bench_adaptation.py (figures) and test/test_latency_loop.py (a shorter run
whose outcome is asserted). The evolution and inference nodes run as separate processes in a
private ROS domain; this process plays the context monitor (one steady context) and the
microphone (1 s windows at ``rate_hz`` per real second), and real processes supply the load
(`testing.cpu_load`: busy loops, or a real-time periodic loop, one per core). Nothing is
faked: the latency each window reports is the inference node's own measurement of its model's
forward call.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

from adaspring_ros.core.audio import pcm
from adaspring_ros.core.model.latency_governor import FELL, OVER, PROBE
from adaspring_ros.core.model.latency_meter import percentile
from adaspring_ros.core.scene import sound_synth
from adaspring_ros.testing import cpu_load
from adaspring_ros.testing.ros_harness import child_environment, lease_domain

@dataclass
class Record:
    """What this process saw, stamped with time.monotonic()."""

    configs: list = field(default_factory=list)  # (t, config_id, trigger, predicted_ms)
    windows: list = field(default_factory=list)  # (t, config_id, model_latency_ms)
    corrections: list = field(default_factory=list)  # (t, latency_correction)
    reports: list = field(default_factory=list)  # (t, ModelLatency)
    evolution_values: dict = field(default_factory=dict)  # latest evolution diagnostics
    violated: dict = field(default_factory=dict)  # config_id -> constraints its search missed


class LoadStepGraph:
    """The two nodes, this process's ROS endpoints, and the audio pump."""

    def __init__(self, workdir: Path, evolution_params: dict, rate_hz: float = 10.0,
                 inference_priority: int = 0) -> None:
        import rclpy

        self.workdir = workdir
        self.lease = lease_domain()
        self.env = child_environment(self.lease.domain_id, workdir)
        # the normal scheduler by default (test_latency_loop: the loop against contention a
        # robot without rtprio rights sees); config/sound_assistant.yaml ships SCHED_FIFO 50,
        # under which a busy hog barely reaches the forward call, and bench_adaptation runs that
        # unless told otherwise
        self.procs = [self._spawn("evolution", evolution_params),
                      self._spawn("inference", {"realtime_priority": inference_priority})]
        rclpy.init(args=["load_step"], domain_id=self.lease.domain_id)
        self.rclpy = rclpy
        self.node = rclpy.create_node("load_step")
        self.record = Record()
        self._wire()
        self.period_s = 0.1 / rate_hz  # ten 100 ms chunks per window
        self.seq = 0
        rng = np.random.default_rng(0)
        clips = [sound_synth.render_clip(sound_synth.CLASSES[i % 9], rng, 10.0) for i in range(9)]
        self.chunks = [pcm.encode(c[i * 1600:(i + 1) * 1600]) for c in clips for i in range(10)]

    def _spawn(self, name: str, params: dict) -> subprocess.Popen:
        args = [x for k, v in params.items() for x in ("-p", f"{k}:={v}")]
        log = open(self.workdir / f"{name}.log", "w")  # noqa: SIM115
        return subprocess.Popen([sys.executable, "-m", f"adaspring_ros.nodes.{name}",
                                 "--ros-args", *args], env=self.env, stdout=log, stderr=log,
                                cwd=tempfile.gettempdir(), start_new_session=True)

    def _wire(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rcl_interfaces.srv import SetParameters

        from adaspring_ros.msg import (
            AudioChunk,
            CompressionConfig,
            DeploymentContext,
            ModelLatency,
            SoundEvent,
        )
        from adaspring_ros.nodes import qos, topics

        r, n = self.record, self.node
        n.create_subscription(CompressionConfig, topics.CONFIG, self._on_config, qos.latched())
        n.create_subscription(SoundEvent, topics.WINDOWS, lambda m: r.windows.append(
            (time.monotonic(), m.config_id, m.model_latency_ms)), qos.reliable(1000))
        n.create_subscription(DiagnosticArray, topics.DIAGNOSTICS, self._on_diagnostics, 50)
        n.create_subscription(ModelLatency, topics.LATENCY, lambda m: r.reports.append(
            (time.monotonic(), m)), qos.reliable(50))
        self.latency_pub = n.create_publisher(ModelLatency, topics.LATENCY, qos.reliable(50))
        self.ctx_pub = n.create_publisher(DeploymentContext, topics.CONTEXT, qos.reliable())
        self.audio_pub = n.create_publisher(AudioChunk, topics.AUDIO, qos.audio(400))
        self.set_params = n.create_client(SetParameters, "/evolution/set_parameters")
        self._msgs = (AudioChunk, DeploymentContext)

    def _on_config(self, m) -> None:
        self.record.configs.append((time.monotonic(), m.config_id, m.trigger,
                                    m.predicted_latency_ms))
        if not m.feasible:
            self.record.violated[m.config_id] = list(m.violated_constraints)

    def _on_diagnostics(self, m) -> None:
        for s in m.status:
            if s.name.endswith("/evolution"):
                v = {kv.key: kv.value for kv in s.values}
                self.record.evolution_values = v
                if "latency_correction" in v:
                    self.record.corrections.append((time.monotonic(),
                                                    float(v["latency_correction"])))

    def context(self):
        m = self._msgs[1](battery=0.8, battery_source="simulated",
                          storage_budget_bytes=2_000_000, event_rate_per_min=1.0,
                          scene_time_s=math.nan)
        m.latency_budget_ms = m.accuracy_loss_threshold = m.lambda1 = m.lambda2 = math.nan
        return m

    def pump(self, seconds: float) -> None:
        """Publish audio (and the context every 0.2 s) for ``seconds``, spinning meanwhile."""
        end = time.monotonic() + seconds
        next_chunk = next_ctx = time.monotonic()
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_ctx:
                self.ctx_pub.publish(self.context())
                next_ctx += 0.2
            while now >= next_chunk:
                m = self._msgs[0](sequence=self.seq, sample_rate=16000, channels=1,
                                  encoding=pcm.S16LE)
                m.data = self.chunks[self.seq % len(self.chunks)]
                stamp = time.time_ns()
                m.header.stamp.sec, m.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
                self.audio_pub.publish(m)
                self.seq += 1
                next_chunk += self.period_s
            self.rclpy.spin_once(self.node, timeout_sec=min(0.005, self.period_s))

    def wait_until_up(self, timeout: float = 120.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end and not (self.record.configs and self.record.windows):
            self.pump(0.5)
            if any(p.poll() is not None for p in self.procs):
                break
        if not (self.record.configs and self.record.windows):
            raise RuntimeError(f"graph did not come up; logs in {self.workdir}")

    def wait_for_table(self, timeout: float) -> str:
        """Pump until the evolution node plans with a table for this machine ("cache",
        "measured"; diagnostics' latency_table), or ``timeout`` s; returns the table in use."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            table = self.record.evolution_values.get("latency_table", "profile")
            if table != "profile":
                self.pump(3.0)  # the re-evolution on the new table, and its swap
                return table
            self.pump(0.5)
        return self.record.evolution_values.get("latency_table", "profile")

    def set_budget(self, value_ms: float) -> None:
        from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
        from rcl_interfaces.srv import SetParameters

        request = SetParameters.Request()
        request.parameters = [Parameter(name="latency_budget_ms", value=ParameterValue(
            type=ParameterType.PARAMETER_DOUBLE, double_value=float(value_ms)))]
        self.set_params.wait_for_service(timeout_sec=10.0)
        future = self.set_params.call_async(request)
        self.rclpy.spin_until_future_complete(self.node, future, timeout_sec=10.0)

    def close(self) -> None:
        from adaspring_ros.tools import bringup

        self.node.destroy_node()
        self.rclpy.try_shutdown()
        bringup.stop(self.procs)
        self.lease.release()


def window_ms(record: Record, t0: float, t1: float) -> list[float]:
    return [ms for t, _, ms in record.windows if t0 <= t < t1]


def share_within(values: list[float], budget: float) -> float:
    return sum(v <= budget for v in values) / len(values) if values else math.nan


def _spans(record: Record, since: float, until: float, span_s: float):
    """(start, [(config_id, ms), ...]) of every ``span_s`` window of at least 5 windows, in
    0.25 s steps from ``since`` while the span ends by ``until``."""
    t = since
    while t + span_s <= until:
        span = [(c, m) for s, c, m in record.windows if t <= s < t + span_s]
        if len(span) >= 5:
            yield t, span
        t += 0.25


def _p95(span) -> float:
    return percentile(sorted(m for _, m in span), 0.95)


def back_under(record: Record, budget: float, since: float, until: float,
               span_s: float = 2.0) -> float | None:
    """First time after ``since`` from which the windows of the next ``span_s`` have p95 <=
    budget, all of them run by configurations chosen after ``since``. (Until session 10 the
    windows of older configurations were left out of the span instead, which could date the
    return up to ``span_s`` before the new configuration ran.)"""
    ids_after = {c for t, c, _, _ in record.configs if t >= since}
    return next((t for t, span in _spans(record, since, until, span_s)
                 if all(c in ids_after for c, _ in span) and _p95(span) <= budget), None)


def first_over(record: Record, budget: float, since: float, until: float,
               span_s: float = 2.0) -> float | None:
    """First time after ``since`` from which the windows of the next ``span_s`` have p95 >
    budget: when the load actually pushed measured latency over budget."""
    return next((t for t, span in _spans(record, since, until, span_s) if _p95(span) > budget),
                None)


def analyse(record: Record, budget: float, hog_start: float, hog_stop: float,
            end: float) -> dict:
    """The load step's figures, times in real s from the hog's start (or stop).

    Two clocks for the response: from the hog's start (``back_under_budget_s``), and from when
    measured latency first went over budget (``back_under_after_over_s``): the first 2 s span
    whose p95 went over, or the node's first "measured latency over budget" evolution if that
    came sooner (the node judges its own window of reports, which need not line up with the
    spans: in a session 13 run it re-evolved 2.07 s after the start on a p95 of 5.28 ms against
    4.41, and no 2 s span of the record went over until 32.5 s). Why both: a hog does not
    always push the running configuration over budget at once (in one session 10 run the first
    "over budget" evolution came 16.1 s after the start while 95.4 % of the windows from 10 s
    in met the budget), and a clock from the start then counts time in which nothing was wrong.
    """
    over = [t for t, _, trig, _ in record.configs if hog_start <= t < hog_stop
            and trig.startswith(OVER)]
    fell = [t for t, _, trig, _ in record.configs if t >= hog_stop
            and trig.startswith((FELL, PROBE))]
    under = back_under(record, budget, hog_start, hog_stop)
    went_over = min((t for t in (first_over(record, budget, hog_start, hog_stop),
                                 over[0] if over else None) if t is not None), default=None)
    under_after = (back_under(record, budget, went_over, hog_stop)
                   if went_over is not None else None)
    return {
        "budget_ms": budget,
        "first_over_budget_s": round(went_over - hog_start, 2)
        if went_over is not None else None,
        "first_over_budget_evolution_s": round(over[0] - hog_start, 2) if over else None,
        "back_under_budget_s": round(under - hog_start, 2) if under is not None else None,
        "back_under_after_over_s": round(under_after - went_over, 2)
        if under_after is not None else None,
        "scale_up_s": round(fell[0] - hog_stop, 2) if fell else None,
        "evolutions_hog_start": sum(hog_start <= t < hog_stop for t, *_ in record.configs),
        "evolutions_hog_stop": sum(hog_stop <= t < end for t, *_ in record.configs),
        "share_meeting_budget_before": share_within(window_ms(record, hog_start - 10, hog_start),
                                                    budget),
        "share_meeting_budget_hog_from_10s": share_within(
            window_ms(record, hog_start + 10, hog_stop), budget),
        "share_meeting_budget_after_from_10s": share_within(
            window_ms(record, hog_stop + 10, end), budget),
        # the loop's own verdict: under the load, the search found no configuration within the
        # limits whose corrected prediction met the (aimed) budget, and ran the closest it had
        "infeasible_under_load": [c for t, c, _, _ in record.configs
                                  if hog_start <= t < hog_stop and c in record.violated],
        "configs": [(round(t - hog_start, 2), c, trig, round(p, 3))
                    for t, c, trig, p in record.configs],
    }


def steal_share(since, until) -> float:
    """CPU time the hypervisor gave to other guests between two `psutil.cpu_times()` readings,
    as a share of all CPU time. On a virtual machine that is noise a load step cannot control,
    so it is printed beside the figures."""
    total = sum(until) - sum(since)
    return (getattr(until, "steal", 0.0) - getattr(since, "steal", 0.0)) / total if total else 0.0


def probe_load(spec: cpu_load.LoadSpec, accuracy_loss_threshold: float,
               storage_bytes: float = 2_000_000, seconds: float = 6.0, priority: int = 0,
               log=print) -> list[cpu_load.ForwardTimes]:
    """Forward times of the backbone and of the fastest configuration within the accuracy and
    storage limits, quiet and under ``spec``, outside the graph (`cpu_load.probe`), at the
    inference node's ``priority``."""
    import torch

    from adaspring_ros.core.audio import features
    from adaspring_ros.core.model import checkpoint
    from adaspring_ros.core.search import runtime3c
    from adaspring_ros.core.search.elite_space import elite_space

    loaded = checkpoint.load(None)
    runtime3c.prepare(loaded.profile)
    fastest = elite_space(loaded.profile).fastest_member_within(accuracy_loss_threshold,
                                                                storage_bytes).config
    modules = {"backbone": loaded.net.get_active_subnet().eval(),
               "fastest " + " ".join(fastest): loaded.net.get_active_subnet(fastest).eval()}
    x = torch.zeros(1, 1, features.N_MELS, features.N_FRAMES)
    out = cpu_load.probe(modules, x, spec, seconds, priority)
    for times in out:
        log(f"[loadstep] probe, {spec.text()}: {times.text()} ({times.calls} calls)")
    return out


def meetable_by_probe(probe: list[cpu_load.ForwardTimes], budget_ms: float) -> bool | None:
    """Whether the fastest network within A_thr met ``budget_ms`` (p95) under the load in the
    probe; None without a loaded probe of it. Why: a run whose load leaves no network within
    A_thr under budget cannot come back under it, and counting it as the loop's miss would
    blame the loop for the load. The probe runs outside the graph, where the same network
    measured faster than inside it (session 12: backbone under 50 % rt-loop duty 5.2 ms p50
    alone, 5.3-12.1 ms in the graph), so this is an optimistic reading: True can still be
    unmeetable in the graph, False is not meetable."""
    loaded = [t for t in probe if t.phase == "loaded" and t.name.startswith("fastest")]
    return loaded[0].p95_ms <= budget_ms if loaded else None


def run_load_step(hog_s: float = 60.0, after_s: float = 40.0, budget_factor: float = 1.3,
                  accuracy_loss_threshold: float = 2.0, spec: cpu_load.LoadSpec | None = None,
                  on_device_table: str = "auto", inference_priority: int = 0,
                  log=print) -> dict:
    """Run the load step and return (and print) its figures; first `probe_load` (printed and
    returned under ``probe``), so the report says whether the load reached the forward call.

    ``on_device_table``: as config/sound_assistant.yaml ships it ("auto"), the evolution node
    plans with a latency table for this machine (cached per machine; measured in up to 60 s the
    first time), and the step waits for it. Why: that is what the robot runs, and the shipped
    table was timed elsewhere (it puts the fastest network within 2 pp at 0.36x the backbone,
    where this machine's forward call measured 0.65x)."""
    spec = (spec or cpu_load.LoadSpec()).validate()
    probe = probe_load(spec, accuracy_loss_threshold, priority=inference_priority, log=log)
    workdir = Path(tempfile.mkdtemp(prefix="load_step_"))
    params = {"latency_budget_ms": 1000.0, "accuracy_loss_threshold": accuracy_loss_threshold,
              "on_device_table": on_device_table}
    graph = LoadStepGraph(workdir, params, inference_priority=inference_priority)
    hog: list[subprocess.Popen] = []
    try:
        graph.wait_until_up()
        table = graph.wait_for_table(120.0) if on_device_table == "auto" else "profile"
        log(f"[loadstep] latency table: {table}")
        graph.pump(8.0)
        t = time.monotonic()
        base = sorted(window_ms(graph.record, t - 5.0, t))
        backbone_p95 = percentile(base, 0.95)
        budget = round(budget_factor * backbone_p95, 3)
        log(f"[loadstep] backbone p95 in this graph {backbone_p95:.3f} ms over {len(base)} "
            f"windows; budget set to {budget} ms ({budget_factor}x); "
            f"load average {os.getloadavg()[0]:.2f}")
        graph.set_budget(budget)
        graph.pump(12.0)
        cpu_before = psutil.cpu_times()
        hog_start = time.monotonic()
        hog = cpu_load.start(spec, hog_s)
        log(f"[loadstep] load: {spec.text()} for {hog_s:.0f} s")
        graph.pump(hog_s)
        cpu_load.stop(hog)
        hog_stop = time.monotonic()
        log(f"[loadstep] load stopped; load average {os.getloadavg()[0]:.2f}")
        graph.pump(after_s)
        result = analyse(graph.record, budget, hog_start, hog_stop, time.monotonic())
        result["load"] = spec.text()
        result["inference_priority"] = inference_priority
        result["latency_table"] = table
        result["cpu_steal_share"] = round(steal_share(cpu_before, psutil.cpu_times()), 4)
        result["probe"] = [(p.name, p.phase, round(p.p50_ms, 3), round(p.p95_ms, 3))
                           for p in probe]
        result["meetable_by_probe"] = meetable_by_probe(probe, budget)
        result["backbone_p95_ms"] = backbone_p95
        result["load_average_end"] = os.getloadavg()
        result["workdir"] = str(workdir)
    finally:
        cpu_load.stop(hog)
        graph.close()
    for key, value in result.items():
        log(f"[loadstep] {key}: {value}")
    return result
