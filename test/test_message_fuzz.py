"""Property-based fuzzing of every message handler: a valid result or the documented error.

The nodes' callbacks hand each message to one conversion function (adaspring_ros.nodes.
conversions); whatever a publisher sends, that function must return a valid core value or raise
its ValueError subclass, which the node counts and drops. Anything else would be a crash.
"""

import math

import numpy as np
from adaspring_ros.msg import AudioChunk, CompressionConfig
from adaspring_ros.msg import DeploymentContext as ContextMsg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adaspring_ros.core.audio import features, pcm
from adaspring_ros.core.audio import stream_classifier as sc
from adaspring_ros.core.context.deployment_context import ContextError, DeploymentContext
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.nodes import conversions

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
floats32 = st.floats(width=32, allow_nan=True, allow_infinity=True)


@FUZZ
@given(data=st.binary(max_size=8000), rate=st.integers(0, 2**32 - 1),
       channels=st.integers(0, 255),
       encoding=st.sampled_from(["S16LE", "F32LE", "MP3", "", "s16le"]),
       sequence=st.integers(0, 2**32 - 1))
def test_audio_handler(data, rate, channels, encoding, sequence):
    msg = AudioChunk(sequence=sequence, sample_rate=rate, channels=channels, encoding=encoding)
    msg.data = data
    try:
        frames, fmt = conversions.audio_frames(msg)
        mono = sc.chunk_to_16k_mono(frames, fmt.sample_rate)
    except (pcm.PcmError, features.AudioError):
        return
    assert mono.dtype == np.float32 and mono.ndim == 1 and np.isfinite(mono).all()


@FUZZ
@given(battery=floats32, storage=st.integers(0, 2**64 - 1), latency=floats32, thr=floats32,
       l1=floats32, l2=floats32, rate=floats32, scene=st.floats(allow_nan=True))
def test_context_handler(battery, storage, latency, thr, l1, l2, rate, scene):
    msg = ContextMsg(battery=battery, battery_source="x", storage_budget_bytes=storage,
                     latency_budget_ms=latency, accuracy_loss_threshold=thr, lambda1=l1,
                     lambda2=l2, event_rate_per_min=rate, scene_time_s=scene)
    try:
        ctx = conversions.msg_to_context(msg, latency_budget_ms=5.0, accuracy_loss_threshold=1.0)
    except (ContextError, ValueError):
        return
    assert isinstance(ctx, DeploymentContext)
    assert ctx.latency_budget_ms >= 0 and not math.isnan(ctx.accuracy_loss_threshold)
    assert abs(ctx.lambda1 + ctx.lambda2 - 1.0) < 1e-5
    assert math.isnan(ctx.battery) or 0.0 <= ctx.battery <= 1.0


ARCH = ss.Architecture()


@FUZZ
@given(ops=st.lists(st.one_of(st.sampled_from(ss.OPTIONS), st.text(max_size=12)), max_size=8),
       version=st.sampled_from(["v1", "v2", ""]))
def test_config_handler(ops, version):
    msg = CompressionConfig(config_id=1, checkpoint_version=version, layer_operators=ops)
    try:
        config = conversions.config_from_msg(msg, ARCH, "v1")
    except conversions.ConfigMessageError:
        return
    assert version == "v1" and len(config) == ARCH.n_compressible
    assert all(op in ss.OPTIONS for op in config)
