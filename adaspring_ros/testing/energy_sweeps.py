"""The energy sweeps of benchmarks/bench_runtime3c.py: what each objective buys in joules.

Two questions, answered on one profile with Runtime3C itself:
- battery sweep: with the rest of the context fixed and no binding budget, does the energy per
  window of the chosen configuration fall as the battery falls (λ2 = max(0.3, 1 - battery))?
  Asked of the default "joules" objective and of the paper's Eq. (2) objective;
- μ sweep (paper Fig. 10(d)): the paper's objective at μ1 = 0 ... 1 (μ2 = 1 - μ1) over a set of
  contexts, with the energy per window of what each setting chooses, beside the joules objective
  on the same contexts.
Accuracy losses here are the profile's predictions; the benchmark measures the held-out loss of
every configuration chosen and prints it beside them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from adaspring_ros.core.context.deployment_context import DeploymentContext, lambdas_from_battery
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.search import runtime3c
from adaspring_ros.core.search.objective import energy_term

#: Battery levels of the sweep: the paper's day starts at 0.86; 0.2 is a nearly empty pack.
BATTERIES = (0.86, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2)
#: μ1 values of the Fig. 10(d) sweep (μ2 = 1 - μ1).
MU1_VALUES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class SweepPoint:
    """One battery level's choice under one objective."""

    battery: float
    lambda2: float
    config: ss.Configuration
    energy_mj: float  # predicted energy per window
    eq2_energy: float  # paper Eq. (2) E of the same configuration
    accuracy_loss_pp: float  # predicted
    latency_ms: float  # predicted


def battery_sweep(profile, threshold_pp: float, energy_objective: str,
                  batteries: Sequence[float] = BATTERIES) -> list[SweepPoint]:
    """Runtime3C's choice at each battery level, budgets not binding, A_thr = threshold_pp."""
    points = []
    for battery in batteries:
        ctx = DeploymentContext(battery, math.inf, math.inf, threshold_pp)
        r = runtime3c.search(profile, ctx, energy_objective=energy_objective)
        points.append(SweepPoint(battery, lambdas_from_battery(battery)[1], r.config,
                                 r.energy_per_window_j * 1e3, r.metrics.energy,
                                 r.metrics.accuracy_loss, r.metrics.latency_ms))
    return points


def sweep_summary(points: Sequence[SweepPoint]) -> dict:
    """Never-increasing check and the first/last energy ratio of one sweep."""
    energies = [p.energy_mj for p in points]
    rises = sum(1 for a, b in zip(energies, energies[1:], strict=False) if b > a * (1 + 1e-12))
    return {"energy_never_increases": rises == 0, "rises": rises,
            "first_over_last": energies[0] / energies[-1] if energies[-1] > 0 else math.nan,
            "distinct_configs": len({p.config for p in points})}


def floor_within(profile, threshold_pp: float) -> tuple[float, float, ss.Configuration]:
    """(backbone mJ, least mJ of any configuration within threshold_pp, that configuration).

    Read from the joules Δ', which holds the least-energy configuration of every accuracy
    bound (it is the optimum of a context with λ2 = 1 and no other budget).
    """
    ctx = DeploymentContext(math.nan, math.inf, math.inf, threshold_pp, lambda1=0.0,
                            lambda2=1.0)
    best = runtime3c.search(profile, ctx, energy_objective="joules")
    m = profile.predict(ss.backbone_configuration(profile.arch))
    backbone_j = energy_term(profile).window.joules(m.macs, m.params_bytes, m.act_bytes,
                                                     m.latency_ms)
    return backbone_j * 1e3, best.energy_per_window_j * 1e3, best.config


def mu_sweep(profile, contexts: Sequence[DeploymentContext],
             mu1_values: Sequence[float] = MU1_VALUES) -> list[dict]:
    """Per μ1 (paper objective), then the joules objective: means over ``contexts``."""
    rows = []
    settings = [("paper", mu1) for mu1 in mu1_values] + [("joules", None)]
    for kind, mu1 in settings:
        kw = {"energy_objective": kind}
        if mu1 is not None:
            kw.update(mu1=mu1, mu2=1.0 - mu1)
        results = [runtime3c.search(profile, ctx, **kw) for ctx in contexts]
        feasible = [r for r in results if r.feasible] or results
        rows.append({
            "objective": kind, "mu1": mu1, "mu2": None if mu1 is None else 1.0 - mu1,
            "feasible_share": sum(r.feasible for r in results) / len(results),
            "energy_mj_mean": statistics.mean(r.energy_per_window_j * 1e3 for r in feasible),
            "eq2_energy_mean": statistics.mean(r.metrics.energy for r in feasible),
            "accuracy_loss_pp_mean": statistics.mean(r.metrics.accuracy_loss for r in feasible),
            "backbone_share": sum(r.config == ss.backbone_configuration(profile.arch)
                                  for r in results) / len(results),
            "configs": [list(r.config) for r in results],
        })
    return rows
