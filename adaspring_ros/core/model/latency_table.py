"""Timing networks at batch 1 and fitting the per-operator latency table to the timings.

Shared by offline profiling (`adaspring_ros.training.profile_operators`, the full table) and the
nodes' quick on-device table (`core.model.device_table`), so both use one estimator and their
figures are comparable. ROS-free and free of the training-only dependencies (no data sets).

Timing estimator: ``rounds`` passes over all modules (shuffled anew each pass), ``repeats``
back-to-back batch-1 calls per module per pass; a module's figure is the median of all its
``rounds * repeats`` calls. Why this one (measured here, 20,000 consecutive calls of one
subnet on an idle machine): single calls spread 0.16-0.33 ms with little autocorrelation
(0.22 at lag 1, 0.05 at lag 100), so a median of 20 calls still moves +-25 % and the lowest of
four such medians (the previous estimator) sat 25 % below the typical call and moved between
runs; medians of 500 calls agree within +-7 %. Interleaving spreads any slow stretch of the
machine over all modules instead of one.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.supernet import SelfEvolutionaryNet

#: Threads the latency table is measured with: the inference node's default (`torch_threads`),
#: because a robot's cores are shared by the other nodes. Prediction and deployment must agree.
LATENCY_THREADS = 1
LATENCY_REPEATS = 20
LATENCY_ROUNDS = 10
#: Whole configurations timed to fit the table, and how strongly entries stick to their
#: isolated timing (in units of one configuration's relative error).
FIT_CONFIGS = 300
FIT_PRIOR_WEIGHT = 1.0
CALIBRATION_SEED = 99


def reachable_inputs(arch: ss.Architecture, layer: int) -> list[int]:
    """Every input width compressible ``layer`` can receive, over all options upstream."""
    widths = {arch.layers[0].out_channels}
    for prev in range(1, layer):
        widths = {ss.layer_out_channels(arch, prev, o, c) for o in ss.OPTIONS for c in widths}
    return sorted(widths)


def head_inputs(arch: ss.Architecture) -> list[int]:
    last = len(arch.layers) - 1
    return sorted({ss.layer_out_channels(arch, last, o, c)
                   for o in ss.OPTIONS for c in reachable_inputs(arch, last)})


def _call_times_s(fn: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def time_modules(jobs: dict, repeats: int = LATENCY_REPEATS, rounds: int = LATENCY_ROUNDS,
                 warmup: int = 3, on_module: Callable[[], object] | None = None,
                 deadline: float | None = None, quantile: float = 50.0) -> dict:
    """{key: (module, input)} -> {key: ms}: the ``quantile`` (percent; 50 = median) of all
    calls over interleaved rounds (`time_module_calls`)."""
    return calls_ms(time_module_calls(jobs, repeats, rounds, warmup, on_module, deadline),
                    quantile)


def calls_ms(calls: dict, quantile: float = 50.0) -> dict:
    """{key: [s, ...]} (`time_module_calls`) -> {key: ms}, the ``quantile`` (percent) of each."""
    return {key: 1e3 * float(np.percentile(times, quantile)) for key, times in calls.items()}


@torch.inference_mode()
def time_module_calls(jobs: dict, repeats: int = LATENCY_REPEATS, rounds: int = LATENCY_ROUNDS,
                      warmup: int = 3, on_module: Callable[[], object] | None = None,
                      deadline: float | None = None) -> dict:
    """{key: (module, input)} -> {key: [s, ...]}: every call's time over interleaved rounds.

    ``on_module`` is called after each module's calls in a round (a progress bar's update).
    ``deadline`` (a `time.perf_counter` value): no new round starts after it, so a time-boxed
    measurement still gives every module the same number of calls (at least one round).
    """
    calls: dict = {key: [] for key in jobs}
    for module, x in jobs.values():
        for _ in range(warmup):
            module(x)
    order = list(jobs)
    for round_index in range(rounds):
        if round_index and deadline is not None and time.perf_counter() > deadline:
            break
        # A new order every round: the machine's speed drifts within a round (seen: the same
        # network timed 27 % apart at two positions of one round), so no module may always
        # sit in the slow stretch.
        random.Random(round_index).shuffle(order)
        for key in order:
            module, x = jobs[key]
            calls[key] += _call_times_s(lambda m=module, v=x: m(v), repeats)
            if on_module is not None:
                on_module()
    return calls


def entries_used(arch: ss.Architecture, config: Sequence[str]) -> list[tuple]:
    """The table entries Profile.predict sums for ``config``."""
    ins = ss.layer_input_channels(arch, config)
    used = [("stem",)]
    used += [("layer", i, cin, option)
             for i, (option, cin) in enumerate(zip(config, ins, strict=True), start=1)]
    used.append(("head", ss.layer_out_channels(arch, arch.n_compressible, config[-1], ins[-1])))
    return used


def fit_latency_table(isolated: dict, wholes: dict, arch: ss.Architecture,
                      prior_weight: float = FIT_PRIOR_WEIGHT) -> tuple[dict, dict]:
    """Per-entry in-network latency fitted to whole-network timings (ridge, isolated prior).

    Minimises sum_k ((A_k·t - T_k) / T_k)^2 + w * sum_j ((t_j - p_j) / T_med)^2, where A_k marks
    the entries configuration k uses, T_k its whole-network time and p the isolated timings
    scaled by the median whole/sum ratio. Entries no fitted configuration uses keep the prior.
    """
    keys = list(isolated)
    index = {k: j for j, k in enumerate(keys)}
    configs = list(wholes)
    iso_sums = np.array([sum(isolated[k] for k in entries_used(arch, c)) for c in configs])
    times = np.array([wholes[c] for c in configs])
    factor = float(np.median(times / iso_sums))
    prior = np.array([isolated[k] * factor for k in keys])
    design = np.zeros((len(configs), len(keys)))
    for row, c in enumerate(configs):
        for k in entries_used(arch, c):
            design[row, index[k]] = 1.0
    scale = float(np.median(times))
    lhs = np.vstack([design / times[:, None], np.sqrt(prior_weight) * np.eye(len(keys)) / scale])
    rhs = np.concatenate([np.ones(len(configs)), np.sqrt(prior_weight) * prior / scale])
    fitted = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    fitted = np.maximum(fitted, 0.2 * prior)  # a block never costs (almost) nothing
    residual = (design @ fitted - times) / times
    info = {"in_network_factor": factor, "fit_configs": len(configs),
            "fit_median_abs_error_pct": float(100 * np.median(np.abs(residual))),
            "fit_share_within_15pct": float(np.mean(np.abs(residual) <= 0.15))}
    return {k: float(v) for k, v in zip(keys, fitted, strict=True)}, info


def measure_latency_tables(net: SelfEvolutionaryNet, repeats: int = LATENCY_REPEATS,
                           rounds: int = LATENCY_ROUNDS,
                           on_module: Callable[[], object] | None = None,
                           fit_configs: int = FIT_CONFIGS, threads: int = LATENCY_THREADS,
                           also_time: Sequence[ss.Configuration] = (),
                           timed: dict | None = None, deadline: float | None = None,
                           quantile: float = 50.0):
    """(latency_ms[layer][cin][option], stem_ms, head_ms[cin], info) at batch 1.

    Blocks timed alone run faster than inside a network, and not by one factor (measured:
    whole/sum-of-blocks ratios of 1.2 to 1.45 depending on the configuration). So
    ``fit_configs`` random whole configurations are timed in the same interleaved rounds as
    the blocks, and the table is fitted to them (`fit_latency_table`), with the isolated
    timings as the prior. `Profile.predict`'s additive sum then predicts whole networks.

    ``also_time``: configurations to time in the same rounds without fitting to them (written
    to ``timed``), so a check of the table is not confounded by the machine's speed drifting
    between two measurement phases (seen here: 15-40 % within minutes on shared cores).
    ``deadline``, ``quantile``: see `time_modules`.
    """
    arch = net.arch
    torch.set_num_threads(threads)
    jobs = {}
    for i, layer in enumerate(net.layers, start=1):
        spec = arch.layers[i]
        for cin in reachable_inputs(arch, i):
            x = torch.rand(1, cin, spec.height, spec.width)
            for option in ss.OPTIONS:
                jobs[("layer", i, cin, option)] = (layer.extract(option, cin), x)
    spec0 = arch.layers[0]
    jobs[("stem",)] = (net.extract_stem(), torch.rand(1, 1, spec0.height, spec0.width))
    last = arch.layers[-1]
    h, w = (last.height // 2, last.width // 2) if last.pool else (last.height, last.width)
    for cin in head_inputs(arch):
        jobs[("head", cin)] = (net.extract_head(cin), torch.rand(1, cin, h, w))
    fit_set = sample_configurations(arch, fit_configs, CALIBRATION_SEED)
    x = torch.rand(1, 1, spec0.height, spec0.width)
    for config in fit_set:
        jobs[("whole", config)] = (net.get_active_subnet(config), x)
    for config in also_time:
        jobs[("check", tuple(config))] = (net.get_active_subnet(config), x)
    ms = time_modules(jobs, repeats, rounds, on_module=on_module, deadline=deadline,
                      quantile=quantile)
    if timed is not None:
        timed.update({k[1]: v for k, v in ms.items() if k[0] == "check"})
    isolated = {k: v for k, v in ms.items() if k[0] not in ("whole", "check")}
    wholes = {k[1]: v for k, v in ms.items() if k[0] == "whole"}
    fitted, info = fit_latency_table(isolated, wholes, arch)
    table: dict[int, dict[int, dict[str, float]]] = {}
    head: dict[int, float] = {}
    for key, value in fitted.items():
        if key[0] == "layer":
            _, i, cin, option = key
            table.setdefault(i, {}).setdefault(cin, {})[option] = value
        elif key[0] == "head":
            head[key[1]] = value
    return table, fitted[("stem",)], head, info


def sample_configurations(arch: ss.Architecture, n: int, seed: int) -> list[ss.Configuration]:
    """``n`` distinct configurations: the backbone, then uniformly random ones."""
    rng = random.Random(seed)
    return ss.distinct_configurations(lambda: ss.random_configuration(arch, rng), n,
                                      start=[ss.backbone_configuration(arch)])
