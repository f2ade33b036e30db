"""The measured-latency correction: robust, bounded, forgetting; decisions with hysteresis."""

import math

import pytest

from adaspring_ros.core.model.latency_feedback import (
    FACTOR_MAX,
    FACTOR_MIN,
    FeedbackSettings,
    LatencyFeedback,
    LatencyReport,
    ReportRejected,
)

VERSION = "ckpt-1"


def report(config_id=1, p95=2.0, p50=None, windows=20, swap=math.nan, t=0.0, version=VERSION):
    return LatencyReport(config_id, version, p95 if p50 is None else p50, p95, windows, swap, t)


def feedback(**settings) -> LatencyFeedback:
    fb = LatencyFeedback(VERSION, FeedbackSettings(**settings))
    fb.register(1, 1.0)  # the table predicts 1 ms for configuration 1
    fb.register(2, 0.5)
    return fb


def test_factor_is_the_measured_over_predicted_p95_and_one_without_reports():
    fb = feedback()
    assert fb.factor(0.0) == 1.0
    fb.add(report(p95=3.0, t=0.0))
    assert fb.factor(0.0) == pytest.approx(3.0)
    assert fb.corrected_ms(0.2, 0.0) == pytest.approx(0.6)
    assert fb.effective_budget_ms(1.5, 0.0) == pytest.approx(0.5)


def test_one_outlier_report_does_not_move_the_median():
    fb = feedback()
    for t in range(6):
        fb.add(report(p95=2.0, t=float(t)))
    fb.add(report(p95=50.0, t=6.0))
    assert fb.factor(6.0) == pytest.approx(2.0)


def test_factor_is_clamped():
    fb = feedback()
    fb.add(report(p95=100.0, t=0.0))
    assert fb.factor(0.0) == FACTOR_MAX
    fb = feedback()
    fb.add(report(p95=0.01, t=0.0))
    assert fb.factor(0.0) == FACTOR_MIN


def test_old_load_is_forgotten():
    fb = feedback(half_life_s=2.0, report_horizon_s=60.0)
    for t in range(10):
        fb.add(report(p95=4.0, t=float(t)))
    for t in range(10, 20):
        fb.add(report(p95=1.0, t=float(t)))
    assert fb.factor(19.0) == pytest.approx(1.0)
    fb.add(report(p95=1.0, t=75.0))  # reports older than the horizon (60 s) are dropped
    assert min(s.stamp_s for s in fb.samples) >= 15.0 and len(fb.samples) == 6


def test_t_load_is_the_median_swap_amortised():
    fb = feedback(swap_amortise_windows=10)
    fb.add(report(config_id=1, swap=5.0))
    fb.add(report(config_id=2, swap=9.0, p95=1.0))
    fb.add(report(config_id=1, swap=7.0))
    assert fb.t_load_ms() == pytest.approx(0.9)  # median of {7, 9} (upper) / 10
    assert fb.corrected_ms(1.0, 0.0) > 1.0 * fb.factor(0.0)


@pytest.mark.parametrize("bad, kind", [
    (dict(p95=math.nan), "latency_reports_not_finite"),
    (dict(p95=math.inf), "latency_reports_not_finite"),
    (dict(swap=math.inf), "latency_reports_not_finite"),
    (dict(p95=-1.0), "latency_reports_negative"),
    (dict(windows=-3), "latency_reports_negative"),
    (dict(swap=-2.0), "latency_reports_negative"),
    (dict(p95=1e6), "latency_reports_absurd"),
    (dict(p50=3.0, p95=2.0), "latency_reports_absurd"),
    (dict(config_id=99), "latency_reports_unknown_config"),
    (dict(version="other"), "latency_reports_other_checkpoint"),
])
def test_bad_reports_are_counted_and_ignored(bad, kind):
    fb = feedback()
    fb.add(report(p95=2.0))
    with pytest.raises(ReportRejected) as exc:
        fb.add(report(**bad))
    assert exc.value.kind == kind
    assert fb.rejected == {kind: 1}
    assert fb.factor(0.0) == pytest.approx(2.0)
    assert fb.diagnostics(0.0)[kind] == "1"


def test_reports_with_too_few_windows_do_not_move_the_factor():
    fb = feedback(min_windows=5)
    fb.add(report(p95=6.0, windows=2))
    assert fb.factor(0.0) == 1.0


