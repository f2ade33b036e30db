"""Does each operator family earn its place beside width-only (δ3) compression? Measured.

    python benchmarks/bench_families.py [--checkpoint PATH] [--width-configs 0]
                                        [--family-configs 16] [--contexts 120]
                                        [--energy-objective joules|paper] [--json PATH]

Issue 14's per-family figures, on the real torch model: held-out accuracy and batch-1 latency
MEASURED for every configuration below, all timed in the same interleaved rounds
(testing/held_out, as bench_runtime3c measures), parameter bytes Sp exact. The held-out set is
bench_runtime3c's: the test split plus ``--held-out-clips`` fresh clips over four draws (0: the
825-clip test split alone, as before session 10, where one configuration's accuracy is +-1.5 pp
at 95 % and the families' margins over δ3 of 0.1-0.4 pp are far inside it).
- Configurations: every width-only (δ3) configuration (4^N; ``--width-configs K`` measures only
  K from the predicted front instead, plus the uniform widths, which can only flatter the
  families); for each family (δ1 fire, δ2 svd/dws, δ4 skip, each combined with δ3 only) its
  best candidates by the profile's PREDICTION (testing/operator_families.predicted_front:
  Pareto-optimal in predicted (A loss, T) or (A loss, Sp), spread along the predicted
  latency); Runtime3C's choices on the contexts and, per context, the best δ3-only
  configuration by the same Eq. (1) objective (exhaustive over the width-only ones).
- Per family: its most accurate configuration at matched measured latency (the best margin
  over the most accurate δ3-only configuration no slower) and at matched Sp; how many of its
  configurations beat δ3 there; how many sit on the measured Pareto front of everything
  measured, in (accuracy, latency) and (accuracy, Sp).
- Per family, over the contexts of bench_runtime3c (testing/search_contexts): the share where
  Runtime3C's choice uses it and, there, the measured accuracy difference, latency ratio, Sp
  ratio and energy-per-window ratio (core/model/energy.py's model evaluated at the MEASURED
  latency) against that context's best δ3-only configuration.
Other processes share these cores: the load average is printed beside the timings.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from tqdm import tqdm

from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.energy import WindowEnergy
from adaspring_ros.core.search import runtime3c
from adaspring_ros.core.search.objective import ENERGY_OBJECTIVES, Evaluator
from adaspring_ros.testing.held_out import add_held_out_argument, held_out_set, measure_configs
from adaspring_ros.testing.operator_families import (
    FAMILIES,
    WIDTH_ONLY,
    families_used,
    is_width_only,
    matched,
    pareto_front,
    predicted_front,
)
from adaspring_ros.testing.report_file import write_report
from adaspring_ros.testing.search_contexts import DEFAULT_CONTEXTS, DEFAULT_SEED, make_contexts

WINDOW = WindowEnergy()  # the search's default energy constants
#: Issue 14's goal: each family chosen by Runtime3C in at least this share of the contexts.
CHOSEN_GOAL = 0.10


def width_only_configurations(arch) -> list[ss.Configuration]:
    import itertools
    widths = [ss.option_id("conv", w) for w in ss.WIDTHS]
    return list(itertools.product(widths, repeat=arch.n_compressible))


def best_width_only(profile, ctx, width_all, objective: str) -> ss.Configuration:
    """The width-only configuration Eq. (1) ranks first for ``ctx`` (Deb's rule, as every
    search): what Runtime3C would deploy if δ3 were the only operator."""
    ev = Evaluator(profile, ctx.validated(), energy_objective=objective)
    return min((ev.evaluate(c) for c in width_all), key=lambda e: e.rank_key).config


def choose(profile, contexts, k_width: int, k_family: int, objective: str) -> dict:
    """Every configuration to measure, by role (a configuration may have several)."""
    arch = profile.arch
    width_all = width_only_configurations(arch)
    uniform = [(ss.option_id("conv", w),) * arch.n_compressible for w in ss.WIDTHS]
    chosen = [runtime3c.search(profile, ctx, seed=i, energy_objective=objective).config
              for i, ctx in enumerate(tqdm(contexts, desc="Runtime3C", unit="ctx",
                                           file=sys.stderr))]
    width_chosen = [best_width_only(profile, ctx, width_all, objective) for ctx in contexts]
    width = (set(predicted_front(profile, WIDTH_ONLY, k_width)) | set(uniform) if k_width
             else set(width_all)) | set(width_chosen)
    families = {name: set(predicted_front(profile, WIDTH_ONLY | members, k_family,
                                          require=members))
                for name, members in FAMILIES.items()}
    for config in chosen:  # Runtime3C's choices join the sets of what they use
        if is_width_only(config):
            width.add(config)
        for name in families_used(config):
            families[name].add(config)
    return {"width": sorted(width), "families": {k: sorted(v) for k, v in families.items()},
            "chosen": chosen, "width_chosen": width_chosen}


def family_report(sets, accuracy, latency, sp) -> dict:
    """Matched comparisons and Pareto membership per family, on the measured numbers."""
    everything = set(sets["width"]).union(*sets["families"].values())
    front_t = pareto_front({c: (accuracy[c], latency[c]) for c in everything})
    front_p = pareto_front({c: (accuracy[c], sp[c]) for c in everything})
    width_t = {c: (accuracy[c], latency[c]) for c in sets["width"]}
    width_p = {c: (accuracy[c], sp[c]) for c in sets["width"]}
    out = {"width_only": {"measured": len(sets["width"]),
                          "on_front_latency": len(front_t & set(sets["width"])),
                          "on_front_sp": len(front_p & set(sets["width"]))}}
    for name, configs in sets["families"].items():
        by_t = matched({c: (accuracy[c], latency[c]) for c in configs}, width_t)
        by_p = matched({c: (accuracy[c], sp[c]) for c in configs}, width_p)
        out[name] = {
            "measured": len(configs),
            "on_front_latency": sorted(list(c) for c in front_t & set(configs)),
            "on_front_sp": sorted(list(c) for c in front_p & set(configs)),
            "matched_latency": [_matched_json(m) for m in by_t],
            "matched_sp": [_matched_json(m) for m in by_p],
            "beats_width_at_matched_latency": sum(1 for m in by_t if m.width_config
                                                  and m.margin_pp > 0),
            "beats_width_at_matched_sp": sum(1 for m in by_p if m.width_config
                                             and m.margin_pp > 0),
            "faster_than_every_width": sum(1 for m in by_t if m.width_config is None),
            "smaller_than_every_width": sum(1 for m in by_p if m.width_config is None),
        }
    return out


def _matched_json(m) -> dict:
    return {"config": list(m.config), "accuracy_pct": m.accuracy, "cost": m.cost,
            "width_config": list(m.width_config) if m.width_config else None,
            "width_accuracy_pct": m.width_accuracy if m.width_config else None,
            "margin_pp": m.margin_pp if m.width_config else None}


def window_mj(arch, config, latency_ms: float) -> float:
    """Energy of one window by core/model/energy.py's model at a measured latency, mJ."""
    cost = ss.configuration_cost(arch, config)
    return WINDOW.joules(cost.macs, cost.params_bytes, cost.act_bytes, latency_ms) * 1e3


