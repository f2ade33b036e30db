"""Measured latency closes the loop: an online correction of the latency table, and when to act.

The profile's latency table was measured on a quiet machine; on the robot the same networks run
slower or faster by a factor that moves with load (other nodes, a busy CPU, throttling). The
inference node measures every window's model latency and reports, per configuration id, the
p50/p95 over its recent windows and the time the last swap to it took. This module turns those
reports into:

- ``factor``: measured p95 / table prediction, as a time-decayed weighted median over recent
  reports (weights = windows x 0.5^(age / half-life)), clamped to [0.25, 8]. The median keeps
  one disturbed report from moving it; the decay forgets old load within a few half-lives; the
  clamp keeps a broken clock from turning every configuration infeasible. p95, not p50, because
  the application's promise is that windows (nearly all of them) meet T_bgt.
- ``t_load_ms``: the paper's T = T_load + T_inference. The forward call measured per window
  already moves the parameters and activations; what it does not contain is assembling the
  subnet on a swap (the node's measured swap time). A swap is paid once per configuration, so
  it is charged per window amortised over ``swap_amortise_windows`` (the fewest windows a
  configuration serves between two evolutions in practice).
- decisions with hysteresis: "over budget" when the configuration in force has measured p95
  above the budget in consecutive reports spanning ``over_hold_s``; "load fell" when the factor
  has stayed at or below ``fall_ratio`` x the factor the last search used for ``fall_hold_s``.
  Neither fires within ``min_dwell_s`` of the previous evolution, and each rebases the history
  to the reports that proved it, so the next search uses the new level at once.

The search itself is unchanged: the latency constraint T_table x factor + t_load <= T_bgt is the
same as T_table <= (T_bgt - t_load) / factor, so the node searches with that effective budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

FACTOR_MIN = 0.25
FACTOR_MAX = 8.0
#: Reports of a model latency above this (ms) are treated as broken clocks, not load.
ABSURD_LATENCY_MS = 10_000.0


class ReportRejected(ValueError):
    """A latency report that must not move the correction; ``kind`` names the counter."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind


@dataclass(frozen=True)
class LatencyReport:
    """What the inference node measured for one configuration id over its recent windows."""

    config_id: int
    checkpoint_version: str
    p50_ms: float
    p95_ms: float
    windows: int
    swap_ms: float  # NaN when this configuration was never swapped in (the startup backbone)
    stamp_s: float  # receiver's monotonic time


@dataclass(frozen=True)
class FeedbackSettings:
    half_life_s: float = 4.0
    over_hold_s: float = 1.5
    fall_ratio: float = 0.7
    fall_hold_s: float = 3.0
    min_dwell_s: float = 3.0
    min_windows: int = 3
    swap_amortise_windows: int = 50
    report_horizon_s: float = 30.0

    def validate(self) -> FeedbackSettings:
        for name in ("half_life_s", "over_hold_s", "fall_hold_s", "min_dwell_s",
                     "report_horizon_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0; got {value!r}")
        if self.half_life_s <= 0:
            raise ValueError("half_life_s must be > 0")
        if not (0.0 < self.fall_ratio < 1.0):
            raise ValueError(f"fall_ratio must be in (0, 1); got {self.fall_ratio!r}")
        if self.min_windows < 1 or self.swap_amortise_windows < 1:
            raise ValueError("min_windows and swap_amortise_windows must be >= 1")
        return self


@dataclass
class _Sample:
    stamp_s: float
    ratio: float
    weight: float
    config_id: int


