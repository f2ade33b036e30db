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
    fastest_table_ms,
)
from adaspring_ros.core.model.latency_governor import FELL, OVER, PROBE, LatencyGovernor

VERSION = "ckpt-1"


def report(config_id=1, p95=2.0, p50=None, windows=20, swap=math.nan, t=0.0, version=VERSION):
    return LatencyReport(config_id, version, p95 if p50 is None else p50, p95, windows, swap, t)


def feedback(**settings) -> LatencyFeedback:
    fb = LatencyFeedback(VERSION, FeedbackSettings(**settings))
    fb.register(1, 1.0)  # the table predicts 1 ms for configuration 1
    fb.register(2, 0.5)
    return fb


def test_factor_is_the_measured_over_predicted_p50_and_one_without_reports():
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


def governed(**settings):
    fb = feedback(**settings)
    gov = LatencyGovernor(fb)
    gov.mark_searched(0.0)
    return fb, gov


def run_reports(gov, config_id, p95, t0, t1, budget, p50=None, step=1.0):
    """Feed one report per second and collect the decisions (each followed by a search)."""
    fired = []
    t = t0
    while t < t1:
        gov.fb.add(report(config_id=config_id, p95=p95, p50=p50, t=t))
        reason = gov.decide(config_id, budget, t)
        if reason:
            fired.append((t, reason))
            gov.mark_searched(t)
        t += step
    return fired


def test_sustained_over_budget_fires_once_then_holds_and_load_fall_scales_back():
    fb, gov = governed(over_hold_s=1.5, min_dwell_s=3.0, fall_hold_s=2.0, probe_s=100.0)
    assert run_reports(gov, 1, 0.9, 0.0, 10.0, budget=1.0) == []  # under budget: quiet
    fired = run_reports(gov, 1, 3.0, 10.0, 20.0, budget=1.0)  # a hog: 3x
    assert len(fired) == 1 and fired[0][1].startswith(OVER)
    assert fired[0][0] - 10.0 <= 3.0
    assert gov.held is not None and gov.held.factor == pytest.approx(3.0)  # rebased
    aim = 1.0 - gov.s.over_margin  # a held search aims below T_bgt
    assert gov.search_budget(1.0, 20.0) == pytest.approx(aim / 3.0)
    # the smaller configuration 2 runs (table 0.5 ms) at 3x: still slow, no second evolution
    assert run_reports(gov, 2, 1.5, 20.0, 40.0, budget=1.0) == []
    assert gov.search_budget(1.0, 40.0) == pytest.approx(aim / 3.0)  # the hold keeps it
    fired = run_reports(gov, 2, 0.45, 40.0, 60.0, budget=1.0)  # the hog stops
    assert len(fired) == 1 and fired[0][1].startswith(FELL)
    assert fired[0][0] - 40.0 <= 10.0
    assert gov.held is None and gov.search_budget(1.0, 60.0) > 0.9


def test_a_single_slow_report_does_not_trigger():
    fb, gov = governed(over_hold_s=1.5, min_dwell_s=0.0)
    fired = run_reports(gov, 1, 0.9, 1.0, 5.0, budget=1.0)
    fb.add(report(p95=5.0, t=5.0))
    assert gov.decide(1, 1.0, 5.0) is None
    fired += run_reports(gov, 1, 0.9, 6.0, 12.0, budget=1.0)
    assert fired == []


def test_no_trigger_within_the_minimum_dwell():
    fb, gov = governed(over_hold_s=0.0, min_dwell_s=5.0)
    fb.add(report(p95=3.0, t=1.0))
    assert gov.decide(1, 1.0, 1.0) is None
    fb.add(report(p95=3.0, t=6.0))
    assert gov.decide(1, 1.0, 6.0) is not None


def test_an_unreachable_budget_does_not_cause_a_stream_of_searches():
    fb, gov = governed(over_hold_s=1.0, min_dwell_s=1.0, probe_s=1000.0)
    fired = run_reports(gov, 2, 2.0, 0.0, 30.0, budget=0.1)  # 4x the table, budget far below
    assert len(fired) == 1

