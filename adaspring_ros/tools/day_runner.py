"""The simulated UbiEar day (paper §6.6) through the real ROS graph, recorded and reported.

Starts the scene clock and the four nodes as separate processes (real DDS between them), listens
to every topic like an operator would, changes the application's latency budget at run time
through the evolution node's parameter service (what `ros2 param set` does), and when the
scene reaches 17:00 prints a table of every evolution and a summary, and writes a JSON log and a
PNG timeline in the spirit of the paper's Figures 12 and 13.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from rclpy.parameter import Parameter as RclpyParameter

from adaspring_ros.core.measure import percentile
from adaspring_ros.core.model import checkpoint
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.scene.day_scene import DAY_END_S, format_clock
from adaspring_ros.msg import CompressionConfig, DeploymentContext, ModelLatency, SoundEvent
from adaspring_ros.nodes import qos, topics
from adaspring_ros.nodes.health import status_node, status_values
from adaspring_ros.nodes.params import set_request
from adaspring_ros.tools import bringup, day_latency, domains, graph

#: (scene time, latency budget as a multiple of the backbone's latency MEASURED in this running
#: graph before 12:00): the app asks for faster answers over lunch, then relaxes. Relative to
#: what this machine does now, so the tight period needs compression on any CPU, under any load.
LATENCY_SCHEDULE = ((12 * 3600.0, 0.8), (14 * 3600.0, 3.0))


class ContextSample(NamedTuple):
    """One DeploymentContext as the recorder heard it (NaN scene time under wall time)."""

    scene_time_s: float
    battery: float
    storage_budget_bytes: int
    event_rate_per_min: float


@dataclass
class DayLog:
    configs: list = field(default_factory=list)  # dicts, one per evolution
    contexts: list = field(default_factory=list)  # ContextSample, one per context heard
    events: dict = field(default_factory=dict)  # audio_sequence -> (label, config_id, latency)
    truth: dict = field(default_factory=dict)  # audio_sequence -> label
    windows: list = field(default_factory=list)  # (real t, scene t, config_id, model ms)
    reports: list = field(default_factory=list)  # (real t, config_id, p50 ms) of the active one
    budget: day_latency.BudgetTimeline = field(default_factory=day_latency.BudgetTimeline)
    lost_chunks: int = 0
    parameter_changes: list = field(default_factory=list)


class DayRecorder(Node):
    def __init__(self, namespace: str) -> None:
        super().__init__("ubiear_day_recorder", namespace=namespace or None,
                         parameter_overrides=[RclpyParameter("use_sim_time", value=True)])
        self.log = DayLog()
        self.nodes_seen: set[str] = set()
        self.create_subscription(CompressionConfig, topics.CONFIG, self.on_config,
                                 qos.latched())
        self.create_subscription(DeploymentContext, topics.CONTEXT, self.on_context,
                                 qos.reliable(100))
        self.create_subscription(SoundEvent, topics.WINDOWS, self.on_event, qos.reliable(1000))
        self.create_subscription(SoundEvent, topics.GROUND_TRUTH, self.on_truth,
                                 qos.reliable(1000))
        self.create_subscription(DiagnosticArray, topics.DIAGNOSTICS, self.on_diagnostics, 100)
        self.create_subscription(ModelLatency, topics.LATENCY, self.on_latency, qos.reliable(50))
        evolution = f"{graph.normalise_namespace(namespace)}/evolution/set_parameters"
        self.set_params = self.create_client(SetParameters, evolution)

    def scene_now(self) -> float:
        return self.get_clock().now().nanoseconds / 1e9

    def on_config(self, m: CompressionConfig) -> None:
        c = m.context
        if not self.log.configs:  # the budget in force from the start (the YAML's)
            self.log.budget.add(time.monotonic(), c.latency_budget_ms)
        self.log.configs.append({
            "config_id": m.config_id, "scene_time_s": c.scene_time_s,
            "clock": format_clock(c.scene_time_s) if math.isfinite(c.scene_time_s) else "-",
            "battery": c.battery, "lambda2": c.lambda2,
            "storage_budget_bytes": c.storage_budget_bytes,
            "latency_budget_ms": c.latency_budget_ms,
            "accuracy_loss_threshold": c.accuracy_loss_threshold,
            "event_rate_per_min": c.event_rate_per_min,
            "operators": list(m.layer_operators),
            "predicted_accuracy_loss": m.predicted_accuracy_loss,
            "predicted_latency_ms": m.predicted_latency_ms, "energy": m.energy,
            "params_bytes": m.params_bytes, "activation_bytes": m.activation_bytes,
            "macs": m.macs, "search_time_ms": m.search_time_ms,
            "candidates_evaluated": m.candidates_evaluated, "feasible": m.feasible,
            "violated": list(m.violated_constraints), "trigger": m.trigger, "reason": m.reason,
        })

    def on_context(self, m: DeploymentContext) -> None:
        self.log.contexts.append(ContextSample(m.scene_time_s, m.battery, m.storage_budget_bytes,
                                               m.event_rate_per_min))

    def on_event(self, m: SoundEvent) -> None:
        self.log.events[m.audio_sequence] = (m.label, m.config_id, m.latency_ms)
        self.log.windows.append((time.monotonic(), self.scene_now(), m.config_id,
                                 m.model_latency_ms))

    def on_latency(self, m: ModelLatency) -> None:
        if m.active:
            self.log.reports.append((time.monotonic(), m.config_id, m.p50_ms))

    def on_truth(self, m: SoundEvent) -> None:
        self.log.truth[m.audio_sequence] = m.label

    def on_diagnostics(self, m: DiagnosticArray) -> None:
        for status in m.status:
            self.nodes_seen.add(status_node(status))
            if not status.name.endswith("/inference"):
                continue
            values = status_values(status)
            self.log.lost_chunks = int(values.get("lost_chunks", self.log.lost_chunks))

    def set_latency_budget(self, value_ms: float):
        return self.set_params.call_async(set_request("latency_budget_ms", float(value_ms)))


# ---------------------------------------------------------------------- analysis
def analyse(log: DayLog) -> tuple[list[dict], dict]:
    """Per-evolution rows with measured figures, and the day's summary."""
    by_config = defaultdict(lambda: [0, 0])  # config_id -> [correct, total]
    latencies = []
    for seq, (label, config_id, latency) in log.events.items():
        latencies.append(latency)
        if seq in log.truth:
            by_config[config_id][1] += 1
            by_config[config_id][0] += int(label == log.truth[seq])
    windows = [(t, c, ms) for t, _, c, ms in log.windows]
    timed = day_latency.per_config(windows, log.budget)
    rows = [_row(c, by_config.get(c["config_id"], (0, 0)), timed.get(c["config_id"]))
            for c in log.configs]
    matched = sum(t for _, t in by_config.values())
    correct = sum(k for k, _ in by_config.values())
    batteries = [c.battery for c in log.contexts if math.isfinite(c.battery)]
    summary = {
        "evolutions": len(log.configs),
        "evolutions_meeting_T_bgt_measured": sum(
            1 for r in rows if r["measured_windows_timed"] and r["measured_p95_ms"] <= r[
                "latency_budget_ms"]),
        "evolutions_with_windows": sum(1 for r in rows if r["measured_windows_timed"]),
        "predicted_feasible_evolutions": sum(1 for c in log.configs if c["feasible"]),
        "distinct_configurations": len({tuple(c["operators"]) for c in log.configs}),
        "scripted_windows_played": len(log.truth),
        "windows_classified": len(log.events),
        "windows_matched_to_truth": matched,
        "detection_accuracy": correct / matched if matched else math.nan,
        "event_latency_ms_p50": statistics.median(latencies) if latencies else math.nan,
        "event_latency_ms_p95": percentile(latencies, 0.95),
        "search_ms_max": max((c["search_time_ms"] for c in log.configs), default=math.nan),
        "battery_start": batteries[0] if batteries else math.nan,
        "battery_end": batteries[-1] if batteries else math.nan,
        "lost_audio_chunks": log.lost_chunks,
        "parameter_changes": log.parameter_changes,
        **day_latency.summary(windows, log.budget),
        "energy_mj_per_window_mean": _mean_energy(rows),
    }
    return rows, summary


