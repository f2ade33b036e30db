"""Measured latency closes the loop: an online correction of the latency table, and when to act.

The profile's latency table was measured on a quiet machine; on the robot the same networks run
slower or faster by a factor that moves with load (other nodes, a busy CPU, throttling). The
inference node measures every window's model latency and reports, per configuration id, the
p50/p95 over its recent windows and the time the last swap to it took. This module turns those
reports into:

- ``factor``: measured p50 / table prediction, as a time-decayed weighted median over recent
  reports (weights = windows x 0.5^(age / half-life)), clamped to [0.25, 8]. The median keeps
  one disturbed report from moving it; the decay forgets old load within a few half-lives; the
  clamp keeps a broken clock from turning every configuration infeasible.
- ``tail_ms``: measured p95 - p50, the same decayed median. On a shared CPU the slow windows are
  the ones the scheduler preempted (measured here with 2 cores under load: p50 1.6 ms steady,
  p95 2-16 ms), and a preemption costs about the same whatever the model, so the tail is added,
  not multiplied: predicted p95 = T_table x factor + tail + T_load. p95, because the
  application's promise is that (nearly) every window meets T_bgt.
- ``t_load_ms``: the paper's T = T_load + T_inference. The forward call measured per window
  already moves the parameters and activations; what it does not contain is assembling the
  subnet on a swap (the node's measured swap time). A swap is paid once per configuration, so
  it is charged per window amortised over ``swap_amortise_windows`` (the fewest windows a
  configuration serves between two evolutions in practice).
When to act on it (with hysteresis) is `core.model.latency_governor`'s job.

The search itself is unchanged: the constraint T_table x factor + tail + T_load <= T_bgt is the
same as T_table <= (T_bgt - tail - T_load) / factor, so the node searches with that budget.
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
    fall_hold_s: float = 4.0
    min_dwell_s: float = 3.0
    probe_s: float = 20.0
    over_margin: float = 0.1
    min_windows: int = 3
    swap_amortise_windows: int = 50
    report_horizon_s: float = 30.0

    def validate(self) -> FeedbackSettings:
        for name in ("half_life_s", "over_hold_s", "fall_hold_s", "min_dwell_s", "probe_s",
                     "report_horizon_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0; got {value!r}")
        if self.half_life_s <= 0:
            raise ValueError("half_life_s must be > 0")
        if not (math.isfinite(self.over_margin) and 0.0 <= self.over_margin < 0.9):
            raise ValueError(f"over_margin must be in [0, 0.9); got {self.over_margin!r}")
        if not (0.0 < self.fall_ratio < 1.0):
            raise ValueError(f"fall_ratio must be in (0, 1); got {self.fall_ratio!r}")
        if self.min_windows < 1 or self.swap_amortise_windows < 1:
            raise ValueError("min_windows and swap_amortise_windows must be >= 1")
        return self


@dataclass
class _Sample:
    stamp_s: float
    ratio: float  # p50 / table prediction
    tail_ms: float  # p95 - p50
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
    floor_ms: float = 1e-3  # no table budget below this (the fastest configuration's latency)

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
            ratio = report.p50_ms / self.predicted_ms[report.config_id]
            self.samples.append(_Sample(report.stamp_s, ratio, report.p95_ms - report.p50_ms,
                                        float(report.windows), report.config_id))
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
    def _median(self, values, now_s: float) -> float | None:
        """Weighted median of (value, sample) pairs, weights decayed by the samples' age."""
        half_life = self.settings.half_life_s
        weighted = sorted((v, s.weight * 0.5 ** (max(0.0, now_s - s.stamp_s) / half_life))
                          for v, s in values)
        total = sum(w for _, w in weighted)
        running = 0.0
        for value, weight in weighted:
            running += weight
            if running >= total / 2:
                return value
        return None

    def factor(self, now_s: float) -> float:
        """Measured/predicted p50 ratio (weighted median, time-decayed, clamped); 1.0 if none."""
        ratio = self._median(((s.ratio, s) for s in self.samples), now_s)
        return 1.0 if ratio is None else min(FACTOR_MAX, max(FACTOR_MIN, ratio))

    def tail_ms(self, now_s: float) -> float:
        """Measured p95 - p50 (weighted median, time-decayed); 0 if none."""
        tail = self._median(((s.tail_ms, s) for s in self.samples), now_s)
        return 0.0 if tail is None else tail

    def t_load_ms(self) -> float:
        """Swap time charged per window: median of the measured swaps, amortised."""
        swaps = sorted(self.swap_ms.values())
        if not swaps:
            return 0.0
        return swaps[len(swaps) // 2] / self.settings.swap_amortise_windows

    def corrected_ms(self, predicted_table_ms: float, now_s: float) -> float:
        """Predicted p95 T = T_table x factor + tail + T_load."""
        return predicted_table_ms * self.factor(now_s) + self.tail_ms(now_s) + self.t_load_ms()

    def effective_budget_ms(self, budget_ms: float, now_s: float) -> float:
        """The table budget equivalent to ``budget_ms`` on the measured scale (floor 1 µs)."""
        return table_budget(budget_ms, self.factor(now_s), self.tail_ms(now_s),
                            self.t_load_ms(), self.floor_ms)

    def rebase(self, since_s: float) -> None:
        """Forget reports older than ``since_s`` (those that proved a change keep counting)."""
        kept = [s for s in self.samples if s.stamp_s >= since_s]
        if kept:
            self.samples = kept

    def table_budget_since(self, since_s: float, budget_ms: float, now_s: float,
                           config_id: int | None = None) -> float:
        """``effective_budget_ms`` from the reports since ``since_s`` (of one configuration)."""
        saved = self.samples
        self.samples = [s for s in saved if s.stamp_s >= since_s
                        and (config_id is None or s.config_id == config_id)] or saved
        try:
            return self.effective_budget_ms(budget_ms, now_s)
        finally:
            self.samples = saved

    def diagnostics(self, now_s: float) -> dict[str, str]:
        values = {"latency_correction": f"{self.factor(now_s):.3f}",
                  "latency_tail_ms": f"{self.tail_ms(now_s):.3f}",
                  "t_load_ms_per_window": f"{self.t_load_ms():.4f}"}
        values.update({k: str(v) for k, v in sorted(self.rejected.items())})
        return values


def table_budget(budget_ms: float, factor: float, tail_ms: float, t_load_ms: float,
                 floor_ms: float = 1e-3) -> float:
    """T_table <= this  <=>  T_table x factor + tail + T_load <= budget (floored)."""
    return max(floor_ms, (budget_ms - tail_ms - t_load_ms) / factor)


def fastest_table_ms(profile) -> float:
    """The lowest latency the profile's table predicts for any configuration (chain DP)."""
    from adaspring_ros.core.model import search_space as ss

    arch = profile.arch
    best = {arch.layers[0].out_channels: profile.stem_latency_ms}
    for layer in range(1, arch.n_compressible + 1):
        nxt: dict[int, float] = {}
        for cin, t in best.items():
            for option, ms in profile.latency_ms[layer][cin].items():
                cout = ss.layer_out_channels(arch, layer, option, cin)
                nxt[cout] = min(nxt.get(cout, math.inf), t + ms)
        best = nxt
    return min(t + profile.head_latency_ms[c] for c, t in best.items())
