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

import librosa
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

_MEL_BASIS = librosa.filters.mel(
    sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN_HZ, fmax=FMAX_HZ
).astype(np.float32)
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
        audio = librosa.resample(audio, orig_sr=int(sample_rate), target_sr=SAMPLE_RATE)
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
    spec = np.abs(
        librosa.stft(audio, n_fft=N_FFT, hop_length=HOP_LENGTH, window=_WINDOW, center=True)
    ) ** 2
    mel = _MEL_BASIS @ spec
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
