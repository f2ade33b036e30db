"""The self-evolutionary network's figures, measured on this machine.

    python benchmarks/bench_network.py [--checkpoint PATH] [--configs 60] [--json PATH]

Prints and writes (JSON, default out/bench_network.json):
- backbone held-out (test split) accuracy, per SNR bucket and per class;
- for >= 50 configurations (named ones + random), plus 4 configurations a profile-driven
  search would pick for each predicted speed-up of 2.0-2.3x: held-out accuracy,
  batch-1 latency (torch, the profile's thread count), Sp, Sa, C, E, and the profile's
  predictions for them;
- spans from the backbone to the most compressed variant (latency, parameter bytes) and the
  best configuration at least 2x faster than the backbone within 2.1 pp accuracy;
- predicted vs measured latency (share within 15 %): against the shipped profile's table, raw
  and scaled by the machine's speed now (`Profile.speed_factor` over reference networks from
  the profile's fit set, timed in the same rounds, none of them among the sampled ones), and
  against a table re-measured in this run, with the configurations timed in its rounds;
  the Spearman rank correlation of predicted vs measured accuracy;
- reconfiguration (get_active_subnet) median and p95 time, with the proof that it ran no
  gradient step: every stored tensor bit-identical afterwards, no .grad anywhere, no
  autograd.backward call, frozen parameters and outputs without a graph;
- per-call overhead: whole-network latency minus the sum of its blocks, and an empty module.
Other processes share these cores: the load average is recorded with every timing.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

from adaspring_ros.core.model import checkpoint as ckpt
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.scene import dataset
from adaspring_ros.testing.report_file import write_report
from adaspring_ros.training.common import correct as top1_correct
from adaspring_ros.training.common import top1
from adaspring_ros.training.profile_operators import (
    CALIBRATION_SEED,
    FIT_CONFIGS,
    LATENCY_THREADS,
    measure_latency_tables,
    sample_configurations,
    time_modules,
    wait_for_quiet,
)

PAPER_ACCURACY_BOUND_PP = 2.1
LATENCY_TOLERANCE = 0.15
#: Profile picks, along the frontier: for each predicted speed-up, the PICKS configurations
#: with the lowest predicted loss among those predicted that much faster than the backbone
#: (what the search deploys for a latency budget of backbone / speed-up).
PICK_SPEEDUPS = (2.0, 2.1, 2.2, 2.3)
PICKS = 4
#: Reference networks (from the profile's fit set) that measure the machine's speed now.
REFERENCES = 9


def named_configurations(arch: ss.Architecture) -> list[ss.Configuration]:
    n = arch.n_compressible
    names = [ss.backbone_configuration(arch)]
    names += [(ss.option_id(s, w),) * n for s in ss.STRUCTURES for w in ss.WIDTHS
              if (s, w) != ("conv", 1.0)]
    names.append((ss.SKIP,) * n)
    return names


def benchmark_configurations(arch, n_total: int, seed: int) -> list[ss.Configuration]:
    rng = random.Random(seed)
    return ss.distinct_configurations(lambda: ss.random_configuration(arch, rng), n_total,
                                      start=named_configurations(arch))


def profile_picks(profile, arch, n: int, speedup: float) -> list[ss.Configuration]:
    """What a profile-driven search would deploy: the ``n`` configurations with the lowest
    predicted accuracy loss among those predicted ``speedup`` x faster than the backbone."""
    limit = profile.predict(ss.backbone_configuration(arch)).latency_ms / speedup
    fast = []
    for config in ss.all_configurations(arch):
        metrics = profile.predict(config)
        if metrics.latency_ms <= limit:
            fast.append((metrics.accuracy_loss, config))
    return [config for _, config in sorted(fast)[:n]]


def reference_configurations(profile, fit_set, n: int, exclude) -> list[ss.Configuration]:
    """``n`` networks of the profile's own fit set, spread over its latency range and disjoint
    from ``exclude``: timed next to the sampled configurations to measure how fast the machine
    runs now relative to when the profile was measured (`Profile.speed_factor`)."""
    exclude = set(exclude)
    pool = sorted((c for c in fit_set if c not in exclude),
                  key=lambda c: profile.predict(c).latency_ms)
    return [pool[round(i * (len(pool) - 1) / (n - 1))] for i in range(n)]


def profile_fastest(profile, arch, n: int) -> list[ss.Configuration]:
    """The ``n`` configurations the profile predicts to be fastest."""
    timed = sorted((profile.predict(c).latency_ms, c) for c in ss.all_configurations(arch))
    return [c for _, c in timed[:n]]


def per_class(correct: np.ndarray, labels: np.ndarray, names) -> dict[str, float]:
    return {name: float(100.0 * correct[labels == i].mean())
            for i, name in enumerate(names) if np.any(labels == i)}


def reconfiguration_proof(net, configs, repeats: int) -> dict:
    """Time get_active_subnet and show it touched no gradient machinery."""
    before = {k: v.clone() for k, v in net.state_dict().items()}
    backward_calls = []
    original_backward = torch.autograd.backward

    def counting_backward(*args, **kwargs):
        backward_calls.append(1)
        return original_backward(*args, **kwargs)

    torch.autograd.backward = counting_backward
    try:
        times, subnets = [], []
        rng = random.Random(7)
        for _ in range(repeats):
            config = rng.choice(configs)
            start = time.perf_counter()
            subnet = net.get_active_subnet(config)
            times.append(1e3 * (time.perf_counter() - start))
            subnets.append(subnet)
        x = torch.randn(1, 1, net.arch.n_mels, net.arch.n_frames)
        outputs = [s(x) for s in subnets[:20]]  # deliberately outside no_grad
        back_up = net.get_active_subnet(ss.backbone_configuration(net.arch))
    finally:
        torch.autograd.backward = original_backward
    after = net.state_dict()
    return {
        "median_ms": float(np.median(times)),
        "p95_ms": float(np.percentile(times, 95)),
        "max_ms": float(np.max(times)),
        "n": repeats,
        "parameters_unchanged": all(torch.equal(before[k], after[k]) for k in before),
        "no_grad_on_supernet": all(p.grad is None for p in net.parameters()),
        "autograd_backward_calls": len(backward_calls),
        "subnet_parameters_frozen": all(not p.requires_grad
                                        for s in subnets for p in s.parameters()),
        "outputs_have_no_graph": all(o.grad_fn is None and not o.requires_grad for o in outputs),
        "scaled_back_up_to_backbone": back_up.config == ss.backbone_configuration(net.arch),
    }


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="network figures: accuracy, latency, spans, "
                                     "prediction quality, reconfiguration")
    parser.add_argument("--checkpoint", default=None, help="default: the shipped checkpoint")
    parser.add_argument("--configs", type=int, default=60, help="configurations to measure")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the random configs")
    parser.add_argument("--json", default="out/bench_network.json")
    parser.add_argument("--reconfigure-repeats", type=int, default=300)
    parser.add_argument("--max-load", type=float, default=None,
                        help="before timing, wait for the 1-min load average to fall below this")
    parser.add_argument("--max-wait", type=float, default=900.0, help="seconds to wait at most")
    args = parser.parse_args(argv)
    if args.configs < 50:
        parser.error("--configs must be at least 50 (the figures need >= 50)")
    return args


def backbone_report(loaded, test, threads: int) -> dict:
    """The report's header and the backbone's held-out accuracy, per SNR bucket and class."""
    x, y = test.tensors()
    net, profile = loaded.net, loaded.profile
    correct = top1_correct(net.get_active_subnet(ss.backbone_configuration(net.arch)), x, y)
    class_names = loaded.meta.get("class_names", list(dataset.sound_synth.CLASSES))
    return {
        "checkpoint": str(loaded.path), "host": platform.node(), "torch": torch.__version__,
        "threads": threads, "test_clips": len(test),
        "backbone": {
            "test_accuracy": float(100.0 * correct.mean()),
            "by_snr": dataset.accuracy_by_snr(correct, test.snr_db),
            "by_class": per_class(correct, y.numpy(), class_names),
            "val_accuracy_in_profile": profile.backbone_accuracy,
        },
    }


def choose_configurations(profile, arch, n: int, seed: int) -> tuple[list, list]:
    """(configurations to measure, the profile picks among them): named and random ones, the
    picks for each PICK_SPEEDUPS, and the profile's three predicted fastest (the span's end)."""
    configs = benchmark_configurations(arch, n, seed)
    picks: list = []
    for speedup in PICK_SPEEDUPS:
        picks += [c for c in profile_picks(profile, arch, PICKS, speedup)
                  if c not in configs and c not in picks]
    configs += picks
    configs += [c for c in profile_fastest(profile, arch, 3) if c not in configs]
    return configs, picks


@dataclass
class Timings:
    """Every latency measured for the sampled configurations, and the load while timing."""

    latencies: dict  # config -> ms, timed with the reference networks
    same_run: dict  # config -> ms, timed inside the re-measured table's rounds
    reference_ms: dict  # reference config -> ms
    speed: float  # Profile.speed_factor from the references
    fresh: object  # the profile with this run's latency table
    fresh_fit: dict
    fit_set: set
    quiet: dict
    load: float


def time_configurations(net, profile, subnets: dict, sample, args) -> Timings:
    """The sampled configurations timed first with the reference networks in the same rounds
    (what the shipped table is compared with, raw and on today's clock), then again inside the
    same interleaved rounds as a re-measured table."""
    quiet = wait_for_quiet(args.max_load, args.max_wait)
    load = os.getloadavg()[0]
    fit_list = sample_configurations(net.arch, FIT_CONFIGS, CALIBRATION_SEED)
    references = reference_configurations(profile, fit_list, REFERENCES, subnets)
    jobs = {("config", c): (s, sample) for c, s in subnets.items()}
    jobs.update({("reference", c): (net.get_active_subnet(c), sample) for c in references})
    timed = time_modules(jobs)
    reference_ms = {c: timed[("reference", c)] for c in references}
    same_run: dict = {}
    table, stem, head, fit = measure_latency_tables(net, progress=False, also_time=list(subnets),
                                                    timed=same_run)
    fresh = type(profile)(**{**profile.__dict__, "latency_ms": table, "stem_latency_ms": stem,
                             "head_latency_ms": head})
    return Timings({c: timed[("config", c)] for c in subnets}, same_run, reference_ms,
                   profile.speed_factor(reference_ms), fresh, fit, set(fit_list), quiet, load)


def configuration_row(arch, profile, c, accuracy: float, backbone_acc: float, t: Timings,
                      pick: bool) -> dict:
    cost = ss.configuration_cost(arch, c)
    pred = profile.predict(c)
    return {
        "config": list(c), "test_accuracy": accuracy,
        "accuracy_loss_pp": backbone_acc - accuracy,
        "predicted_accuracy_loss_pp": pred.accuracy_loss,
        "latency_ms": t.latencies[c], "predicted_latency_ms": pred.latency_ms,
        "predicted_latency_ms_speed_corrected": t.speed * pred.latency_ms,
        "predicted_latency_ms_same_run_table": t.fresh.predict(c).latency_ms,
        "latency_ms_same_run": t.same_run[c],
        "macs": cost.macs, "params_bytes": cost.params_bytes, "act_bytes": cost.act_bytes,
        "c_per_sp": pred.c_per_sp, "c_per_sa": pred.c_per_sa, "energy": pred.energy,
        "profile_pick": pick,
    }


def spans(rows: list[dict]) -> dict:
    """Backbone over the fastest and the smallest, and what is 2x faster within the bound."""
    base_row = rows[0]
    fastest = min(rows, key=lambda r: r["latency_ms"])
    smallest = min(rows, key=lambda r: r["params_bytes"])
    within_bound = [r for r in rows
                    if r["latency_ms"] <= base_row["latency_ms"] / 2
                    and r["accuracy_loss_pp"] <= PAPER_ACCURACY_BOUND_PP]
    return {
        "latency_backbone_over_fastest": base_row["latency_ms"] / fastest["latency_ms"],
        "fastest_config": fastest["config"],
        "params_backbone_over_smallest": base_row["params_bytes"] / smallest["params_bytes"],
        "smallest_config": smallest["config"],
        "configs_2x_faster_within_2.1pp": len(within_bound),
        "best_2x_faster_within_2.1pp": max(
            within_bound, key=lambda r: base_row["latency_ms"] / r["latency_ms"], default=None),
    }


def latency_fit(rows: list[dict], key: str, measured: str = "latency_ms") -> dict:
    errors = np.array([abs(r[key] - r[measured]) / r[measured] for r in rows])
    return {"share_within_15pct": float(np.mean(errors <= LATENCY_TOLERANCE)),
            "median_abs_error_pct": float(100 * np.median(errors)),
            "max_abs_error_pct": float(100 * np.max(errors))}


def prediction_report(rows: list[dict], profile, t: Timings, configs) -> dict:
    """How well the profile's latency tables and accuracy ranking predict what was measured."""
    rho = stats.spearmanr([-r["predicted_accuracy_loss_pp"] for r in rows],
                          [r["test_accuracy"] for r in rows]).statistic
    return {
        "latency_shipped_table": latency_fit(rows, "predicted_latency_ms"),
        "latency_shipped_table_speed_corrected": latency_fit(
            rows, "predicted_latency_ms_speed_corrected"),
        "speed_factor": t.speed,
        "speed_references": [{"config": list(c), "ms": ms,
                              "predicted_ms": profile.predict(c).latency_ms}
                             for c, ms in t.reference_ms.items()],
        "latency_same_run_table": latency_fit(rows, "predicted_latency_ms_same_run_table"),
        "latency_same_run_table_same_rounds": latency_fit(
            rows, "predicted_latency_ms_same_run_table", "latency_ms_same_run"),
        "accuracy_spearman": float(rho),
        "configs_in_table_fit_set": [list(c) for c in configs if c in t.fit_set],
        "shipped_table_loadavg": profile.meta.get("latency_loadavg_1min"),
        "shipped_table_fit": profile.meta.get("latency_fit"),
        "same_run_table_fit": t.fresh_fit,
        "loadavg_1min_during_latency": t.load,
        "wait_for_quiet": t.quiet,
    }


def call_overhead(backbone_net, sample, whole_ms: float) -> dict:
    """Whole-network latency against the sum of its blocks timed alone, and an empty call."""
    parts = {"stem": (backbone_net.stem, sample)}
    h = backbone_net.stem(sample)
    for i, block in enumerate(backbone_net.blocks):
        parts[f"block{i + 1}"] = (block, h)
        h = block(h)
    parts["head"] = (backbone_net.head, h)
    parts["empty"] = (torch.nn.Identity(), sample)
    part_ms = time_modules(parts)
    summed = sum(v for k, v in part_ms.items() if k != "empty")
    return {"backbone_whole_ms": whole_ms, "backbone_sum_of_blocks_ms": summed,
            "whole_minus_blocks_ms": whole_ms - summed, "empty_module_call_ms": part_ms["empty"]}


def main(argv=None) -> int:
    args = parse_args(argv)
    load_start = os.getloadavg()
    loaded = ckpt.load(args.checkpoint)
    net, profile, arch = loaded.net, loaded.profile, loaded.net.arch
    # Measure with the thread count the profile was measured with, so the two compare.
    threads = int(profile.meta.get("latency_threads", LATENCY_THREADS))
    torch.set_num_threads(threads)
    try:
        test = dataset.checkpoint_split(loaded.meta, "test")
    except dataset.DatasetError as exc:
        raise SystemExit(str(exc)) from None
    x, y = test.tensors()
    report = backbone_report(loaded, test, threads)
    configs, picks = choose_configurations(profile, arch, args.configs, args.seed)
    subnets = {c: net.get_active_subnet(c) for c in configs}
    accuracies = {c: top1(s, x, y) for c, s in subnets.items()}
    sample = torch.rand(1, 1, arch.n_mels, arch.n_frames)
    t = time_configurations(net, profile, subnets, sample, args)
    backbone_acc = report["backbone"]["test_accuracy"]
    rows = [configuration_row(arch, profile, c, accuracies[c], backbone_acc, t, c in picks)
            for c in configs]
    backbone = ss.backbone_configuration(arch)
    report.update({
        "configurations": rows, "spans": spans(rows),
        "prediction": prediction_report(rows, profile, t, configs),
        "reconfigure": reconfiguration_proof(net, configs, args.reconfigure_repeats),
        "overhead": call_overhead(subnets[backbone], sample, t.latencies[backbone]),
        "loadavg_1min": {"start": load_start[0], "end": os.getloadavg()[0]},
    })
    print_report(report)
    write_report(args.json, report)
    return 0


def print_report(r: dict) -> None:
    b = r["backbone"]
    print(f"checkpoint {r['checkpoint']}  (torch {r['torch']}, {r['threads']} threads, "
          f"load {r['loadavg_1min']['start']:.2f} -> {r['loadavg_1min']['end']:.2f})")
    print(f"\nbackbone held-out accuracy: {b['test_accuracy']:.2f} % on {r['test_clips']} clips "
          f"(target >= 95 %)")
    for bucket, v in b["by_snr"].items():
        print(f"  SNR {bucket:>12}: {v['accuracy']:6.2f} %  (n={v['n']})")
    print("  per class: " + ", ".join(f"{k} {v:.1f}" for k, v in b["by_class"].items()))
    print_configurations(r["configurations"])
    print_spans(r["spans"], r["configurations"][0])
    print_prediction(r["prediction"])
    print_reconfiguration(r["reconfigure"], r["overhead"])


def print_configurations(rows: list[dict]) -> None:
    print(f"\n{len(rows)} configurations on held-out data (first = backbone, * = profile pick):")
    print(f"{'configuration':44} {'acc%':>6} {'loss':>6} {'pred':>6} {'ms':>6} {'pred':>6} "
          f"{'Sp kB':>7} {'Sa kB':>7} {'MMAC':>6} {'E':>6}")
    for row in rows:
        mark = "*" if row["profile_pick"] else " "
        print(f"{','.join(row['config']) + mark:44} {row['test_accuracy']:6.2f} "
              f"{row['accuracy_loss_pp']:6.2f} {row['predicted_accuracy_loss_pp']:6.2f} "
              f"{row['latency_ms']:6.3f} {row['predicted_latency_ms']:6.3f} "
              f"{row['params_bytes'] / 1e3:7.1f} {row['act_bytes'] / 1e3:7.1f} "
              f"{row['macs'] / 1e6:6.2f} {row['energy']:6.1f}")


def print_spans(s: dict, backbone_row: dict) -> None:
    print(f"\nlatency span backbone/fastest: {s['latency_backbone_over_fastest']:.2f}x "
          f"(target >= 3x; fastest {','.join(s['fastest_config'])})")
    print(f"parameter-bytes span backbone/smallest: {s['params_backbone_over_smallest']:.2f}x "
          f"(target >= 4x; smallest {','.join(s['smallest_config'])})")
    best = s["best_2x_faster_within_2.1pp"]
    if best:
        print(f">= 2x faster within {PAPER_ACCURACY_BOUND_PP} pp: "
              f"{s['configs_2x_faster_within_2.1pp']} configs; best "
              f"{','.join(best['config'])}: "
              f"{backbone_row['latency_ms'] / best['latency_ms']:.2f}x faster, "
              f"loses {best['accuracy_loss_pp']:.2f} pp")
    else:
        print(f"no configuration is >= 2x faster within {PAPER_ACCURACY_BOUND_PP} pp")


def print_prediction(p: dict) -> None:
    for name, key in (("shipped profile table", "latency_shipped_table"),
                      (f"shipped table x speed factor {p['speed_factor']:.3f} from "
                       f"{len(p['speed_references'])} reference networks timed alongside",
                       "latency_shipped_table_speed_corrected"),
                      ("table re-measured in this run", "latency_same_run_table"),
                      ("re-measured table, configurations timed in its rounds",
                       "latency_same_run_table_same_rounds")):
        fit = p[key]
        print(f"latency prediction ({name}): {100 * fit['share_within_15pct']:.0f} % within "
              f"15 % (target >= 90 %), median error {fit['median_abs_error_pct']:.1f} %, "
              f"max {fit['max_abs_error_pct']:.1f} %")
    print(f"  sampled configurations the tables were fitted to: "
          f"{[','.join(c) for c in p['configs_in_table_fit_set']]}")
    print(f"  load during timing {p['loadavg_1min_during_latency']:.2f} (waited "
          f"{p['wait_for_quiet']['waited_s']} s for < {p['wait_for_quiet']['max_load']}); "
          f"shipped table measured at load {p['shipped_table_loadavg']}")
    print(f"accuracy prediction: Spearman {p['accuracy_spearman']:.3f} (target >= 0.8)")


def print_reconfiguration(c: dict, o: dict) -> None:
    print(f"\nreconfigure (get_active_subnet): median {c['median_ms']:.3f} ms, p95 "
          f"{c['p95_ms']:.3f} ms over {c['n']} calls")
    print(f"  parameters unchanged: {c['parameters_unchanged']}, no .grad: "
          f"{c['no_grad_on_supernet']}, autograd.backward calls: "
          f"{c['autograd_backward_calls']}, subnet params frozen: "
          f"{c['subnet_parameters_frozen']}, outputs without graph: "
          f"{c['outputs_have_no_graph']}, back up to backbone: "
          f"{c['scaled_back_up_to_backbone']}")
    print(f"per-call overhead: backbone whole {o['backbone_whole_ms']:.3f} ms vs sum of blocks "
          f"{o['backbone_sum_of_blocks_ms']:.3f} ms; empty module call "
          f"{o['empty_module_call_ms'] * 1e3:.1f} us")


if __name__ == "__main__":
    sys.exit(main())
