"""Runtime3C against its baselines (speed, quality, paper Table 2), measured on this machine.

    python benchmarks/bench_runtime3c.py [--contexts 120] [--repeats 5] [--json PATH]
                                         [--checkpoint PATH | --fixture] [--no-measure]

Over a fixed, seeded set of contexts spanning the paper's ranges (battery 0.38-0.86, storage
budget (2 - σ) MiB with σ ~ U(0, 1.2), latency budget 0.3-1.3 x the backbone's profiled latency,
A_thr 0.3-2 pp), prints and writes (JSON, default out/bench_runtime3c.json):
- search time of Runtime3C and of the exhaustive search in the same run, through the same
  evaluator: Runtime3C warm (per context the median of --repeats runs), cold (its first run,
  right after the previous context's exhaustive search has churned the caches) and after
  0.5 s of idling (--idle-samples contexts, with a pure-Python control loop timed the same
  way). Median and p99 are over contexts. The one-off Δ' build is reported apart, and
  amortised;
- quality against the exhaustive optimum: feasibility wherever exhaustive finds a feasible
  configuration, share within 5 % of the optimum on the normalised scale of
  runtime3c.normalised_gap (0 = optimum, 1 = worst feasible), mean gap vs greedy;
- §6.5.3: candidates priced to build Δ' with the progressive shortest encoding vs the classic
  binary encoding, and candidates per search vs exhaustive;
- Runtime3C without mutation and Algorithm 1 run literally (no Δ') beside it; the §6.5
  ablation table (each mechanism off, on reduced Δ' and in the literal mode) is
  benchmarks/bench_ablation.py's, on the same contexts;
- a Table-2-shaped table: backbone, stand-alone operators, greedy, random, fixed-operator,
  exhaustive, Algorithm 1 literal and Runtime3C, with A and T MEASURED on the held-out set
  (the checkpoint's test split plus 12,000 fresh clips over four draws, each with its own speech
  bank, testing/held_out.held_out_set; accuracy
  weighted to the deployment's class mix, the quantity the profile predicts) for the
  configurations each method chose (averaged over the contexts), C/Sp, C/Sa, E and
  search cost, E (the Eq. (2) proxy) and the predicted energy per window in mJ
  (core/model/energy.py; the paper's En needs a power meter);
- the energy objective: the battery sweep (context otherwise fixed, budgets not binding,
  battery 0.86 -> 0.2, A_thr 1 and 2 pp) under the default joules objective and the paper's,
  with the energy per window of each choice and its MEASURED held-out accuracy loss (and its
  95 % interval) beside the predicted one, and the μ1/μ2 sweep of the paper's Fig. 10(d) over
  the benchmark's contexts with the energy per window of each setting's choices.
Other processes share these cores: the load average is recorded with the timings.
--fixture runs everything on the synthetic TEST FIXTURE profile (no network, so no measured
A/T): for development only, every output is labelled with it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

from tqdm import tqdm

from adaspring_ros.core.measure import percentile
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.energy import WindowEnergy
from adaspring_ros.core.search import baselines, runtime3c
from adaspring_ros.core.search.elite_space import build_binary, build_progressive
from adaspring_ros.core.search.objective import ENERGY_OBJECTIVES, Evaluator, layer_tables
from adaspring_ros.testing import energy_sweeps
from adaspring_ros.testing.held_out import (
    add_held_out_argument,
    draw_interval,
    held_out_set,
    loss_by_draw,
    loss_interval,
    measure_configs,
)
from adaspring_ros.testing.report_file import write_report
from adaspring_ros.testing.search_contexts import make_contexts
from adaspring_ros.testing.search_quality import quality
from adaspring_ros.training.accuracy_model import deployment_weights

ROOT = Path(__file__).resolve().parents[1]
WINDOW = WindowEnergy()  # the search's default energy constants
MIB = 1 << 20


# ----------------------------------------------------------------------------- inputs
def load_inputs(args):
    """(profile, net or None, held-out set (held_out.HeldOut) or None, label)."""
    if args.fixture:
        from adaspring_ros.testing.profile_fixture import make_profile
        return make_profile(0), None, None, "SYNTHETIC TEST FIXTURE profile (not measured)"
    from adaspring_ros.core.model import checkpoint as ckpt
    try:
        loaded = ckpt.load(args.checkpoint)
    except ckpt.CheckpointError as exc:
        raise SystemExit(f"{exc}\n(or run with --fixture to exercise the code on the synthetic "
                         "test fixture profile)") from exc
    test = None
    if not args.no_measure:
        from adaspring_ros.core.scene import dataset
        try:
            test = held_out_set(loaded.meta, extra=args.held_out_clips)
        except dataset.DatasetError as exc:
            raise SystemExit(f"{exc} (use --no-measure)") from None
    return loaded.profile, loaded.net, test, f"checkpoint {loaded.path}"


# ----------------------------------------------------------------------------- searches
def timed_runtime3c(profile, ctx, repeats, **kw):
    """(result, cold ms, warm median ms): one cold run, then ``repeats`` warm ones."""
    first = runtime3c.search(profile, ctx, **kw)
    warm = [runtime3c.search(profile, ctx, **kw).search_time_ms for _ in range(repeats)]
    return first, first.search_time_ms, statistics.median(warm) if warm else math.nan


VARIANTS = {  # the mechanism ablations and reduced Δ' are bench_ablation.py's table
    "runtime3c": {},
    "no mutation (exact Δ')": {"mutation": False},
    "Algorithm 1 literal (no Δ')": {"elite": False},
}


def run_searches(profile, contexts, repeats, structures):
    rows = []
    warm_times = []
    for ctx in tqdm(contexts, desc="contexts", unit="ctx", file=sys.stderr):
        row = {"context": {k: getattr(ctx, k) for k in (
            "battery", "storage_budget_bytes", "latency_budget_ms", "accuracy_loss_threshold")}}
        row["loadavg_1min"] = os.getloadavg()[0]
        row["profile"], row["validated"] = profile, ctx.validated()
        results = {}
        for name, kw in VARIANTS.items():
            r, _, warm = timed_runtime3c(profile, ctx, repeats if name == "runtime3c" else 0,
                                         **kw)
            results[name] = r
            if name == "runtime3c":
                warm_times.append(warm)
        row["variants"] = results
        budget = results["runtime3c"].search_time_ms
        row["greedy"] = baselines.greedy(profile, ctx)
        row["random"] = baselines.random_search(profile, ctx, time_budget_ms=budget, seed=1)
        row["fixed_operator"] = baselines.fixed_operator(profile, ctx, structures=structures)
        # last, so its ~10^5 short-lived objects do not disturb the millisecond timings above
        row["exhaustive"] = baselines.exhaustive(profile, ctx)
        rows.append(row)
    return rows, warm_times


def violation(row, result) -> float:
    """The evaluator's constraint violation of a result's configuration in that row's context."""
    return Evaluator(row["profile"], row["validated"]).evaluate(result.config).violation


