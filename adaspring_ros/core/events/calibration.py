"""Confidence the event policy can threshold: temperature scaling fitted on validation.

A network's softmax is over-confident (the first checkpoint gave speech 0.95 "door_knock"), so a
threshold on it means little. Temperature scaling (Guo et al., ICML 2017) divides the logits by
one scalar T fitted to minimise the negative log-likelihood on held-out data; it changes no
decision (argmax is unchanged) and makes the probabilities mean what they say. T is fitted in
training (`train_all`, on the validation split) and stored in the checkpoint's metadata under
``calibration``; for an older checkpoint a sidecar ``<checkpoint>.calibration.json`` written by
``python -m adaspring_ros.training.calibrate`` holds it. Pure numpy, no ROS.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

T_RANGE = (0.05, 20.0)


class CalibrationError(ValueError):
    """Logits/labels that cannot be calibrated, or an unreadable calibration record."""


@dataclass(frozen=True)
class Calibration:
    temperature: float
    split: str = "val"
    clips: int = 0
    nll_before: float = float("nan")
    nll_after: float = float("nan")
    ece_before: float = float("nan")
    ece_after: float = float("nan")
    source: str = "fitted"

    def as_meta(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    p = softmax(logits, temperature)
    return float(-np.mean(np.log(np.maximum(p[np.arange(len(labels)), labels], 1e-12))))


def ece(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0, bins: int = 15) -> float:
    """Expected calibration error of the top-1 confidence (equal-width bins)."""
    p = softmax(logits, temperature)
    conf, pred = p.max(axis=1), p.argmax(axis=1)
    correct = pred == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(total)


def _check(logits, labels):
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if logits.ndim != 2 or labels.shape != (logits.shape[0],) or logits.shape[0] < 2:
        raise CalibrationError(f"need logits (n, classes) and labels (n,), n >= 2; got "
                               f"{logits.shape} and {labels.shape}")
    if not np.isfinite(logits).all():
        raise CalibrationError("logits contain NaN or Inf")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise CalibrationError("labels outside the class range")
    return logits, labels


def fit_temperature(logits, labels, split: str = "val") -> Calibration:
    """The T minimising validation NLL (golden-section search on log T, T in T_RANGE)."""
    logits, labels = _check(logits, labels)
    lo, hi = math.log(T_RANGE[0]), math.log(T_RANGE[1])
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = nll(logits, labels, math.exp(a)), nll(logits, labels, math.exp(b))
    for _ in range(80):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = nll(logits, labels, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = nll(logits, labels, math.exp(b))
    t = math.exp((lo + hi) / 2)
    return Calibration(temperature=t, split=split, clips=int(len(labels)),
                       nll_before=nll(logits, labels), nll_after=nll(logits, labels, t),
                       ece_before=ece(logits, labels), ece_after=ece(logits, labels, t))


def sidecar_path(checkpoint_path) -> Path:
    p = Path(checkpoint_path)
    return p.with_name(p.name + ".calibration.json")


def from_meta(meta: dict, checkpoint_path=None) -> Calibration:
    """The checkpoint's calibration: its metadata, else a sidecar file, else T = 1 (uncalibrated,
    source 'none')."""
    record = meta.get("calibration") if isinstance(meta, dict) else None
    source = "checkpoint"
    if record is None and checkpoint_path is not None and sidecar_path(checkpoint_path).is_file():
        try:
            record = json.loads(sidecar_path(checkpoint_path).read_text())
        except (OSError, ValueError) as exc:
            raise CalibrationError(f"{sidecar_path(checkpoint_path)} is unreadable: {exc}") \
                from exc
        source = "sidecar"
    if record is None:
        return Calibration(temperature=1.0, source="none")
    t = record.get("temperature") if isinstance(record, dict) else None
    if not isinstance(t, (int, float)) or not T_RANGE[0] <= t <= T_RANGE[1]:
        raise CalibrationError(f"calibration temperature {t!r} outside {T_RANGE}")
    fields = {k: record[k] for k in Calibration.__dataclass_fields__ if k in record}
    fields["source"] = source
    return Calibration(**fields)
