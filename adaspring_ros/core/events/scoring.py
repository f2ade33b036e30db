"""Judging detected events against the truth, and running the detector over a recording.

`window_probs` runs the same features and network as the inference node over every hop of a
recording (batched: what a window gets does not depend on its neighbours), `detect` feeds them
to the same `EventTracker` the node uses, `score` matches detections to true events:

- a detection matches a true event of the same label when its [start, end] overlaps
  [onset - tolerance, offset + tolerance]; each true event is found once (its first
  detection), further detections of it are counted as duplicates and as false positives;
- detection delay = the audio time the event was confirmed minus the true onset;
- a detection that matches nothing is a false positive; per class, and per urgency.

Pure Python plus numpy/torch, no ROS.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from adaspring_ros.core.audio import features
from adaspring_ros.core.events.policy import EMERGENCY, SOCIAL, EventPolicy
from adaspring_ros.core.events.tracker import NS, EventTracker, SoundEventRecord, WindowScore

BATCH = 256


def window_starts(n_samples: int, hop_s: float) -> np.ndarray:
    """Start sample of every full 1 s window at the hop."""
    hop = int(round(hop_s * features.SAMPLE_RATE))
    last = n_samples - features.WINDOW_SAMPLES
    return np.arange(0, last + 1, hop) if last >= 0 else np.zeros(0, dtype=np.int64)


def window_features(audio: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.stack([features.log_mel(audio[s:s + features.WINDOW_SAMPLES]) for s in starts]) \
        if len(starts) else np.zeros((0, features.N_MELS, features.N_FRAMES), np.float32)


def logits_of(module, feats: np.ndarray) -> np.ndarray:
    """The network's logits for (n, mels, frames) features, in batches."""
    import torch

    out = []
    with torch.inference_mode():
        for i in range(0, len(feats), BATCH):
            x = torch.from_numpy(np.ascontiguousarray(feats[i:i + BATCH])).unsqueeze(1)
            out.append(module(x).double().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def detect(probs: np.ndarray, starts_s: np.ndarray,
           policy: EventPolicy) -> list[SoundEventRecord]:
    """Every event the tracker reports for these window probabilities; the stream's end closes
    what is still open (as when the audio stops)."""
    tracker = EventTracker(policy)
    out = []
    for i, (p, s) in enumerate(zip(probs, starts_s, strict=True)):
        out += [u.event for u in tracker.push(WindowScore(int(round(s * NS)), p, i))
                if u.kind == "closed"]
    out += [u.event for u in tracker.close_all()]
    return out


@dataclass
class Score:
    true_events: int = 0
    found: int = 0
    false_positives: int = 0
    duplicates: int = 0
    delays_s: list = field(default_factory=list)
    delay_urgency: list = field(default_factory=list)  # the urgency of each delay's event
    per_class: dict = field(default_factory=dict)  # label -> {"tp", "fn", "fp", "n"}
    by_urgency: dict = field(default_factory=dict)  # urgency -> {"n", "found", "fp"}

    @property
    def recall(self) -> float:
        return self.found / self.true_events if self.true_events else float("nan")

    @property
    def precision(self) -> float:
        detected = self.found + self.false_positives
        return self.found / detected if detected else float("nan")

    @property
    def median_delay_s(self) -> float:
        return float(np.median(self.delays_s)) if self.delays_s else float("nan")


def score(detections, truth, policy: EventPolicy, tolerance_s: float = 1.0) -> Score:
    """Match detections (SoundEventRecord) to true events (objects with label, onset_s,
    offset_s); see the module docstring."""
    result = Score(true_events=len(truth))
    per_class = defaultdict(lambda: {"n": 0, "tp": 0, "fn": 0, "fp": 0})
    urg = defaultdict(lambda: {"n": 0, "found": 0, "fp": 0})
    found_by = {}
    for det in sorted(detections, key=lambda d: d.start_ns):
        start, end = det.start_ns / NS, det.end_ns / NS
        hit = None
        for i, ev in enumerate(truth):
            if ev.label == det.label and start <= ev.offset_s + tolerance_s and \
                    end >= ev.onset_s - tolerance_s:
                hit = i
                break
        if hit is None or hit in found_by:
            result.false_positives += 1
            result.duplicates += hit is not None
            per_class[det.label]["fp"] += 1
            urg[policy.urgency(det.label)]["fp"] += 1
            continue
        found_by[hit] = det
        result.delays_s.append(det.confirmed_ns / NS - truth[hit].onset_s)
        result.delay_urgency.append(policy.urgency(det.label))
    for i, ev in enumerate(truth):
        per_class[ev.label]["n"] += 1
        u = urg[policy.urgency(ev.label)]
        u["n"] += 1
        if i in found_by:
            per_class[ev.label]["tp"] += 1
            u["found"] += 1
        else:
            per_class[ev.label]["fn"] += 1
    result.found = len(found_by)
    result.per_class = dict(per_class)
    result.by_urgency = dict(urg)
    return result


#: confidence of the intervals `share_interval` and `rate_interval` give
CONFIDENCE = 0.95


def share_interval(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson interval of a share of ``k`` in ``n`` (a recall or a precision); (nan, nan) for
    n = 0. Why: an event set holds tens of events per class, and 13 of 20 knocks found is
    anything from 43 to 82 %; a figure judged against a target is printed with its interval."""
    if n <= 0:
        return float("nan"), float("nan")
    from scipy.stats import binomtest
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def rate_interval(count: int, hours: float,
                  confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact (Garwood) Poisson interval of ``count`` events in ``hours``, per hour. Why: 6 false
    events in 2 h is 3.0/h, but anything from 1.1 to 6.5/h would give that count often."""
    if hours <= 0:
        raise ValueError(f"hours must be > 0, got {hours}")
    from scipy.stats import chi2
    alpha = 1.0 - confidence
    low = 0.0 if count == 0 else chi2.ppf(alpha / 2, 2 * count) / 2
    high = chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2
    return float(low / hours), float(high / hours)


def false_alarms(detections) -> dict[str, int]:
    """Event counts by urgency in an event-free recording (every one is false)."""
    out = {EMERGENCY: 0, SOCIAL: 0, "ambient": 0}
    for det in detections:
        out[det.urgency] = out.get(det.urgency, 0) + 1
    return out
