"""The deployment context at time t: the time-varying constraints and weights of paper Eq. (1).

Everything that decides *which* configuration Runtime3C should pick, and nothing about *how* it
searches. The evolution node fills one of these from ROS topics (battery, cache contention, event
rate, user settings); benchmarks and tests build them directly. Validation lives here so every
caller gets the same clear error for the same bad input instead of a search that silently
optimises nonsense (a NaN budget makes every comparison False, so "nothing is feasible").

Units follow the rest of the core: accuracy in percentage points, storage in bytes (parameters
only, as in paper §6.3: the model has to fit the L2 cache), latency in milliseconds.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

#: Floor of λ2 (the energy-efficiency weight) in the paper's battery mapping (§6.3).
LAMBDA2_FLOOR = 0.3
#: How far λ1 + λ2 may stray from 1 before the pair is rejected (float rounding from YAML/ROS).
LAMBDA_SUM_TOLERANCE = 1e-6

LambdaFn = Callable[[float], tuple[float, float]]


class ContextError(ValueError):
    """A deployment context (or λ mapping) that no search should run on."""


def lambdas_from_battery(battery: float) -> tuple[float, float]:
    """Default battery -> (λ1, λ2) mapping of paper §6.3: λ2 = max(0.3, 1 - battery), λ1 = 1 - λ2.

    The emptier the battery, the more the search trades accuracy for energy efficiency; the 0.3
    floor keeps energy in the objective even on a full battery. (§6.2 prints max(0.3, battery),
    which would favour energy on a *full* battery; §6.3's form is the one that matches the
    paper's narrative and is used here.) This is only the default: pass any callable with the
    same signature as ``lambda_fn`` to ``DeploymentContext.validated`` or ``runtime3c.search``.
    """
    battery = _real("battery", battery)
    if math.isnan(battery) or not 0.0 <= battery <= 1.0:
        raise ContextError(f"battery must be a fraction in [0, 1]; got {battery!r}")
    lambda2 = max(LAMBDA2_FLOOR, 1.0 - battery)
    return 1.0 - lambda2, lambda2


def _real(name: str, value: object) -> float:
    """``value`` as a float, or ContextError: bools and strings are almost always wiring bugs."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ContextError(f"{name} must be a real number; got {value!r} ({type(value).__name__})")
    return float(value)


def _check_lambda(name: str, value: float) -> float:
    value = _real(name, value)
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ContextError(f"{name} must be in [0, 1]; got {value!r}")
    return value


@dataclass(frozen=True)
class DeploymentContext:
    """Constraints and objective weights of Eq. (1) at one moment.

    battery: remaining charge as a fraction 0-1; NaN means unknown, which is allowed only when
        both λ are given explicitly (there is then nothing to derive from it).
    storage_budget_bytes: parameter bytes the model may occupy (e.g. the free L2 cache,
        (2 - σ) MB in paper §6.3); ``math.inf`` means no storage constraint.
    latency_budget_ms: per-inference latency budget; ``math.inf`` means none.
    accuracy_loss_threshold: largest tolerated accuracy loss vs the backbone, in pp (paper:
        0.3-2). A negative value demands a configuration that beats the backbone.
    event_rate_per_min: acoustic events per minute (how often the model runs); carried for the
        nodes' energy bookkeeping, not used by the search itself.
    lambda1, lambda2: weights of accuracy loss and energy efficiency; None = derive from battery.
    stamp_s: when the context was observed (seconds, any epoch), for logs and traces.
    """

    battery: float
    storage_budget_bytes: int
    latency_budget_ms: float
    accuracy_loss_threshold: float
    event_rate_per_min: float = 0.0
    lambda1: float | None = None
    lambda2: float | None = None
    stamp_s: float = 0.0

    def validated(self, lambda_fn: LambdaFn | None = None) -> DeploymentContext:
        """A copy with both λ filled in, or ContextError naming the first bad field.

        ``lambda_fn`` replaces ``lambdas_from_battery`` when λ are derived from the battery; its
        output is checked like user-given λ, so a broken mapping fails here, not in the search.
        """
        battery = _real("battery", self.battery)
        if not math.isnan(battery) and not 0.0 <= battery <= 1.0:
            raise ContextError(f"battery must be a fraction in [0, 1] (or NaN if unknown); "
                               f"got {battery!r}")
        storage = _real("storage_budget_bytes", self.storage_budget_bytes)
        if math.isnan(storage) or storage < 0:
            raise ContextError(f"storage_budget_bytes must be >= 0 bytes (inf for no budget); "
                               f"got {self.storage_budget_bytes!r}")
        latency = _real("latency_budget_ms", self.latency_budget_ms)
        if math.isnan(latency) or latency < 0:
            raise ContextError(f"latency_budget_ms must be >= 0 ms (inf for no budget); "
                               f"got {self.latency_budget_ms!r}")
        threshold = _real("accuracy_loss_threshold", self.accuracy_loss_threshold)
        if math.isnan(threshold):
            raise ContextError("accuracy_loss_threshold must be a number of percentage points; "
                               "got NaN")
        rate = _real("event_rate_per_min", self.event_rate_per_min)
        if math.isnan(rate) or rate < 0 or math.isinf(rate):
            raise ContextError(f"event_rate_per_min must be a finite rate >= 0; "
                               f"got {self.event_rate_per_min!r}")
        stamp = _real("stamp_s", self.stamp_s)
        if not math.isfinite(stamp):
            raise ContextError(f"stamp_s must be a finite time in seconds; got {self.stamp_s!r}")

        lambda1, lambda2 = self._resolve_lambdas(battery, lambda_fn)
        return dataclasses.replace(
            self,
            battery=battery,
            storage_budget_bytes=storage if math.isinf(storage) else int(storage),
            latency_budget_ms=latency,
            accuracy_loss_threshold=threshold,
            event_rate_per_min=rate,
            lambda1=lambda1,
            lambda2=lambda2,
            stamp_s=stamp,
        )

    def _resolve_lambdas(self, battery: float,
                         lambda_fn: LambdaFn | None) -> tuple[float, float]:
        l1 = None if self.lambda1 is None else _check_lambda("lambda1", self.lambda1)
        l2 = None if self.lambda2 is None else _check_lambda("lambda2", self.lambda2)
        if l1 is None and l2 is None:
            if math.isnan(battery):
                raise ContextError("battery is NaN (unknown): give both lambda1 and lambda2 "
                                   "explicitly, or a battery fraction in [0, 1]")
            mapping = lambdas_from_battery if lambda_fn is None else lambda_fn
            try:
                pair = tuple(mapping(battery))
            except ContextError:
                raise
            except Exception as exc:  # a user mapping that crashes is a bad context input
                raise ContextError(f"lambda_fn failed on battery={battery!r}: {exc}") from exc
            if len(pair) != 2:
                raise ContextError(f"lambda_fn must return (lambda1, lambda2); got {pair!r}")
            l1 = _check_lambda("lambda1 (from lambda_fn)", pair[0])
            l2 = _check_lambda("lambda2 (from lambda_fn)", pair[1])
        elif l1 is None:
            if math.isnan(battery):
                raise ContextError("battery is NaN (unknown): both lambda1 and lambda2 must be "
                                   "given, only lambda2 was")
            l1 = 1.0 - l2
        elif l2 is None:
            if math.isnan(battery):
                raise ContextError("battery is NaN (unknown): both lambda1 and lambda2 must be "
                                   "given, only lambda1 was")
            l2 = 1.0 - l1
        if abs(l1 + l2 - 1.0) > LAMBDA_SUM_TOLERANCE:
            raise ContextError(f"lambda1 + lambda2 must equal 1; got {l1!r} + {l2!r} = {l1 + l2!r}")
        return l1, l2
