"""The per-window energy model: units, monotonicity, calibration, and one model for all users."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaspring_ros.core.context import battery
from adaspring_ros.core.model import energy

counts = st.integers(min_value=0, max_value=10**10)
latencies = st.floats(min_value=0.0, max_value=1e4, allow_nan=False)


def test_units_joules_from_macs_bytes_and_milliseconds():
    w = energy.WindowEnergy(joules_per_mac=1e-9, joules_per_byte=0.5e-9, active_power_w=2.0)
    assert w.joules(10**9, 0, 0, 0.0) == pytest.approx(1.0)  # 1 GMAC at 1 nJ = 1 J
    assert w.joules(0, 10**9, 10**9, 0.0) == pytest.approx(1.0)  # 2 GB at 0.5 nJ
    assert w.joules(0, 0, 0, 1.0) == pytest.approx(2e-3)  # 1 ms at 2 W = 2 mJ
    assert w.joules(10**9, 10**9, 10**9, 1.0) == pytest.approx(2.002)


@settings(max_examples=200, deadline=None)
@given(counts, counts, counts, latencies, counts, latencies)
def test_monotone_in_macs_bytes_and_latency(macs, params, acts, latency, more, later):
    w = energy.WindowEnergy()
    base = w.joules(macs, params, acts, latency)
    assert base >= 0.0
    assert w.joules(macs + more, params, acts, latency) >= base
    assert w.joules(macs, params + more, acts, latency) >= base
    assert w.joules(macs, params, acts + more, latency) >= base
    assert w.joules(macs, params, acts, latency + later) >= base
    if more:  # strictly, with the default (positive) constants
        assert w.joules(macs + more, params, acts, latency) > base
        assert w.joules(macs, params, acts + more, latency) > base


def test_additive_so_layer_energies_sum_to_the_window():
    w = energy.WindowEnergy()
    layers = [(1_000_000, 40_000, 16_000, 0.11), (3_000_000, 300_000, 8_000, 0.3),
              (0, 0, 0, 0.0), (500, 360, 36, 0.01)]
    whole = w.joules(*(sum(col) for col in zip(*layers, strict=True)))
    assert whole == pytest.approx(sum(w.joules(*layer) for layer in layers), rel=1e-12)


@pytest.mark.parametrize("name", ["joules_per_mac", "joules_per_byte", "active_power_w"])
@pytest.mark.parametrize("bad", [-1e-12, math.nan, math.inf])
def test_bad_constants_are_refused_by_name(name, bad):
    with pytest.raises(ValueError, match=name):
        energy.WindowEnergy(**{name: bad})


def test_calibration_recovers_the_active_power_that_produced_a_reading():
    w = energy.WindowEnergy(active_power_w=0.0)
    macs, params, acts, latency_ms = 23_000_000, 1_800_000, 300_000, 8.0
    truth = energy.WindowEnergy(active_power_w=1.37)
    per_window = truth.joules(macs, params, acts, latency_ms)
    idle = 1.9
    busy = idle + per_window / (latency_ms * 1e-3)  # what a rail shows with windows back to back
    got = energy.calibrated_active_power(w, busy_power_w=busy, idle_power_w=idle, macs=macs,
                                         params_bytes=params, act_bytes=acts,
                                         latency_ms=latency_ms)
    assert got == pytest.approx(1.37, rel=1e-9)
    # a reading below what the arithmetic alone costs gives 0 W, never a negative power
    assert energy.calibrated_active_power(w, busy_power_w=idle, idle_power_w=idle, macs=macs,
                                          params_bytes=params, act_bytes=acts,
                                          latency_ms=latency_ms) == 0.0
    with pytest.raises(ValueError, match="latency"):
        energy.calibrated_active_power(w, busy_power_w=3.0, idle_power_w=1.0, macs=1,
                                       params_bytes=1, act_bytes=1, latency_ms=0.0)


def test_battery_and_energy_model_are_one_model():
    assert battery.EnergyModel is energy.EnergyModel
    model = energy.EnergyModel(joules_per_mac=2e-12, joules_per_byte=3e-10, active_power_w=0.7)
    assert model.window == energy.WindowEnergy(2e-12, 3e-10, 0.7)
    assert model.inference_joules(10, 20, 30, 4.0) == model.window.joules(10, 20, 30, 4.0)
    sim = battery.SimulatedBattery(initial=1.0, model=model)
    sim.advance(3600.0, model.inference_joules(10**9, 10**6, 10**6, 5.0))
    spent = 3600.0 * (model.base_power_w + model.inference_joules(10**9, 10**6, 10**6, 5.0))
    assert sim.spent_joules == pytest.approx(spent)


class _Rail:
    """A power rail that reads higher while windows run (the one fake here: no Jetson)."""

    def __init__(self, idle_w: float, per_window_j: float, window_s: float) -> None:
        self.busy = False
        self.idle_w = idle_w
        self.busy_w = idle_w + per_window_j / window_s

    def read(self) -> float:
        return self.busy_w if self.busy else self.idle_w


def test_rail_measurement_calibrates_the_power_that_explains_it():
    import time

    from adaspring_ros.core.context import power_rails

    window_s = 0.002
    truth = energy.WindowEnergy(active_power_w=0.8)
    macs, params, acts = 2_000_000, 100_000, 50_000
    rail = _Rail(1.5, truth.joules(macs, params, acts, window_s * 1e3), window_s)

    def run_window():  # a real busy wait of the window's length, with the rail "busy"
        rail.busy = True
        end = time.perf_counter() + window_s
        while time.perf_counter() < end:
            pass

    m = power_rails.measure(rail.read, run_window, idle_s=0.05, busy_s=0.2, poll_s=0.01)
    assert m.idle_w == pytest.approx(1.5) and m.busy_w == pytest.approx(rail.busy_w)
    # each window busy-waits its length, so the mean can only be longer (a loaded machine)
    assert m.windows >= 5 and m.latency_ms >= window_s * 1e3
    got = energy.calibrated_active_power(
        energy.WindowEnergy(active_power_w=0.0), busy_power_w=m.busy_w, idle_power_w=m.idle_w,
        macs=macs, params_bytes=params, act_bytes=acts, latency_ms=window_s * 1e3)
    assert got == pytest.approx(0.8, rel=1e-9)
    with pytest.raises(power_rails.PowerUnavailable, match="no usable power readings"):
        power_rails.measure(lambda: math.nan, run_window, idle_s=0.01, busy_s=0.01,
                            poll_s=0.005)


def test_calibration_tool_says_why_it_cannot_run_without_a_jetson(capsys):
    from adaspring_ros.core.context import power_rails
    from adaspring_ros.tools import calibrate_energy

    try:
        power_rails.JetsonPower().close()
        readable = True
    except power_rails.PowerUnavailable:
        readable = False
    rc = calibrate_energy.main(["--idle-s", "0.2", "--busy-s", "0.5", "--no-save"])
    if readable:  # on a Jetson the tool really measures
        assert rc == 0 and "active_power_w:" in capsys.readouterr().out
    else:
        assert rc == 2 and "cannot calibrate here:" in capsys.readouterr().err