def test_register_refuses_a_non_positive_prediction():
    fb = feedback()
    with pytest.raises(ValueError):
        fb.register(3, 0.0)
    with pytest.raises(ValueError):
        fb.register(3, math.nan)


def test_settings_are_validated():
    with pytest.raises(ValueError):
        FeedbackSettings(fall_ratio=1.5).validate()
    with pytest.raises(ValueError):
        FeedbackSettings(half_life_s=0.0).validate()
    with pytest.raises(ValueError):
        FeedbackSettings(min_windows=0).validate()


def run_reports(fb, config_id, p95, t0, t1, budget, step=1.0):
    """Feed one report per second and collect the decisions."""
    fired = []
    t = t0
    while t < t1:
        fb.add(report(config_id=config_id, p95=p95, t=t))
        reason = fb.decide(config_id, budget, t)
        if reason:
            fired.append((t, reason))
            fb.mark_searched(t)
        t += step
    return fired


def test_sustained_over_budget_fires_once_then_holds_and_load_fall_scales_back():
    fb = feedback(over_hold_s=1.5, min_dwell_s=3.0, fall_hold_s=2.0)
    fb.mark_searched(0.0)
    assert run_reports(fb, 1, 0.9, 0.0, 10.0, budget=1.0) == []  # under budget: quiet
    fired = run_reports(fb, 1, 3.0, 10.0, 20.0, budget=1.0)  # a hog: 3x
    assert len(fired) == 1 and fired[0][1].startswith("measured latency over budget")
    assert fired[0][0] - 10.0 <= 3.0
    assert fb.factor_at_search == pytest.approx(3.0)  # rebased: the search saw the new level
    # still slow but the search already knows: no second evolution (no oscillation)
    assert run_reports(fb, 1, 3.0, 20.0, 40.0, budget=1.0) == []
    fired = run_reports(fb, 1, 0.9, 40.0, 60.0, budget=1.0)  # the hog stops
    assert len(fired) == 1 and fired[0][1].startswith("load fell")
    assert fired[0][0] - 40.0 <= 10.0


def test_a_single_slow_report_does_not_trigger():
    fb = feedback(over_hold_s=1.5, min_dwell_s=0.0)
    fb.mark_searched(-10.0)
    fired = run_reports(fb, 1, 0.9, 0.0, 5.0, budget=1.0)
    fb.add(report(p95=5.0, t=5.0))
    assert fb.decide(1, 1.0, 5.0) is None
    fired += run_reports(fb, 1, 0.9, 6.0, 12.0, budget=1.0)
    assert fired == []


def test_no_trigger_within_the_minimum_dwell():
    fb = feedback(over_hold_s=0.0, min_dwell_s=5.0)
    fb.mark_searched(0.0)
    fb.add(report(p95=3.0, t=1.0))
    assert fb.decide(1, 1.0, 1.0) is None
    fb.add(report(p95=3.0, t=6.0))
    assert fb.decide(1, 1.0, 6.0) is not None


def test_an_unreachable_budget_does_not_cause_a_stream_of_searches():
    fb = feedback(over_hold_s=1.0, min_dwell_s=1.0)
    fb.mark_searched(0.0)
    fired = run_reports(fb, 2, 2.0, 0.0, 30.0, budget=0.1)  # 4x the table, budget far below
    assert len(fired) == 1


def test_meter_reports_recent_windows_per_configuration():
    from adaspring_ros.core.model.latency_meter import LatencyMeter

    meter = LatencyMeter(window_s=3.0, max_windows=50)
    for i in range(20):
        meter.add(1, 1.0 + i / 10, now_s=i * 0.1)  # 1.0 .. 2.9 ms
    meter.note_swap(2, 4.5)
    meter.add(2, 0.5, now_s=1.0)
    by_id = {s.config_id: s for s in meter.summaries(now_s=2.0)}
    assert by_id[1].windows == 20 and by_id[1].p95_ms == pytest.approx(2.8)
    assert by_id[1].p50_ms == pytest.approx(1.9) and math.isnan(by_id[1].swap_ms)
    assert by_id[2].swap_ms == 4.5
    assert [s.config_id for s in meter.summaries(now_s=4.5)] == [1]  # config 2 aged out
    assert meter.summaries(now_s=10.0) == []
    with pytest.raises(ValueError):
        LatencyMeter(window_s=0.0)