def choice_report(sets, accuracy, latency, sp, mj) -> dict:
    """Per family: share of contexts whose Runtime3C choice uses it, and there the measured
    difference to that context's best width-only configuration."""
    n = len(sets["chosen"])
    out = {}
    for name in list(FAMILIES) + ["width only"]:
        pairs = [(c, w) for c, w in zip(sets["chosen"], sets["width_chosen"], strict=True)
                 if (is_width_only(c) if name == "width only" else name in families_used(c))]
        entry = {"contexts": len(pairs), "share": len(pairs) / max(1, n),
                 "distinct_configs": len({c for c, _ in pairs})}
        if pairs and name != "width only":
            entry |= {
                "accuracy_diff_pp_mean": statistics.mean(accuracy[c] - accuracy[w]
                                                         for c, w in pairs),
                "latency_ratio_median": statistics.median(latency[c] / latency[w]
                                                          for c, w in pairs),
                "sp_ratio_median": statistics.median(sp[c] / sp[w] for c, w in pairs),
                "energy_ratio_median": statistics.median(mj[c] / mj[w] for c, w in pairs),
                "as_accurate_and_no_slower": sum(1 for c, w in pairs
                                                 if accuracy[c] >= accuracy[w]
                                                 and latency[c] <= latency[w]),
            }
        out[name] = entry
    return out


