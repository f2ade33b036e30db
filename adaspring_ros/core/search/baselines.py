"""The searches Runtime3C is measured against (paper §6.1, "runtime adaptive compression").

All of them price candidates with the same ``objective.Evaluator`` as Runtime3C and return the
same ``SearchResult``, so their search times and objectives compare like for like (each takes
the evaluator's ``energy_objective`` and ``window`` keywords, passed through as ``**energy``):

- ``exhaustive``: every configuration, the true optimum of Eq. (1) under the profile.
- ``greedy``: the paper's greedy optimizer: layer by layer, the operator with the best trade-off
  between accuracy and parameter size at a fixed relative importance of 0.5, never revisited.
- ``random_search``: uniform random configurations for a given time (Runtime3C's, in the
  benchmark), to show what the same time buys without Runtime3C's structure.
- ``fixed_operator``: the paper's "exhaustive optimizer": one combination of operator types,
  chosen once by a fixed ranking, then per context only the compression ratio (width) is scaled
  down until the budgets are met.
"""

from __future__ import annotations

import itertools
import math
import random
import time

from adaspring_ros.core.context.deployment_context import DeploymentContext, LambdaFn
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.profile import Profile
from adaspring_ros.core.search.gc_pause import gc_paused
from adaspring_ros.core.search.objective import ACCURACY_LOSS_EPSILON_PP, Evaluation, Evaluator
from adaspring_ros.core.search.search_result import Outcome, SearchResult, timed_search

#: Relative importance the paper's greedy optimizer uses for both objectives (§6.1).
GREEDY_IMPORTANCE = 0.5


@gc_paused
def exhaustive(profile: Profile, context: DeploymentContext, *, mu1: float | None = None,
               mu2: float | None = None, lambda_fn: LambdaFn | None = None,
               **energy) -> SearchResult:
    """Price all (M+1)^N configurations; the best feasible one, else the least violating.

    details carries what quality measures need from the full space: the worst feasible
    objective (to normalise gaps, see runtime3c.normalised_gap) and the number feasible.
    """
    return timed_search(profile, context, _exhaustive, mu1=mu1, mu2=mu2, lambda_fn=lambda_fn,
                        memo=False, **energy)


def _exhaustive(ev: Evaluator, started: float) -> Outcome:
    evaluate = ev.evaluate
    best = None
    best_key = (math.inf, math.inf)
    worst_feasible = -math.inf
    n_feasible = 0
    for config in itertools.product(ss.OPTIONS, repeat=ev.n_layers):
        cand = evaluate(config)
        key = (cand.violation, cand.objective)
        if key < best_key:
            best, best_key = cand, key
        if cand.violation == 0.0:
            n_feasible += 1
            if cand.objective > worst_feasible:
                worst_feasible = cand.objective
    details = {"n_feasible": n_feasible,
               "worst_feasible_objective": worst_feasible if n_feasible else None}
    return Outcome(best, "exhaustive", f"optimum over all {ev.count} configurations", details)


def _greedy_score(cand: Evaluation) -> tuple[float, float]:
    """Deb's rule on the greedy optimizer's own trade-off: 0.5·log(A) + 0.5·log(Sp)."""
    tradeoff = (GREEDY_IMPORTANCE * math.log(max(cand.accuracy_loss, 0.0)
                                             + ACCURACY_LOSS_EPSILON_PP)
                + (1.0 - GREEDY_IMPORTANCE) * math.log(max(cand.params_bytes, 1)))
    return (cand.violation, tradeoff)


@gc_paused
def greedy(profile: Profile, context: DeploymentContext, *, mu1: float | None = None,
           mu2: float | None = None, lambda_fn: LambdaFn | None = None,
           **energy) -> SearchResult:
    """Layer by layer from layer 1, fix the locally best operator; later layers uncompressed."""
    return timed_search(profile, context, _greedy, mu1=mu1, mu2=mu2, lambda_fn=lambda_fn,
                        **energy)


def _greedy(ev: Evaluator, started: float) -> Outcome:
    config = list(ss.backbone_configuration(ev.arch))
    best = ev.evaluate(tuple(config))
    for layer in range(ev.n_layers):
        for option in ss.OPTIONS:
            trial = config.copy()
            trial[layer] = option
            cand = ev.evaluate(tuple(trial))
            if _greedy_score(cand) < _greedy_score(best):
                best = cand
        config = list(best.config)
    return Outcome(best, "greedy",
                   "layer-by-layer best accuracy/parameter-size trade-off at importance 0.5")


