"""Battery sources, cache contention and the scripted day: the context monitor's inputs."""

import math

import pytest

from adaspring_ros.core.context import battery, cache_budget
from adaspring_ros.core.scene import day_scene

CLASSES = ("fire_alarm", "smoke_alarm", "kettle_whistle", "doorbell", "door_knock",
           "baby_crying", "phone_ringing", "microwave_beep", "background")


def test_fallback_chain_ends_in_simulation_and_says_why():
    # This machine has no battery topic set, no I2C gauge and no battery: each is passed over
    # with a reason, in the order of preference.
    source, passed_over = battery.open_battery("auto", simulated_initial=0.8)
    if source.name == "simulated":
        assert [p.split(":")[0] for p in passed_over] == ["topic", "ina219", "psutil"]
        assert all(len(p.split(":", 1)[1].strip()) > 0 for p in passed_over)
        assert source.read().percentage == pytest.approx(0.8)
    else:  # a real battery exists here: it must give a usable reading
        assert 0.0 <= source.read().percentage <= 1.0 or math.isnan(source.read().percentage)


def test_unknown_battery_preference_is_refused():
    with pytest.raises(ValueError, match="unknown"):
        battery.open_battery("lithium")


def test_simulated_battery_drains_with_spent_energy():
    model = battery.EnergyModel(capacity_wh=1.0, base_power_w=1.0)
    b = battery.SimulatedBattery(initial=1.0, model=model)
    b.advance(1800, inference_joules_per_window=0.0)  # 0.5 Wh of base load
    assert b.read().percentage == pytest.approx(0.5)
    heavy = battery.SimulatedBattery(initial=1.0, model=model)
    heavy.advance(1800, inference_joules_per_window=model.inference_joules(10**9, 0, 0))
    assert heavy.read().percentage < b.read().percentage
    b.notify(10**6)
    assert b.read().percentage == 0.0  # clamps, never negative


def test_paper_day_drains_about_a_quarter():
    b = battery.SimulatedBattery(initial=0.86)
    per_window = b.model.inference_joules(macs=20_000_000, params_bytes=1_500_000,
                                          act_bytes=500_000)
    b.advance(8 * 3600, per_window)
    b.notify(500)
    assert 0.5 < b.read().percentage < 0.7


def test_cache_contention_is_seeded_per_hour_and_bounded():
    c = cache_budget.CacheContention(seed=3)
    hours = [c.budget_bytes(h * 3600 + 10) for h in range(9, 17)]
    assert hours == [c.budget_bytes(h * 3600 + 3500) for h in range(9, 17)]
    assert len(set(hours)) > 1
    floor = c.l2_bytes - c.sigma_max_mib * cache_budget.MIB
    assert all(floor <= b <= c.l2_bytes for b in hours)
    assert cache_budget.CacheContention(seed=4).budget_bytes(9 * 3600) != hours[0]


def test_l2_detection_reads_sysfs_layout(tmp_path):
    idx = tmp_path / "index2"
    idx.mkdir()
    (idx / "level").write_text("2\n")
    (idx / "size").write_text("2048K\n")
    assert cache_budget.detect_l2_cache_bytes(tmp_path) == 2 * 1024 * 1024
    assert cache_budget.detect_l2_cache_bytes(tmp_path / "missing") is None


def test_day_script_is_reproducible_and_follows_the_hourly_rate():
    a = day_scene.make_day(CLASSES, seed=1)
    assert a == day_scene.make_day(CLASSES, seed=1)
    assert a != day_scene.make_day(CLASSES, seed=2)
    times = [e.scene_time_s for e in a]
    assert times == sorted(times)
    assert day_scene.DAY_START_S <= times[0] and times[-1] < day_scene.DAY_END_S
    per_hour = [sum(1 for e in a if h * 3600 <= e.scene_time_s < (h + 1) * 3600
                    and e.label != "background") for h in range(9, 17)]
    assert per_hour == list(day_scene.DEFAULT_EVENTS_PER_HOUR)
    assert {e.label for e in a} == set(CLASSES)
    assert day_scene.format_clock(9 * 3600 + 65) == "09:01"
