"""Stage 4: the operator profile Runtime3C predicts from (paper §4.2, §5.1.2).

- accuracy_drop[layer][option]: pp of validation accuracy that choosing ``option`` at ``layer``
  costs, fitted to whole near-backbone configurations with the single-layer drops as prior and a
  held-out margin (`accuracy_model.calibrate`; the single drops are kept in the metadata).
  `check_accuracy_model` measures how well the additive prediction ranks whole configurations
  (Spearman) on sampled configurations.
- latency_ms[layer][in_channels][option]: what the deployed block (conv/fire/... + ReLU + pool)
  costs inside a network at batch 1, for every input width the layer can receive, plus the
  stem and the head: each block is timed alone, then the table is fitted to whole-network
  timings of 300 random configurations (see `measure_latency_tables`).
- channel_noise[layer]: the trained δ3 width-noise std (supernet.channel_noise()).

Timing and fitting live in `core.model.latency_table` (shared with the nodes' quick on-device
table, `core.model.device_table`); this module adds the progress bars, the accuracy side and the
profile assembly.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence

import torch
from scipy import stats
from tqdm import tqdm

from adaspring_ros.core.model import latency_table
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.latency_table import (  # noqa: F401 - re-exported for callers
    CALIBRATION_SEED,
    FIT_CONFIGS,
    FIT_PRIOR_WEIGHT,
    LATENCY_REPEATS,
    LATENCY_ROUNDS,
    LATENCY_THREADS,
    fit_latency_table,
    head_inputs,
    reachable_inputs,
    sample_configurations,
)
from adaspring_ros.core.model.profile import Profile
from adaspring_ros.core.model.supernet import SelfEvolutionaryNet
from adaspring_ros.core.scene.dataset import FeatureSet
from adaspring_ros.training import accuracy_model
from adaspring_ros.training import common
from adaspring_ros.training.common import top1


def time_modules(jobs: dict, repeats: int = LATENCY_REPEATS, rounds: int = LATENCY_ROUNDS,
                 warmup: int = 3, progress: bool = False, desc: str = "timing") -> dict:
    """`latency_table.time_modules` with an optional progress bar."""
    with tqdm(total=rounds * len(jobs), desc=desc, unit="module", disable=not progress) as bar:
        return latency_table.time_modules(jobs, repeats, rounds, warmup, on_module=bar.update)


def measure_latency_tables(net: SelfEvolutionaryNet, repeats: int = LATENCY_REPEATS,
                           rounds: int = LATENCY_ROUNDS, progress: bool = True, **kwargs):
    """`latency_table.measure_latency_tables` with an optional progress bar."""
    with tqdm(desc="profiling latency", unit="module", disable=not progress) as bar:
        return latency_table.measure_latency_tables(net, repeats, rounds,
                                                    on_module=bar.update, **kwargs)


def wait_for_quiet(max_load: float | None, max_wait_s: float = 900.0,
                   poll_s: float = 15.0) -> dict:
    """Wait (up to max_wait_s) until the 1-min load average is below max_load.

    Timings on cores other processes are using measure the contention, not the network.
    Returns what happened, for the record; never raises (a busy machine still gets measured).
    """
    start = time.perf_counter()
    load = os.getloadavg()[0]
    while max_load is not None and load >= max_load and time.perf_counter() - start < max_wait_s:
        time.sleep(poll_s)
        load = os.getloadavg()[0]
    return {"max_load": max_load, "waited_s": round(time.perf_counter() - start, 1),
            "loadavg_1min": load, "quiet": max_load is None or load < max_load}


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} is not a number >= 0")
    return value


def add_profile_arguments(parser) -> None:
    """The profiling options train_all and reprofile share (see build_profile)."""
    parser.add_argument("--latency-repeats", type=int, default=LATENCY_REPEATS)
    parser.add_argument("--latency-rounds", type=int, default=LATENCY_ROUNDS)
    parser.add_argument("--fit-configs", type=int, default=FIT_CONFIGS)
    parser.add_argument("--latency-threads", type=int, default=LATENCY_THREADS,
                        help="torch threads for latency (match the inference node's torch_threads)")
    parser.add_argument("--accuracy-configs", type=int, default=accuracy_model.FIT_CONFIGS,
                        help="near-backbone configurations the accuracy table is fitted to")
    parser.add_argument("--selection-z", type=_non_negative, default=accuracy_model.SELECTION_Z,
                        help="the accuracy table's winner's-curse margin is the picks' mean gap "
                             "plus this many standard errors (0: the mean; 1.645: a one-sided "
                             "95 %% bound, a more conservative table; default %(default)s)")
    parser.add_argument("--device", choices=common.DEVICES, default="cpu",
                        help="where training steps and accuracy evaluation run (auto = cuda "
                             "when torch sees a GPU); latency is always timed on the CPU, "
                             "the robot's processor (default cpu)")


def set_device(parser, args) -> str:
    """Apply --device (common.use_device) or stop with parser.error; returns the device."""
    try:
        return str(common.use_device(args.device))
    except ValueError as exc:
        parser.error(str(exc))


def profile_options(args) -> dict:
    """``build_profile`` keywords from the options ``add_profile_arguments`` declared."""
    return {"latency_repeats": args.latency_repeats, "latency_rounds": args.latency_rounds,
            "fit_configs": args.fit_configs, "accuracy_configs": args.accuracy_configs,
            "latency_threads": args.latency_threads, "selection_z": args.selection_z}


def check_seeded(profile: Profile, net: SelfEvolutionaryNet, data: FeatureSet,
                 seed: int) -> dict:
    """``check_accuracy_model`` on the 40 random configurations every stored check used."""
    return check_accuracy_model(profile, net, data, sample_configurations(net.arch, 40, seed))


def config_accuracy(net: SelfEvolutionaryNet, data: FeatureSet, config: Sequence[str]) -> float:
    """Top-1 accuracy (%) of the deployed subnet for ``config``."""
    return top1(net.get_active_subnet(config), *data.tensors())


def measure_accuracy_drops(net: SelfEvolutionaryNet, data: FeatureSet, progress: bool = True):
    """(backbone accuracy, accuracy_drop[layer][option]) with one layer compressed at a time."""
    base, drops, _ = accuracy_model.single_layer_drops(net, data, progress)
    return base, drops


def build_profile(net: SelfEvolutionaryNet, val: FeatureSet, checkpoint_version: str,
                  meta: dict | None = None, progress: bool = True,
                  latency_repeats: int = LATENCY_REPEATS,
                  latency_rounds: int = LATENCY_ROUNDS, max_load: float | None = None,
                  max_wait_s: float = 900.0, fit_configs: int = FIT_CONFIGS,
                  accuracy_configs: int = accuracy_model.FIT_CONFIGS,
                  latency_threads: int = LATENCY_THREADS,
                  calibration: FeatureSet | None = None,
                  selection_z: float = accuracy_model.SELECTION_Z) -> Profile:
    """Accuracy table from ``calibration`` (default ``val``; see accuracy_model.calibration_set),
    latency table measured here."""
    calibration = val if calibration is None else calibration
    base, drops, single_drops, accuracy_fit = accuracy_model.calibrate(
        net, calibration, n_configs=accuracy_configs, progress=progress, selection_z=selection_z)
    quiet = wait_for_quiet(max_load, max_wait_s)
    load_before = os.getloadavg()
    table, stem_ms, head_ms, fit = measure_latency_tables(
        net, latency_repeats, latency_rounds, progress=progress, fit_configs=fit_configs,
        threads=latency_threads)
    info = {
        "accuracy_split": "val",
        "accuracy_clips": len(calibration),
        "latency_threads": latency_threads,
        "latency_estimator": f"median of {latency_rounds} interleaved rounds x "
                             f"{latency_repeats} batch-1 calls",
        "latency_loadavg_1min": [load_before[0], os.getloadavg()[0]],
        "latency_fit": fit,
        "accuracy_fit": accuracy_fit,
        "accuracy_drop_single": {str(k): v for k, v in single_drops.items()},
        "latency_wait_for_quiet": quiet,
        "torch": str(torch.__version__),
    }
    info.update(meta or {})
    return Profile(arch=net.arch, checkpoint_version=checkpoint_version, backbone_accuracy=base,
                   accuracy_drop=drops, latency_ms=table, stem_latency_ms=stem_ms,
                   head_latency_ms=head_ms, channel_noise=net.channel_noise(), meta=info)


def check_accuracy_model(profile: Profile, net: SelfEvolutionaryNet, data: FeatureSet,
                         configs: Sequence[ss.Configuration]) -> dict:
    """Spearman rank correlation of predicted vs measured accuracy over ``configs``."""
    measured = [config_accuracy(net, data, c) for c in configs]
    predicted = [profile.backbone_accuracy - profile.predict(c).accuracy_loss for c in configs]
    rho = stats.spearmanr(predicted, measured).statistic
    return {"spearman": float(rho), "measured": measured, "predicted": predicted}
