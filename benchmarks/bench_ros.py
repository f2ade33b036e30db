"""The ROS graph's latency and throughput, measured over real DDS between real processes.

    python benchmarks/bench_ros.py [--windows 200] [--switches 40] [--json runs/bench_ros.json]

Starts the evolution and inference nodes as separate processes in a private ROS domain, then,
from this process acting as context monitor and microphone:
  1. context change published -> new configuration in use by the inference node
     (inference/active_config reports the swap): p50/p95 over ``--switches`` changes;
  2. audio chunk published -> sound event published: p50/p95 over ``--windows`` windows sent
     one at a time (the window's last chunk is the start);
  3. throughput: windows streamed with at most 8 in flight; audio seconds classified per wall
     second (x real time);
and, in this same run, the in-process baseline: features + model for one window with no ROS,
so the DDS overhead is visible as a ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from adaspring_ros.msg import AudioChunk, DeploymentContext, SoundEvent
from std_msgs.msg import UInt32

from adaspring_ros.core.audio import features
from adaspring_ros.core.audio import stream_classifier as sc
from adaspring_ros.core.model import checkpoint
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.scene import sound_synth
from adaspring_ros.nodes import conversions, qos, topics
from adaspring_ros.core.measure import percentile
from adaspring_ros.testing import node_kit as kit
from adaspring_ros.testing.ros_harness import RosTestEnv


CHUNK_NS = 100_000_000  # 1600 samples at 16 kHz


def baseline_ms(clips) -> float:
    """Features + backbone for one window, in process, no ROS: the floor of the ROS latency.

    Same thread settings as the inference node (one BLAS thread, the profile's torch threads).
    """
    import torch

    from adaspring_ros.nodes.node_main import limit_blas_threads

    limit_blas_threads()  # as every node process does
    torch.set_num_threads(int(checkpoint.load().profile.meta.get("latency_threads", 1)))
    ck = checkpoint.load()
    config = ss.backbone_configuration(ck.profile.arch)
    model = sc.ActiveModel(0, config, ck.net.get_active_subnet(config), ck.version)
    times = []
    for clip in clips[:3]:  # warm-up (first-call allocations, librosa caches)
        sc.classify(model, sc.Window(clip, 0, 9, 0, 0), sound_synth.CLASSES)
    for clip in clips:
        w = sc.Window(clip, 0, 9, 0, 0)
        t0 = time.perf_counter()
        sc.classify(model, w, sound_synth.CLASSES)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--windows", type=int, default=200)
    p.add_argument("--switches", type=int, default=40)
    p.add_argument("--json", default="runs/bench_ros.json")
    return p.parse_args(argv)


class Probe:
    """This process as context monitor and microphone, timing what the nodes send back."""

    def __init__(self, ros) -> None:
        self.ros = ros
        node = ros.default_node()
        self.active: list = []  # (perf_counter, config_id)
        self.events: list = []  # (perf_counter, SoundEvent)
        node.create_subscription(UInt32, topics.ACTIVE_CONFIG, lambda m: self.active.append(
            (time.perf_counter(), m.data)), qos.latched())
        node.create_subscription(SoundEvent, topics.WINDOWS, lambda m: self.events.append(
            (time.perf_counter(), m)), qos.reliable(100))
        self.ctx_pub = node.create_publisher(DeploymentContext, topics.CONTEXT, qos.reliable())
        self.audio_pub = node.create_publisher(AudioChunk, topics.AUDIO, qos.audio(200))
        self.seq = 0

    def until(self, predicate, timeout: float, failure: str) -> None:
        if not self.ros.spin_until(predicate, timeout):
            raise SystemExit(f"{failure}; logs in {self.ros.workdir}")

    def send_window(self, clip, restamp: bool = False) -> None:
        """Ten 100 ms chunks; ``restamp``: each stamped so its last sample exists now, so the
        event's latency_ms is publish -> event as the inference node measures it."""
        for m in kit.window_chunks(clip, self.seq):
            if restamp:
                conversions.set_stamp(m.header.stamp, time.time_ns() - CHUNK_NS)
            self.audio_pub.publish(m)
        self.seq += 10


def context_switches(probe: Probe, n: int) -> list[float]:
    """Context published -> inference/active_config reports the new configuration, ms."""
    switch_ms = []
    for i in range(n + 1):
        seen = len(probe.active)
        t0 = time.perf_counter()
        probe.ctx_pub.publish(kit.context_msg(
            battery=0.8, storage=2_000_000 if i % 2 == 0 else 400_000, scene=32400.0 + i))
        probe.until(lambda s=seen: len(probe.active) > s, 10,
                    f"no configuration swap after context {i}")
        if i:  # the first one includes discovery warm-up
            switch_ms.append((probe.active[-1][0] - t0) * 1000)
    return switch_ms


def window_latencies(probe: Probe, clips, n: int) -> tuple[list[float], list[float]]:
    """Audio -> event, one window at a time: (seen here, ms; the node's own latency_ms)."""
    latency_ms, node_ms = [], []
    for i in range(n):
        seen = len(probe.events)
        probe.send_window(clips[i % len(clips)], restamp=True)
        t0 = time.perf_counter()
        probe.until(lambda s=seen: len(probe.events) > s, 10, f"no event for window {i}")
        latency_ms.append((probe.events[-1][0] - t0) * 1000)
        node_ms.append(probe.events[-1][1].latency_ms)  # window complete -> event, in the node
    return latency_ms, node_ms


def throughput(probe: Probe, clips, n: int) -> dict:
    """Windows streamed with at most 8 in flight: audio seconds classified per wall second."""
    n0, sent = len(probe.events), 0
    t0 = time.perf_counter()
    while sent < n:
        if sent - (len(probe.events) - n0) < 8:
            probe.send_window(clips[sent % len(clips)])
            sent += 1
        probe.ros.executor.spin_once(timeout_sec=0.0005)
    probe.ros.spin_until(lambda: len(probe.events) - n0 >= sent, 30)
    done = len(probe.events) - n0
    return {"throughput_x_real_time": done * features.WINDOW_SECONDS
            / (time.perf_counter() - t0), "throughput_windows": done, "throughput_sent": sent}


def spread(values: list[float]) -> dict:
    return {"p50": statistics.median(values), "p95": percentile(values, 0.95), "n": len(values)}


def measure(ros, clips, args) -> dict:
    """The three ROS figures with evolution and inference running as separate processes."""
    probe = Probe(ros)
    kit.start_evolution(ros, min_interval_ms=0.0)
    kit.start(ros, "inference")
    probe.until(lambda: probe.ctx_pub.get_subscription_count() > 0
                and probe.audio_pub.get_subscription_count() > 0 and probe.active, 120,
                "nodes did not come up")
    switch_ms = context_switches(probe, args.switches)
    latency_ms, node_ms = window_latencies(probe, clips, args.windows)
    return {"context_to_config_in_use_ms": spread(switch_ms),
            "audio_to_event_ms": spread(latency_ms),
            "last_chunk_to_event_node_clock_ms": spread(node_ms),
            **throughput(probe, clips, args.windows)}


def print_results(results: dict) -> None:
    c, a = results["context_to_config_in_use_ms"], results["audio_to_event_ms"]
    base = results["baseline_in_process_window_ms"]
    print(f"{'figure':<44} {'p50':>8} {'p95':>8}  target")
    print(f"{'context published -> config in use (ms)':<44} {c['p50']:>8.2f} {c['p95']:>8.2f}"
          f"  p95 <= 20")
    print(f"{'audio chunk published -> event (ms)':<44} {a['p50']:>8.2f} {a['p95']:>8.2f}"
          f"  p95 <= 30")
    n = results["last_chunk_to_event_node_clock_ms"]
    print(f"{'  last chunk published -> event, node clock':<44} {n['p50']:>8.2f} {n['p95']:>8.2f}")
    print(f"{'in-process features+model, no ROS (ms)':<44} {base:>8.2f} {'':>8}  baseline")
    print(f"{'DDS path / in-process (p50 ratio)':<44} {a['p50'] / base:>8.2f}")
    print(f"{'throughput (x real time, 2 cores)':<44} {results['throughput_x_real_time']:>8.1f}"
          f" {'':>8}  >= 20  ({results['throughput_windows']}/{results['throughput_sent']} "
          "windows)")
    print(f"load average start/end: {results['load_average_at_start']} / "
          f"{results['load_average_at_end']}")


def main(argv=None) -> int:
    args = parse_args(argv)
    rng = np.random.default_rng(0)
    clips = [sound_synth.render_clip(sound_synth.CLASSES[i % 9], rng, 10.0)
             for i in range(32)]
    results = {"load_average_at_start": os.getloadavg(),
               "baseline_in_process_window_ms": baseline_ms(clips)}
    ros = RosTestEnv(Path(tempfile.mkdtemp(prefix="bench_ros_")))
    try:
        results.update(measure(ros, clips, args))
    finally:
        ros.close()
    results["load_average_at_end"] = os.getloadavg()
    print_results(results)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