def _run_hog(fb, gov, *, seconds, small_p95, cpu=None):
    """One report a second under a lasting hog: the big model (config 1) misses a 2 ms budget
    (p95 4 ms), the small one (config 2) reports small_p95(t), the CPU busy share is cpu(t)
    (None: no samples); returns the governor's (time, reason) decisions, switching
    configuration as the evolution node would."""
    fired, current = [], 1
    for t in map(float, range(seconds)):
        if cpu is not None:
            gov.note_cpu(t, cpu(t))
        big = current == 1
        p95 = 4.0 if big else small_p95(t)
        fb.add(report(config_id=current, p50=1.0 if big else 0.5, p95=p95, t=t))
        reason = gov.decide(current, 2.0, t)
        if reason:
            fired.append((t, reason))
            gov.mark_searched(t)
            current = 2 if reason.startswith(OVER) else 1
            fb.register(current, 1.0 if current == 1 else 0.5)
    return fired


def test_a_small_model_that_hides_the_load_is_probed_with_backoff():
    """Preemption hurts the big model's tail only: the small one cannot see the load end."""
    fb, gov = governed(over_hold_s=1.0, min_dwell_s=2.0, fall_hold_s=2.0, probe_s=10.0)
    fb.floor_ms = 0.1
    fired = _run_hog(fb, gov, seconds=100, small_p95=lambda t: 0.6)  # 100 s of a lasting hog
    kinds = [r.split(":")[0] for _, r in fired]
    assert kinds[0] == OVER and PROBE in kinds
    assert len(fired) <= 8  # over, probe, over, probe (20 s), over, probe (40 s), ...
    gaps = [b[0] - a[0] for a, b in zip(fired, fired[1:], strict=False)
            if b[1].startswith(PROBE)]
    assert gaps == sorted(gaps) and gaps[-1] > gaps[0]  # exponentially rarer


def test_a_probe_waits_while_the_cpu_is_as_busy_as_when_the_hold_was_taken():
    """Session 12's load step: each probe under a lasting load cost two evolutions. With the CPU
    signal on, probes are deferred (waits doubling) while the CPU says the load runs on, and go
    ahead once it is less busy than at the hold (here 0.75 against 0.9, not yet the 0.2 fall
    that scales up by itself)."""
    fb = feedback(over_hold_s=1.0, min_dwell_s=2.0, fall_hold_s=2.0, probe_s=10.0)
    fb.floor_ms = 0.1
    gov = LatencyGovernor(fb, cpu_fall_share=0.2)
    gov.mark_searched(0.0)
    fired = _run_hog(fb, gov, seconds=100, small_p95=lambda t: 0.6,
                     cpu=lambda t: 0.9 if t < 60 else 0.75)
    kinds = [r.split(":")[0] for _, r in fired]
    assert kinds[:3] == [OVER, PROBE, OVER] and fired[1][0] >= 60.0, fired
    # the probe failed (the hog runs on, as _run_hog's big model says): that one failure
    # counts, the deferrals before it do not
    assert gov.probes_deferred >= 2 and gov.backoff == 1
    assert gov.diagnostics(100.0)["latency_probes_deferred"] == str(gov.probes_deferred)


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


def test_preemption_tail_is_added_not_multiplied():
    fb = feedback()
    fb.add(report(p50=1.0, p95=3.0, t=0.0))  # the table says 1 ms; half the windows wait 2 ms
    assert fb.factor(0.0) == pytest.approx(1.0)
    assert fb.tail_ms(0.0) == pytest.approx(2.0)
    assert fb.corrected_ms(0.5, 0.0) == pytest.approx(2.5)
    assert fb.effective_budget_ms(4.0, 0.0) == pytest.approx(2.0)
    assert fb.effective_budget_ms(1.5, 0.0) == pytest.approx(1e-3)  # nothing can meet it


def test_a_tail_over_the_budget_fires_once_then_waits_for_the_load_to_fall():
    fb, gov = governed(over_hold_s=1.0, min_dwell_s=1.0, fall_hold_s=2.0, probe_s=1000.0)
    fired = run_reports(gov, 1, 6.0, 0.0, 30.0, budget=2.0, p50=1.0)  # preemption: p95 up
    assert len(fired) == 1 and fired[0][1].startswith(OVER)
    fired = run_reports(gov, 1, 1.1, 30.0, 50.0, budget=2.0, p50=1.0)  # the load goes
    assert len(fired) == 1 and fired[0][1].startswith(FELL)


def test_fastest_table_latency_is_the_minimum_over_all_configurations():
    import itertools

    from adaspring_ros.core.model import search_space as ss
    from adaspring_ros.testing.profile_fixture import make_profile

    profile = make_profile()
    brute = min(profile.predict(c).latency_ms
                for c in itertools.product(ss.OPTIONS, repeat=profile.arch.n_compressible))
    assert fastest_table_ms(profile) == pytest.approx(brute)


