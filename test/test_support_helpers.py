"""The shared helpers: percentile, distinct configurations, a checkpoint's split, the held-out
loss interval, the node kit's message builders, diagnostics reading and the parameter request."""

import math
import random

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterType

from adaspring_ros.core.measure import percentile
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.scene import dataset
from adaspring_ros.nodes import conversions
from adaspring_ros.nodes.health import status_level, status_node, status_values
from adaspring_ros.nodes.params import set_request
from adaspring_ros.testing import node_kit as kit
from adaspring_ros.testing.held_out import MeasuredConfigs, loss_interval


def test_percentile_is_nearest_rank():
    values = list(range(1, 21))  # 1..20
    assert percentile(values, 0.95) == 19.0
    assert percentile(values, 0.5) == 10.0
    assert percentile([3.0], 0.99) == 3.0 and percentile(values, 0.0) == 1.0
    assert math.isnan(percentile([], 0.5))


def test_distinct_configurations_keep_the_start_and_never_repeat():
    arch = ss.Architecture()
    rng = random.Random(3)
    backbone = ss.backbone_configuration(arch)
    configs = ss.distinct_configurations(lambda: ss.random_configuration(arch, rng), 40,
                                         start=[backbone])
    assert configs[0] == backbone and len(set(configs)) == 40
    assert all(len(c) == arch.n_compressible and set(c) <= set(ss.OPTIONS) for c in configs)
    tiny = iter([backbone, backbone, configs[1]])
    assert ss.distinct_configurations(lambda: next(tiny), 1, exclude=[backbone]) == [configs[1]]


def test_checkpoint_split_refuses_a_user_folder_checkpoint():
    with pytest.raises(dataset.DatasetError, match="not trained on the synthetic set"):
        dataset.checkpoint_split({"data": "/home/me/sounds", "data_sizes": {"test": 5}}, "test")


A, B = ("conv@1.0",), ("conv@0.5",)  # two one-layer configurations


def _measured(correct, weights=None):
    n = len(next(iter(correct.values())))
    w = np.ones(n) if weights is None else np.asarray(weights, float)
    return MeasuredConfigs({}, {}, 0.0, {k: np.asarray(v, bool) for k, v in correct.items()}, w)


def test_loss_interval_is_paired_and_shrinks_with_clips():
    # identical predictions: no loss and no noise, however many clips differ from the label
    same = _measured({A: [1, 0, 1, 0], B: [1, 0, 1, 0]})
    assert loss_interval(same, A, B) == (0.0, 0.0)
    # b misses 1 clip in 10 that a gets: loss 10 pp, half-width 1.96 x the paired SE
    m = _measured({A: [1] * 10, B: [0] + [1] * 9})
    loss, half = loss_interval(m, A, B)
    d = np.array([1.0] + [0.0] * 9)
    assert loss == pytest.approx(10.0)
    assert half == pytest.approx(100 * 1.96 * np.sqrt(np.sum((d - 0.1) ** 2)) / 10)
    # the same rate of disagreement on 100x the clips: 10x narrower
    big = _measured({A: [1] * 1000, B: ([0] + [1] * 9) * 100})
    assert loss_interval(big, A, B)[1] == pytest.approx(half / 10, rel=1e-9)
    # a gain is a negative loss; weights move both figures
    assert loss_interval(m, B, A)[0] == pytest.approx(-10.0)
    heavy = _measured({A: [1] * 10, B: [0] + [1] * 9}, weights=[9.0] + [1.0] * 9)
    assert loss_interval(heavy, A, B)[0] == pytest.approx(50.0)


def test_window_chunks_are_consecutive_and_decode_back():
    clip = np.linspace(-0.5, 0.5, 16000, dtype=np.float32)
    chunks = kit.window_chunks(clip, 7)
    assert [c.sequence for c in chunks] == list(range(7, 17))
    decoded = np.concatenate([conversions.audio_frames(c)[0][:, 0] for c in chunks])
    assert np.allclose(decoded, clip, atol=1 / 32767)
    lying = kit.chunk(np.zeros(0), 3, data=b"\x00" * 3201)
    assert bytes(lying.data) == b"\x00" * 3201 and lying.sequence == 3


def test_context_msg_leaves_the_application_limits_unset_unless_given():
    ctx = conversions.msg_to_context(kit.context_msg(storage=500_000), latency_budget_ms=7.0,
                                     accuracy_loss_threshold=2.0)
    assert (ctx.storage_budget_bytes, ctx.latency_budget_ms) == (500_000, 7.0)
    own = conversions.msg_to_context(kit.context_msg(latency=1.5), latency_budget_ms=7.0,
                                     accuracy_loss_threshold=2.0)
    assert own.latency_budget_ms == 1.5


def test_diagnostics_are_read_by_name_value_and_level():
    status = DiagnosticStatus(level=DiagnosticStatus.WARN, name="/robot1/inference",
                              values=[KeyValue(key="lost_chunks", value="3")])
    assert status_node(status) == "inference"
    assert status_values(status) == {"lost_chunks": "3"}
    assert status_level(status) == 1


def test_set_request_types_the_value_as_ros2_param_set_does():
    double = set_request("latency_budget_ms", 0.05).parameters[0]
    assert double.name == "latency_budget_ms"
    assert double.value.type == ParameterType.PARAMETER_DOUBLE
    assert double.value.double_value == 0.05
    assert set_request("seed", 3).parameters[0].value.type == ParameterType.PARAMETER_INTEGER
