"""Each custom message crosses real DDS between two processes and arrives field for field.

A child process (the project's Python, its own process group, this test's ROS domain) builds a
sample message with :func:`build_sample` and publishes it; this process subscribes and compares
every field, recursively, against the same sample built locally. The samples use values that a
broken type support would mangle: NaN, infinities, extreme integers, non-ASCII strings, empty and
long arrays, and the DeploymentContext nested inside CompressionConfig.
"""

from __future__ import annotations

import array
import math
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

MESSAGE_TYPES = ["AudioChunk", "DeploymentContext", "CompressionConfig", "SoundEvent",
                 "ModelLatency"]

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1


def _context(msg_module) -> object:
    ctx = msg_module.DeploymentContext()
    ctx.header.stamp.sec = 1_700_000_123
    ctx.header.stamp.nanosec = 999_999_999
    ctx.header.frame_id = "jetbot/base_link"
    ctx.battery = float("nan")  # unknown
    ctx.battery_source = msg_module.DeploymentContext.BATTERY_SOURCE_UNKNOWN
    ctx.storage_budget_bytes = U64_MAX
    ctx.latency_budget_ms = 12.5
    ctx.accuracy_loss_threshold = 1.75
    ctx.lambda1 = 0.25
    ctx.lambda2 = 0.75
    ctx.event_rate_per_min = float("inf")
    ctx.scene_time_s = 86399.123456789  # float64: more digits than a float32 keeps
    return ctx


def build_sample(name: str):
    """A fully populated, deterministic sample of message type ``name``."""
    from adaspring_ros import msg as m

    if name == "AudioChunk":
        msg = m.AudioChunk()
        msg.header.stamp.sec = 42
        msg.header.stamp.nanosec = 123_456_789
        msg.header.frame_id = "mic0"
        msg.sequence = U32_MAX
        msg.sample_rate = 16000
        msg.channels = 2
        msg.encoding = m.AudioChunk.ENCODING_F32LE
        msg.data = bytes(range(256)) * 125  # 32000 bytes = 4000 stereo float32 frames
        return msg
    if name == "DeploymentContext":
        return _context(m)
    if name == "CompressionConfig":
        msg = m.CompressionConfig()
        msg.header.stamp.sec = 7
        msg.header.frame_id = "evolution"
        msg.config_id = 4_000_000_000
        msg.checkpoint_version = "ubiear-supernet/v3 ✓"
        msg.layer_operators = ["conv@1.0", "fire@0.5", "skip", "dws@0.25"]
        msg.encoding = [4, 0, 5, 16, 15]
        msg.predicted_accuracy_loss = -0.125
        msg.predicted_latency_ms = 3.5
        msg.macs = 2**40 + 7
        msg.params_bytes = 123_456
        msg.activation_bytes = U64_MAX - 1
        msg.energy = 2.0**-10  # exactly representable in float32
        msg.energy_per_window_mj = 3.890625
        msg.energy_objective = "joules"
        msg.search_time_ms = 0.0625
        msg.candidates_evaluated = 65_536
        msg.feasible = False
        msg.violated_constraints = ["latency_budget_ms", "storage_budget_bytes"]
        msg.trigger = "battery"
        msg.reason = "battery 15 %: λ2 up, cheapest operators within 2 pp"
        msg.context = _context(m)
        return msg
    if name == "SoundEvent":
        msg = m.SoundEvent()
        msg.header.stamp.sec = 2_000_000_000
        msg.header.stamp.nanosec = 1
        msg.header.frame_id = "mic0"
        msg.label = "fire_alarm"
        msg.class_index = 255
        msg.confidence = 0.875
        msg.latency_ms = float("nan")
        msg.model_latency_ms = 0.4375
        msg.config_id = 17
        msg.audio_sequence = 123_456
        msg.emergency = True
        msg.kind = m.SoundEvent.KIND_EVENT
        msg.urgency = m.SoundEvent.URGENCY_EMERGENCY
        msg.event_id = 4_000_000_000
        msg.start.sec = 1_999_999_998
        msg.duration_s = 3.25
        msg.peak_confidence = 0.875
        msg.mean_confidence = 0.75
        msg.windows = 65_535
        msg.detection_delay_s = 0.75
        msg.end_reason = "stream_end"
        return msg
    if name == "ModelLatency":
        msg = m.ModelLatency()
        msg.header.stamp.sec = 99
        msg.header.stamp.nanosec = 5
        msg.checkpoint_version = "ubiear-supernet/v3 ✓"
        msg.config_id = U32_MAX
        msg.active = True
        msg.p50_ms = 0.8125
        msg.p95_ms = float("inf")
        msg.windows = 123_456
        msg.span_s = 2.5
        msg.swap_ms = float("nan")
        return msg
    raise KeyError(name)