PAIRINGS = {  # name: (op at layer i, op at layer i+1 or None); groups per runtime3c
    "δ1 fire@1.0 alone": ("fire@1.0", None),
    "δ1+δ3 fire@0.5 (paper group)": ("fire@0.5", None),
    "δ1+δ4 fire@1.0, skip next": ("fire@1.0", "skip"),
    "δ2 svd@1.0 alone": ("svd@1.0", None),
    "δ2+δ4 svd@1.0, skip next (paper group)": ("svd@1.0", "skip"),
    "δ2+δ3 svd@0.5": ("svd@0.5", None),
    "δ2 dws@1.0 alone": ("dws@1.0", None),
    "δ2+δ4 dws@1.0, skip next (paper group)": ("dws@1.0", "skip"),
    "δ2+δ3 dws@0.5": ("dws@0.5", None),
}


def grouping_evidence(profile) -> dict[str, float]:
    """E of each operator pairing relative to the backbone, mean over the layers it fits.

    Exact (search_space costs, profile μ): the evidence behind §5.1.2's grouping on this
    backbone, whichever way it points.
    """
    arch = profile.arch
    n = arch.n_compressible
    base = ss.backbone_configuration(arch)

    def energy(config):
        return ss.energy_proxy(ss.configuration_cost(arch, config), profile.mu1, profile.mu2)

    ref = energy(base)
    out = {}
    for name, (op, nxt) in PAIRINGS.items():
        ratios = []
        for layer in range(n - 1):
            config = list(base)
            config[layer] = op
            if nxt is not None:
                config[layer + 1] = nxt
            ratios.append(energy(tuple(config)) / ref)
        out[name] = statistics.mean(ratios)
    return out


