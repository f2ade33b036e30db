"""The main job's latency and energy figures are judged on measured latency per window."""

import math

import pytest

from adaspring_ros.core.model import checkpoint
from adaspring_ros.core.model import search_space as ss
from adaspring_ros.core.model.energy import WindowEnergy
from adaspring_ros.tools import day_latency as dl


def test_windows_count_from_ten_seconds_after_each_budget_change():
    tl = dl.BudgetTimeline()
    tl.add(0.0, 4.0)
    tl.add(50.0, 1.0)
    assert math.isnan(tl.budget_at(-1.0)) and not tl.counted(-1.0)
    assert tl.budget_at(49.9) == 4.0 and tl.budget_at(50.0) == 1.0
    assert not tl.counted(5.0) and tl.counted(10.0) and not tl.counted(55.0) and tl.counted(61.0)
    windows = [(5.0, 1, 9.0),      # not counted (settling), over
               (20.0, 1, 3.0),     # counted, met (4.0)
               (52.0, 1, 3.0),     # not counted: new budget settling
               (65.0, 2, 0.9),     # counted, met (1.0)
               (70.0, 2, 1.5)]     # counted, over
    s = dl.summary(windows, tl)
    assert s["windows_counted_for_T_bgt"] == 3
    assert s["share_meeting_T_bgt_measured"] == pytest.approx(2 / 3)
    rows = dl.per_config(windows, tl)
    assert rows[1]["windows"] == 3 and rows[1]["counted"] == 1 and rows[1]["counted_met"] == 1
    assert rows[1]["met"] == 1  # 3.0 > 1.0 at t=52
    assert rows[2]["counted_met"] == 1 and rows[2]["p95_ms"] == 1.5


def test_backbone_latency_is_scaled_from_the_running_configuration():
    profile = checkpoint.load().profile
    backbone = ss.backbone_configuration(profile.arch)
    small = ("conv@0.5", "conv@0.75", "conv@0.5", "conv@0.5")
    ratio = profile.predict(backbone).latency_ms / profile.predict(small).latency_ms
    assert dl.backbone_measured_ms([(backbone, 2.0)], profile) == pytest.approx(2.0)
    assert dl.backbone_measured_ms([(small, 1.0)], profile) == pytest.approx(ratio)
    assert math.isnan(dl.backbone_measured_ms([], profile))


def test_energy_per_window_grows_with_measured_latency():
    row = {"macs": 10_000_000, "params_bytes": 1_000_000, "activation_bytes": 200_000}
    fast, slow = dl.energy_mj(row, 1.0), dl.energy_mj(row, 4.0)
    assert 0 < fast < slow
    # the time term: 3 ms more at the default active power (W = mJ per ms)
    assert slow - fast == pytest.approx(3.0 * WindowEnergy().active_power_w)
    assert math.isnan(dl.energy_mj(row, math.nan))
