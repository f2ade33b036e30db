"""Held-out accuracy and batch-1 latency of configurations, measured on the real torch model.

Shared by the benchmarks that judge chosen configurations on measurement (bench_runtime3c,
bench_families): accuracy is top-1 on the checkpoint's own test split, latency the training
code's interleaved-rounds median (`profile_operators.time_modules`), every configuration timed
in the same rounds so their ratios are comparable within one run.
"""

from __future__ import annotations

import os
import sys

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


def measure_configs(net, test, configs, threads: int, weights=None):
    """(accuracy % by configuration, latency ms by configuration, 1-min load average when
    the timing started) for each configuration's subnet.

    With per-clip ``weights`` (e.g. `accuracy_model.deployment_weights`) the accuracy is the
    weighted one, the quantity the profile's accuracy table predicts.
    """
    import torch

    from adaspring_ros.training.common import correct
    from adaspring_ros.training.profile_operators import time_modules
    torch.set_num_threads(threads)
    x, y = test.tensors()
    accuracy, jobs = {}, {}
    sample = torch.rand(1, 1, net.arch.n_mels, net.arch.n_frames)
    for c in tqdm(configs, desc="held-out accuracy", unit="config", file=sys.stderr):
        subnet = net.get_active_subnet(c)
        ok = correct(subnet, x, y)
        accuracy[c] = float(100.0 * (ok.mean() if weights is None
                                     else (ok * weights).sum() / weights.sum()))
        jobs[c] = (subnet, sample)
    load = os.getloadavg()[0]
    latency = time_modules(jobs, progress=True, desc="latency")
    return accuracy, latency, load