def _control_loop_ms() -> float:
    t0 = time.perf_counter()
    total = 0
    for i in range(3000):
        total += i
    return (time.perf_counter() - t0) * 1e3


def idle_times(profile, contexts, n, pause_s=0.5):
    """Runtime3C after the process idled (what a node waiting for a context message sees),
    with the major page faults it took and, as a control, how much slower a fixed
    pure-Python loop runs after the same idle than warm."""
    times, faults, control_idle = [], [], []
    for ctx in contexts[:n]:
        time.sleep(pause_s)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_majflt
        times.append(runtime3c.search(profile, ctx).search_time_ms)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_majflt - before)
        time.sleep(pause_s)
        control_idle.append(_control_loop_ms())
    control_warm = [_control_loop_ms() for _ in range(max(3, n))]
    slowdown = (statistics.median(control_idle) / statistics.median(control_warm)
                if n else math.nan)
    return {"ms": times, "major_page_faults": faults, "control_slowdown": slowdown}


def summarise(rows, warm_times, space, binary, build_ms):
    feasible_rows = [r for r in rows if r["exhaustive"].feasible]
    r3c_times = [r["variants"]["runtime3c"].search_time_ms for r in rows]
    ex_times = [r["exhaustive"].search_time_ms for r in rows]
    summary = {
        "contexts": len(rows),
        "exhaustive_feasible_contexts": len(feasible_rows),
        "runtime3c_ms": {"warm_median": statistics.median(warm_times),
                         "warm_p99": percentile(warm_times, 0.99),
                         "cold_median": statistics.median(r3c_times),
                         "cold_p99": percentile(r3c_times, 0.99), "cold_max": max(r3c_times)},
        "exhaustive_ms": {"median": statistics.median(ex_times),
                          "p99": percentile(ex_times, 0.99)},
        "speedup_warm": statistics.median(ex_times) / statistics.median(warm_times),
        "speedup_cold": statistics.median(ex_times) / statistics.median(r3c_times),
        "speedup_cold_per_context_median": statistics.median(
            e / r for e, r in zip(ex_times, r3c_times, strict=True)),
        "elite_space": {"members": len(space.members), "build_ms": build_ms,
                        "prefixes_priced": space.candidates_priced,
                        "binary_strings_decoded": binary.candidates_priced,
                        "binary_build_ms": binary.build_ms,
                        "binary_same_members": {m.config for m in binary.members}
                        == {m.config for m in space.members}},
        "amortised_speedup_incl_build": sum(ex_times) / (build_ms + sum(r3c_times)),
        "amortised_speedup_warm_incl_build": sum(ex_times) / (build_ms + sum(warm_times)),
        "configurations": len(ss.OPTIONS) ** len(rows[0]["exhaustive"].config),
    }
    infeasible_rows = [r for r in rows if not r["exhaustive"].feasible]
    summary["infeasible_contexts"] = {
        "count": len(infeasible_rows),
        "runtime3c_least_violation_equals_exhaustive": sum(
            1 for r in infeasible_rows
            if math.isclose(violation(r, r["variants"]["runtime3c"]),
                            violation(r, r["exhaustive"]), rel_tol=1e-9, abs_tol=1e-12)),
    }
    variants = {}
    for name in list(VARIANTS) + ["greedy", "random", "fixed_operator"]:
        pick = (lambda r, n=name: r["variants"][n]) if name in VARIANTS else (
            lambda r, n=name: r[n])
        results = [pick(r) for r in rows]
        q = quality(results, [r["exhaustive"] for r in rows])
        both = [(pick(r).objective, r["exhaustive"].objective) for r in feasible_rows
                if pick(r).feasible]
        variants[name] = {
            "missed_feasible": q["missed_feasible"],
            "within_5pct_share": q["within_5pct_share"],
            "mean_gap_infeasible_as_1": q["mean_gap"],
            "mean_gap_feasible_only": q["mean_gap_feasible_only"],
            "mean_objective_when_feasible": statistics.mean(o for o, _ in both) if both
            else math.nan,
            "median_ms": q["median_ms"],
            "mean_candidates": statistics.mean(r.candidates_evaluated for r in results),
        }
    summary["variants"] = variants
    return summary


