"""Battery level sources: the JetBot's INA219 against a simulated chip, the topic source's
staleness, and the fallback chain (ROS-free; the DDS side is in test_battery_topic.py)."""

from __future__ import annotations

import math

import pytest

from adaspring_ros.core.context import battery, ina219
from adaspring_ros.testing.ina219_device import SimulatedIna219Bus


def test_register_bytes_decode_as_the_datasheet_says():
    bus = SimulatedIna219Bus(volts=11.0, amps=-0.5)
    # 11.0 V = 2750 x 4 mV, shifted left by 3 with CNVR (bit 1) set: 0x55F2
    assert bus.read_i2c_block_data(0x41, ina219.REG_BUS_VOLTAGE, 2) == [0x55, 0xF2]
    chip = ina219.Ina219(bus, 0x41)
    assert chip.bus_voltage() == pytest.approx(11.0)
    assert chip.shunt_voltage() == pytest.approx(-0.05)  # 0.5 A through 0.1 ohm
    assert bus.read_i2c_block_data(0x41, ina219.REG_CURRENT, 2) == [0, 0]  # uncalibrated
    chip.configure()
    assert bus.registers[ina219.REG_CALIBRATION] == 4096
    assert bus.registers[ina219.REG_CONFIG] == ina219.CONFIG
    assert chip.current() == pytest.approx(-0.5)


@pytest.mark.parametrize("pack,address,volts,level", [
    ("3S", 0x41, 12.6, 1.0), ("3S", 0x41, 10.8, 0.5), ("3S", 0x41, 8.5, 0.0),
    ("2S", 0x42, 7.2, 0.5), ("2S", 0x42, 8.4, 1.0),
])
def test_jetbot_pack_mapping_and_default_address(pack, address, volts, level):
    bus = SimulatedIna219Bus(address=address, volts=volts, amps=-0.4)
    source = battery.Ina219Battery(pack, bus=bus)
    reading = source.read()
    assert reading.percentage == pytest.approx(level)
    assert reading.voltage == pytest.approx(volts, abs=0.004)
    assert reading.current == pytest.approx(-0.4)
    assert reading.power_supply_plugged is False


def test_charging_current_sign_and_recalibration_after_brown_out():
    bus = SimulatedIna219Bus(volts=11.5, amps=1.2)
    source = battery.Ina219Battery("3S", bus=bus)
    assert source.read().power_supply_plugged is True
    bus.brown_out()  # the chip forgets its calibration; the reader writes it again
    assert source.read().current == pytest.approx(1.2)


def test_bus_error_mid_run_raises_then_the_next_reading_recovers():
    bus = SimulatedIna219Bus(volts=10.8)
    source = battery.Ina219Battery("3S", bus=bus)
    assert source.read().percentage == pytest.approx(0.5)
    bus.fail_next = 1
    with pytest.raises(OSError, match="Remote I/O"):
        source.read()
    bus.volts = 10.44
    assert source.read().percentage == pytest.approx(0.4)


def test_no_chip_at_the_address_is_passed_over_with_the_reason():
    settings = battery.BatterySettings(preference="ina219", pack="2S",
                                       i2c_bus_object=SimulatedIna219Bus(address=0x41))
    source, passed_over = battery.open_battery(settings)
    assert source.name == "simulated"
    assert "0x42" in passed_over[0] and "No such device" in passed_over[0], passed_over


def test_without_i2c_the_reason_names_the_bus():
    source, passed_over = battery.open_battery(
        battery.BatterySettings(preference="ina219", i2c_bus=250))
    assert source.name == "simulated"
    assert passed_over[0].startswith("ina219: ") and "250" in passed_over[0], passed_over


def test_auto_prefers_the_topic_then_the_ina219():
    bus = SimulatedIna219Bus(volts=11.0)
    chosen, passed = battery.open_battery(battery.BatterySettings(i2c_bus_object=bus))
    assert chosen.name == "ina219" and passed == ["topic: no battery_topic set"]
    chosen, passed = battery.open_battery(
        battery.BatterySettings(topic="/robot/battery", i2c_bus_object=bus))
    assert chosen.name == "topic" and chosen.topic == "/robot/battery" and passed == []


def test_topic_source_goes_stale_and_says_so():
    now = [100.0]
    source = battery.TopicBattery("/bat", stale_s=5.0, clock=lambda: now[0])
    assert math.isnan(source.read().percentage) and source.problem() == ""
    now[0] += 6
    assert "no message yet" in source.problem()
    source.receive(battery.BatteryReading(percentage=0.7))
    assert source.read().percentage == 0.7 and source.problem() == ""
    now[0] += 5.5
    assert math.isnan(source.read().percentage)
    assert "stale" in source.problem() and "/bat" in source.problem()


def test_simulation_is_the_only_source_that_charges_modelled_energy():
    bus = SimulatedIna219Bus(volts=11.0)
    real = battery.Ina219Battery("3S", bus=bus)
    before = real.read().percentage
    real.advance(3600, 1.0)
    real.notify(100)
    assert real.read().percentage == before
    sim = battery.SimulatedBattery(initial=0.9)
    sim.advance(3600, 1.0)
    assert sim.read().percentage < 0.9
