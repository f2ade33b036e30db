"""Runtime3C's paper mechanisms (§6.5), each switched off, against the exhaustive optimum.

    python benchmarks/bench_ablation.py [--contexts 120] [--seed 4] [--subset-seeds 5]
                                        [--energy-objective joules|paper] [--json PATH]
                                        [--checkpoint PATH | --fixture]

On the contexts of bench_runtime3c (testing/search_contexts, same seed), one table: for each
search space (the exact Δ', Δ' of 4 and 3 Pareto axes, seeded random 25 % and 10 % subsets of
Δ' (--subset-seeds of each, pooled), and no Δ' at all = Algorithm 1 literal) Runtime3C with
every mechanism on, then with grouping, inheritance and mutation switched off one at a time,
and without Algorithm 1's early stop (lines 10-12: over Δ' it ends a feasible search at the
first layer whose mutation brings no gain, so later layers are never mutated), and the paper's
three again without the early stop (what each is worth when the search reaches every layer),
and, where mutation can matter, the trained channel noise σ scaled x0.1 and x10 (and, for a
profile with one σ per channel, replaced by each layer's mean σ: the per-layer rule).
Columns: missed feasible contexts (the exhaustive search finds one, the variant returns an
infeasible configuration), share within 5 % of the optimum and mean normalised objective gap
(testing/search_quality: 0 = optimum, 1 = worst feasible, a miss counts 1), median search time
(one run per context, so cold-ish; bench_runtime3c times warm reruns), contexts whose result
differs from the same space with every mechanism on, and the share of feasible contexts whose
exhaustive optimum is a member of the space (always 100 % for the exact Δ', by construction;
what makes the reduced ones the place where mutation can matter).

Why the reduced spaces: the exact Δ' holds an optimum for every context (elite_space), so
line 4 already returns it and no mechanism can change the result there. The mutation noise
is seeded per context (seed = context index), the same for every variant of that context.
No torch: everything here is the profile's prediction, as the search sees it.
Other processes share these cores: the load average is printed beside the timings.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time

from tqdm import tqdm

from adaspring_ros.core.model.profile import layer_noise_mean
from adaspring_ros.core.search import baselines, runtime3c
from adaspring_ros.core.search.elite_space import build_progressive, random_subset
from adaspring_ros.core.search.objective import ENERGY_OBJECTIVES, layer_tables
from adaspring_ros.testing.search_contexts import DEFAULT_CONTEXTS, DEFAULT_SEED, make_contexts
from adaspring_ros.testing.report_file import write_report
from adaspring_ros.testing.search_quality import quality

#: The mechanisms switched off one at a time: row label -> runtime3c.search keyword. The
#: paper's three, then Algorithm 1's stop rule (lines 10-12), which decides how many layers
#: the mutation step ever reaches.
MECHANISMS = {"no grouping": "grouping", "no inheritance": "inheritance",
              "no mutation": "mutation", "no early stop": "stop_early"}
#: Random subsets of Δ' measured: label -> fraction of the members kept.
SUBSETS = {"random 25 % of Δ'": 0.25, "random 10 % of Δ'": 0.10}
#: The trained channel noise σ scaled by these factors (without the early stop, where mutation
#: reaches every layer), on the spaces where mutation can change the result: does the noise's
#: size matter on the 0.25 width grid? (x0.1 and x1 move one grid step either way; x10, σ about
#: 0.3, can jump two.)
NOISE_SCALES = (0.1, 10.0)
NOISE_SPACES = tuple(SUBSETS) + ("literal (no Δ')",)


def build_spaces(profile, subset_seeds: int, objective: str) -> dict[str, list]:
    """Every space of the table (a list: one per subset seed for the random subsets; [None]
    for the literal mode), built once outside the timed searches."""
    layer_tables(profile)
    exact = runtime3c.prepare(profile, objective)
    spaces = {"exact Δ'": [exact],
              "Δ' 4 axes": [build_progressive(profile, axes=4, energy_objective=objective)],
              "Δ' 3 axes": [build_progressive(profile, axes=3, energy_objective=objective)]}
    for label, fraction in SUBSETS.items():
        spaces[label] = [random_subset(exact, fraction, seed) for seed in range(subset_seeds)]
    spaces["literal (no Δ')"] = [None]
    return spaces


#: Row label of the per-channel σ collapsed to one σ per layer (their mean): the pre-issue-14
#: mutation rule on the same checkpoint.
LAYER_MEAN = "layer mean"


def per_channel(profile) -> bool:
    return any(not isinstance(v, float | int) for v in profile.channel_noise.values())


def variants(spaces: dict, per_channel_noise: bool = False) -> dict[str, tuple[str, dict]]:
    """Row name -> (space name, runtime3c.search keywords other than the space)."""
    rows = {}
    for name, members in spaces.items():
        base = {"elite": False} if members == [None] else {}
        rows[f"{name}: all on"] = (name, base)
        for label, keyword in MECHANISMS.items():
            rows[f"{name}: {label}"] = (name, base | {keyword: False})
        for label, keyword in list(MECHANISMS.items())[:3]:  # the paper's three, all layers
            rows[f"{name}: no early stop, {label}"] = (name, base | {"stop_early": False,
                                                                   keyword: False})
        if name in NOISE_SPACES:
            for scale in NOISE_SCALES:
                rows[f"{name}: no early stop, σ x{scale:g}"] = (
                    name, base | {"stop_early": False, "noise_scale": scale})
            if per_channel_noise:
                rows[f"{name}: no early stop, σ {LAYER_MEAN}"] = (
                    name, base | {"stop_early": False, "noise_scale": LAYER_MEAN})
    return rows


def noise_scaled(profile, scale: float | str):
    """The profile with its channel noise σ scaled, or (``LAYER_MEAN``) each layer's
    per-channel σ replaced by their mean (a new object: searched profiles are treated as
    immutable), its layer tables built now, outside the timed searches."""
    def scaled_value(sigma):
        if scale == LAYER_MEAN:
            return layer_noise_mean(sigma)
        if isinstance(sigma, float | int):
            return sigma * scale
        return tuple(s * scale for s in sigma)

    scaled = dataclasses.replace(profile, channel_noise={layer: scaled_value(sigma) for layer, sigma
                                                         in profile.channel_noise.items()})
    layer_tables(scaled)
    return scaled


def noise_summary(profile) -> str:
    """The trained σ per layer: one number, or per channel the mean of each quarter of the
    channels in importance order (first = most important) and the rank correlation of σ
    with the channel index (positive: less important channels carry more noise)."""
    parts = []
    for layer, sigma in sorted(profile.channel_noise.items()):
        if isinstance(sigma, float | int):
            parts.append(f"L{layer} {sigma:.3f}")
            continue
        n = len(sigma)
        quarters = [statistics.fmean(sigma[q * n // 4:(q + 1) * n // 4]) for q in range(4)]
        rho = spearman(list(range(n)), list(sigma))
        parts.append(f"L{layer} quarters {'/'.join(f'{q:.3f}' for q in quarters)} "
                     f"(min {min(sigma):.3f} max {max(sigma):.3f}, Spearman vs index {rho:+.2f})")
    return "channel noise σ (width units): " + "; ".join(parts)


def spearman(a: list[float], b: list[float]) -> float:
    def ranks(v):
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        for rank, i in enumerate(order):
            r[i] = float(rank)
        return r
    ra, rb = ranks(a), ranks(b)
    return statistics.correlation(ra, rb) if len(a) > 1 else 0.0


def run(profile, contexts, spaces, objective: str) -> tuple[dict, list]:
    """Every variant on every context (and every subset of its space), then the exhaustive
    optimum (last, so its ~10^5 short-lived objects do not disturb the millisecond timings).

    results[row][j][i]: the row's search over its j-th space on context i.
    """
    rows = variants(spaces, per_channel(profile))
    scales = NOISE_SCALES + ((LAYER_MEAN,) if per_channel(profile) else ())
    profiles = {1.0: profile} | {scale: noise_scaled(profile, scale) for scale in scales}
    results = {name: [[] for _ in spaces[space]] for name, (space, _) in rows.items()}
    exacts = []
    for i, ctx in enumerate(tqdm(contexts, desc="contexts", unit="ctx", file=sys.stderr)):
        for name, (space_name, kw) in rows.items():
            kw = dict(kw)
            searched = profiles[kw.pop("noise_scale", 1.0)]
            for j, space in enumerate(spaces[space_name]):
                extra = {} if space is None else {"space": space}
                results[name][j].append(runtime3c.search(searched, ctx, seed=i, **kw, **extra,
                                                         energy_objective=objective))
        exacts.append(baselines.exhaustive(profile, ctx, energy_objective=objective))
    return results, exacts


def table(results, exacts, spaces) -> list[dict]:
    """One row per variant, pooled over its space's subsets: shares and gaps over every
    (subset, context) pair, counts (missed, differs) as the mean per subset."""
    feasible = [e for e in exacts if e.feasible]
    out = []
    for name, per_space in results.items():
        space_name = name.split(": ")[0]
        n = len(per_space)
        q = quality([r for rs in per_space for r in rs], exacts * n)
        q["missed_feasible"] /= n
        q["feasible_contexts"] //= n
        # differs: from all on (the σ rows: from the same space without the early stop)
        reference = results[f"{space_name}: no early stop" if ", σ " in name
                            else f"{space_name}: all on"]
        q["differs_from_all_on"] = sum(1 for rs, ref in zip(per_space, reference, strict=True)
                                       for a, b in zip(rs, ref, strict=True)
                                       if a.config != b.config) / n
        q["subsets"] = n
        members = [{m.config for m in sp.members} for sp in spaces[space_name] if sp]
        q["space_members"] = (sum(len(m) for m in members) / n) if members else None
        q["optimum_in_space_share"] = (sum(1 for m in members for e in feasible
                                           if e.config in m) / max(1, len(feasible) * n)
                                       if members else None)
        out.append({"variant": name} | q)
    return out


def print_table(rows, header: str) -> None:
    print(header)
    print(f"{'variant':50} {'Δ size':>6} {'opt in':>6} {'missed':>6} {'<=5%':>6} "
          f"{'mean gap':>8} {'median ms':>9} {'differs':>7}")
    for r in rows:
        size = "-" if r["space_members"] is None else f"{r['space_members']:.0f}"
        inside = ("-" if r["optimum_in_space_share"] is None
                  else f"{100 * r['optimum_in_space_share']:5.0f}%")
        print(f"{r['variant']:50} {size:>6} {inside:>6} {r['missed_feasible']:6.1f} "
              f"{100 * r['within_5pct_share']:5.1f}% {r['mean_gap']:8.4f} "
              f"{r['median_ms']:9.3f} {r['differs_from_all_on']:7.1f}")
    print("(Δ size: members of the space; opt in: share of the feasible contexts whose "
          "exhaustive optimum is a member; missed: feasible contexts answered infeasible; "
          "<=5%: normalised gap <= 0.05; mean gap: a miss counts 1; differs: contexts whose "
          "configuration differs from the same space with every mechanism on (σ rows: from "
          "no early stop); random subsets: shares and gaps pooled over the subsets, counts and "
          "sizes per subset, mean)")


def load_profile(args):
    if args.fixture:
        from adaspring_ros.testing.profile_fixture import make_profile
        return make_profile(0), "SYNTHETIC TEST FIXTURE profile (not measured)"
    from adaspring_ros.core.model import checkpoint as ckpt
    try:
        loaded = ckpt.load(args.checkpoint)
    except ckpt.CheckpointError as exc:
        raise SystemExit(f"{exc}\n(or run with --fixture)") from exc
    return loaded.profile, f"checkpoint {loaded.path}"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="default: the shipped checkpoint")
    parser.add_argument("--fixture", action="store_true",
                        help="use the synthetic test fixture profile (development only)")
    parser.add_argument("--contexts", type=int, default=DEFAULT_CONTEXTS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help="context set seed (bench_runtime3c's default)")
    parser.add_argument("--subset-seeds", type=int, default=5,
                        help="random subsets of Δ' drawn per fraction (seeds 0..N-1), pooled")
    parser.add_argument("--energy-objective", choices=ENERGY_OBJECTIVES,
                        default=ENERGY_OBJECTIVES[0],
                        help="Eq. (1)'s energy term, for every search and the optimum")
    parser.add_argument("--json", default="out/bench_ablation.json")
    args = parser.parse_args(argv)
    if args.contexts < 1:
        parser.error("--contexts must be >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    load_start = os.getloadavg()
    wall = time.perf_counter()
    profile, source = load_profile(args)
    spaces = build_spaces(profile, args.subset_seeds, args.energy_objective)
    contexts = make_contexts(profile, args.contexts, args.seed)
    results, exacts = run(profile, contexts, spaces, args.energy_objective)
    rows = table(results, exacts, spaces)
    load_end = os.getloadavg()
    feasible = sum(1 for e in exacts if e.feasible)
    header = (f"{source}; {args.energy_objective} energy objective; {len(contexts)} contexts "
              f"(seed {args.seed}), {feasible} with a "
              f"feasible configuration; {args.subset_seeds} random subsets per fraction, "
              f"pooled; load average {load_start[0]:.2f} -> {load_end[0]:.2f} on "
              f"{os.cpu_count()} CPUs; {time.perf_counter() - wall:.0f} s wall")
    print_table(rows, header)
    print(noise_summary(profile))
    write_report(args.json, {"source": source, "seed": args.seed,
                             "subset_seeds": args.subset_seeds, "contexts": len(contexts),
                             "energy_objective": args.energy_objective,
                             "feasible_contexts": feasible,
                             "loadavg_1min": {"start": load_start[0], "end": load_end[0]},
                             "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