# ----------------------------------------------------------------------------- Table 2
def table2_rows(rows, arch):
    n = arch.n_compressible
    fixed = {
        "backbone": ss.backbone_configuration(arch),
        "δ3 conv@0.5 (all layers)": ("conv@0.5",) * n,
        "δ1 fire@1.0 (all layers)": ("fire@1.0",) * n,
        "δ2 svd@1.0 (all layers)": ("svd@1.0",) * n,
        "δ2 dws@1.0 (all layers)": ("dws@1.0",) * n,
        "δ4 skip (last two layers)": ("conv@1.0",) * (n - 2) + ("skip",) * 2,
    }
    chosen = {name: [(c, 0.0) for _ in rows] for name, c in fixed.items()}
    for name, key in (("greedy", "greedy"), ("random (Runtime3C's time)", "random"),
                      ("fixed-operator ('exhaustive optimizer')", "fixed_operator"),
                      ("exhaustive", "exhaustive")):
        chosen[name] = [(r[key].config, r[key].search_time_ms) for r in rows]
    for name, variant in (("Algorithm 1 literal (no Δ')", "Algorithm 1 literal (no Δ')"),
                          ("Runtime3C", "runtime3c")):
        chosen[name] = [(r["variants"][variant].config, r["variants"][variant].search_time_ms)
                        for r in rows]
    return chosen


def window_mj(profile, config) -> float:
    """Predicted energy of one window (default constants of core/model/energy.py), mJ."""
    m = profile.predict(config)
    return WINDOW.joules(m.macs, m.params_bytes, m.act_bytes, m.latency_ms) * 1e3


def build_table2(chosen, profile, measured, rows):
    accuracy, latency = (measured.accuracy, measured.latency) if measured else ({}, {})
    backbone = ss.backbone_configuration(profile.arch)
    table = []
    for name, picks in chosen.items():
        metrics = [profile.predict(c) for c, _ in picks]
        entry = {
            "method": name,
            "distinct_configs": len({c for c, _ in picks}),
            "A_pct": statistics.mean(accuracy[c] for c, _ in picks) if accuracy else None,
            "T_ms": statistics.mean(latency[c] for c, _ in picks) if latency else None,
            "A_loss_pred_pp": statistics.mean(m.accuracy_loss for m in metrics),
            "T_pred_ms": statistics.mean(m.latency_ms for m in metrics),
            "C_per_Sp": statistics.mean(m.c_per_sp for m in metrics),
            "C_per_Sa": statistics.mean(m.c_per_sa for m in metrics),
            "E": statistics.mean(m.energy for m in metrics),
            "mJ_per_window": statistics.mean(window_mj(profile, c) for c, _ in picks),
            "Sp_kB": statistics.mean(m.params_bytes for m in metrics) / 1e3,
            "search_ms": statistics.median(t for _, t in picks),
        }
        if accuracy:  # constraints checked on measured numbers, context by context
            met = acc_ok = lat_ok = 0
            for (c, _), row in zip(picks, rows, strict=True):
                ctx = row["context"]
                a_ok = accuracy[backbone] - accuracy[c] <= ctx["accuracy_loss_threshold"]
                t_ok = latency[c] <= ctx["latency_budget_ms"]
                met += (a_ok and t_ok
                        and profile.predict(c).params_bytes <= ctx["storage_budget_bytes"])
                acc_ok += a_ok
                lat_ok += t_ok
            entry["measured_constraints_met_share"] = met / len(picks)
            entry["measured_accuracy_ok_share"] = acc_ok / len(picks)
            entry["measured_latency_ok_share"] = lat_ok / len(picks)
        table.append(entry)
    return table


