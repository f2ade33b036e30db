import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaspring_ros.core.audio import pcm


def test_s16_round_trip_keeps_samples_and_channels():
    x = np.stack([np.linspace(-1, 1, 400), np.linspace(1, -1, 400)], axis=1).astype(np.float32)
    data = pcm.encode(x, pcm.S16LE)
    y = pcm.decode(data, pcm.PcmFormat(16000, 2, pcm.S16LE))
    assert y.shape == (400, 2)
    assert np.max(np.abs(y - x)) < 1e-4


def test_f32_round_trip_is_exact():
    x = np.random.default_rng(0).uniform(-1, 1, size=(160, 1)).astype(np.float32)
    y = pcm.decode(pcm.encode(x, pcm.F32LE), pcm.PcmFormat(48000, 1, pcm.F32LE))
    np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    "data, fmt, match",
    [
        (b"", pcm.PcmFormat(16000, 1, pcm.S16LE), "empty"),
        (b"\x00\x01\x02", pcm.PcmFormat(16000, 1, pcm.S16LE), "does not match"),
        (b"\x00" * 6, pcm.PcmFormat(16000, 2, pcm.S16LE), "does not match"),
        (b"\x00" * 4, pcm.PcmFormat(16000, 1, "MP3"), "unsupported encoding"),
        (b"\x00" * 4, pcm.PcmFormat(100, 1, pcm.S16LE), "sample rate"),
        (b"\x00" * 4, pcm.PcmFormat(16000, 0, pcm.S16LE), "channel count"),
        (np.array([math.nan], "<f4").tobytes(), pcm.PcmFormat(16000, 1, pcm.F32LE), "NaN"),
        (b"\x00" * (2 * 16000 * 11), pcm.PcmFormat(16000, 1, pcm.S16LE), "exceeds"),
    ],
)
def test_bad_chunks_are_refused_with_a_reason(data, fmt, match):
    with pytest.raises(pcm.PcmError, match=match):
        pcm.decode(data, fmt)


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=4096),
    rate=st.integers(min_value=0, max_value=400000),
    channels=st.integers(min_value=0, max_value=20),
    encoding=st.sampled_from([pcm.S16LE, pcm.F32LE, "S24LE", ""]),
)
def test_decode_either_returns_finite_audio_or_raises_pcm_error(data, rate, channels, encoding):
    try:
        out = pcm.decode(data, pcm.PcmFormat(rate, channels, encoding))
    except pcm.PcmError:
        return
    assert out.ndim == 2 and out.shape[1] == channels
    assert np.isfinite(out).all()
