"""Driving the real nodes from a test or a benchmark: start them, feed them, read them back.

Used with a ``ros_harness.RosTestEnv`` (the ``ros`` fixture in tests, or one made by hand in a
benchmark): the nodes run as separate processes in its private domain, this process plays the
other side with the message builders below.
"""

from __future__ import annotations

import math
import time

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.srv import GetParameters, SetParameters

from adaspring_ros.core.audio import features, pcm
from adaspring_ros.msg import AudioChunk, DeploymentContext
from adaspring_ros.nodes import conversions, params, topics
from adaspring_ros.nodes.health import status_node, status_values

#: Longest a node may take to start (checkpoint load, Δ' build, first window) on a busy CPU.
STARTUP_S = 90.0
#: The evolution node as the tests and benchmarks start it: budgets so loose that the first
#: context is always feasible, and no stale fallback in the middle of a test.
EVOLUTION_DEFAULTS = {"latency_budget_ms": 1000.0, "accuracy_loss_threshold": 3.0,
                      "stale_timeout_s": 600.0}
CHUNK_SAMPLES = 1600  # 100 ms at 16 kHz, as the microphone node sends by default


# ----------------------------------------------------------------------------- processes
def ros_args(**parameters) -> list[str]:
    args = ["--ros-args"]
    for key, value in parameters.items():
        value = str(value).lower() if isinstance(value, bool) else value
        args += ["-p", f"{key}:={value}"]
    return args


def start(ros, node: str, **parameters):
    """``python -m adaspring_ros.nodes.<node>`` in the test's domain, with these parameters."""
    return ros.spawn(module=f"adaspring_ros.nodes.{node}", args=ros_args(**parameters),
                     name=node)


def start_evolution(ros, **parameters):
    """The evolution node with ``EVOLUTION_DEFAULTS``, overridden by ``parameters``."""
    return start(ros, "evolution", **{**EVOLUTION_DEFAULTS, **parameters})


# ----------------------------------------------------------------------------- messages
def context_msg(*, battery=0.8, storage=1_900_000, rate=1.0, scene=9 * 3600.0,
                latency=math.nan) -> DeploymentContext:
    """A context as the monitor publishes it; ``latency`` sets the application's budget."""
    msg = conversions.platform_context_msg(
        battery=battery, battery_source="simulated", storage_budget_bytes=storage,
        event_rate_per_min=rate, scene_time_s=scene, stamp=Time())
    msg.latency_budget_ms = latency
    return msg


def chunk(samples: np.ndarray, seq: int, *, rate=features.SAMPLE_RATE, channels=1,
          encoding=pcm.S16LE, data: bytes | None = None) -> AudioChunk:
    """A chunk stamped like a microphone's: wall time of its first sample, its last one now.

    ``data`` replaces the encoded samples (to send bytes that lie about their format)."""
    frames = len(samples) if data is None else 0
    stamp = time.time_ns() - int(frames * 1e9 / max(rate, 1))
    msg = conversions.audio_chunk_msg(samples if data is None else np.zeros(0), stamp_ns=stamp,
                                      sequence=seq, encoding=encoding, sample_rate=rate,
                                      channels=channels)
    if data is not None:
        msg.data = data
    return msg


def window_chunks(clip: np.ndarray, first_seq: int) -> list[AudioChunk]:
    """A clip as the microphone sends it: 100 ms chunks with consecutive sequence numbers."""
    return [chunk(clip[start:start + CHUNK_SAMPLES], first_seq + i)
            for i, start in enumerate(range(0, clip.size, CHUNK_SAMPLES))]


# ----------------------------------------------------------------------------- reading back
class Diagnostics:
    """Latest DiagnosticStatus per node (name suffix), from /diagnostics."""

    def __init__(self, ros) -> None:
        self.latest: dict[str, object] = {}
        ros.default_node().create_subscription(DiagnosticArray, topics.DIAGNOSTICS,
                                               self._on, 100)

    def _on(self, msg) -> None:
        for s in msg.status:
            self.latest[status_node(s)] = s

    def values(self, node: str) -> dict:
        s = self.latest.get(node)
        return {} if s is None else status_values(s)

    def counter(self, node: str, key: str) -> int:
        return int(self.values(node).get(key, 0))


# ----------------------------------------------------------------------------- parameters
def _call(ros, node, service_type, service: str, request, timeout: float):
    client = node.create_client(service_type, service)
    assert ros.spin_until(client.service_is_ready, timeout), ros.children_report()
    future = client.call_async(request)
    assert ros.spin_until(future.done, 30)
    return future.result()


def set_parameter(ros, node, target: str, name: str, value):
    """``ros2 param set /target name value`` from ``node``; the SetParametersResult."""
    return _call(ros, node, SetParameters, f"/{target}/set_parameters",
                 params.set_request(name, value), STARTUP_S).results[0]


def get_parameter(ros, node, target: str, name: str):
    """``ros2 param get /target name`` from ``node``; the ParameterValue."""
    return _call(ros, node, GetParameters, f"/{target}/get_parameters",
                 GetParameters.Request(names=[name]), 30).values[0]