# ----------------------------------------------------------------------------- energy
ENERGY_THRESHOLDS = (1.0, 2.0)


def energy_report(profile, contexts) -> dict:
    """Battery sweeps (both objectives, A_thr 1 and 2 pp), the 2 pp floor, the μ sweep."""
    sweeps = []
    for threshold in ENERGY_THRESHOLDS:
        for kind in ENERGY_OBJECTIVES:
            points = energy_sweeps.battery_sweep(profile, threshold, kind)
            sweeps.append({"objective": kind, "threshold_pp": threshold,
                           "points": [dataclasses.asdict(p) for p in points],
                           "summary": energy_sweeps.sweep_summary(points)})
    backbone_mj, floor_mj, floor_config = energy_sweeps.floor_within(profile, 2.0)
    return {"battery_sweeps": sweeps,
            "floor_2pp": {"backbone_mj": backbone_mj, "floor_mj": floor_mj,
                          "config": floor_config},
            "mu_sweep": energy_sweeps.mu_sweep(profile, contexts),
            "window_constants": dataclasses.asdict(WINDOW)}


def energy_configs(energy) -> set:
    configs = {tuple(p["config"]) for sw in energy["battery_sweeps"] for p in sw["points"]}
    return configs | {tuple(energy["floor_2pp"]["config"])}


def measured_loss(measured, profile, config):
    """(held-out accuracy loss pp of ``config`` against the backbone, its 95 % half-width pp),
    or (None, None) unmeasured."""
    if not measured:
        return None, None
    return loss_interval(measured, ss.backbone_configuration(profile.arch), config)


def attach_measured(energy, measured, profile, draws=()) -> None:
    points = [p for sweep in energy["battery_sweeps"] for p in sweep["points"]]
    backbone = ss.backbone_configuration(profile.arch)
    for p in points + [energy["floor_2pp"]]:
        p["accuracy_loss_measured_pp"], p["accuracy_loss_measured_ci95_pp"] = measured_loss(
            measured, profile, p["config"])
        p["accuracy_loss_by_draw_pp"] = (loss_by_draw(measured, backbone, p["config"], draws)
                                         if measured and draws else None)
        fresh = fresh_draws(p)
        p["accuracy_loss_draws_ci95_pp"] = draw_interval(fresh) if len(fresh) > 1 else None


def fresh_draws(point) -> list:
    """The fresh draws' own losses ([0] of the per-draw losses is the 825-clip test split)."""
    return (point.get("accuracy_loss_by_draw_pp") or [])[1:]


def measured_text(point, width: int = 5) -> str:
    """'1.77 +-0.30 / +-0.52 (draws 1.25-1.95)': the held-out loss, its clip-level 95 %
    interval, the 95 % interval from the fresh draws' spread (`held_out.draw_interval`: each
    draw shares one speech bank, so the draws spread beyond the clip-level interval) and their
    range; 'n/a' unmeasured."""
    m = point["accuracy_loss_measured_pp"]
    if m is None:
        return "n/a".rjust(width)
    text = f"{m:{width}.2f} +-{point['accuracy_loss_measured_ci95_pp']:.2f}"
    fresh = fresh_draws(point)
    if point.get("accuracy_loss_draws_ci95_pp") is not None:
        text += (f" / +-{point['accuracy_loss_draws_ci95_pp']:.2f} (draws {min(fresh):.2f}-"
                 f"{max(fresh):.2f})")
    return text


def held_out_note(energy) -> str:
    n = energy.get("held_out_clips")
    return (f"{n} clips, weighted to the deployment's class mix; clip-level / draw-spread "
            "95 % intervals and the fresh draws' range" if n else "not measured")


