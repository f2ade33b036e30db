"""Paper Eq. (1) for one context: objective, constraints, and the one candidate evaluator.

Every search (Runtime3C, exhaustive, greedy, random, fixed-operator) prices candidates through
``Evaluator.evaluate`` so the search-time ratios in the benchmark compare search strategies, not
two differently fast predictors.

Speed: ``Profile.predict`` re-derives each layer's exact cost on every call (~20 µs), which would
spend a millisecond on 50 candidates. The evaluator instead reads per-layer tables built once per
profile from the same sources (``search_space.layer_cost`` and the profile's measured tables) and
adds them up in the same order as ``Profile.predict``. When the tables are built they are checked
against ``Profile.predict`` on sample configurations; if the profile ever predicts differently
(say, a non-additive accuracy model), the evaluator falls back to calling ``Profile.predict``
for every candidate: slower, never wrong.

Objective (minimised): J = λ1·log(max(A_loss, 0) + ε) + λ2·cost_E, with ε = 0.1 pp and the energy
term cost_E chosen by ``EnergyTerm.kind``:
- "joules" (default): cost_E = log(E_window), the joules one inference window costs
  (``core/model/energy.py``: MACs, bytes moved, latency x active power). It falls with
  compression, so a larger λ2 (a lower battery) buys less energy per window.
- "paper": cost_E = −log(E), E = μ1·C/Sp + μ2·C/Sa (Eq. 2, arithmetic intensity). On this
  backbone E is highest at the uncompressed net, so this objective can never trade accuracy for
  energy; it stays selectable so the two can be compared (the benchmark does).
A loss can be 0 (the backbone) or negative (a compressed variant that happens to score higher on
the validation split), where log is undefined; 0.1 pp is about the resolution of the measured
drops, so losses below it are not told apart by more than their measurement supports. Eq. (2)'s
E and the window energy are both kept on every evaluation, whichever objective is used.

Constraint violation (for ranking infeasible candidates, 0 when feasible): the sum over the
violated constraints of (value − budget) / max(|budget|, unit), unit = 0.1 pp / 0.001 ms / 1 byte,
i.e. each excess as a fraction of its own budget, so a 10 % latency overshoot and a 10 % storage
overshoot weigh the same.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from adaspring_ros.core.context.deployment_context import DeploymentContext
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.energy import WindowEnergy
from adaspring_ros.core.model.profile import Metrics, Profile
from adaspring_ros.core.search.profile_memo import ProfileMemo

#: ε of the objective's accuracy term, in pp (see module docstring).
ACCURACY_LOSS_EPSILON_PP = 0.1
#: Smallest budget used to normalise an excess, per constraint (avoids dividing by a 0 budget).
_UNIT = {"accuracy": 0.1, "latency": 1e-3, "storage": 1.0}
CONSTRAINT_NAMES = ("accuracy", "latency", "storage")
#: Configurations checked against Profile.predict when a profile's tables are built.
_SELF_CHECK_SAMPLES = 32
#: Energy terms Eq. (1) can use (see the module docstring); the first is the default.
ENERGY_OBJECTIVES = ("joules", "paper")


def energy_of(macs: int, params_bytes: int, act_bytes: int, mu1: float, mu2: float) -> float:
    """Eq. (2) in search_space.energy_proxy's exact arithmetic (values = bytes / 4)."""
    sp = params_bytes / ss.BYTES_PER_VALUE
    sa = act_bytes / ss.BYTES_PER_VALUE
    return mu1 * macs / sp + mu2 * macs / sa if sp > 0 and sa > 0 else 0.0


def accuracy_log(loss: float) -> float:
    """Norm(A loss) of Eq. (1): log(max(A, 0) + ε)."""
    return math.log(max(loss, 0.0) + ACCURACY_LOSS_EPSILON_PP)


def energy_log(energy: float) -> float:
    """Norm(E) of Eq. (1); E is 0 only for a model with no parameters or activations."""
    return math.log(max(energy, 1e-12))


@dataclass(frozen=True)
class EnergyTerm:
    """How the energy term of Eq. (1) is priced: which objective, Eq. (2)'s μ, the window model.

    Hashable, so the elite space caches its per-member energy column per term.
    """

    kind: str = ENERGY_OBJECTIVES[0]
    mu1: float = 0.4
    mu2: float = 0.6
    window: WindowEnergy = field(default_factory=WindowEnergy)

    def __post_init__(self) -> None:
        if self.kind not in ENERGY_OBJECTIVES:
            raise ValueError(f"energy objective {self.kind!r} unknown; use one of "
                             f"{', '.join(ENERGY_OBJECTIVES)}")
        mu1, mu2 = float(self.mu1), float(self.mu2)
        if not (math.isfinite(mu1) and math.isfinite(mu2) and mu1 >= 0 and mu2 >= 0
                and mu1 + mu2 > 0):
            raise ValueError(f"mu1 and mu2 must be finite, >= 0 and not both 0; "
                             f"got mu1={self.mu1!r}, mu2={self.mu2!r}")
        object.__setattr__(self, "mu1", mu1)
        object.__setattr__(self, "mu2", mu2)

    @property
    def minimises_joules(self) -> bool:
        return self.kind == "joules"

    def cost(self, energy: float, joules: float) -> float:
        """cost_E (lower is better) from Eq. (2)'s E and the window energy in joules."""
        return energy_log(joules) if self.kind == "joules" else -energy_log(energy)

    def cost_of_sums(self, macs: int, params: int, acts: int, latency_ms: float) -> float:
        return self.cost(energy_of(macs, params, acts, self.mu1, self.mu2),
                         self.window.joules(macs, params, acts, latency_ms))


