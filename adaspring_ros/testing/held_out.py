"""Held-out accuracy and batch-1 latency of configurations, measured on the real torch model.

Shared by the benchmarks that judge chosen configurations on measurement (bench_runtime3c,
bench_families): accuracy is top-1 on the checkpoint's own test split, latency the training
code's interleaved-rounds median (`profile_operators.time_modules`), every configuration timed
in the same rounds so their ratios are comparable within one run.
"""

from __future__ import annotations

import os
import sys
from typing import NamedTuple

import numpy as np
from tqdm import tqdm


#: clips of a fresh draw added to the checkpoint's test split by `held_out_set`: the test split
#: alone (825 clips) puts a configuration's loss at +-1 pp (95 %), the size of the accuracy
#: thresholds the search works to. Measured on the shipped checkpoint: conv@0.5 conv@0.5
#: conv@0.75 conv@0.25 lost 2.63 pp on the test split and 1.73 pp on 2,000 fresh clips.
EXTRA_HELD_OUT_CLIPS = 2000


def held_out_set(meta: dict, extra: int = EXTRA_HELD_OUT_CLIPS, progress: bool = True):
    """The checkpoint's test split plus ``extra`` clips of a fresh test draw (seed + 1).

    None of the added clips is a training, validation, calibration or test clip of the
    checkpoint: every clip's generator is seeded by (seed, split, index), the accuracy table's
    calibration draw is the validation renderer at seed + 1, and this is the test renderer at
    seed + 1. Raises dataset.DatasetError for a checkpoint trained on a user's folder.
    """
    from adaspring_ros.core.scene import dataset

    test = dataset.checkpoint_split(meta, "test", progress=progress)
    if extra <= 0:
        return test
    hard = int(meta.get("dataset_version", dataset.DATASET_VERSION)) >= 3
    more = dataset.synthetic_split("test", int(meta.get("seed", 0)) + 1, int(extra),
                                   progress=progress, hard_negatives=hard)
    return test.concat(more)


#: two-sided 95 % normal quantile: `loss_interval`'s half-width in standard errors
Z95 = 1.96


class MeasuredConfigs(NamedTuple):
    """What `measure_configs` measured: accuracy % and latency ms by configuration, the 1-min
    load average when the timing started, per-clip correctness by configuration and the
    per-clip weights the accuracies used (all ones when unweighted)."""

    accuracy: dict
    latency: dict
    load: float
    correct: dict
    weights: np.ndarray


def loss_interval(measured: MeasuredConfigs, reference, config) -> tuple[float, float]:
    """(accuracy loss pp of ``config`` against ``reference``, 95 % half-width pp).

    Paired over the same clips: only the clips the two classify differently carry noise, so the
    standard error is that of the weighted mean of the per-clip difference (Z95 of them each
    side). Why: on 2,825 clips a configuration near A_thr = 2 pp measures +-0.73 pp, a third of
    the threshold; a measured loss is only said to break or hold A_thr beyond that noise.
    """
    w = measured.weights / measured.weights.sum()
    diff = (measured.correct[tuple(reference)].astype(float)
            - measured.correct[tuple(config)].astype(float))
    loss = float(np.sum(w * diff))
    se = float(np.sqrt(np.sum(w ** 2 * (diff - loss) ** 2)))
    return 100.0 * loss, 100.0 * Z95 * se


def measure_configs(net, test, configs, threads: int, weights=None) -> MeasuredConfigs:
    """Held-out accuracy, batch-1 latency and per-clip correctness of each configuration's
    subnet (see `MeasuredConfigs`).

    With per-clip ``weights`` (e.g. `accuracy_model.deployment_weights`) the accuracy is the
    weighted one, the quantity the profile's accuracy table predicts.
    """
    import torch

    from adaspring_ros.training.common import correct
    from adaspring_ros.training.profile_operators import time_modules
    torch.set_num_threads(threads)
    x, y = test.tensors()
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    accuracy, jobs, clips = {}, {}, {}
    sample = torch.rand(1, 1, net.arch.n_mels, net.arch.n_frames)
    for c in tqdm(configs, desc="held-out accuracy", unit="config", file=sys.stderr):
        subnet = net.get_active_subnet(c)
        ok = correct(subnet, x, y)
        clips[c] = ok
        accuracy[c] = float(100.0 * (ok * w).sum() / w.sum())
        jobs[c] = (subnet, sample)
    load = os.getloadavg()[0]
    latency = time_modules(jobs, progress=True, desc="latency")
    return MeasuredConfigs(accuracy, latency, load, clips, w)