def test_a_fluctuating_load_makes_scale_ups_exponentially_rarer():
    """Each scale-up that goes over budget again doubles the hold before the next one."""
    fb, gov = governed(over_hold_s=1.0, min_dwell_s=2.0, fall_hold_s=2.0, probe_s=1000.0)
    fb.floor_ms = 0.1
    # the big model always misses under this load; the small one looks fine half the time
    fired = _run_hog(fb, gov, seconds=120,
                     small_p95=lambda t: 1.5 if int(t) % 10 < 5 else 0.6)
    ups = [t for t, r in fired if not r.startswith(OVER)]
    gaps = [b - a for a, b in zip(ups, ups[1:], strict=False)]
    assert len(fired) <= 10 and gov.backoff >= 2
    assert gaps == sorted(gaps)


def _hog_ends_as_the_hold_is_taken(cpu_fall_share):
    """The load step's failure: the big model (config 1, table 1 ms) is over a 2 ms budget under
    a hog that ends at t = 20; the p95 lags, so the hold is taken on the hog's last seconds and
    the reduced configuration (config 2) only ever runs on a quiet machine. Returns the
    decisions (time, reason) up to t = 60 and the governor."""
    fb = feedback(over_hold_s=1.5, min_dwell_s=3.0, fall_hold_s=4.0, probe_s=20.0)
    fb.floor_ms = 0.1
    gov = LatencyGovernor(fb, cpu_fall_share=cpu_fall_share)
    gov.mark_searched(0.0)
    fired, current = [], 1
    for t in [x / 2 for x in range(120)]:
        hog = t < 20.0
        gov.note_cpu(t, 1.0 if hog else 0.3)
        if current == 1:
            fb.add(report(config_id=1, p50=1.0, p95=4.0 if t < 21.0 else 1.2, t=t))
        else:  # the reduced configuration, after the hog: its own latency never changes
            fb.add(report(config_id=2, p50=0.5, p95=0.6, t=t))
        if t >= 18.0:  # the hog started before; the first evolution happened at its start
            reason = gov.decide(current, 2.0, t)
            if reason:
                fired.append((t, reason))
                gov.mark_searched(t)
                current = 2 if reason.startswith(OVER) else 1
    return fired, gov


def test_a_load_that_ends_before_the_reduced_configuration_settles_is_seen_on_the_cpu():
    fired, gov = _hog_ends_as_the_hold_is_taken(cpu_fall_share=0.2)
    kinds = [r.split(":")[0] for _, r in fired]
    assert kinds == [OVER, FELL]
    assert fired[0][0] >= 19.5  # the hold was taken on the hog's last seconds
    assert "CPU busy share 0.30, 1.00 when held" in fired[1][1]
    assert fired[1][0] - 20.0 <= 10.0  # scaled back up within 10 s of the hog's end
    assert gov.held is None and gov.held_cpu is None


def test_without_the_cpu_signal_only_the_probe_scales_back_up():
    fired, _ = _hog_ends_as_the_hold_is_taken(cpu_fall_share=0.0)
    kinds = [r.split(":")[0] for _, r in fired]
    assert kinds == [OVER, PROBE]  # the reduced configuration saw no fall of its own
    assert fired[1][0] - fired[0][0] >= 20.0


def test_a_lasting_hog_keeps_the_cpu_busy_and_the_hold_on():
    fb = feedback(over_hold_s=1.0, min_dwell_s=2.0, fall_hold_s=2.0, probe_s=1000.0)
    fb.floor_ms = 0.1
    gov = LatencyGovernor(fb, cpu_fall_share=0.2)
    gov.mark_searched(0.0)
    for t in map(float, range(60)):
        gov.note_cpu(t, 0.95 + 0.05 * (t % 2))  # busy, with noise
    fired = _run_hog(fb, gov, seconds=60, small_p95=lambda t: 1.5)
    assert [r.split(":")[0] for _, r in fired] == [OVER]


def _swinging_hog(cpu_fall_share, seconds=60):
    """A lasting hog (CPU busy all along) under which the reduced configuration's p95 swings
    between over and well under its settled value, as measured in the load step."""
    fb = feedback(over_hold_s=1.0, min_dwell_s=2.0, fall_hold_s=2.0, probe_s=1000.0)
    fb.floor_ms = 0.1
    gov = LatencyGovernor(fb, cpu_fall_share=cpu_fall_share)
    gov.mark_searched(0.0)
    return _run_hog(fb, gov, seconds=seconds,
                    small_p95=lambda t: 1.6 if int(t) % 12 < 6 else 0.7,
                    cpu=lambda t: 0.97 + 0.03 * (t % 2))


