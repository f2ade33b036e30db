"""The one audio front end shared by training, the benchmark and the inference node.

Training and inference must see identical features, or every accuracy figure measured offline is
meaningless on the robot; so there is exactly one pipeline, and its parameters live here:

- input: any sample rate, mono or (n_samples, n_channels) multi-channel, float or integer PCM;
  downmixed by averaging channels and resampled to 16 kHz with librosa (soxr high quality).
- window: 1 s (16,000 samples). `log_mel` crops longer audio to its first second and zero-pads
  shorter audio, so the network always sees the same shape; callers that hold longer recordings
  pick the window (`loudest_window` for clip-level labels, a sliding window on the robot).
- STFT: n_fft = 1024 (64 ms, ~16 Hz bins: alarm and whistle tones are narrow-band), hop = 320
  (20 ms), centred frames -> 1 + 16000 / 320 = 51 frames. A 20 ms hop keeps knocks and beeps
  resolved while keeping the network's MACs small enough for the training budget on 2 cores.
- mel: 40 bands, 50 Hz - 8 kHz (Slaney mel scale, librosa default), power spectrogram.
- log: 10*log10(power) with a 1e-10 floor and an 80 dB dynamic range below the clip's peak.
- normalisation: per-clip standardisation (zero mean, unit variance over the whole patch). It
  makes the features independent of microphone gain and playback volume, which vary far more on
  a robot than the spectral shape that identifies an event. A constant patch (digital silence)
  maps to all zeros rather than dividing by zero.

The output shape (n_mels, n_frames) = (40, 51) matches `search_space.Architecture()` defaults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where a tensor is made: the microphone never needs it
    import torch

SAMPLE_RATE = 16000
WINDOW_SECONDS = 1.0
WINDOW_SAMPLES = int(SAMPLE_RATE * WINDOW_SECONDS)
N_FFT = 1024
HOP_LENGTH = 320
N_MELS = 40
N_FRAMES = 1 + WINDOW_SAMPLES // HOP_LENGTH
FMIN_HZ = 50.0
FMAX_HZ = 8000.0
TOP_DB = 80.0
POWER_FLOOR = 1e-10
#: Shorter recordings carry too little of any event to classify; reject them instead of padding
#: a click into a "confident" answer.
MIN_SECONDS = 0.1
#: More channels than this means the caller almost certainly passed (channels, samples).
MAX_CHANNELS = 64


# The STFT and the mel filterbank are computed here with numpy, as librosa (0.10/0.11) computes
# them (test/test_features.py checks both against librosa, to float32 rounding). Why not call
# librosa: importing it pulls scipy.signal, scipy.stats and numba, and its first stft call
# compiles numba functions; together 2-4 s of every node's start-up on this 2-core machine
# (python -X importtime), more than torch. librosa is still used, imported on first use, to
# resample audio that is not at 16 kHz (`resample`).


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, log above."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = hz / f_sp
    min_log_mel = 1000.0 / f_sp
    logstep = np.log(6.4) / 27.0
    log_t = hz >= 1000.0
    mels = np.where(log_t, min_log_mel + np.log(np.maximum(hz, 1e-12) / 1000.0) / logstep,
                    mels)
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_mel = 1000.0 / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(mels >= min_log_mel, 1000.0 * np.exp(logstep * (mels - min_log_mel)),
                    f_sp * mels)


def mel_basis(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS,
              fmin: float = FMIN_HZ, fmax: float = FMAX_HZ) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) float32 triangular filters, Slaney-normalised (area 1 per
    band): what ``librosa.filters.mel`` returns with its defaults."""
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, np.newaxis]
    return weights


def power_spectrogram(audio: np.ndarray, window: np.ndarray, hop: int = HOP_LENGTH) -> np.ndarray:
    """|STFT|^2 of float32 audio, centred frames (zero padding of n_fft // 2 each side), as
    ``librosa.stft(audio, n_fft, hop, window=window, center=True)`` frames it."""
    n_fft = window.size
    padded = np.pad(audio, n_fft // 2)
    n_frames = 1 + (padded.size - n_fft) // hop
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(n_fft, n_frames), strides=(padded.strides[0], padded.strides[0] * hop),
        writeable=False)
    spec = np.fft.rfft(window[:, np.newaxis] * frames, axis=0).astype(np.complex64)
    return np.abs(spec) ** 2


