"""Turning a stream of audio chunks into classified 1 s windows, with a hot-swappable model.

The inference node hands every chunk here. Two properties matter for a sound assistant that must
not go silent:

- Windows are cut at absolute stream positions (sequence number x chunk length), so a lost chunk
  costs only the window it fell in: the buffer restarts at the next boundary instead of drifting
  out of alignment for the rest of the day. Losses are counted, never hidden. A publisher that
  starts each clip at a sequence that is a multiple of (window / chunk length) therefore gets
  exactly one window per clip; a change of chunk length re-anchors the grid.
- The model lives in a `ModelSlot` that is replaced by one reference assignment. A window is
  classified by whichever complete model it picked up, so a configuration change can never run a
  half-built network, and no audio is dropped while the next model is being assembled.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import torch

from adaspring_ros.core.audio import features


@dataclass(frozen=True)
class Window:
    samples: np.ndarray  # float32 mono 16 kHz, exactly features.WINDOW_SAMPLES long
    first_sequence: int
    last_sequence: int
    first_stamp_ns: int  # capture time of the first sample (wall clock)
    ready_stamp_ns: int  # time the last sample existed (last chunk stamp + its duration)


def chunk_to_16k_mono(frames: np.ndarray, sample_rate: int) -> np.ndarray:
    """(frames, channels) float32 at any rate -> float32 mono at 16 kHz, chunk by chunk.

    Unlike `features.prepare_audio` this accepts short chunks: the length check applies to
    windows, not to the 100 ms pieces a microphone publishes.
    """
    mono = frames.mean(axis=1) if frames.ndim == 2 else frames
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    if not np.isfinite(mono).all():
        raise features.AudioError("chunk contains NaN or Inf samples")
    if sample_rate != features.SAMPLE_RATE:
        mono = features.resample(mono, int(sample_rate))
    return mono.astype(np.float32, copy=False)


class AudioWindower:
    """Cuts windows of WINDOW_SAMPLES every ``hop_seconds`` from a chunked stream."""

    def __init__(self, hop_seconds: float = features.WINDOW_SECONDS) -> None:
        if not 0.05 <= hop_seconds <= features.WINDOW_SECONDS:
            raise ValueError(
                f"hop {hop_seconds} s outside 0.05-{features.WINDOW_SECONDS} s"
            )
        self.hop = int(round(hop_seconds * features.SAMPLE_RATE))
        self.lost_chunks = 0
        self.discarded_samples = 0
        self._reset()
        self._last_sequence = None
        self._chunk_samples = None

    def _reset(self) -> None:
        self._buf = np.zeros(0, dtype=np.float32)
        self._buf_start = 0  # absolute sample position of _buf[0]
        self._chunks = []  # (abs_start, abs_end, sequence, stamp_ns, ready_ns) still buffered

    def push(self, mono16k: np.ndarray, sequence: int, stamp_ns: int) -> list[Window]:
        """Add one chunk; return the windows it completed (usually zero or one)."""
        n = int(mono16k.size)
        if n == 0:
            return []
        if self._last_sequence is not None and sequence != self._last_sequence + 1:
            gap = sequence - self._last_sequence - 1
            if gap > 0:
                self.lost_chunks += gap
            # a gap or a restarted publisher (sequence went back): start clean at this chunk
            self.discarded_samples += self._buf.size
            self._reset()
        elif self._chunk_samples is not None and n != self._chunk_samples:
            # a new chunk size moves the sequence grid: re-anchor on it (nothing was lost)
            self.discarded_samples += self._buf.size
            self._reset()
        self._last_sequence = sequence
        self._chunk_samples = n
        abs_start = sequence * n
        if self._buf.size == 0:
            self._buf_start = abs_start
        abs_start = self._buf_start + self._buf.size
        ready_ns = stamp_ns + int(n * 1e9 / features.SAMPLE_RATE)
        self._chunks.append((abs_start, abs_start + n, sequence, stamp_ns, ready_ns))
        self._buf = np.concatenate([self._buf, mono16k])
        return self._cut()

    def _chunk_at(self, position: int):
        return next(c for c in self._chunks if c[0] <= position < c[1])

    def _cut(self) -> list[Window]:
        out = []
        win = features.WINDOW_SAMPLES
        while True:
            start = -(-self._buf_start // self.hop) * self.hop  # next hop boundary
            offset = start - self._buf_start
            if offset + win > self._buf.size:
                return out
            first = self._chunk_at(start)
            last = self._chunk_at(start + win - 1)
            samples = self._buf[offset:offset + win].copy()
            out.append(Window(samples, first[2], last[2], first[3], last[4]))
            keep_from = start + self.hop  # nothing before the next window start is needed
            self._buf = self._buf[keep_from - self._buf_start:]
            self._buf_start = keep_from
            self._chunks = [c for c in self._chunks if c[1] > keep_from]


@dataclass(frozen=True)
class ActiveModel:
    config_id: int
    config: tuple
    module: torch.nn.Module
    checkpoint_version: str


class ModelSlot:
    """Holds the model in use; `swap` is a single reference assignment (atomic in CPython)."""

    def __init__(self, model: ActiveModel) -> None:
        self._model = model
        self._lock = threading.Lock()  # serialises writers only; readers never wait
        self.swaps = 0

    @property
    def current(self) -> ActiveModel:
        return self._model

    def swap(self, model: ActiveModel) -> ActiveModel:
        with self._lock:
            old, self._model = self._model, model
            self.swaps += 1
        return old


@dataclass(frozen=True)
class Detection:
    class_index: int
    label: str
    confidence: float  # calibrated probability of ``label``
    inference_ms: float
    config_id: int
    probs: np.ndarray | None = None  # calibrated probabilities of every class


def warm_up(module: torch.nn.Module) -> None:
    """One forward call on a silent patch, so the first real window does not pay for set-up.

    The first call with new layer shapes builds their kernels' state: measured here 10-34 ms
    against 0.5-1.5 ms after, which alone put a fresh configuration's reported p95 over the
    budget and triggered a needless re-evolution. Done before a swap, it counts in T_load.
    """
    x = torch.zeros(1, 1, features.N_MELS, features.N_FRAMES)
    with torch.inference_mode():
        module(x)


def classify(model: ActiveModel, window: Window, classes, temperature: float = 1.0) -> Detection:
    """Run one window through the model it was handed (never a model that changes midway);
    probabilities are softmax(logits / temperature) (core.events.calibration)."""
    x = torch.from_numpy(features.log_mel(window.samples)).reshape(
        1, 1, features.N_MELS, features.N_FRAMES
    )
    t0 = time.perf_counter()
    with torch.inference_mode():
        logits = model.module(x)
    ms = (time.perf_counter() - t0) * 1000.0
    probs = torch.softmax(logits[0].double() / temperature, dim=0).numpy()
    idx = int(np.argmax(probs))
    return Detection(idx, classes[idx], float(probs[idx]), ms, model.config_id, probs)
