"""`ubiear_day`: the README's main job (placeholder until the simulated UbiEar day exists).

For now it runs the smallest real thing: two rclpy nodes in two separate processes, a
"microphone" that publishes raw PCM AudioChunk messages on `audio` (sensor-data QoS, as in the
real graph) and a "listener" that receives one chunk over DDS, prints what it got and stops. The
command and its entry point stay the same when the real day replaces this body.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TOPIC = "audio"
SAMPLE_RATE = 16000
CHUNK_SAMPLES = 1600  # 100 ms
TONE_HZ = 440.0
TONE_DBFS = -12.0


def _pcm_tone(sequence: int) -> bytes:
    """100 ms of a 440 Hz tone at -12 dBFS as S16LE bytes, phase-continuous across chunks."""
    import numpy as np

    n0 = sequence * CHUNK_SAMPLES
    t = (np.arange(CHUNK_SAMPLES) + n0) / SAMPLE_RATE
    amp = 10 ** (TONE_DBFS / 20) * 32767
    return (amp * np.sin(2 * np.pi * TONE_HZ * t)).astype("<i2").tobytes()


def _run_microphone(period_s: float) -> int:
    import rclpy
    from rclpy.qos import qos_profile_sensor_data

    from adaspring_ros.msg import AudioChunk

    rclpy.init()
    node = rclpy.create_node("ubiear_day_microphone")
    pub = node.create_publisher(AudioChunk, TOPIC, qos_profile_sensor_data)
    state = {"sequence": 0}

    def tick() -> None:
        msg = AudioChunk()
        msg.header.stamp = node.get_clock().now().to_msg()
        msg.header.frame_id = "scripted_tone"
        msg.sequence = state["sequence"]
        msg.sample_rate = SAMPLE_RATE
        msg.channels = 1
        msg.encoding = AudioChunk.ENCODING_S16LE
        msg.data = _pcm_tone(state["sequence"])
        pub.publish(msg)
        state["sequence"] += 1

    node.create_timer(period_s, tick)
    print(
        f"[microphone pid {os.getpid()}] publishing {CHUNK_SAMPLES}-sample S16LE chunks of a "
        f"{TONE_HZ:g} Hz tone on '{node.resolve_topic_name(TOPIC)}' "
        f"(ROS_DOMAIN_ID={os.environ.get('ROS_DOMAIN_ID', '0')})",
        flush=True,
    )
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        sent = state["sequence"]
        node.destroy_node()
        rclpy.try_shutdown()
    print(f"[microphone pid {os.getpid()}] stopped after {sent} chunks", flush=True)
    return 0


def _run_listener(timeout_s: float) -> int:
    import numpy as np
    import rclpy
    from rclpy.qos import qos_profile_sensor_data

    from adaspring_ros.msg import AudioChunk

    rclpy.init()
    node = rclpy.create_node("ubiear_day_listener")
    got: list[tuple[AudioChunk, float]] = []
    node.create_subscription(
        AudioChunk, TOPIC, lambda m: got.append((m, time.time())), qos_profile_sensor_data
    )
    deadline = time.monotonic() + timeout_s
    try:
        while not got and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    if not got:
        print(f"[listener pid {os.getpid()}] no AudioChunk within {timeout_s:g} s", flush=True)
        return 1
    msg, t_rx = got[0]
    samples = np.frombuffer(bytes(msg.data), dtype="<i2").astype(np.float64) / 32768.0
    rms = math.sqrt(float(np.mean(samples**2))) if samples.size else 0.0
    dbfs = 20 * math.log10(rms) if rms > 0 else float("-inf")
    t_tx = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
    duration_ms = 1000 * samples.size / msg.sample_rate
    print(
        f"[listener pid {os.getpid()}] received AudioChunk seq={msg.sequence} "
        f"sample_rate={msg.sample_rate} channels={msg.channels} encoding={msg.encoding} "
        f"bytes={len(msg.data)} ({samples.size} samples, {duration_ms:.0f} ms) "
        f"RMS={dbfs:.1f} dBFS, capture-to-receive {1000 * (t_rx - t_tx):.1f} ms",
        flush=True,
    )
    return 0


def _stop(proc: subprocess.Popen, grace_s: float = 5.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ubiear_day", description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for audio")
    parser.add_argument("--role", choices=["microphone", "listener"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.role == "microphone":
        return _run_microphone(period_s=0.1)
    if args.role == "listener":
        return _run_listener(args.timeout)

    t0 = time.monotonic()
    print(
        "ubiear_day (placeholder): two rclpy nodes in two processes exchange one raw PCM "
        "AudioChunk over DDS",
        flush=True,
    )
    me = [sys.executable, "-m", "adaspring_ros.nodes.ubiear_day", "--timeout", str(args.timeout)]
    # `python -m` puts the working directory first on sys.path; run the children from the folder
    # that holds the adaspring_ros this process imported, so that a source checkout in the
    # current directory (which has no generated msg/) never shadows the installed package.
    import adaspring_ros

    cwd = Path(adaspring_ros.__file__).resolve().parent.parent
    listener = subprocess.Popen([*me, "--role", "listener"], cwd=cwd)
    microphone = subprocess.Popen([*me, "--role", "microphone"], cwd=cwd)
    try:
        rc = listener.wait(timeout=args.timeout + 30)
    except subprocess.TimeoutExpired:
        rc = 1
    finally:
        _stop(listener)
        _stop(microphone)
    verdict = "ok" if rc == 0 else "FAILED"
    elapsed = time.monotonic() - t0
    print(f"ubiear_day: {verdict}, both processes stopped, {elapsed:.1f} s", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