class Sums(NamedTuple):
    """The five per-configuration sums every candidate is priced from, in Profile.predict's
    order: C, Sp, Sa, T and the accuracy loss (elite_space reorders them into its Pareto axes)."""

    macs: int
    params_bytes: int
    act_bytes: int
    latency_ms: float
    accuracy_loss: float


class Evaluation(NamedTuple):
    """One priced candidate. A tuple for speed: the exhaustive baseline makes ~10^5 of these."""

    config: ss.Configuration
    accuracy_loss: float
    latency_ms: float
    macs: int
    params_bytes: int
    act_bytes: int
    energy: float  # Eq. (2) E, whichever objective is used
    objective: float
    violation: float
    joules: float  # energy of one inference window, J
    energy_cost: float  # the objective's energy term (lower is better)

    @property
    def feasible(self) -> bool:
        return self.violation == 0.0

    @property
    def rank_key(self) -> tuple[float, float]:
        """Feasible before infeasible, then less violation, then lower objective (Deb's rule)."""
        return (self.violation, self.objective)

    def metrics(self) -> Metrics:
        return Metrics(self.accuracy_loss, self.latency_ms, self.macs, self.params_bytes,
                       self.act_bytes, self.energy)


class LayerTables:
    """Per-layer (cost, latency, drop) rows of one profile, keyed by input channels and option.

    rows[i][cin][option] = (out_channels, macs, params_bytes, act_bytes, latency_ms, drop_pp)
    for compressible layer i+1; head[cin] = (macs, params_bytes, act_bytes, latency_ms).
    """

    def __init__(self, profile: Profile) -> None:
        arch = profile.arch
        self.stem = ss.stem_cost(arch)
        self.stem_latency = profile.stem_latency_ms
        self.first_in = arch.layers[0].out_channels
        self.rows: list[dict[int, dict[str, tuple]]] = []
        for layer in range(1, arch.n_compressible + 1):
            by_cin: dict[int, dict[str, tuple]] = {}
            for cin, ops in profile.latency_ms[layer].items():
                row = {}
                for option in ss.OPTIONS:
                    if option not in ops:
                        continue
                    cost = ss.layer_cost(arch, layer, option, cin)
                    row[option] = (
                        ss.layer_out_channels(arch, layer, option, cin),
                        cost.macs, cost.params_bytes, cost.act_bytes,
                        ops[option], profile.accuracy_drop[layer][option],
                    )
                by_cin[cin] = row
            self.rows.append(by_cin)
        self.head = {}
        for cin, latency in profile.head_latency_ms.items():
            cost = ss.head_cost(arch, cin)
            self.head[cin] = (cost.macs, cost.params_bytes, cost.act_bytes, latency)
        self.matches_predict = self._agrees_with(profile)

    def _agrees_with(self, profile: Profile) -> bool:
        rng = random.Random(0)
        n = profile.arch.n_compressible
        samples = [ss.backbone_configuration(profile.arch)]
        samples += [tuple(rng.choice(ss.OPTIONS) for _ in range(n))
                    for _ in range(_SELF_CHECK_SAMPLES)]
        for config in samples:
            try:
                expected = profile.predict(config)
                got = self.sums(config)
            except KeyError:  # a hole in the measured tables: predict would fail there too
                continue
            macs, params, acts, latency, loss = got
            if (macs, params, acts) != (expected.macs, expected.params_bytes, expected.act_bytes):
                return False
            if not (math.isclose(latency, expected.latency_ms, rel_tol=1e-9, abs_tol=1e-12)
                    and math.isclose(loss, expected.accuracy_loss, rel_tol=1e-9, abs_tol=1e-12)):
                return False
        return True

    def sums(self, config: Sequence[str]) -> Sums:
        """The Sums of ``config``, added up in Profile.predict's order."""
        stem = self.stem
        macs, params, acts = stem.macs, stem.params_bytes, stem.act_bytes
        latency = self.stem_latency
        loss = 0.0
        cin = self.first_in
        for rows, option in zip(self.rows, config):  # noqa: B905 - length checked by callers
            cout, m, p, a, t, d = rows[cin][option]
            macs += m
            params += p
            acts += a
            latency += t
            loss += d
            cin = cout
        hm, hp, ha, ht = self.head[cin]
        return Sums(macs + hm, params + hp, acts + ha, latency + ht, loss)


_TABLES: ProfileMemo[LayerTables] = ProfileMemo()


def layer_tables(profile: Profile) -> LayerTables:
    """The cached tables of ``profile``; built (a few ms) on first use (`ProfileMemo`)."""
    return _TABLES.get(profile, lambda: LayerTables(profile))