def _plain(value):
    """Sequences (lists, tuples, array.array, bytes, numpy arrays) as lists for comparison."""
    if isinstance(value, (bytes, bytearray)):
        return list(value)
    if isinstance(value, (list, tuple, array.array)):
        return list(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _mismatch(where: str, got, want) -> str:
    if isinstance(got, list) and isinstance(want, list):
        if len(got) != len(want):
            return f"{where}: length {len(got)} != {len(want)}"
        i = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
        return f"{where}[{i}]: {got[i]!r} != {want[i]!r}"
    return f"{where}: {got!r} != {want!r}"


def assert_same_message(got, want, path: str = "") -> None:
    """Field-for-field equality, recursing into nested messages; NaN equals NaN.

    Raises AssertionError naming the first differing field (and index, for arrays). Plain
    ``raise`` rather than ``assert`` keeps pytest from diffing 32000-element arrays.
    """
    if type(got) is not type(want):
        raise AssertionError(f"{path or 'message'}: {type(got)} != {type(want)}")
    fields = want.get_fields_and_field_types()
    if not fields:
        raise AssertionError(f"{type(want).__name__} has no fields?")
    for field in fields:
        g, w = getattr(got, field), getattr(want, field)
        where = f"{path}.{field}" if path else field
        if hasattr(w, "get_fields_and_field_types"):
            assert_same_message(g, w, where)
            continue
        g, w = _plain(g), _plain(w)
        if isinstance(w, float):
            if not isinstance(g, float):
                raise AssertionError(f"{where}: {g!r} is not a float")
            same = math.isnan(g) if math.isnan(w) else g == w
        else:
            same = g == w
        if not same:
            raise AssertionError(_mismatch(where, g, w))


PUBLISHER = """
import sys, time
sys.path.insert(0, {here!r})
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from test_messages import build_sample

name = sys.argv[1]
rclpy.init()
node = rclpy.create_node("sample_publisher")
msg = build_sample(name)
pub = node.create_publisher(type(msg), "samples", QoSProfile(depth=10,
                            reliability=ReliabilityPolicy.RELIABLE))
print("publishing", name, flush=True)
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    pub.publish(msg)
    rclpy.spin_once(node, timeout_sec=0.1)
print("gave up", flush=True)
"""


@pytest.mark.ros
@pytest.mark.parametrize("name", MESSAGE_TYPES)
def test_message_round_trips_between_processes(ros, name):
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    want = build_sample(name)
    received = ros.subscribe(
        type(want), "samples", QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    )
    child = ros.spawn(code=PUBLISHER.format(here=str(HERE)), args=[name], name=f"pub_{name}")
    child.wait_for_output(r"^publishing", timeout=60)
    got = received.wait_for(1, timeout=60)[0]
    assert got is not want
    assert_same_message(got, want)
    assert child.running, child.output()  # it was the child, still publishing, that sent it


def test_samples_exercise_every_field_and_the_comparison_detects_differences():
    """The comparison used above must notice a change in any leaf field, nested ones included."""
    from adaspring_ros import msg as m

    for name in MESSAGE_TYPES:
        assert_same_message(build_sample(name), build_sample(name))

    changed = build_sample("CompressionConfig")
    changed.context.battery = 0.5  # NaN -> number, deep inside the nested context
    with pytest.raises(AssertionError, match=r"context\.battery"):
        assert_same_message(changed, build_sample("CompressionConfig"))

    changed = build_sample("AudioChunk")
    changed.data = bytes(len(changed.data))
    with pytest.raises(AssertionError, match=r"^data\[1\]: 0 != 1$"):
        assert_same_message(changed, build_sample("AudioChunk"))

    changed = build_sample("SoundEvent")
    changed.latency_ms = 0.0  # NaN expected
    with pytest.raises(AssertionError, match=r"^latency_ms: 0\.0 != nan$"):
        assert_same_message(changed, build_sample("SoundEvent"))

    assert m.AudioChunk.ENCODING_S16LE == "S16LE"
    assert m.AudioChunk.ENCODING_F32LE == "F32LE"
    sources = {
        m.DeploymentContext.BATTERY_SOURCE_TOPIC,
        m.DeploymentContext.BATTERY_SOURCE_INA219,
        m.DeploymentContext.BATTERY_SOURCE_PSUTIL,
        m.DeploymentContext.BATTERY_SOURCE_SIMULATED,
        m.DeploymentContext.BATTERY_SOURCE_UNKNOWN,
    }
    assert sources == {"topic", "ina219", "psutil", "simulated", "unknown"}


def test_interfaces_have_the_designed_fields():
    """The first version of the interfaces, as designed for the four UbiEar nodes."""
    from adaspring_ros import msg as m

    def fields(cls):
        return cls.get_fields_and_field_types()

    assert fields(m.AudioChunk) == {
        "header": "std_msgs/Header",
        "sequence": "uint32",
        "sample_rate": "uint32",
        "channels": "uint8",
        "encoding": "string",
        "data": "sequence<uint8>",
    }
    assert fields(m.DeploymentContext) == {
        "header": "std_msgs/Header",
        "battery": "float",
        "battery_source": "string",
        "storage_budget_bytes": "uint64",
        "latency_budget_ms": "float",
        "accuracy_loss_threshold": "float",
        "lambda1": "float",
        "lambda2": "float",
        "event_rate_per_min": "float",
        "scene_time_s": "double",
    }
    cc = fields(m.CompressionConfig)
    assert cc["layer_operators"] == "sequence<string>"
    assert cc["encoding"] == "sequence<uint8>"
    assert cc["context"] == "adaspring_ros/DeploymentContext"
    for f in ("macs", "params_bytes", "activation_bytes"):
        assert cc[f] == "uint64"
    for f in ("predicted_accuracy_loss", "predicted_latency_ms", "energy",
              "energy_per_window_mj", "search_time_ms"):
        assert cc[f] == "float"
    assert cc["energy_objective"] == "string"
    assert cc["feasible"] == "boolean"
    assert cc["violated_constraints"] == "sequence<string>"
    assert {"config_id", "checkpoint_version", "trigger", "reason"} <= cc.keys()
    assert fields(m.SoundEvent) == {
        "header": "std_msgs/Header",
        "label": "string",
        "class_index": "uint8",
        "confidence": "float",
        "latency_ms": "float",
        "model_latency_ms": "float",
        "config_id": "uint32",
        "audio_sequence": "uint32",
        "emergency": "boolean",
        "kind": "uint8",
        "urgency": "uint8",
        "event_id": "uint32",
        "start": "builtin_interfaces/Time",
        "duration_s": "float",
        "peak_confidence": "float",
        "mean_confidence": "float",
        "windows": "uint16",
        "detection_delay_s": "float",
        "end_reason": "string",
    }
    assert (m.SoundEvent.KIND_WINDOW, m.SoundEvent.KIND_ONSET, m.SoundEvent.KIND_EVENT) == \
        (0, 1, 2)
    assert (m.SoundEvent.URGENCY_AMBIENT, m.SoundEvent.URGENCY_SOCIAL,
            m.SoundEvent.URGENCY_EMERGENCY) == (0, 1, 2)
    assert fields(m.ModelLatency) == {
        "header": "std_msgs/Header",
        "checkpoint_version": "string",
        "config_id": "uint32",
        "active": "boolean",
        "p50_ms": "float",
        "p95_ms": "float",
        "windows": "uint32",
        "span_s": "float",
        "swap_ms": "float",
    }