def test_a_busy_cpu_vetoes_a_latency_fall_under_a_lasting_hog():
    vetoed = _swinging_hog(cpu_fall_share=0.2)
    assert [r.split(":")[0] for _, r in vetoed] == [OVER]
    unvetoed = _swinging_hog(cpu_fall_share=0.0)  # latency reports alone: it scales up
    assert FELL in [r.split(":")[0] for _, r in unvetoed]


def test_without_a_hold_a_latency_fall_needs_the_cpu_to_fall_too():
    """A search ran on a busy machine; the configuration then runs faster while the CPU stays as
    busy: no scale-up; once the CPU falls, the latency fall counts."""
    fb = feedback(over_hold_s=1.0, min_dwell_s=2.0, fall_hold_s=2.0, probe_s=1000.0)
    fb.floor_ms = 0.1
    gov = LatencyGovernor(fb, cpu_fall_share=0.2)
    for t in (0.0, 1.0, 2.0):
        gov.note_cpu(t, 0.9)
        fb.add(report(config_id=1, p50=2.0, p95=2.4, t=t))
    gov.mark_searched(2.0)
    assert gov.searched_cpu == pytest.approx(0.9)
    fired = []
    for t in map(float, range(3, 40)):
        gov.note_cpu(t, 0.9 if t < 20 else 0.4)
        fb.add(report(config_id=1, p50=1.0, p95=1.1, t=t))
        reason = gov.decide(1, 2.0, t)
        if reason:
            fired.append((t, reason))
            gov.mark_searched(t)
    assert len(fired) == 1 and fired[0][1].startswith(FELL) and fired[0][0] >= 20.0


def test_one_failed_scale_up_doubles_the_hold_once():
    """Two "over budget" after one scale-up (the hog's last seconds) count as one failure."""
    fb, gov = governed(over_hold_s=1.0, min_dwell_s=2.0, fall_hold_s=2.0, probe_s=20.0)
    gov.last_up_s = 10.0  # a scale-up at t = 10
    gov.backoff = 0
    fb.add(report(config_id=1, p95=4.0, t=11.0))
    gov.decide(1, 2.0, 11.0)
    fb.add(report(config_id=1, p95=4.0, t=12.5))
    assert gov.decide(1, 2.0, 12.5).startswith(OVER)
    gov.mark_searched(12.5)
    assert gov.backoff == 1
    fired = run_reports(gov, 2, 6.0, 13.0, 20.0, budget=2.0)  # the reduced one: worse still
    assert [r.split(":")[0] for _, r in fired] == [OVER]
    assert gov.backoff == 1


def test_cpu_samples_are_validated():
    fb, gov = governed()
    gov.note_cpu(1.0, math.nan)
    assert gov.diagnostics(1.0)["cpu_busy_share"] == "n/a"
    gov.note_cpu(1.0, 1.7)  # clamped
    assert gov.diagnostics(1.0)["cpu_busy_share"] == "1.00"
    with pytest.raises(ValueError):
        LatencyGovernor(fb, cpu_fall_share=1.5)


def test_a_held_search_aims_below_the_budget_by_the_margin_and_only_then():
    """Without a margin the search takes the network predicted just under T_bgt, which then
    measures over it about half the time (a staircase of re-evolutions)."""
    for margin in (0.0, 0.1, 0.25):
        fb, gov = governed(over_hold_s=1.5, min_dwell_s=3.0, probe_s=100.0, over_margin=margin)
        run_reports(gov, 1, 0.9, 0.0, 10.0, budget=1.0)
        assert gov.held is None  # no hold: no margin
        assert gov.search_budget(1.0, 10.0) == pytest.approx(fb.effective_budget_ms(1.0, 10.0))
        fired = run_reports(gov, 1, 2.0, 10.0, 20.0, budget=1.0)
        assert len(fired) == 1 and fired[0][1].startswith(OVER)
        assert gov.search_budget(1.0, 20.0) == pytest.approx((1.0 - margin) / 2.0)


def test_over_margin_is_validated():
    for bad in (-0.1, 0.9, float("nan")):
        with pytest.raises(ValueError):
            FeedbackSettings(over_margin=bad).validate()