@gc_paused
def random_search(profile: Profile, context: DeploymentContext, *, time_budget_ms: float,
                  seed: int = 0, mu1: float | None = None, mu2: float | None = None,
                  lambda_fn: LambdaFn | None = None,
                  max_candidates: int | None = None, **energy) -> SearchResult:
    """Uniformly random configurations until ``time_budget_ms`` (or ``max_candidates``) is spent.

    The backbone is not given for free: it is found only if drawn, like any other configuration.
    """
    if not time_budget_ms >= 0 or math.isinf(time_budget_ms):
        raise ValueError(f"time_budget_ms must be a finite number of ms >= 0; "
                         f"got {time_budget_ms!r}")
    if max_candidates is not None and max_candidates < 1:
        raise ValueError(f"max_candidates must be >= 1 or None; got {max_candidates!r}")

    def body(ev: Evaluator, started: float) -> Outcome:
        deadline = started + time_budget_ms / 1e3
        rng = random.Random(seed)
        options, n = ss.OPTIONS, ev.n_layers
        best = ev.evaluate(tuple(rng.choice(options) for _ in range(n)))  # at least one draw
        draws = 1
        while time.perf_counter() < deadline and (max_candidates is None
                                                  or draws < max_candidates):
            cand = ev.evaluate(tuple(rng.choice(options) for _ in range(n)))
            draws += 1
            if cand.rank_key < best.rank_key:
                best = cand
        return Outcome(best, "random",
                       f"best of {draws} uniform random draws in {time_budget_ms:.3f} ms",
                       {"draws": draws, "time_budget_ms": time_budget_ms})

    return timed_search(profile, context, body, mu1=mu1, mu2=mu2, lambda_fn=lambda_fn, **energy)


def fixed_structures(profile: Profile, **energy) -> tuple[str, ...]:
    """Structure per layer chosen once, context-free, by a fixed ranking (paper's first stage).

    Every combination of structures at full width is ranked by Eq. (1) at equal importance
    (λ1 = λ2 = 0.5) with no budgets: a ranking made offline, before any context is known.
    """
    structures = ss.STRUCTURES + (ss.SKIP,)
    unconstrained = DeploymentContext(battery=math.nan, storage_budget_bytes=math.inf,
                                      latency_budget_ms=math.inf,
                                      accuracy_loss_threshold=math.inf,
                                      lambda1=0.5, lambda2=0.5).validated()
    ev = Evaluator(profile, unconstrained, **energy)
    best = None
    for combo in itertools.product(structures, repeat=ev.n_layers):
        cand = ev.evaluate(tuple(ss.option_id(s, 1.0) if s != ss.SKIP else ss.SKIP
                                 for s in combo))
        if best is None or cand.objective < best.objective:
            best = cand
    return tuple(ss.parse_option(op)[0] for op in best.config)


def _with_width(structures: tuple[str, ...], width: float) -> ss.Configuration:
    return tuple(ss.SKIP if s == ss.SKIP else ss.option_id(s, width) for s in structures)


@gc_paused
def fixed_operator(profile: Profile, context: DeploymentContext, *,
                   structures: tuple[str, ...] | None = None, mu1: float | None = None,
                   mu2: float | None = None, lambda_fn: LambdaFn | None = None,
                   **energy) -> SearchResult:
    """Keep the fixed operator types; scale one width for all layers down until budgets hold.

    ``structures`` defaults to ``fixed_structures(profile)`` (offline, not timed: pass it in to
    keep it out of repeated calls, as the benchmark does).
    """
    if structures is None:
        structures = fixed_structures(profile, **energy)
    structures = tuple(structures)
    valid = ss.STRUCTURES + (ss.SKIP,)
    if len(structures) != profile.arch.n_compressible or any(s not in valid for s in structures):
        raise ValueError(f"structures must name one of {valid} per compressible layer "
                         f"({profile.arch.n_compressible}); got {structures!r}")

    def body(ev: Evaluator, started: float) -> Outcome:
        best = None
        for width in ss.WIDTHS:  # widest first: the least compression that meets the budgets
            cand = ev.evaluate(_with_width(structures, width))
            if best is None or cand.rank_key < best.rank_key:
                best = cand
            if cand.feasible:
                best = cand
                break
        return Outcome(best, "fixed_operator",
                       f"operators fixed to {'/'.join(structures)}, only the ratio scaled",
                       {"structures": list(structures)})

    return timed_search(profile, context, body, mu1=mu1, mu2=mu2, lambda_fn=lambda_fn, **energy)