def _row(config: dict, accuracy: tuple, timed: dict | None) -> dict:
    """One evolution's row: prediction, and what its windows measured (accuracy, latency,
    share meeting T_bgt, energy per window at the measured median latency)."""
    correct, total = accuracy
    timed = timed or {"windows": 0, "met": 0, "p50_ms": math.nan, "p95_ms": math.nan}
    row = {**config, "measured_accuracy": correct / total if total else math.nan,
           "measured_windows": total, "measured_windows_timed": timed["windows"],
           "measured_latency_ms": timed["p50_ms"], "measured_p95_ms": timed["p95_ms"],
           "share_meeting_T_bgt": timed["met"] / timed["windows"] if timed["windows"]
           else math.nan}
    row["energy_mj_per_window"] = day_latency.energy_mj(row, timed["p50_ms"])
    return row


def _mean_energy(rows: list[dict]) -> float:
    pairs = [(r["energy_mj_per_window"], r["measured_windows_timed"]) for r in rows
             if r["measured_windows_timed"]]
    total = sum(n for _, n in pairs)
    return sum(e * n for e, n in pairs) / total if total else math.nan


def format_table(rows: list[dict]) -> str:
    head = (f"{'#':>3} {'time':>5} {'batt':>5} {'S_bgt':>6} {'T_bgt':>6}  "
            f"{'operators (layers 1-4)':<36} {'A_loss':>6} {'acc':>6} {'n':>4} "
            f"{'T_pred':>6} {'T_p50':>6} {'T_p95':>6} {'met':>4} {'mJ/w':>5} {'E':>6} "
            f"{'search':>7}  predicted / trigger")
    lines = [head, "-" * len(head)]
    for r in rows:
        met = "met" if r["feasible"] else "VIOLATED " + ",".join(r["violated"])
        lines.append(
            f"{r['config_id']:>3} {r['clock']:>5} {r['battery']:>5.2f} "
            f"{r['storage_budget_bytes'] / 2**20:>5.2f}M {r['latency_budget_ms']:>5.2f}m  "
            f"{' '.join(r['operators']):<36} {r['predicted_accuracy_loss']:>6.2f} "
            f"{100 * r['measured_accuracy']:>5.1f}% {r['measured_windows']:>4} "
            f"{r['predicted_latency_ms']:>6.3f} {r['measured_latency_ms']:>6.3f} "
            f"{r['measured_p95_ms']:>6.3f} {100 * r['share_meeting_T_bgt']:>3.0f}% "
            f"{r['energy_mj_per_window']:>5.2f} "
            f"{r['energy']:>6.1f} {r['search_time_ms']:>5.2f}ms  {met} / {r['trigger']}")
    return "\n".join(lines)