def print_energy(energy, n_contexts):
    w = energy["window_constants"]
    print(f"\nEnergy per window (predicted, core/model/energy.py: {w['joules_per_mac'] * 1e9:g} "
          f"nJ/MAC, {w['joules_per_byte'] * 1e9:g} nJ/byte, {w['active_power_w']:g} W x "
          "predicted latency)")
    f = energy["floor_2pp"]
    print(f"floor within 2 pp (predicted): {f['floor_mj']:.3f} mJ vs backbone "
          f"{f['backbone_mj']:.3f} mJ ({f['backbone_mj'] / f['floor_mj']:.2f}x), "
          f"[{' '.join(f['config'])}], measured held-out loss {measured_text(f, 0)} pp")
    print("\nBattery sweep (budgets not binding; A loss predicted / MEASURED on the held-out "
          f"set +- its 95 % interval, {held_out_note(energy)}):")
    for sw in energy["battery_sweeps"]:
        s = sw["summary"]
        target = " (target >= 3x)" if (sw["objective"], sw["threshold_pp"]) == ("joules", 2.0) \
            else ""
        print(f"{sw['objective']} objective, A_thr {sw['threshold_pp']:g} pp: energy per window "
              f"never increases as the battery falls: {s['energy_never_increases']}; "
              f"0.86 -> 0.2: {s['first_over_last']:.2f}x lower{target}; "
              f"{s['distinct_configs']} distinct configurations")
        for p in sw["points"]:
            print(f"  battery {p['battery']:.2f} λ2 {p['lambda2']:.2f}: {p['energy_mj']:7.3f} mJ "
                  f"E {p['eq2_energy']:6.1f}  A loss {p['accuracy_loss_pp']:5.2f} / "
                  f"{measured_text(p)} pp  [{' '.join(p['config'])}]")
    print(f"\nμ1/μ2 sweep (paper Fig. 10(d)): Runtime3C's choices over the {n_contexts} "
          "contexts, means over the feasible ones")
    print(f"{'objective':9} {'μ1':>4} {'μ2':>4} {'mJ/window':>10} {'E':>7} {'A loss pp':>10} "
          f"{'backbone':>9} {'feasible':>9}")
    for r in energy["mu_sweep"]:
        mu1 = "-" if r["mu1"] is None else f"{r['mu1']:.1f}"
        mu2 = "-" if r["mu2"] is None else f"{r['mu2']:.1f}"
        print(f"{r['objective']:9} {mu1:>4} {mu2:>4} {r['energy_mj_mean']:10.3f} "
              f"{r['eq2_energy_mean']:7.1f} {r['accuracy_loss_pp_mean']:10.2f} "
              f"{100 * r['backbone_share']:8.0f}% {100 * r['feasible_share']:8.0f}%")


# ----------------------------------------------------------------------------- output
def print_report(rep):
    s = rep["summary"]
    print(f"{rep['source']}; {s['contexts']} contexts (seed {rep['seed']}), "
          f"{s['configurations']} configurations; load avg {rep['loadavg_1min']['start']:.2f} "
          f"-> {rep['loadavg_1min']['end']:.2f} on {rep['cpus']} CPUs")
    e = s["elite_space"]
    print(f"\nΔ' (once per profile): {e['members']} members, built in {e['build_ms']:.0f} ms "
          f"pricing {e['prefixes_priced']} prefixes (progressive shortest encoding) vs "
          f"{e['binary_strings_decoded']} strings decoded with the classic binary encoding "
          f"({e['binary_build_ms']:.0f} ms); same members: {e['binary_same_members']}")
    t = s["runtime3c_ms"]
    print(f"\nRuntime3C search, warm (per context the median of {rep['repeats']} reruns): "
          f"median {t['warm_median']:.3f} ms (target <= 1), p99 {t['warm_p99']:.3f} ms "
          f"(target <= 5)")
    print(f"  cold (first run per context, right after the previous exhaustive search): median "
          f"{t['cold_median']:.3f} ms, p99 {t['cold_p99']:.3f} ms, max {t['cold_max']:.3f} ms")
    if rep["idle"]["ms"]:
        idle = rep["idle"]
        print(f"  after 0.5 s idle ({len(idle['ms'])} contexts): median "
              f"{statistics.median(idle['ms']):.3f} ms, max {max(idle['ms']):.3f} ms; "
              f"{sum(idle['major_page_faults'])} major page faults in all; control: a fixed "
              f"pure-Python loop runs {idle['control_slowdown']:.1f}x slower after the same "
              "idle than warm")
    print(f"exhaustive: median {s['exhaustive_ms']['median']:.1f} ms; speed-up (median/median) "
          f"{s['speedup_warm']:.0f}x warm, {s['speedup_cold']:.0f}x cold (target >= 100x); "
          f"with the Δ' build ({e['build_ms']:.0f} ms) amortised over these {s['contexts']} "
          f"contexts (sum/sum): {s['amortised_speedup_warm_incl_build']:.0f}x warm, "
          f"{s['amortised_speedup_incl_build']:.0f}x cold")
    print_quality(s)
    print("\nE of operator pairings / E of the backbone (exact, mean over layers; the evidence "
          "for §5.1.2's groups on this backbone):")
    for name, ratio in rep["grouping_evidence_E_over_backbone"].items():
        print(f"  {name:42} {ratio:.3f}")
    print_table2(rep["table2"])


