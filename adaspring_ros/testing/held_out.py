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


def measure_configs(net, test, configs, threads: int):
    """(accuracy % by configuration, latency ms by configuration, 1-min load average when
    the timing started) for each configuration's subnet."""
    import torch

    from adaspring_ros.training.common import top1
    from adaspring_ros.training.profile_operators import time_modules
    torch.set_num_threads(threads)
    x, y = test.tensors()
    accuracy, jobs = {}, {}
    sample = torch.rand(1, 1, net.arch.n_mels, net.arch.n_frames)
    for c in tqdm(configs, desc="held-out accuracy", unit="config", file=sys.stderr):
        subnet = net.get_active_subnet(c)
        accuracy[c] = top1(subnet, x, y)
        jobs[c] = (subnet, sample)
    load = os.getloadavg()[0]
    latency = time_modules(jobs, progress=True, desc="latency")
    return accuracy, latency, load
