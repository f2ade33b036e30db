"""The shared front end: shapes the network expects, resampling, downmixing, rejection."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from adaspring_ros.core.audio import features
from adaspring_ros.core.audio.features import AudioError
from adaspring_ros.core.model.search_space import Architecture


def _tone(freq, seconds, rate, amp=0.5):
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_patch_shape_matches_architecture_defaults():
    arch = Architecture()
    patch = features.log_mel(_tone(1000, 1.0, 16000))
    assert patch.shape == (arch.n_mels, arch.n_frames)
    assert patch.dtype == np.float32
    assert features.to_model_input(_tone(1000, 1.0, 16000), 16000).shape == (
        1, 1, arch.n_mels, arch.n_frames)


def test_resampling_keeps_length_and_pitch():
    audio = features.prepare_audio(_tone(1000, 2.0, 44100), 44100)
    assert audio.dtype == np.float32
    assert abs(audio.size - 32000) <= 2
    spectrum = np.abs(np.fft.rfft(audio))
    peak_hz = np.argmax(spectrum) * 16000 / audio.size
    assert abs(peak_hz - 1000) < 2


def test_stereo_is_downmixed_by_averaging():
    left = _tone(440, 1.0, 16000)
    stereo = np.stack([left, -left], axis=1)
    assert np.allclose(features.prepare_audio(stereo, 16000), 0.0)
    same = np.stack([left, left], axis=1)
    assert np.allclose(features.prepare_audio(same, 16000), left)


def test_integer_pcm_is_scaled_to_unit_range():
    pcm = (np.array([0, 16384, -32768] * 1000, dtype=np.int16))
    audio = features.prepare_audio(pcm, 16000)
    assert audio.max() == pytest.approx(0.5)
    assert audio.min() == pytest.approx(-1.0)


@pytest.mark.parametrize(
    "samples, rate, fragment",
    [
        (np.array([], dtype=np.float32), 16000, "empty"),
        (np.full(16000, np.nan, dtype=np.float32), 16000, "NaN"),
        (np.concatenate([np.zeros(15999), [np.inf]]).astype(np.float32), 16000, "NaN or Inf"),
        (np.zeros(100, dtype=np.float32), 16000, "at least"),
        (np.zeros(16000, dtype=np.float32), 0, "positive"),
        (np.zeros(16000, dtype=np.float32), 16000.5, "integer"),
        (np.zeros((2, 16000), dtype=np.float32), 16000, "transpose"),
        (np.zeros((10, 10, 10), dtype=np.float32), 16000, "dimensions"),
        (np.zeros(16000, dtype=np.complex64), 16000, "dtype"),
    ],
)
def test_bad_audio_is_rejected_with_a_clear_error(samples, rate, fragment):
    with pytest.raises(AudioError, match=fragment):
        features.prepare_audio(samples, rate)
    assert issubclass(AudioError, ValueError)


def test_log_mel_rejects_non_finite_and_multichannel():
    with pytest.raises(AudioError, match="NaN"):
        features.log_mel(np.full(16000, np.inf, dtype=np.float32))
    with pytest.raises(AudioError, match="prepare_audio"):
        features.log_mel(np.zeros((16000, 2), dtype=np.float32))


def test_short_audio_is_padded_and_long_audio_cropped_to_the_first_second():
    rng = np.random.default_rng(0)
    long = rng.standard_normal(40000).astype(np.float32)
    assert np.array_equal(features.log_mel(long), features.log_mel(long[:16000]))
    short = long[:8000]
    padded = np.concatenate([short, np.zeros(8000, np.float32)])
    assert np.allclose(features.log_mel(short), features.log_mel(padded))


def test_normalisation_is_gain_invariant_and_standardised():
    rng = np.random.default_rng(1)
    audio = (rng.standard_normal(16000) * 0.1 + _tone(2000, 1.0, 16000)).astype(np.float32)
    loud, quiet = features.log_mel(audio), features.log_mel(audio * 0.01)
    assert np.allclose(loud, quiet, atol=1e-3)
    assert abs(float(loud.mean())) < 1e-4
    assert float(loud.std()) == pytest.approx(1.0, abs=1e-3)


def test_silence_maps_to_zeros_not_nan():
    patch = features.log_mel(np.zeros(16000, dtype=np.float32))
    assert np.all(patch == 0.0)


def test_tone_lands_in_the_right_mel_band():
    import librosa

    patch = features.log_mel(_tone(3000, 1.0, 16000))
    centres = librosa.mel_frequencies(features.N_MELS + 2, fmin=features.FMIN_HZ,
                                      fmax=features.FMAX_HZ)[1:-1]
    band = int(np.argmax(patch.mean(axis=1)))
    assert abs(centres[band] - 3000) < 250


def test_loudest_window_finds_the_event():
    audio = np.zeros(5 * 16000, dtype=np.float32)
    audio[3 * 16000 + 4000: 3 * 16000 + 8000] = _tone(1000, 0.25, 16000)
    window = features.loudest_window(audio)
    assert window.size == 16000
    assert np.sum(window**2) == pytest.approx(np.sum(audio**2), rel=1e-6)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(min_value=1600, max_value=40000),
    rate=st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000]),
    channels=st.integers(min_value=1, max_value=4),
    scale=st.floats(min_value=1e-6, max_value=1e3),
)
def test_any_valid_input_gives_a_finite_patch(n, rate, channels, scale):
    n = max(n, int(np.ceil(features.MIN_SECONDS * rate)))
    rng = np.random.default_rng(n)
    samples = (rng.standard_normal((n, channels)) * scale).astype(np.float32)
    x = features.to_model_input(samples, rate)
    assert x.shape == (1, 1, features.N_MELS, features.N_FRAMES)
    assert x.dtype == torch.float32
    assert torch.isfinite(x).all()


def _librosa_log_mel(audio: np.ndarray) -> np.ndarray:
    """The pipeline as it was written with librosa (what the shipped checkpoint trained on)."""
    import librosa

    basis = librosa.filters.mel(sr=features.SAMPLE_RATE, n_fft=features.N_FFT,
                                n_mels=features.N_MELS, fmin=features.FMIN_HZ,
                                fmax=features.FMAX_HZ).astype(np.float32)
    spec = np.abs(librosa.stft(audio, n_fft=features.N_FFT, hop_length=features.HOP_LENGTH,
                               window=features._WINDOW, center=True)) ** 2
    db = 10.0 * np.log10(np.maximum(basis @ spec, features.POWER_FLOOR))
    db = np.maximum(db, db.max() - features.TOP_DB)
    return ((db - db.mean()) / db.std()).astype(np.float32)


def test_numpy_mel_basis_is_librosas():
    import librosa

    ref = librosa.filters.mel(sr=16000, n_fft=1024, n_mels=40, fmin=50.0, fmax=8000.0)
    np.testing.assert_array_equal(features.mel_basis(), ref.astype(np.float32))
    ref = librosa.filters.mel(sr=22050, n_fft=512, n_mels=64, fmin=0.0, fmax=11025.0)
    np.testing.assert_allclose(features.mel_basis(22050, 512, 64, 0.0, 11025.0), ref,
                               rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_numpy_stft_and_log_mel_match_librosa_to_float32_rounding(seed):
    import librosa

    rng = np.random.default_rng(seed)
    audio = (rng.standard_normal(features.WINDOW_SAMPLES) * 10.0 ** rng.uniform(-3, 0)
             + _tone(rng.uniform(100, 7000), 1.0, 16000)).astype(np.float32)
    ref = np.abs(librosa.stft(audio, n_fft=1024, hop_length=320, window=features._WINDOW,
                              center=True)) ** 2
    got = features.power_spectrogram(audio, features._WINDOW)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=ref.max() * 1e-6)
    np.testing.assert_allclose(features.log_mel(audio), _librosa_log_mel(audio), atol=1e-4)


def test_importing_the_features_does_not_import_librosa():
    import subprocess
    import sys

    code = ("import sys; import adaspring_ros.core.audio.features as f; "
            "f.log_mel(f.fit_window(f.np.zeros(100, 'float32'))); "
            "print(sorted(m for m in ('librosa', 'scipy.signal', 'numba', 'torch') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd="/")
    assert out.stdout.strip() == "[]"