def print_quality(s: dict) -> None:
    """Each search's quality against the exhaustive optimum, and its speed."""
    v = s["variants"]
    r = v["runtime3c"]
    print(f"quality on the {s['exhaustive_feasible_contexts']} contexts where exhaustive finds "
          f"a feasible configuration: missed {r['missed_feasible']} (target 0); within 5 % of "
          f"the optimum {100 * r['within_5pct_share']:.1f} % (target >= 90 %); mean gap "
          f"{r['mean_gap_infeasible_as_1']:.4f} vs greedy "
          f"{v['greedy']['mean_gap_infeasible_as_1']:.4f} (0 = optimum, 1 = worst feasible)")
    inf = s["infeasible_contexts"]
    print(f"on the {inf['count']} contexts where nothing is feasible, Runtime3C's least "
          f"violation equals exhaustive's on {inf['runtime3c_least_violation_equals_exhaustive']}")
    print(f"\n{'search':34} {'missed':>6} {'<=5%':>7} {'mean gap':>9} {'median ms':>10} "
          f"{'candidates':>11}")
    for name, row in v.items():
        print(f"{name:34} {row['missed_feasible']:6d} {100 * row['within_5pct_share']:6.1f}% "
              f"{row['mean_gap_infeasible_as_1']:9.4f} {row['median_ms']:10.3f} "
              f"{row['mean_candidates']:11.0f}")


def print_table2(table2: list[dict]) -> None:
    print("\nTable 2 shape (A, T measured on the held-out set for each chosen configuration, "
          "averaged over contexts; E = Eq. (2) proxy):")
    print(f"{'method':42} {'A %':>6} {'T ms':>6} {'C/Sp':>7} {'C/Sa':>7} {'E':>7} {'mJ':>6} "
          f"{'Sp kB':>7} {'search ms':>10} {'met':>5} {'A ok':>5} {'T ok':>5}")
    for row in table2:
        a = f"{row['A_pct']:6.2f}" if row["A_pct"] is not None else "   n/a"
        tm = f"{row['T_ms']:6.3f}" if row["T_ms"] is not None else "   n/a"
        shares = [row.get(k) for k in ("measured_constraints_met_share",
                                        "measured_accuracy_ok_share", "measured_latency_ok_share")]
        shares = " ".join(f"{100 * v:4.0f}%" if v is not None else "  n/a" for v in shares)
        print(f"{row['method']:42} {a} {tm} {row['C_per_Sp']:7.1f} {row['C_per_Sa']:7.1f} "
              f"{row['E']:7.1f} {row['mJ_per_window']:6.3f} {row['Sp_kB']:7.0f} "
              f"{row['search_ms']:10.3f} {shares}")
    print("(met / A ok / T ok = share of contexts whose constraints hold on the MEASURED "
          "held-out accuracy loss and latency of the chosen configuration; budgets were set "
          "from the profile's predictions, which the JSON lists beside the measurements)")


