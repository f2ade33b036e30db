"""Raw PCM packing for audio chunks on the wire.

Audio crosses DDS as raw little-endian PCM with its format stated next to the bytes (never a
compressed codec: the inference node must not depend on a decoder, and a chunk must be
self-describing so a wrong or changing sample rate is caught per chunk, not assumed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

S16LE = "S16LE"
F32LE = "F32LE"
_DTYPES = {S16LE: np.dtype("<i2"), F32LE: np.dtype("<f4")}

#: Chunks longer than this are refused: a chunk is a few hundred ms of audio, and a
#: multi-minute chunk would stall the inference node and blow its memory bound.
MAX_CHUNK_SECONDS = 10.0
MAX_CHANNELS = 8
MIN_SAMPLE_RATE = 4000
MAX_SAMPLE_RATE = 192000


class PcmError(ValueError):
    """A chunk whose bytes or stated format cannot be turned into audio."""


@dataclass(frozen=True)
class PcmFormat:
    sample_rate: int
    channels: int
    encoding: str

    def validate(self) -> PcmFormat:
        if self.encoding not in _DTYPES:
            raise PcmError(
                f"unsupported encoding {self.encoding!r}; expected raw PCM {S16LE} or {F32LE}"
            )
        if not MIN_SAMPLE_RATE <= self.sample_rate <= MAX_SAMPLE_RATE:
            raise PcmError(
                f"sample rate {self.sample_rate} Hz outside {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz"
            )
        if not 1 <= self.channels <= MAX_CHANNELS:
            raise PcmError(f"channel count {self.channels} outside 1-{MAX_CHANNELS}")
        return self


def decode(data: bytes, fmt: PcmFormat) -> np.ndarray:
    """Bytes -> float32 array of shape (frames, channels) in [-1, 1] for S16LE.

    Raises PcmError when the byte count does not match the stated format (a truncated
    chunk or a lying header), when the chunk is absurdly long, or when samples are NaN/Inf.
    """
    fmt.validate()
    dtype = _DTYPES[fmt.encoding]
    frame_bytes = dtype.itemsize * fmt.channels
    if len(data) == 0:
        raise PcmError("empty chunk: no audio bytes")
    if len(data) % frame_bytes:
        raise PcmError(
            f"{len(data)} bytes is not a whole number of {fmt.channels}-channel "
            f"{fmt.encoding} frames ({frame_bytes} bytes each): the stated format does not "
            "match the data"
        )
    frames = len(data) // frame_bytes
    if frames > MAX_CHUNK_SECONDS * fmt.sample_rate:
        raise PcmError(
            f"chunk of {frames / fmt.sample_rate:.1f} s exceeds the {MAX_CHUNK_SECONDS:.0f} s "
            "limit per chunk"
        )
    samples = np.frombuffer(bytes(data), dtype=dtype).reshape(frames, fmt.channels)
    if fmt.encoding == S16LE:
        return samples.astype(np.float32) / 32768.0
    out = samples.astype(np.float32)
    if not np.isfinite(out).all():
        bad = int((~np.isfinite(out)).sum())
        raise PcmError(f"{bad} NaN/Inf samples in an {F32LE} chunk")
    return out


def encode(samples: np.ndarray, encoding: str = S16LE) -> bytes:
    """float array (frames,) or (frames, channels) -> interleaved little-endian PCM bytes."""
    if encoding not in _DTYPES:
        raise PcmError(f"unsupported encoding {encoding!r}")
    arr = np.asarray(samples, dtype=np.float32)
    if encoding == S16LE:
        arr = np.clip(np.round(arr * 32767.0), -32768, 32767).astype("<i2")
    else:
        arr = arr.astype("<f4")
    return arr.tobytes()