def resample(audio: np.ndarray, orig_sr: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """librosa's soxr resampling, librosa imported on first use (see above)."""
    import librosa

    return librosa.resample(audio, orig_sr=int(orig_sr), target_sr=int(target_sr))


_MEL_BASIS = mel_basis()
_WINDOW = np.hanning(N_FFT + 1)[:-1].astype(np.float32)


class AudioError(ValueError):
    """Audio the pipeline cannot turn into features; the message says what was wrong."""


def _as_float_array(samples: np.ndarray) -> np.ndarray:
    arr = np.asarray(samples)
    if arr.dtype.kind == "i":
        return arr.astype(np.float32) / float(-np.iinfo(arr.dtype).min)
    if arr.dtype.kind == "u":
        info = np.iinfo(arr.dtype)
        mid = (info.max + 1) / 2.0
        return (arr.astype(np.float32) - mid) / mid
    if arr.dtype.kind == "f":
        return arr.astype(np.float32, copy=False)
    raise AudioError(
        f"audio samples have dtype {arr.dtype}; expected float or integer PCM samples"
    )


def prepare_audio(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Return float32 mono audio at SAMPLE_RATE, or raise AudioError explaining the problem.

    ``samples`` is (n,) or (n, channels) as decoded by soundfile; integer PCM is scaled to
    [-1, 1). Any length of at least MIN_SECONDS is accepted (windowing is a separate step).
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        raise AudioError(f"sample_rate must be a positive integer in Hz, got {sample_rate!r}")
    if sample_rate <= 0:
        raise AudioError(f"sample_rate must be a positive integer in Hz, got {sample_rate}")
    audio = _as_float_array(samples)
    if audio.ndim == 2:
        if audio.shape[1] > MAX_CHANNELS:
            raise AudioError(
                f"audio has shape {audio.shape}; expected (n_samples,) or (n_samples, n_channels)"
                f" with at most {MAX_CHANNELS} channels (transpose a (channels, samples) array)"
            )
        if audio.shape[1] == 0:
            raise AudioError(f"audio has shape {audio.shape}: no channels")
        audio = audio.mean(axis=1)
    elif audio.ndim != 1:
        raise AudioError(
            f"audio has {audio.ndim} dimensions; expected (n_samples,) or (n_samples, n_channels)"
        )
    if audio.size == 0:
        raise AudioError("audio is empty; expected at least one window of samples")
    if not np.all(np.isfinite(audio)):
        raise AudioError("audio contains NaN or Inf samples; expected finite values")
    min_samples = int(np.ceil(MIN_SECONDS * sample_rate))
    if audio.size < min_samples:
        raise AudioError(
            f"audio is {audio.size / sample_rate:.3f} s long; expected at least {MIN_SECONDS} s"
        )
    if sample_rate != SAMPLE_RATE:
        audio = resample(audio, int(sample_rate))
    return np.ascontiguousarray(audio, dtype=np.float32)


def fit_window(audio: np.ndarray) -> np.ndarray:
    """Crop to the first WINDOW_SAMPLES or zero-pad at the end to exactly that length."""
    if audio.size >= WINDOW_SAMPLES:
        return audio[:WINDOW_SAMPLES]
    return np.pad(audio, (0, WINDOW_SAMPLES - audio.size))


def loudest_window(audio: np.ndarray, hop_seconds: float = 0.1) -> np.ndarray:
    """The one-second window with the most energy: where a labelled event most likely sits."""
    if audio.size <= WINDOW_SAMPLES:
        return fit_window(audio)
    hop = max(1, int(hop_seconds * SAMPLE_RATE))
    energy = np.concatenate(([0.0], np.cumsum(audio.astype(np.float64) ** 2)))
    starts = np.arange(0, audio.size - WINDOW_SAMPLES + 1, hop)
    sums = energy[starts + WINDOW_SAMPLES] - energy[starts]
    start = int(starts[int(np.argmax(sums))])
    return audio[start:start + WINDOW_SAMPLES]


def log_mel(audio_16k_mono: np.ndarray) -> np.ndarray:
    """(N_MELS, N_FRAMES) float32 standardised log-mel patch of one window of 16 kHz audio."""
    audio = np.asarray(audio_16k_mono)
    if audio.ndim != 1:
        raise AudioError(
            f"log_mel expects 1-D 16 kHz mono audio, got shape {audio.shape}; "
            "call prepare_audio first"
        )
    if audio.size == 0:
        raise AudioError("audio is empty; expected 16 kHz mono samples")
    audio = audio.astype(np.float32, copy=False)
    if not np.all(np.isfinite(audio)):
        raise AudioError("audio contains NaN or Inf samples; expected finite values")
    audio = fit_window(audio)
    mel = _MEL_BASIS @ power_spectrogram(audio, _WINDOW)
    db = 10.0 * np.log10(np.maximum(mel, POWER_FLOOR))
    db = np.maximum(db, db.max() - TOP_DB)
    std = float(db.std())
    patch = (db - db.mean()) / std if std > 1e-6 else np.zeros_like(db)
    return patch.astype(np.float32)


def to_model_input(samples: np.ndarray, sample_rate: int) -> torch.Tensor:
    """(1, 1, N_MELS, N_FRAMES) tensor for the network from raw samples at any rate."""
    import torch  # here, not at import: see TYPE_CHECKING above (2.5-3 s of node start-up)

    patch = log_mel(prepare_audio(samples, sample_rate))
    return torch.from_numpy(patch).reshape(1, 1, N_MELS, N_FRAMES)