def plot_timeline(log: DayLog, rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ctx = [c for c in log.contexts if math.isfinite(c.scene_time_s)]
    hours = [c.scene_time_s / 3600 for c in ctx]
    fig, axes = plt.subplots(5, 1, figsize=(11, 12), sharex=True)
    axes[0].plot(hours, [100 * c.battery for c in ctx], color="tab:green")
    axes[0].set_ylabel("battery %")
    axes[1].plot(hours, [c.storage_budget_bytes / 2**20 for c in ctx], color="tab:purple",
                 label="storage budget")
    axes[1].step([r["scene_time_s"] / 3600 for r in rows],
                 [r["params_bytes"] / 2**20 for r in rows], where="post", color="k",
                 label="chosen Sp")
    axes[1].set_ylabel("MiB")
    axes[1].legend(loc="lower left")
    axes[2].plot(hours, [c.event_rate_per_min for c in ctx], color="tab:orange")
    axes[2].set_ylabel("events / min")
    axes[3].step([r["scene_time_s"] / 3600 for r in rows],
                 [r["predicted_latency_ms"] for r in rows], where="post", label="T predicted")
    axes[3].step([r["scene_time_s"] / 3600 for r in rows],
                 [r["latency_budget_ms"] for r in rows], where="post", ls="--", label="T budget")
    timed = [w for w in log.windows if math.isfinite(w[1])]
    axes[3].scatter([w[1] / 3600 for w in timed], [w[3] for w in timed], s=3, color="tab:red",
                    alpha=0.5, label="T measured (each window)")
    axes[3].set_ylabel("ms")
    axes[3].set_yscale("log")
    axes[3].legend(loc="upper left")
    axes[4].step([r["scene_time_s"] / 3600 for r in rows],
                 [r["energy_mj_per_window"] for r in rows], where="post", color="tab:brown")
    axes[4].set_ylabel("mJ / window\n(measured T)")
    axes[4].set_xlabel("scene time (h)")
    for r in rows:
        for ax in axes:
            ax.axvline(r["scene_time_s"] / 3600, color="0.85", lw=0.8, zorder=0)
    axes[0].set_title("AdaSpring on the simulated Jetbot day: context and evolved configurations")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------- running
def plan_day(args: argparse.Namespace) -> tuple[list, float]:
    """The graph's launch items (scene clock first) with the command line's overrides, and the
    scene time at which the day ends."""
    planned = graph.plan(namespace=args.namespace, params_file=args.params_file,
                         simulated_day=True, simulated_audio=True)
    if args.time_scale:
        planned[0].overrides["time_scale"] = args.time_scale
    end_scene = DAY_END_S
    if args.end_time:
        hours, minutes = (int(x) for x in args.end_time.split(":"))
        end_scene = hours * 3600.0 + minutes * 60.0
        planned[0].overrides["end_time_s"] = end_scene
    if args.checkpoint:
        for item in planned:
            if item.spec.name in ("evolution", "inference"):
                item.overrides["checkpoint"] = args.checkpoint
    return planned, end_scene


class LatencySchedule:
    """The day's latency-budget changes, relative to the backbone's latency as this running
    graph measured it before the first change (``day_latency.backbone_measured_ms``)."""

    def __init__(self, checkpoint_path: str, end_scene: float) -> None:
        # loading the checkpoint here fails early, naming the file
        self.profile = checkpoint.load(checkpoint_path or None).profile
        self.pending = [(t, f) for t, f in LATENCY_SCHEDULE if t < end_scene]
        self.backbone_ms: float | None = None

    def backbone_measured(self, log: DayLog) -> float:
        if self.backbone_ms is None:
            ops = {c["config_id"]: tuple(c["operators"]) for c in log.configs}
            samples = [(ops[c], p50) for _, c, p50 in log.reports if c in ops]
            self.backbone_ms = day_latency.backbone_measured_ms(samples, self.profile)
            if not math.isfinite(self.backbone_ms):  # nothing measured yet: the table's
                config = ss.backbone_configuration(self.profile.arch)
                self.backbone_ms = self.profile.predict(config).latency_ms
        return self.backbone_ms


class DayProcesses:
    """The node processes of one day, each logging to its own file, and who has died."""

    def __init__(self, log_dir: Path, env: dict) -> None:
        self.log_dir, self.env = log_dir, env
        self.procs: list = []
        self.items: list = []

    def launch(self, item) -> None:
        log_file = open(self.log_dir / f"{item.spec.name}.log", "w")  # noqa: SIM115
        self.procs.append(graph.spawn(item, env=self.env, stdout=log_file, stderr=log_file))
        self.items.append(item)

    def dead(self) -> list:
        return [(p, i) for p, i in zip(self.procs, self.items, strict=True) if p.poll() is not None]

    def report_dead(self) -> bool:
        dead = self.dead()
        for p, i in dead:
            print(f"ubiear_day: node {i.spec.name} exited with {p.returncode}; see "
                  f"{self.log_dir / (i.spec.name + '.log')}", file=sys.stderr)
        return bool(dead)


def wait_for_nodes(rec: DayRecorder, day: DayProcesses, deadline: float) -> int:
    """Spin until every launched node reports on /diagnostics (or one dies); how many did."""
    names = {i.spec.name for i in day.items}
    up: set = set()
    while len(up) < len(names) and time.monotonic() < deadline:
        rclpy.spin_once(rec, timeout_sec=0.1)
        up = names & rec.nodes_seen
        if day.dead():
            break
    return len(up)


def apply_schedule(rec: DayRecorder, schedule: LatencySchedule, now: float) -> None:
    """Set the next latency budget once its scene time has come (the service must be up)."""
    pending = schedule.pending
    if not (pending and now >= pending[0][0] and rec.set_params.service_is_ready()):
        return
    _, factor = pending.pop(0)
    backbone = schedule.backbone_measured(rec.log)
    value = round(factor * backbone, 3)
    rec.set_latency_budget(value)
    rec.log.budget.add(time.monotonic(), value)
    rec.log.parameter_changes.append({"clock": format_clock(now), "latency_budget_ms": value,
                                      "backbone_measured_ms": round(backbone, 3)})
    print(f"ubiear_day: {format_clock(now)} set evolution latency_budget_ms={value} "
          f"({factor} x the backbone's {backbone:.3f} ms measured in this graph)", flush=True)


def drive(rec: DayRecorder, day: DayProcesses, schedule: LatencySchedule, end_scene: float,
          deadline: float) -> int:
    """Record the day until 3 s after its end; 1 if a node died or time ran out."""
    finished_at = None
    while True:
        rclpy.spin_once(rec, timeout_sec=0.05)
        if day.report_dead():
            return 1
        now = rec.scene_now()
        apply_schedule(rec, schedule, now)
        if now >= end_scene and finished_at is None:
            finished_at = time.monotonic()
        if finished_at is not None and time.monotonic() - finished_at > 3.0:
            return 0
        if time.monotonic() > deadline:
            print("ubiear_day: timed out before the day ended", file=sys.stderr)
            return 1


def write_report(log: DayLog, out: Path, wall_s: float) -> None:
    """Print the evolution table and summary; write the JSON log and the PNG timeline."""
    rows, summary = analyse(log)
    summary["wall_seconds"] = round(wall_s, 1)
    print()
    print(format_table(rows))
    print()
    for key, value in summary.items():
        print(f"{key:>28}: {value}")
    (out / "ubiear_day.json").write_text(json.dumps(
        {"summary": summary, "evolutions": rows, "contexts": log.contexts}, indent=1,
        default=str))
    if rows:
        plot_timeline(log, rows, out / "ubiear_day.png")
    print(f"\nwrote {out / 'ubiear_day.json'} and {out / 'ubiear_day.png'}")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    planned, end_scene = plan_day(args)
    schedule = LatencySchedule(args.checkpoint, end_scene)
    wall0 = time.monotonic()
    # A private ROS domain unless one is named: the day's /clock must not reach a robot's graph
    # (or another simulation on this host).
    lease = None if args.domain_id >= 0 else domains.lease_domain()
    domain_id = args.domain_id if lease is None else lease.domain_id
    day = DayProcesses(out / "logs", domains.child_environment(domain_id, out / "logs"))
    clock, nodes = planned[0], planned[1:]
    for item in nodes:  # the four nodes first; the day starts once every one of them is up
        day.launch(item)
    rclpy.init(args=["ubiear_day"], domain_id=domain_id)
    rec = DayRecorder(graph.normalise_namespace(args.namespace))
    try:
        up = wait_for_nodes(rec, day, wall0 + args.timeout)
        print(f"ubiear_day: ROS domain {domain_id}; {up}/{len(nodes)} nodes up after "
              f"{time.monotonic() - wall0:.1f} s; starting the 09:00-17:00 scene clock",
              flush=True)
        day.launch(clock)
        print(f"ubiear_day: started {len(day.procs)} processes; logs in {out / 'logs'}",
              flush=True)
        status = drive(rec, day, schedule, end_scene, wall0 + args.timeout)
    except KeyboardInterrupt:
        status = 130
    finally:
        bringup.stop(day.procs)
        if lease is not None:
            lease.release()
    write_report(rec.log, out, time.monotonic() - wall0)
    rec.destroy_node()
    rclpy.try_shutdown()
    return status


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--namespace", default="ubiear")
    p.add_argument("--params-file", default=None)
    p.add_argument("--out", default=os.environ.get("ADASPRING_RUNS", "runs/ubiear_day"))
    p.add_argument("--time-scale", type=float, default=0.0,
                   help="scene seconds per real second (default: the YAML's)")
    p.add_argument("--timeout", type=float, default=600.0, help="give up after S real seconds")
    p.add_argument("--domain-id", type=int, default=-1,
                   help="ROS domain (default: lease a free private one)")
    p.add_argument("--checkpoint", default="",
                   help="checkpoint for evolution and inference (default: the shipped one)")
    p.add_argument("--end-time", default="", metavar="HH:MM",
                   help="end the scene earlier than 17:00 (a shorter day, e.g. for tests)")
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
