"""Reduced-run comparison of backbone channel plans for δ4 (issue 14): plain vs residual.

    python benchmarks/bench_depth.py [--plans plain,residual] [--backbone-epochs 8]
        [--distil-epochs 2] [--train-clips 3300] [--out runs/bench_depth.json]

For each plan, trains exactly as train_all does (seeded; backbone, transforms, distillation; no
profile), then on the test split prints: backbone accuracy, the accuracy of each single-layer
option (every other layer conv@1.0), and the (accuracy, latency) front of every configuration
made of conv@w and skip (5^4 = 625): whether a configuration with skip is on it, and the best
accuracy margin of skip configurations over δ3-only ones at matched or lower latency. Latency:
1 torch thread, batch 1, median of all calls over interleaved shuffled rounds of the deployed
subnets. One run per plan, the load average printed with every figure.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import time
from pathlib import Path
from types import SimpleNamespace

import torch

from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.supernet import SelfEvolutionaryNet
from adaspring_ros.core.scene import dataset
from adaspring_ros.training import backbone
from adaspring_ros.training.common import seed_everything, top1
from adaspring_ros.training.train_all import (Stages, make_architecture, reduce_training,
                                              train_network)


def load() -> str:
    return "load " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def front(points: dict) -> set:
    """Configurations not dominated in (higher accuracy, lower latency)."""
    out = set()
    for c, (a, t) in points.items():
        if not any((a2 >= a and t2 <= t) and (a2 > a or t2 < t)
                   for c2, (a2, t2) in points.items() if c2 != c):
            out.add(c)
    return out


@torch.inference_mode()
def time_configs(net, configs, x, rounds: int, calls: int, seed: int) -> dict:
    torch.set_num_threads(1)
    subnets = {c: net.get_active_subnet(c) for c in configs}
    times = {c: [] for c in configs}
    rng = random.Random(seed)
    order = list(configs)
    for _ in range(rounds):
        rng.shuffle(order)
        for c in order:
            m = subnets[c]
            m(x)
            for _ in range(calls):
                t0 = time.perf_counter()
                m(x)
                times[c].append(time.perf_counter() - t0)
    return {c: 1e3 * statistics.median(v) for c, v in times.items()}


@torch.inference_mode()
def tree_accuracy(net, choices, x, y) -> dict:
    """Top-1 accuracy (%) of every configuration in choices^n, sharing each prefix's
    activations (the deployed blocks are the ones get_active_subnet builds)."""
    arch = net.arch
    accs = {}

    def walk(prefix, h, cin):
        i = len(prefix) + 1
        if i > arch.n_compressible:
            logits = net.extract_head(cin)(h)
            accs[prefix] = float(100.0 * (logits.argmax(1) == y).float().mean())
            return
        for option in choices:
            block = net.layers[i - 1].extract(option, cin)
            walk(prefix + (option,), block(h),
                 ss.layer_out_channels(arch, i, option, cin))

    walk((), net.extract_stem()(x), arch.layers[0].out_channels)
    return accs


def run_plan(plan: str, args, data) -> dict:
    stages = Stages()
    gen = seed_everything(args.seed)
    arch = make_architecture(plan, len(dataset.sound_synth.CLASSES))
    ns = SimpleNamespace(backbone_epochs=args.backbone_epochs, distil_epochs=args.distil_epochs,
                         no_progress=True, drop_depth=args.drop_depth)
    print(f"[{plan}] training ({load()})", flush=True)
    trained = train_network(arch, data, ns, stages, gen)
    net = trained["net"].eval()
    torch.save({"arch": arch.to_dict(), "state_dict": net.state_dict()},
               Path(args.out).with_suffix(f".{plan}.pt"))
    print(f"[{plan}] skip identity at layer 2 after conv@0.5: "
          f"{ss.skip_is_identity(arch, 2, 48)}", flush=True)
    torch.set_num_threads(2)
    x, y = data.test.tensors()

    def acc(config):
        return top1(net.get_active_subnet(config), x, y)

    base = ss.backbone_configuration(arch)
    res = {"plan": plan, "channels": list(arch.channels), "residual": arch.residual,
           "stages": stages.records, "backbone_acc": acc(base), "single": {}}
    for i in range(1, arch.n_compressible + 1):
        for option in ss.OPTIONS:
            config = list(base)
            config[i - 1] = option
            res["single"][f"{i}:{option}"] = acc(config)
    print(f"[{plan}] backbone test {res['backbone_acc']:.2f} % ({load()})")
    for i in range(1, arch.n_compressible + 1):
        kind = "identity" if ss.skip_is_identity(arch, i, arch.layers[i].in_channels) \
            else "adapter"
        a = res["single"][f"{i}:skip"]
        print(f"[{plan}] skip layer {i} ({kind}): {a:.2f} % (loss "
              f"{res['backbone_acc'] - a:.2f} pp)")
    for s in ("conv", "fire", "svd", "dws", "skip"):
        vals = [v for k, v in res["single"].items() if k.split(":")[1].split("@")[0] == s]
        print(f"[{plan}] mean single-layer accuracy {s}: {statistics.mean(vals):.2f} %")
    choices = [ss.option_id("conv", w) for w in ss.WIDTHS] + [ss.SKIP]
    configs = list(itertools.product(choices, repeat=arch.n_compressible))
    accs = tree_accuracy(net, choices, x, y)
    print(f"[{plan}] {len(configs)} conv/skip configurations scored ({load()})", flush=True)
    x1 = x[:1].clone()
    lat = time_configs(net, configs, x1, args.rounds, args.calls, args.seed)
    print(f"[{plan}] latency measured ({load()})", flush=True)
    pts = {c: (accs[c], lat[c]) for c in configs}
    fr = front(pts)
    with_skip = [c for c in fr if ss.SKIP in c]
    ident = [c for c in with_skip
             if all(ss.skip_is_identity(arch, i, cin)
                    for i, (o, cin) in enumerate(zip(c, ss.layer_input_channels(arch, c),
                                                     strict=True), start=1) if o == ss.SKIP)]
    delta3 = [c for c in configs if ss.SKIP not in c]
    margins = []
    for c in configs:
        if ss.SKIP not in c:
            continue
        rivals = [accs[d] for d in delta3 if lat[d] <= lat[c]]
        if rivals:
            margins.append((accs[c] - max(rivals), c))
    best = max(margins) if margins else (float("nan"), None)
    res.update({
        "backbone_ms": lat[base],
        "skip_single_ms": {str(i): lat[tuple(ss.SKIP if j == i else ss.UNCOMPRESSED
                                              for j in range(1, arch.n_compressible + 1))]
                           for i in range(1, arch.n_compressible + 1)},
        "front": [[list(c), accs[c], lat[c]] for c in sorted(fr, key=lambda c: lat[c])],
        "front_size": len(fr), "front_with_skip": len(with_skip),
        "front_with_identity_skip": len(ident),
        "best_skip_margin_pp": best[0], "best_skip_margin_config": best[1],
        "fastest_ms": min(lat.values()),
    })
    print(f"[{plan}] backbone {lat[base]:.3f} ms; single skip ms "
          f"{res['skip_single_ms']}; fastest {res['fastest_ms']:.3f} ms")
    print(f"[{plan}] front: {len(fr)} configurations, {len(with_skip)} with skip "
          f"({len(ident)} all-identity skips); best skip margin vs δ3 at <= latency "
          f"{best[0]:+.2f} pp {best[1]} ({load()})")
    for c in sorted(fr, key=lambda c: lat[c]):
        print(f"    {accs[c]:6.2f} %  {lat[c]:.3f} ms  {c}")
    return res


def latency_only(args) -> dict:
    """Both plans' backbone and skip configurations timed in the same interleaved rounds, on
    weights drawn at random (latency does not depend on the values; accuracy is not measured)."""
    nets, configs = {}, []
    for plan in args.plans.split(","):
        arch = make_architecture(plan, len(dataset.sound_synth.CLASSES))
        torch.manual_seed(args.seed)
        net = SelfEvolutionaryNet(arch).eval()
        with torch.no_grad():
            for p in net.parameters():
                p.normal_(0, 0.05)
        nets[plan] = net
        n = arch.n_compressible
        base = ss.backbone_configuration(arch)
        plan_configs = [base, ("conv@0.25",) * n, ("conv@0.5",) * n]
        plan_configs += [tuple(ss.SKIP if j == i else ss.UNCOMPRESSED for j in range(n))
                         for i in range(n)]
        if arch.residual:
            plan_configs.append(tuple(ss.SKIP if arch.is_residual(j + 1) else ss.UNCOMPRESSED
                                      for j in range(n)))
        configs += [(plan, c) for c in plan_configs]
    x = torch.randn(1, 1, 40, 51)
    torch.set_num_threads(1)
    subnets = {(p, c): nets[p].get_active_subnet(c) for p, c in configs}
    times = {k: [] for k in configs}
    rng = random.Random(args.seed)
    order = list(configs)
    print(f"timing {len(configs)} configurations ({load()})", flush=True)
    with torch.inference_mode():
        for _ in range(args.rounds):
            rng.shuffle(order)
            for k in order:
                m = subnets[k]
                m(x)
                for _ in range(args.calls):
                    t0 = time.perf_counter()
                    m(x)
                    times[k].append(time.perf_counter() - t0)
    out = {}
    for plan, c in configs:
        ms = 1e3 * statistics.median(times[(plan, c)])
        out[f"{plan} {c}"] = ms
        print(f"  {plan:8s} {ms:.3f} ms  {c}")
    print(f"done ({load()})")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plans", default="plain,residual")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backbone-epochs", type=int, default=8)
    parser.add_argument("--distil-epochs", type=int, default=2)
    parser.add_argument("--train-clips", type=int, default=3300)
    parser.add_argument("--drop-depth", type=float, default=backbone.DROP_DEPTH)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--out", default="runs/bench_depth.json")
    parser.add_argument("--latency-only", action="store_true",
                        help="time both plans on random weights in the same rounds, no training")
    args = parser.parse_args()
    if args.latency_only:
        res = latency_only(args)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
        return
    data = dataset.load_synthetic(args.seed, progress=False)
    data = reduce_training(data, args.train_clips, args.seed)
    results = [run_plan(p, args, data) for p in args.plans.split(",")]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"args": vars(args), "results": results}, indent=1,
                                         default=str) + "\n")


if __name__ == "__main__":
    main()