def print_report(rep) -> None:
    print(f"{rep['source']}; {rep['configs_measured']} configurations measured (held-out "
          f"accuracy on {rep['held_out_clips']} clips in {len(rep['held_out_draws'])} draws, "
          f"batch-1 latency, {rep['threads']} torch thread(s), interleaved rounds); "
          f"load average {rep['loadavg_1min']['start']:.2f} at start, "
          f"{rep['loadavg_1min']['latency']:.2f} when timing started, "
          f"{rep['loadavg_1min']['end']:.2f} at the end on {rep['cpus']} CPUs; "
          f"{rep['wall_s']:.0f} s wall")
    b = rep["backbone"]
    print(f"backbone: {b['accuracy_pct']:.2f} % held-out, {b['latency_ms']:.3f} ms, "
          f"Sp {b['sp_bytes'] / 1e3:.0f} kB")
    fam = rep["families"]
    w = fam["width_only"]
    print(f"\nδ3 only: {w['measured']} configurations measured, {w['on_front_latency']} on the "
          f"measured (accuracy, latency) front, {w['on_front_sp']} on the (accuracy, Sp) front")
    print(f"\n{'':16} {'on front':>10} {'at matched latency':>33} {'at matched Sp':>33}")
    print(f"{'family':12} {'n':>3} {'A,T':>4} {'A,Sp':>5} {'beats δ3':>9} {'best margin':>12} "
          f"{'faster':>8} {'beats δ3':>9} {'best margin':>12} {'smaller':>8}")
    for name in FAMILIES:
        f = fam[name]
        n = f["measured"]
        print(f"{name:12} {n:3d} {len(f['on_front_latency']):4d} {len(f['on_front_sp']):5d} "
              f"{f['beats_width_at_matched_latency']:5d}/{n:<3d} "
              f"{_margin(f['matched_latency']):>12} {f['faster_than_every_width']:8d} "
              f"{f['beats_width_at_matched_sp']:5d}/{n:<3d} {_margin(f['matched_sp']):>12} "
              f"{f['smaller_than_every_width']:8d}")
    on_front = [name for name in FAMILIES
                if fam[name]["on_front_latency"] or fam[name]["on_front_sp"]]
    print(f"issue 14 goal, every family on a measured front: "
          f"{'met' if len(on_front) == len(FAMILIES) else 'not met'} (on one: "
          f"{', '.join(on_front) or 'none'})")
    print("(on front: the family's configurations on the Pareto front of everything measured, "
          "in (accuracy, latency) and (accuracy, Sp); beats δ3: configurations more accurate "
          "than every measured δ3-only one that is no slower (no larger); best margin: the "
          "largest accuracy difference to that δ3-only configuration, pp; faster / smaller: "
          "configurations faster (smaller) than every measured δ3-only one, so unmatched)")
    for name in FAMILIES:
        for key, unit, label in (("matched_latency", "ms", "latency"), ("matched_sp", "B", "Sp")):
            m = _best_with_width(fam[name][key])
            if m is None:
                continue
            cost = f"{m['cost']:.3f} ms" if unit == "ms" else f"{m['cost'] / 1e3:.0f} kB"
            print(f"  {name} best at matched {label}: [{' '.join(m['config'])}] "
                  f"{m['accuracy_pct']:.2f} % at {cost} vs δ3 [{' '.join(m['width_config'])}] "
                  f"{m['width_accuracy_pct']:.2f} % ({m['margin_pp']:+.2f} pp)")
    measured = {tuple(r["config"]): r for r in rep["measured"]}
    width = [r for r in rep["measured"] if not r["families"]]
    for name in FAMILIES:
        for key, field, label in (("matched_latency", "latency_ms", "faster"),
                                  ("matched_sp", "sp_bytes", "smaller")):
            edge = min(width, key=lambda r, f=field: (r[f], -r["accuracy_pct"]))
            for m in (r for r in fam[name][key] if r["width_config"] is None):
                r = measured[tuple(m["config"])]
                print(f"  {name} {label} than every δ3-only configuration: "
                      f"[{' '.join(m['config'])}] {r['accuracy_pct']:.2f} % at "
                      f"{_cost(r, field)} vs the {'fastest' if label == 'faster' else 'smallest'}"
                      f" δ3 [{' '.join(edge['config'])}] {edge['accuracy_pct']:.2f} % at "
                      f"{_cost(edge, field)}")
    ch = rep["choices"]
    print(f"\nRuntime3C's choices over {rep['contexts']} contexts (bench_runtime3c's, seed "
          f"{rep['seed']}; {rep.get('energy_objective', 'joules')} energy objective), against "
          "each context's best δ3-only configuration (same Eq. (1)):")
    print(f"{'family':12} {'share':>6} {'distinct':>8} {'Δ acc pp':>9} {'T ratio':>8} "
          f"{'Sp ratio':>8} {'E ratio':>8} {'>=acc & <=T':>11}")
    for name, e in ch.items():
        if "accuracy_diff_pp_mean" in e:
            print(f"{name:12} {100 * e['share']:5.1f}% {e['distinct_configs']:8d} "
                  f"{e['accuracy_diff_pp_mean']:+9.2f} {e['latency_ratio_median']:8.3f} "
                  f"{e['sp_ratio_median']:8.3f} {e['energy_ratio_median']:8.3f} "
                  f"{e['as_accurate_and_no_slower']:5d}/"
                  f"{e['contexts']:<5d}")
        else:
            print(f"{name:12} {100 * e['share']:5.1f}% {e['distinct_configs']:8d} "
                  f"{'-':>9} {'-':>8} {'-':>8} {'-':>8} {'-':>11}")
    print("(Δ acc: measured held-out accuracy of the choice minus that of the context's best "
          "δ3-only configuration, mean; T, Sp and E ratio: choice / δ3-only, median, E = "
          "energy per window by the energy model at the measured latency; "
          ">=acc & <=T: contexts where the choice is at least as accurate and no slower, "
          "measured. Shares add to more than 100 % when a choice mixes families)")
    chosen = [name for name in FAMILIES if ch[name]["share"] >= CHOSEN_GOAL]
    print(f"issue 14 goal, every family chosen in >= {100 * CHOSEN_GOAL:.0f} % of contexts: "
          f"{'met' if len(chosen) == len(FAMILIES) else 'not met'} (chosen that often: "
          f"{', '.join(chosen) or 'none'})")


