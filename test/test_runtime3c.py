"""Runtime3C behaviour on synthetic fixture profiles (no ROS, no torch, no timing targets)."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adaspring_ros.core.context.deployment_context import ContextError, DeploymentContext
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.search import baselines, runtime3c
from adaspring_ros.core.search.elite_space import build_progressive
from adaspring_ros.core.search.encoding import progressive_decode
from adaspring_ros.core.search.search_result import SearchResult
from adaspring_ros.testing.profile_fixture import make_profile, small_arch

PROFILE = make_profile(0, arch=small_arch(3))
BACKBONE = ss.backbone_configuration(PROFILE.arch)
BB = PROFILE.predict(BACKBONE)
SMALL = make_profile(2, arch=small_arch(3))
SMALL_BB = SMALL.predict(ss.backbone_configuration(SMALL.arch))


def context(latency_x=1.0, storage_x=1.0, threshold=1.0, battery=0.5, bb=BB, **kw):
    return DeploymentContext(battery=battery,
                             storage_budget_bytes=int(bb.params_bytes * storage_x),
                             latency_budget_ms=bb.latency_ms * latency_x,
                             accuracy_loss_threshold=threshold, **kw)


def random_contexts(n, seed, bb):
    rng = random.Random(seed)
    return [context(rng.uniform(0.3, 1.3), rng.uniform(0.2, 1.4), rng.uniform(0.5, 3.0),
                    rng.uniform(0.38, 0.86), bb=bb) for _ in range(n)]


def test_result_fields_are_complete_and_consistent():
    r = runtime3c.search(PROFILE, context(latency_x=0.7, storage_x=0.8))
    assert isinstance(r, SearchResult)
    assert r.method == "runtime3c"
    assert len(r.config) == PROFILE.arch.n_compressible
    assert r.metrics == PROFILE.predict(r.config)
    assert progressive_decode(r.encoding, len(r.config)) == r.config
    assert set(r.constraints) == {"accuracy", "latency", "storage"}
    assert r.violated == [k for k, (_, _, ok) in r.constraints.items() if not ok]
    assert r.feasible == (not r.violated)
    assert r.constraints["latency"][0] == pytest.approx(r.metrics.latency_ms)
    assert r.constraints["storage"][0] == r.metrics.params_bytes
    assert r.search_time_ms > 0 and r.candidates_evaluated > 0
    assert r.reason and "constraint" in r.reason
    assert r.to_dict()["config"] == list(r.config)


def test_deterministic_for_a_seed():
    c = context(latency_x=0.55, storage_x=0.7, threshold=1.5)
    for kw in ({}, {"elite": False}):
        a = runtime3c.search(PROFILE, c, seed=7, **kw)
        b = runtime3c.search(PROFILE, c, seed=7, **kw)
        assert (a.config, a.objective, a.candidates_evaluated, a.reason) == \
            (b.config, b.objective, b.candidates_evaluated, b.reason)


def test_scales_up_to_the_backbone_when_constraints_relax():
    loose = DeploymentContext(0.5, math.inf, math.inf, math.inf)
    assert baselines.exhaustive(PROFILE, loose).config == BACKBONE  # the fixture's optimum
    assert runtime3c.search(PROFILE, loose).config == BACKBONE
    assert runtime3c.search(PROFILE, context(latency_x=1.01, storage_x=1.01)).config == BACKBONE


@pytest.mark.parametrize("kind", ["joules", "paper"])
def test_scales_down_as_budgets_tighten_and_back_up_as_they_relax(kind):
    budgets = [1.0, 0.8, 0.6, 0.45, 0.6, 0.8, 1.0]
    results = [runtime3c.search(PROFILE, context(latency_x=x, storage_x=x, threshold=2.0),
                                energy_objective=kind)
               for x in budgets]
    assert all(r.feasible for r in results)
    lat = [r.metrics.latency_ms for r in results]
    params = [r.metrics.params_bytes for r in results]
    for r, x in zip(results, budgets, strict=True):
        assert r.metrics.latency_ms <= BB.latency_ms * x
        assert r.metrics.params_bytes <= BB.params_bytes * x
    assert results[-1].config == results[0].config == BACKBONE
    if kind == "paper":  # E favours the backbone: it compresses only as far as budgets force
        assert lat[3] < lat[2] < lat[0] and params[3] < params[0]
        assert lat[4] > lat[3] and lat[5] > lat[4]
    else:  # a low-energy choice made once may already meet the tighter budgets
        assert lat[3] <= lat[2] < lat[0] and params[3] < params[0]
        assert lat[3] <= lat[4] <= lat[5] < lat[6]


def test_infeasible_context_returns_least_violating_and_names_violations():
    impossible = context(latency_x=0.01, storage_x=0.01, threshold=0.0)
    r = runtime3c.search(PROFILE, impossible)
    e = baselines.exhaustive(PROFILE, impossible)
    assert not r.feasible and not e.feasible
    assert "latency" in r.violated and "storage" in r.violated
    assert "least violat" in r.reason
    # least violation is monotone in (A, T, Sp), so Δ' holds the exact minimum
    ev_r = r.constraints
    assert ev_r["latency"][0] <= BB.latency_ms
    from adaspring_ros.core.search.objective import Evaluator
    ev = Evaluator(PROFILE, impossible.validated())
    assert ev.evaluate(r.config).violation == pytest.approx(ev.evaluate(e.config).violation)


def test_feasible_whenever_exhaustive_is_and_close_to_the_optimum():
    gaps = []
    for c in random_contexts(60, seed=1, bb=SMALL_BB):
        r = runtime3c.search(SMALL, c)
        e = baselines.exhaustive(SMALL, c)
        if e.feasible:
            assert r.feasible, c
            gaps.append(runtime3c.normalised_gap(r.objective, e.objective,
                                                 e.details["worst_feasible_objective"]))
        else:
            assert not r.feasible
        assert r.objective >= e.objective - 1e-9 or not e.feasible
    assert len(gaps) >= 20
    assert sum(g <= 0.05 for g in gaps) >= 0.9 * len(gaps)


def test_literal_algorithm_stops_at_the_first_feasible_layer():
    c = context(latency_x=0.8, storage_x=1.2, threshold=2.0)
    r = runtime3c.search(PROFILE, c, elite=False)
    assert r.method == "runtime3c-no-elite"
    assert r.feasible
    assert "constraints met at layer" in r.reason
    # it stopped there: the layers after the reported one are still uncompressed
    layer = int(r.reason.split("constraints met at layer ")[1].split(",")[0])
    assert all(op == ss.UNCOMPRESSED for op in r.config[layer:])


@pytest.mark.parametrize("kw", [{"grouping": False}, {"inheritance": False},
                                {"mutation": False}, {"elite": False, "grouping": False},
                                {"elite": False, "inheritance": False},
                                {"elite": False, "mutation": False}])
def test_ablations_run_and_are_labelled(kw):
    r = runtime3c.search(PROFILE, context(latency_x=0.6, storage_x=0.6, threshold=1.5), **kw)
    for name, on in kw.items():
        assert (f"no-{name}" in r.method) == (not on)
    assert len(r.config) == PROFILE.arch.n_compressible


def test_mutation_prices_more_candidates_than_no_mutation():
    c = context(latency_x=0.6, storage_x=0.6, threshold=1.5)
    with_mut = runtime3c.search(PROFILE, c)
    without = runtime3c.search(PROFILE, c, mutation=False)
    assert with_mut.details["mutation_children"] > 0 == without.details["mutation_children"]
    assert with_mut.objective <= without.objective + 1e-12


def test_lambda_fn_changes_the_trade_off():
    c = context(latency_x=0.7, storage_x=0.9, threshold=2.0)
    accuracy_only = runtime3c.search(PROFILE, c, lambda_fn=lambda b: (1.0, 0.0))
    energy_only = runtime3c.search(PROFILE, c, lambda_fn=lambda b: (0.0, 1.0))
    assert accuracy_only.metrics.accuracy_loss <= energy_only.metrics.accuracy_loss
    assert energy_only.energy_per_window_j <= accuracy_only.energy_per_window_j
    # the paper's objective stays selectable, and prices E (efficiency, higher is better)
    paper = {w: runtime3c.search(PROFILE, c, lambda_fn=fn, energy_objective="paper")
             for w, fn in (("acc", lambda b: (1.0, 0.0)), ("energy", lambda b: (0.0, 1.0)))}
    assert paper["energy"].metrics.energy >= paper["acc"].metrics.energy
    assert paper["energy"].energy_objective == "paper"


def test_custom_space_is_used():
    space = build_progressive(PROFILE, axes=3)
    r = runtime3c.search(PROFILE, context(latency_x=0.6), space=space)
    assert r.details["elite_size"] == len(space.members)


def test_invalid_context_raises_context_error():
    with pytest.raises(ContextError, match="latency_budget_ms"):
        runtime3c.search(PROFILE, context(latency_x=-1.0))
    with pytest.raises(ContextError, match="battery"):
        runtime3c.search(PROFILE, context(battery=math.nan))


def test_normalised_gap_scale():
    assert runtime3c.normalised_gap(-2.0, -2.0, -1.0) == 0.0
    assert runtime3c.normalised_gap(-1.95, -2.0, -1.0) == pytest.approx(0.05)
    assert runtime3c.normalised_gap(-1.0, -2.0, -1.0) == pytest.approx(1.0)
    assert runtime3c.normalised_gap(-2.0, -2.0, -2.0) == 0.0
    assert runtime3c.normalised_gap(-1.0, -2.0, -2.0) == math.inf
    with pytest.raises(ValueError, match="feasible optimum"):
        runtime3c.normalised_gap(0.0, 0.0, None)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(battery=st.floats(0.0, 1.0), latency_x=st.floats(0.0, 3.0),
       storage_x=st.floats(0.0, 3.0), threshold=st.floats(-1.0, 5.0),
       seed=st.integers(0, 2**16), elite=st.booleans())
def test_never_raises_on_a_valid_context(battery, latency_x, storage_x, threshold, seed, elite):
    r = runtime3c.search(PROFILE, context(latency_x, storage_x, threshold, battery), seed=seed,
                         elite=elite)
    assert r.feasible == (not r.violated)
    assert all(op in ss.OPTION_INDEX for op in r.config)
    assert math.isfinite(r.objective)


def test_without_early_stop_every_layer_is_mutated_and_nothing_gets_worse():
    """Over a reduced Δ' the stop ends a feasible search at layer 1; without it the later
    layers' mutations are tried too, from the same seeded noise, so the result can only
    improve, and on some contexts it does."""
    from adaspring_ros.core.search.elite_space import elite_space, random_subset
    space = random_subset(elite_space(PROFILE), 0.1, seed=0)
    improved = 0
    for i, c in enumerate(random_contexts(30, 7, BB)):
        stopped = runtime3c.search(PROFILE, c, seed=i, space=space)
        full = runtime3c.search(PROFILE, c, seed=i, space=space, stop_early=False)
        assert full.method == "runtime3c-no-early-stop"
        assert (full.feasible, -full.objective) >= (stopped.feasible, -stopped.objective) \
            or math.isclose(full.objective, stopped.objective)
        assert full.details["mutation_children"] >= stopped.details["mutation_children"]
        if stopped.feasible and "layer 1 mutation" in stopped.reason:
            assert full.details["mutation_children"] > stopped.details["mutation_children"]
        improved += full.feasible and stopped.feasible and full.objective < stopped.objective
    assert improved >= 1


def test_literal_without_early_stop_keeps_sweeping_past_the_first_feasible_layer():
    c = context(latency_x=0.8, storage_x=1.2, threshold=2.0)
    stopped = runtime3c.search(PROFILE, c, elite=False)
    full = runtime3c.search(PROFILE, c, elite=False, stop_early=False)
    assert full.method == "runtime3c-no-elite-no-early-stop"
    assert full.feasible and "swept until nothing changed" in full.reason
    assert full.objective <= stopped.objective + 1e-12
    assert full.details["mutation_children"] > stopped.details["mutation_children"]
