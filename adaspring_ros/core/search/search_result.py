"""What every search (Runtime3C and the baselines) hands back, in one shape.

One shape so the evolution node, the benchmark and the tests compare methods field by field,
and so a result can be logged or published without knowing which search produced it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

from adaspring_ros.core.context.deployment_context import DeploymentContext, LambdaFn
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.profile import Metrics, Profile
from adaspring_ros.core.search.encoding import progressive_encode
from adaspring_ros.core.search.objective import Evaluation, Evaluator


@dataclass
class SearchResult:
    """The chosen configuration of one search and why.

    config: one operator id per compressible layer (search_space numbering, layers 1..N).
    metrics: predicted A loss / T / C / Sp / Sa / E of ``config`` (Profile.predict's numbers).
    search_time_ms: wall-clock time of the search itself; what is built once per profile
        (objective.layer_tables, elite_space, see runtime3c.prepare) is excluded.
    candidates_evaluated: distinct configurations priced.
    feasible: every constraint of Eq. (1) holds; violated names those that do not.
    constraints: name -> (value, budget, ok) for "accuracy" (pp), "latency" (ms), "storage"
        (parameter bytes).
    objective: Eq. (1) value λ1·log(max(A,0)+ε) + λ2·cost_E, lower is better (cost_E per
        ``energy_objective``, see objective.EnergyTerm).
    reason: one line a person can read in a log: why this configuration.
    encoding: progressive shortest encoding [k, op index of layers 1..k].
    method: which search produced it ("runtime3c", "exhaustive", ...).
    details: method-specific extras (e.g. exhaustive's worst feasible objective), JSON-safe.
    energy_per_window_j: predicted joules of one inference window (core.model.energy), kept
        whichever objective chose it, like Eq. (2)'s E in ``metrics``.
    energy_objective: "joules" or "paper": which energy term Eq. (1) used.
    """

    config: ss.Configuration
    metrics: Metrics
    search_time_ms: float
    candidates_evaluated: int
    feasible: bool
    violated: list[str]
    constraints: dict[str, tuple[float, float, bool]]
    objective: float
    reason: str
    encoding: list[int]
    method: str
    details: dict = field(default_factory=dict)
    energy_per_window_j: float = math.nan
    energy_objective: str = ""

    def to_dict(self) -> dict:
        """Plain JSON-safe dict (tuples become lists)."""
        d = asdict(self)
        d["config"] = list(self.config)
        d["metrics"] = asdict(self.metrics)
        d["constraints"] = {k: list(v) for k, v in self.constraints.items()}
        return d


class Outcome(NamedTuple):
    """What a search's body found, before it is packaged into a SearchResult."""

    best: Evaluation
    method: str
    why: str  # the reason's head; describe() adds what the choice achieves
    details: dict | None = None
    candidates: int | None = None  # default: the evaluator's count of priced configurations


def timed_search(profile: Profile, context: DeploymentContext,
                 body: Callable[[Evaluator, float], Outcome], *, mu1: float | None = None,
                 mu2: float | None = None, lambda_fn: LambdaFn | None = None,
                 memo: bool = True, **energy) -> SearchResult:
    """Every search's frame: ``body(evaluator, started)`` on a fresh Evaluator, packaged.

    The search time runs from before the evaluator's set-up to the packaged result, the same
    span for Runtime3C and every baseline; what is built once per profile (layer tables, Δ')
    is outside it. ``started`` (perf_counter seconds) lets a body keep a time budget.
    ``energy``: the evaluator's energy_objective and window keywords.
    """
    started = time.perf_counter()
    evaluator = Evaluator(profile, context.validated(lambda_fn), mu1, mu2, memo=memo, **energy)
    return build_result(evaluator, body(evaluator, started), started)


def build_result(evaluator: Evaluator, outcome: Outcome, started: float) -> SearchResult:
    """Package the winning candidate; metrics come from Profile.predict, the contract's source.
    The search time is taken last, so it includes this packaging."""
    best = outcome.best
    violated = evaluator.violated(best)
    fields = {
        "config": best.config,
        "metrics": evaluator.profile.predict(best.config, evaluator.mu1, evaluator.mu2),
        "candidates_evaluated": evaluator.count if outcome.candidates is None
        else outcome.candidates,
        "feasible": not violated, "violated": violated,
        "constraints": evaluator.constraints(best), "objective": best.objective,
        "reason": f"{outcome.why}; {describe(evaluator, best)}",
        "encoding": progressive_encode(best.config), "method": outcome.method,
        "details": dict(outcome.details or {}), "energy_per_window_j": best.joules,
        "energy_objective": evaluator.term.kind,
    }
    return SearchResult(search_time_ms=(time.perf_counter() - started) * 1e3, **fields)


def describe(evaluator: Evaluator, best: Evaluation) -> str:
    """The common tail of every reason string: what the choice achieves against which limits."""
    c = evaluator.constraints(best)
    status = "meets every constraint" if best.feasible else (
        "violates " + ", ".join(evaluator.violated(best)) + " (least violation found)")
    return (f"{status}: A loss {best.accuracy_loss:.2f}/{c['accuracy'][1]:.2f} pp, "
            f"T {best.latency_ms:.2f}/{c['latency'][1]:.2f} ms, "
            f"Sp {best.params_bytes / 1e6:.3f}/{c['storage'][1] / 1e6:.3f} MB, "
            f"{best.joules * 1e3:.3f} mJ/window, E {best.energy:.1f}, "
            f"λ2={evaluator.lambda2:.2f} ({evaluator.term.kind} objective)")
