"""The shared candidate evaluator: same numbers as Profile.predict, Eq. (1) as documented."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaspring_ros.core.context.deployment_context import DeploymentContext
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.energy import WindowEnergy
from adaspring_ros.core.model.profile import Profile
from adaspring_ros.core.search.objective import (
    ACCURACY_LOSS_EPSILON_PP,
    ENERGY_OBJECTIVES,
    Evaluator,
    layer_tables,
)
from adaspring_ros.testing.profile_fixture import make_profile

PROFILE = make_profile(0)
N = PROFILE.arch.n_compressible
configs = st.lists(st.sampled_from(ss.OPTIONS), min_size=N, max_size=N).map(tuple)


def context(**kw) -> DeploymentContext:
    fields = dict(battery=0.5, storage_budget_bytes=1_000_000, latency_budget_ms=2.0,
                  accuracy_loss_threshold=1.0)
    fields.update(kw)
    return DeploymentContext(**fields).validated()


@settings(max_examples=300, deadline=None)
@given(configs)
def test_evaluator_matches_profile_predict(cfg):
    ev = Evaluator(PROFILE, context())
    got = ev.evaluate(cfg)
    want = PROFILE.predict(cfg)
    assert (got.macs, got.params_bytes, got.act_bytes) == (want.macs, want.params_bytes,
                                                          want.act_bytes)
    assert got.latency_ms == pytest.approx(want.latency_ms, rel=1e-12)
    assert got.accuracy_loss == pytest.approx(want.accuracy_loss, rel=1e-12, abs=1e-12)
    assert got.energy == pytest.approx(want.energy, rel=1e-12)
    assert ev.uses_tables


@settings(max_examples=100, deadline=None)
@given(configs, st.floats(0.0, 1.0), st.sampled_from(ENERGY_OBJECTIVES))
def test_objective_and_violation_follow_eq1(cfg, battery, kind):
    c = context(battery=battery)
    ev = Evaluator(PROFILE, c, energy_objective=kind)
    e = ev.evaluate(cfg)
    m = PROFILE.predict(cfg)
    joules = WindowEnergy().joules(m.macs, m.params_bytes, m.act_bytes, m.latency_ms)
    assert e.joules == pytest.approx(joules, rel=1e-12)
    assert e.energy == pytest.approx(m.energy, rel=1e-12)  # Eq. (2) E kept under both
    energy_term = math.log(joules) if kind == "joules" else -math.log(m.energy)
    expected = (c.lambda1 * math.log(max(e.accuracy_loss, 0.0) + ACCURACY_LOSS_EPSILON_PP)
                + c.lambda2 * energy_term)
    assert e.objective == pytest.approx(expected, rel=1e-12, abs=1e-12)
    checks = ev.constraints(e)
    assert e.feasible == all(ok for _, _, ok in checks.values())
    assert (e.violation == 0.0) == e.feasible
    assert ev.violated(e) == [name for name, (_, _, ok) in checks.items() if not ok]


def test_violation_is_the_sum_of_relative_excesses():
    bb = ss.backbone_configuration(PROFILE.arch)
    m = PROFILE.predict(bb)
    c = context(latency_budget_ms=m.latency_ms / 1.25, storage_budget_bytes=m.params_bytes // 2,
                accuracy_loss_threshold=5.0)
    e = Evaluator(PROFILE, c).evaluate(bb)
    expected = (m.latency_ms - c.latency_budget_ms) / c.latency_budget_ms + (
        m.params_bytes - c.storage_budget_bytes) / c.storage_budget_bytes
    assert e.violation == pytest.approx(expected)
    assert not e.feasible


def test_memo_counts_distinct_candidates_only():
    ev = Evaluator(PROFILE, context())
    a = ("fire@0.5",) * N
    b = ("skip",) * N
    ev.evaluate(a)
    ev.evaluate(a)
    ev.evaluate(b)
    assert ev.count == 2


def test_unvalidated_context_and_bad_mu_are_rejected():
    raw = DeploymentContext(0.5, 1_000_000, 2.0, 1.0)
    with pytest.raises(ValueError, match="validated"):
        Evaluator(PROFILE, raw)
    with pytest.raises(ValueError, match="mu1 and mu2"):
        Evaluator(PROFILE, context(), mu1=-1.0)
    with pytest.raises(ValueError, match="mu1 and mu2"):
        Evaluator(PROFILE, context(), mu1=0.0, mu2=0.0)
    with pytest.raises(ValueError, match="energy objective 'watts' unknown"):
        Evaluator(PROFILE, context(), energy_objective="watts")


def test_default_objective_is_joules_and_window_constants_are_used():
    cfg = ("fire@0.5",) * N
    default = Evaluator(PROFILE, context()).evaluate(cfg)
    assert Evaluator(PROFILE, context()).term.kind == "joules" == ENERGY_OBJECTIVES[0]
    costly = WindowEnergy(active_power_w=100.0)
    pricier = Evaluator(PROFILE, context(), window=costly).evaluate(cfg)
    m = PROFILE.predict(cfg)
    assert pricier.joules == pytest.approx(costly.joules(m.macs, m.params_bytes, m.act_bytes,
                                                         m.latency_ms))
    assert pricier.joules > default.joules and pricier.objective > default.objective


def test_joules_objective_prefers_compression_where_the_paper_one_cannot():
    """Eq. (2)'s E is highest at the backbone here; the window energy is highest there."""
    bb = ss.backbone_configuration(PROFILE.arch)
    small = ("conv@0.5",) * N
    c = context(battery=0.0, accuracy_loss_threshold=100.0)  # λ2 = 1: energy alone
    joules, paper = (Evaluator(PROFILE, c, energy_objective=k) for k in ("joules", "paper"))
    assert joules.evaluate(small).objective < joules.evaluate(bb).objective
    assert paper.evaluate(small).energy < paper.evaluate(bb).energy
    assert paper.evaluate(small).objective > paper.evaluate(bb).objective


class _ShiftedProfile(Profile):
    """A profile whose predict is no longer the table sum (e.g. a future interaction term)."""

    def predict(self, config, mu1=None, mu2=None):
        m = super().predict(config, mu1, mu2)
        return type(m)(m.accuracy_loss + 1.0, m.latency_ms, m.macs, m.params_bytes,
                       m.act_bytes, m.energy)


def test_evaluator_falls_back_to_predict_when_tables_disagree():
    base = make_profile(1)
    shifted = _ShiftedProfile(**{f: getattr(base, f) for f in base.__dataclass_fields__})
    assert not layer_tables(shifted).matches_predict
    ev = Evaluator(shifted, context())
    assert not ev.uses_tables
    cfg = ("dws@0.75",) * N
    assert ev.evaluate(cfg).accuracy_loss == pytest.approx(shifted.predict(cfg).accuracy_loss)