def result_json(r):
    return {"config": list(r.config), "feasible": r.feasible, "violated": r.violated,
            "objective": r.objective, "search_time_ms": r.search_time_ms,
            "candidates_evaluated": r.candidates_evaluated, "method": r.method}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="default: the shipped checkpoint")
    parser.add_argument("--fixture", action="store_true",
                        help="use the synthetic test fixture profile (development only)")
    parser.add_argument("--no-measure", action="store_true",
                        help="skip measuring A and T of the chosen configurations")
    parser.add_argument("--contexts", type=int, default=120)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5,
                        help="warm Runtime3C reruns per context, after the cold one")
    parser.add_argument("--idle-samples", type=int, default=20,
                        help="contexts timed again after 0.5 s of idling (0 to skip)")
    add_held_out_argument(parser)
    parser.add_argument("--json", default="out/bench_runtime3c.json")
    args = parser.parse_args(argv)
    if args.held_out_clips < 0:
        parser.error("--held-out-clips must be >= 0")
    if args.contexts < 100:
        parser.error("--contexts must be at least 100 (the figures need >= 100)")
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    return args


def prepare_spaces(profile) -> tuple:
    """(Δ', its build time in ms, the binary-encoded Δ', the fixed operator structures):
    everything built once per profile, outside the timed searches."""
    layer_tables(profile)
    t0 = time.perf_counter()  # the build itself: runtime3c.prepare may read Δ' from the cache
    build_progressive(profile)
    build_ms = (time.perf_counter() - t0) * 1e3
    space = runtime3c.prepare(profile)
    return (space, build_ms, build_binary(profile),
            baselines.fixed_structures(profile))


def measured_rows(measured, profile) -> list[dict]:
    return [{"config": list(c), "accuracy_pct": measured.accuracy[c],
             "latency_ms": measured.latency[c],
             "predicted_accuracy_loss_pp": profile.predict(c).accuracy_loss,
             "predicted_latency_ms": profile.predict(c).latency_ms}
            for c in sorted(measured.accuracy)] if measured else []


def per_context_json(rows) -> list[dict]:
    return [{
        "context": r["context"], "loadavg_1min": r["loadavg_1min"],
        "exhaustive": result_json(r["exhaustive"]) | {
            "worst_feasible_objective": r["exhaustive"].details["worst_feasible_objective"],
            "n_feasible": r["exhaustive"].details["n_feasible"]},
        "greedy": result_json(r["greedy"]), "random": result_json(r["random"]),
        "fixed_operator": result_json(r["fixed_operator"]),
        "variants": {k: result_json(v) for k, v in r["variants"].items()},
    } for r in rows]


def main(argv=None) -> int:
    args = parse_args(argv)
    load_start = os.getloadavg()
    profile, net, test, source = load_inputs(args)
    space, build_ms, binary, structures = prepare_spaces(profile)
    contexts = make_contexts(profile, args.contexts, args.seed)
    rows, warm_times = run_searches(profile, contexts, args.repeats, structures)
    summary = summarise(rows, warm_times, space, binary, build_ms)
    idle = idle_times(profile, contexts, max(0, args.idle_samples))
    chosen = table2_rows(rows, profile.arch)
    energy = energy_report(profile, contexts)
    measured = None
    if net is not None and test is not None:
        configs = sorted({c for picks in chosen.values() for c, _ in picks}
                         | energy_configs(energy))
        measured = measure_configs(net, test.data, configs,
                                   int(profile.meta.get("latency_threads", 1)),
                                   weights=deployment_weights(test.data))
    report = {
        "source": source, "seed": args.seed, "repeats": args.repeats, "host": platform.node(),
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "fixed_operator_structures": list(structures), "summary": summary,
        "grouping_evidence_E_over_backbone": grouping_evidence(profile), "idle": idle,
        "table2": build_table2(chosen, profile, measured, rows),
        "latency_measure_loadavg_1min": measured.load if measured else None,
        "held_out_clips": len(test.data.labels) if measured else None,
        "held_out_draws": [list(d) for d in test.draws] if measured else None,
        "measured": measured_rows(measured, profile), "per_context": per_context_json(rows),
    }
    attach_measured(energy, measured, profile, test.draws if measured else ())
    energy["held_out_clips"] = report["held_out_clips"]
    report["energy"] = energy
    report["loadavg_1min"] = {"start": load_start[0], "end": os.getloadavg()[0]}
    print_report(report)
    print_energy(energy, len(contexts))
    write_report(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
