"""ROS figures of issue 5, measured over real DDS between real processes.

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
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rclpy
from adaspring_ros.msg import AudioChunk, DeploymentContext, SoundEvent
from std_msgs.msg import UInt32

from adaspring_ros.core.audio import features, pcm
from adaspring_ros.core.audio import stream_classifier as sc
from adaspring_ros.core.model import checkpoint
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.scene import sound_synth
from adaspring_ros.nodes import conversions, qos, topics
from adaspring_ros.testing.ros_harness import child_environment, lease_domain
from adaspring_ros.tools import bringup


def pct(values, q) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(math.ceil(q * len(s))) - 1))] if s else math.nan


def context(storage: int, scene: float) -> DeploymentContext:
    m = DeploymentContext(battery=0.8, battery_source="simulated", storage_budget_bytes=storage,
                          event_rate_per_min=1.0, scene_time_s=scene)
    m.latency_budget_ms = m.accuracy_loss_threshold = m.lambda1 = m.lambda2 = math.nan
    return m


CHUNK_NS = 100_000_000  # 1600 samples at 16 kHz


def window_chunks(clip: np.ndarray, first_seq: int) -> list[AudioChunk]:
    out = []
    for i in range(10):
        m = AudioChunk(sequence=first_seq + i, sample_rate=16000, channels=1,
                       encoding=pcm.S16LE)
        m.data = pcm.encode(clip[i * 1600:(i + 1) * 1600])
        out.append(m)
    return out


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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--windows", type=int, default=200)
    p.add_argument("--switches", type=int, default=40)
    p.add_argument("--json", default="runs/bench_ros.json")
    args = p.parse_args(argv)

    rng = np.random.default_rng(0)
    clips = [sound_synth.render_clip(sound_synth.CLASSES[i % 9], rng, 10.0)
             for i in range(32)]
    base = baseline_ms(clips)

    lease = lease_domain()
    workdir = Path(tempfile.mkdtemp(prefix="bench_ros_"))
    env = child_environment(lease.domain_id, workdir)
    os.environ.update({k: env[k] for k in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE")})
    import subprocess

    procs = []
    for name, params in (("evolution", ["-p", "latency_budget_ms:=1000.0",
                                        "-p", "accuracy_loss_threshold:=3.0",
                                        "-p", "min_interval_ms:=0.0"]),
                         ("inference", [])):
        log = open(workdir / f"{name}.log", "w")  # noqa: SIM115
        procs.append(subprocess.Popen(
            [sys.executable, "-m", f"adaspring_ros.nodes.{name}", "--ros-args", *params],
            env=env, stdout=log, stderr=log, start_new_session=True))
    rclpy.init(args=["bench_ros"], domain_id=lease.domain_id)
    node = rclpy.create_node("bench_ros")
    active, events = [], []
    node.create_subscription(UInt32, topics.ACTIVE_CONFIG,
                             lambda m: active.append((time.perf_counter(), m.data)), qos.latched())
    node.create_subscription(SoundEvent, topics.EVENTS,
                             lambda m: events.append((time.perf_counter(), m)), qos.reliable(100))
    ctx_pub = node.create_publisher(DeploymentContext, topics.CONTEXT, qos.reliable())
    audio_pub = node.create_publisher(AudioChunk, topics.AUDIO, qos.audio(200))

    def spin_until(pred, timeout):
        end = time.monotonic() + timeout
        while not pred() and time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.001)
        return pred()

    results = {"load_average_at_start": os.getloadavg()}
    try:
        if not spin_until(lambda: ctx_pub.get_subscription_count() > 0
                          and audio_pub.get_subscription_count() > 0 and active, 120):
            raise SystemExit("nodes did not come up; logs in " + str(workdir))
        # 1. context -> configuration in use
        switch_ms = []
        for i in range(args.switches + 1):
            seen = len(active)
            t0 = time.perf_counter()
            ctx_pub.publish(context(2_000_000 if i % 2 == 0 else 400_000, 32400.0 + i))
            if not spin_until(lambda s=seen: len(active) > s, 10):
                raise SystemExit(f"no configuration swap after context {i}; see {workdir}")
            if i:  # the first one includes discovery warm-up
                switch_ms.append((active[-1][0] - t0) * 1000)
        # 2. audio -> event latency, one window at a time
        seq = 0
        latency_ms, node_ms = [], []
        for i in range(args.windows):
            chunks = window_chunks(clips[i % len(clips)], seq)
            seq += 10
            n = len(events)
            for m in chunks:
                # stamped so the chunk's last sample exists now: the event's latency_ms is
                # then publish -> event as the inference node measures it
                ready = time.time_ns() - CHUNK_NS
                conversions.set_stamp(m.header.stamp, ready)
                audio_pub.publish(m)
            t0 = time.perf_counter()
            if not spin_until(lambda n=n: len(events) > n, 10):
                raise SystemExit(f"no event for window {i}; see {workdir}")
            latency_ms.append((events[-1][0] - t0) * 1000)
            node_ms.append(events[-1][1].latency_ms)  # window complete -> event, in the node
        # 3. throughput with a bounded number of windows in flight
        n0, sent = len(events), 0
        t0 = time.perf_counter()
        while sent < args.windows:
            if sent - (len(events) - n0) < 8:
                for m in window_chunks(clips[sent % len(clips)], seq):
                    audio_pub.publish(m)
                seq += 10
                sent += 1
            rclpy.spin_once(node, timeout_sec=0.0005)
        spin_until(lambda: len(events) - n0 >= sent, 30)
        wall = time.perf_counter() - t0
        done = len(events) - n0
        results.update({
            "context_to_config_in_use_ms": {"p50": statistics.median(switch_ms),
                                            "p95": pct(switch_ms, 0.95), "n": len(switch_ms)},
            "audio_to_event_ms": {"p50": statistics.median(latency_ms),
                                  "p95": pct(latency_ms, 0.95), "n": len(latency_ms)},
            "last_chunk_to_event_node_clock_ms": {"p50": statistics.median(node_ms),
                                                 "p95": pct(node_ms, 0.95)},
            "baseline_in_process_window_ms": base,
            "throughput_x_real_time": done * features.WINDOW_SECONDS / wall,
            "throughput_windows": done, "throughput_sent": sent,
            "load_average_at_end": os.getloadavg(),
        })
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        bringup.stop(procs)
        lease.release()

    c, a = results["context_to_config_in_use_ms"], results["audio_to_event_ms"]
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
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