@dataclass
class LatencyFeedback:
    """The correction and the two decisions; one per evolution node (one checkpoint)."""

    checkpoint_version: str
    settings: FeedbackSettings = field(default_factory=FeedbackSettings)
    predicted_ms: dict[int, float] = field(default_factory=dict)  # config_id -> table T
    samples: list[_Sample] = field(default_factory=list)
    swap_ms: dict[int, float] = field(default_factory=dict)
    latest: dict[int, LatencyReport] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    factor_at_search: float = 1.0
    searched_at_s: float = -math.inf
    _over_since: float | None = None
    _fell_since: float | None = None

    def __post_init__(self) -> None:
        self.settings.validate()

    # ------------------------------------------------------------------ inputs
    def register(self, config_id: int, predicted_table_ms: float) -> None:
        """A configuration was published; its reports can be judged against this prediction."""
        if not (math.isfinite(predicted_table_ms) and predicted_table_ms > 0):
            raise ValueError(f"predicted latency must be > 0 ms; got {predicted_table_ms!r}")
        self.predicted_ms[int(config_id)] = float(predicted_table_ms)

    def add(self, report: LatencyReport) -> None:
        """Take one report, or count it under ``rejected`` and raise ReportRejected."""
        try:
            self._check(report)
        except ReportRejected as exc:
            self.rejected[exc.kind] = self.rejected.get(exc.kind, 0) + 1
            raise
        if math.isfinite(report.swap_ms):
            self.swap_ms[report.config_id] = report.swap_ms
        self.latest[report.config_id] = report
        if report.windows >= self.settings.min_windows:
            ratio = report.p95_ms / self.predicted_ms[report.config_id]
            self.samples.append(_Sample(report.stamp_s, ratio, float(report.windows),
                                        report.config_id))
        horizon = report.stamp_s - self.settings.report_horizon_s
        self.samples = [s for s in self.samples if s.stamp_s >= horizon]

    def _check(self, r: LatencyReport) -> None:
        if r.checkpoint_version != self.checkpoint_version:
            raise ReportRejected("latency_reports_other_checkpoint",
                                 f"report for checkpoint {r.checkpoint_version!r}, this node "
                                 f"plans for {self.checkpoint_version!r}")
        if r.config_id not in self.predicted_ms:
            raise ReportRejected("latency_reports_unknown_config",
                                 f"report for unknown configuration id {r.config_id}")
        values = (r.p50_ms, r.p95_ms, r.stamp_s)
        if not all(math.isfinite(v) for v in values) or math.isinf(r.swap_ms):
            raise ReportRejected("latency_reports_not_finite",
                                 f"report with a non-finite value: p50={r.p50_ms!r}, "
                                 f"p95={r.p95_ms!r}, swap={r.swap_ms!r}")
        if r.p50_ms <= 0 or r.p95_ms <= 0 or r.windows < 0 or r.swap_ms < 0:
            raise ReportRejected("latency_reports_negative",
                                 f"report with a value <= 0: p50={r.p50_ms}, p95={r.p95_ms}, "
                                 f"windows={r.windows}, swap={r.swap_ms}")
        if max(r.p50_ms, r.p95_ms, r.swap_ms if math.isfinite(r.swap_ms) else 0.0) \
                > ABSURD_LATENCY_MS or r.p95_ms < r.p50_ms:
            raise ReportRejected("latency_reports_absurd",
                                 f"absurd report: p50={r.p50_ms} ms, p95={r.p95_ms} ms, "
                                 f"swap={r.swap_ms} ms")

    # ------------------------------------------------------------------ the correction
    def factor(self, now_s: float) -> float:
        """Measured/predicted p95 ratio (weighted median, time-decayed, clamped); 1.0 if none."""
        weighted = sorted((s.ratio, s.weight * 0.5 ** (max(0.0, now_s - s.stamp_s)
                                                      / self.settings.half_life_s))
                          for s in self.samples)
        total = sum(w for _, w in weighted)
        if total <= 0:
            return 1.0
        running = 0.0
        for ratio, weight in weighted:
            running += weight
            if running >= total / 2:
                return min(FACTOR_MAX, max(FACTOR_MIN, ratio))
        return min(FACTOR_MAX, max(FACTOR_MIN, weighted[-1][0]))  # pragma: no cover

    def t_load_ms(self) -> float:
        """Swap time charged per window: median of the measured swaps, amortised."""
        swaps = sorted(self.swap_ms.values())
        if not swaps:
            return 0.0
        return swaps[len(swaps) // 2] / self.settings.swap_amortise_windows

    def corrected_ms(self, predicted_table_ms: float, now_s: float) -> float:
        """T = T_load + T_inference for a configuration the table predicts at ``ms``."""
        return predicted_table_ms * self.factor(now_s) + self.t_load_ms()

    def effective_budget_ms(self, budget_ms: float, now_s: float) -> float:
        """The table budget equivalent to ``budget_ms`` on the corrected scale (floor 1 µs)."""
        return max(1e-3, (budget_ms - self.t_load_ms()) / self.factor(now_s))

    # ------------------------------------------------------------------ decisions
    def mark_searched(self, now_s: float) -> None:
        """A search ran (for whatever reason) with the factor in force now."""
        self.factor_at_search = self.factor(now_s)
        self.searched_at_s = now_s
        self._over_since = None
        self._fell_since = None

    def decide(self, current_id: int, budget_ms: float, now_s: float) -> str | None:
        """Why to re-evolve on measured latency ("measured latency over budget: ...",
        "load fell: ...") or None.

        A trigger only fires when the rebased correction differs from the one the last search
        used (up by 5 %, or down to ``fall_ratio``): a search with the same correction would
        choose the same configuration, so an unreachable budget cannot cause a stream of them.
        """
        report = self.latest.get(current_id)
        over = (report is not None and report.windows >= self.settings.min_windows
                and report.p95_ms > budget_ms)
        self._over_since = (now_s if self._over_since is None else self._over_since) \
            if over else None
        fell = self.factor(now_s) <= self.settings.fall_ratio * self.factor_at_search
        self._fell_since = (now_s if self._fell_since is None else self._fell_since) \
            if fell else None
        if now_s - self.searched_at_s < self.settings.min_dwell_s:
            return None
        if self._over_since is not None and now_s - self._over_since >= self.settings.over_hold_s:
            since = self._over_since - 1.0
            if self._factor_since(since, now_s) > 1.05 * self.factor_at_search:
                self._rebase(since)
                return (f"measured latency over budget: p95 {report.p95_ms:.3f} ms > T_bgt "
                        f"{budget_ms:.3f} ms (config {current_id}, correction "
                        f"x{self.factor_at_search:.2f} -> x{self.factor(now_s):.2f})")
        if self._fell_since is not None and now_s - self._fell_since >= self.settings.fall_hold_s:
            self._rebase(self._fell_since - 1.0)
            return (f"load fell: latency correction x{self.factor_at_search:.2f} -> "
                    f"x{self.factor(now_s):.2f}")
        return None

    def _factor_since(self, since_s: float, now_s: float) -> float:
        saved = self.samples
        self._rebase(since_s)
        try:
            return self.factor(now_s)
        finally:
            self.samples = saved

    def _rebase(self, since_s: float) -> None:
        """Forget reports older than the ones that proved the change: the new level counts now."""
        kept = [s for s in self.samples if s.stamp_s >= since_s]
        if kept:
            self.samples = kept

    def diagnostics(self, now_s: float) -> dict[str, str]:
        values = {"latency_correction": f"{self.factor(now_s):.3f}",
                  "latency_correction_at_search": f"{self.factor_at_search:.3f}",
                  "t_load_ms_per_window": f"{self.t_load_ms():.4f}"}
        values.update({k: str(v) for k, v in sorted(self.rejected.items())})
        return values
