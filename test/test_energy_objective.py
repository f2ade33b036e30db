"""The default energy objective: a falling battery never buys a costlier window.

λ2 = max(0.3, 1 - battery) rises as the battery falls; with the feasible set fixed, the optimum
of λ1·log(A + ε) + λ2·log(E_window) can then only move to configurations with no more energy
per window. Runtime3C must show that on real searches, and Δ' must hold the optimum it needs.
"""

from __future__ import annotations

import math
import random

import pytest

from adaspring_ros.core.context.deployment_context import DeploymentContext, lambdas_from_battery
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.search import baselines, runtime3c
from adaspring_ros.testing.profile_fixture import make_profile, small_arch

PROFILE = make_profile(0)
BB = PROFILE.predict(ss.backbone_configuration(PROFILE.arch))
BATTERIES = (0.86, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.1, 0.0)


def test_a_falling_battery_weights_energy_more():
    lambda2 = [lambdas_from_battery(b)[1] for b in BATTERIES]
    assert lambda2 == sorted(lambda2)
    assert lambda2[-1] > lambda2[0]


def _context(battery, budgets=None):
    """Budgets (storage x, latency x, A_thr) of the backbone's; None = not binding."""
    if budgets is None:
        return DeploymentContext(battery, math.inf, math.inf, 2.0)
    storage_x, latency_x, threshold = budgets
    return DeploymentContext(battery, int(BB.params_bytes * storage_x),
                             BB.latency_ms * latency_x, threshold)


def test_battery_sweep_never_raises_the_window_energy_of_the_choice():
    rng = random.Random(3)
    sets = [None] + [(rng.uniform(0.3, 1.2), rng.uniform(0.5, 1.2), rng.uniform(0.3, 3.0))
                     for _ in range(12)]
    moved = 0
    for budgets in sets:
        energies = []
        for battery in BATTERIES:
            r = runtime3c.search(PROFILE, _context(battery, budgets))
            if not r.feasible:
                break
            energies.append(r.energy_per_window_j)
        for before, after in zip(energies, energies[1:], strict=False):
            assert after <= before * (1 + 1e-12)
        moved += len(energies) > 1 and energies[-1] < energies[0]
    assert moved >= 1  # the sweep moved the choice somewhere, not only held it


def test_unconstrained_sweep_reaches_well_below_the_backbone():
    first = runtime3c.search(PROFILE, _context(0.86))
    last = runtime3c.search(PROFILE, _context(0.2))
    assert last.energy_per_window_j < first.energy_per_window_j
    assert last.metrics.accuracy_loss <= 2.0


@pytest.mark.parametrize("kind", ["joules", "paper"])
def test_runtime3c_finds_the_exhaustive_optimum_under_both_objectives(kind):
    profile = make_profile(11, arch=small_arch(3))
    bb = profile.predict(ss.backbone_configuration(profile.arch))
    rng = random.Random(5)
    checked = 0
    for _ in range(30):
        ctx = DeploymentContext(rng.uniform(0.0, 1.0),
                                int(bb.params_bytes * rng.uniform(0.1, 1.2)),
                                bb.latency_ms * rng.uniform(0.3, 1.2), rng.uniform(0.0, 3.0))
        exact = baselines.exhaustive(profile, ctx, energy_objective=kind)
        got = runtime3c.search(profile, ctx, energy_objective=kind)
        assert got.feasible == exact.feasible
        if exact.feasible:
            checked += 1
            assert got.objective == pytest.approx(exact.objective, rel=1e-12, abs=1e-12)
    assert checked >= 10