def _cost(row, field: str) -> str:
    return f"{row[field]:.3f} ms" if field == "latency_ms" else f"{row[field] / 1e3:.0f} kB"


def _margin(rows) -> str:
    best = _best_with_width(rows)
    return f"{best['margin_pp']:+.2f} pp" if best else "-"


def _best_with_width(rows):
    with_width = [r for r in rows if r["width_config"] is not None]
    return max(with_width, key=lambda r: r["margin_pp"]) if with_width else None


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="default: the shipped checkpoint")
    parser.add_argument("--width-configs", type=int, default=0,
                        help="δ3-only configurations from the predicted front (0: all)")
    parser.add_argument("--family-configs", type=int, default=16,
                        help="configurations per family from its predicted front")
    parser.add_argument("--contexts", type=int, default=DEFAULT_CONTEXTS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--energy-objective", choices=ENERGY_OBJECTIVES,
                        default=ENERGY_OBJECTIVES[0],
                        help="Eq. (1)'s energy term for Runtime3C and the δ3-only choices")
    add_held_out_argument(parser)
    parser.add_argument("--json", default="out/bench_families.json")
    args = parser.parse_args(argv)
    if min(args.family_configs, args.contexts) < 1 or min(args.width_configs,
                                                          args.held_out_clips) < 0:
        parser.error("--family-configs and --contexts must be >= 1, --width-configs and "
                     "--held-out-clips >= 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from adaspring_ros.core.model import checkpoint as ckpt
    from adaspring_ros.core.scene import dataset
    load_start = os.getloadavg()[0]
    wall = time.perf_counter()
    try:
        loaded = ckpt.load(args.checkpoint)
        held = held_out_set(loaded.meta, extra=args.held_out_clips)
    except (ckpt.CheckpointError, dataset.DatasetError) as exc:
        raise SystemExit(str(exc)) from None
    profile, arch = loaded.profile, loaded.profile.arch
    contexts = make_contexts(profile, args.contexts, args.seed)
    runtime3c.prepare(profile, args.energy_objective)
    sets = choose(profile, contexts, args.width_configs, args.family_configs,
                  args.energy_objective)
    backbone = ss.backbone_configuration(arch)
    configs = sorted(set(sets["width"]).union(*sets["families"].values()) | {backbone})
    threads = int(profile.meta.get("latency_threads", 1))
    measured = measure_configs(loaded.net, held.data, configs, threads)
    accuracy, latency, load_latency = measured.accuracy, measured.latency, measured.load
    sp = {c: ss.configuration_cost(arch, c).params_bytes for c in configs}
    mj = {c: window_mj(arch, c, latency[c]) for c in configs}
    report = {
        "source": f"checkpoint {loaded.path}", "seed": args.seed, "contexts": len(contexts),
        "energy_objective": args.energy_objective,
        "threads": threads, "cpus": os.cpu_count(), "configs_measured": len(configs),
        "held_out_clips": len(held.data.labels), "held_out_draws": [list(d) for d in held.draws],
        "backbone": {"accuracy_pct": accuracy[backbone], "latency_ms": latency[backbone],
                     "sp_bytes": sp[backbone]},
        "families": family_report(sets, accuracy, latency, sp),
        "choices": choice_report(sets, accuracy, latency, sp, mj),
        "measured": [{"config": list(c), "accuracy_pct": accuracy[c], "latency_ms": latency[c],
                      "sp_bytes": sp[c], "families": families_used(c)} for c in configs],
        "loadavg_1min": {"start": load_start, "latency": load_latency,
                         "end": os.getloadavg()[0]},
        "wall_s": time.perf_counter() - wall,
    }
    print_report(report)
    write_report(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