def energy_term(profile: Profile, energy_objective: str | None = None,
                mu1: float | None = None, mu2: float | None = None,
                window: WindowEnergy | None = None) -> EnergyTerm:
    """The energy term a search uses: defaults are the first objective, the profile's μ and
    the default window model."""
    return EnergyTerm(ENERGY_OBJECTIVES[0] if energy_objective is None else energy_objective,
                      profile.mu1 if mu1 is None else mu1, profile.mu2 if mu2 is None else mu2,
                      WindowEnergy() if window is None else window)


class Evaluator:
    """Prices candidates for one (profile, context): Eq. (1) objective and constraint excesses.

    ``count`` is the number of distinct configurations priced: the "candidates evaluated" figure
    every search reports. Repeats within one search are served from a memo and not recounted.
    energy_objective, mu1, mu2, window: the energy term (``energy_term``; default "joules").
    """

    def __init__(self, profile: Profile, context: DeploymentContext,
                 mu1: float | None = None, mu2: float | None = None,
                 memo: bool = True, *, energy_objective: str | None = None,
                 window: WindowEnergy | None = None) -> None:
        if context.lambda1 is None or context.lambda2 is None:
            raise ValueError("Evaluator needs a validated context (call context.validated())")
        self.profile = profile
        self.arch = profile.arch
        self.n_layers = profile.arch.n_compressible
        self.term = energy_term(profile, energy_objective, mu1, mu2, window)
        self.mu1, self.mu2 = self.term.mu1, self.term.mu2
        self._joules_objective = self.term.minimises_joules
        self._window = self.term.window
        self.lambda1 = context.lambda1
        self.lambda2 = context.lambda2
        self.threshold = context.accuracy_loss_threshold
        self.latency_budget = context.latency_budget_ms
        self.storage_budget = context.storage_budget_bytes
        self._acc_scale = max(abs(self.threshold), _UNIT["accuracy"])
        self._lat_scale = max(self.latency_budget, _UNIT["latency"])
        self._sto_scale = max(self.storage_budget, _UNIT["storage"])
        tables = layer_tables(profile)
        self._sums = tables.sums if tables.matches_predict else self._sums_via_predict
        self.uses_tables = tables.matches_predict
        self._memo: dict | None = {} if memo else None
        self.count = 0

    def _sums_via_predict(self, config: Sequence[str]) -> Sums:
        m = self.profile.predict(config)
        return Sums(m.macs, m.params_bytes, m.act_bytes, m.latency_ms, m.accuracy_loss)

    def evaluate(self, config: ss.Configuration) -> Evaluation:
        """Price one configuration (a tuple of valid operator ids, one per compressible layer)."""
        memo = self._memo
        if memo is not None:
            hit = memo.get(config)
            if hit is not None:
                return hit
        return self._score(config, self._sums(config))

    def evaluate_known(self, config: ss.Configuration,
                       sums: Sums) -> Evaluation:
        """Price a configuration whose LayerTables sums are already known (elite_space members).

        Falls back to ``evaluate`` when this profile's tables are not trusted, so the sums
        used are always the ones ``evaluate`` would use.
        """
        if not self.uses_tables:
            return self.evaluate(config)
        memo = self._memo
        if memo is not None:
            hit = memo.get(config)
            if hit is not None:
                return hit
        return self._score(config, sums)

    def _score(self, config: ss.Configuration,
               sums: Sums) -> Evaluation:
        self.count += 1
        macs, params, acts, latency, loss = sums
        energy = energy_of(macs, params, acts, self.mu1, self.mu2)
        joules = self._window.joules(macs, params, acts, latency)
        cost = energy_log(joules) if self._joules_objective else -energy_log(energy)
        objective = self.lambda1 * accuracy_log(loss) + self.lambda2 * cost
        result = Evaluation(config, loss, latency, macs, params, acts, energy, objective,
                            self.violation_of(loss, latency, params), joules, cost)
        if self._memo is not None:
            self._memo[config] = result
        return result

    def violation_of(self, loss: float, latency: float, params: int) -> float:
        """Sum of the relative excesses over the three budgets (0 when all are met)."""
        violation = 0.0
        if loss > self.threshold:
            violation += (loss - self.threshold) / self._acc_scale
        if latency > self.latency_budget:
            violation += (latency - self.latency_budget) / self._lat_scale
        if params > self.storage_budget:
            violation += (params - self.storage_budget) / self._sto_scale
        return violation

    def constraints(self, ev: Evaluation) -> dict[str, tuple[float, float, bool]]:
        """name -> (value, budget, ok) for the three constraints of Eq. (1)."""
        return {
            "accuracy": (ev.accuracy_loss, self.threshold, ev.accuracy_loss <= self.threshold),
            "latency": (ev.latency_ms, self.latency_budget, ev.latency_ms <= self.latency_budget),
            "storage": (ev.params_bytes, self.storage_budget,
                        ev.params_bytes <= self.storage_budget),
        }

    def violated(self, ev: Evaluation) -> list[str]:
        return [name for name, (_, _, ok) in self.constraints(ev).items() if not ok]
