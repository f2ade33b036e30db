"""The JetBot's battery gauge: an INA219 current/voltage monitor on I2C.

NVIDIA's JetBot boards (and NVIDIA-AI-IOT/jetcard's display server, which reads them) measure the
pack with a TI INA219 on I2C bus 1: address 0x41 on the 3S (11.1 V) board, percent =
(V - 9) / 3.6; 0x42 on a 2S (7.4 V) board, (V - 6) / 2.4. Current is positive while charging.

The chip (TI datasheet SBOS448) has big-endian 16-bit registers:
  0x00 configuration   bus range, PGA gain, ADC resolution/averaging, operating mode
  0x01 shunt voltage   signed, LSB 10 uV
  0x02 bus voltage     bits 15-3 = voltage, LSB 4 mV (so value >> 3, x 4 mV); bit 1 CNVR, bit 0 OVF
  0x03 power           LSB 20 x current LSB
  0x04 current         signed, LSB = current_lsb, valid once 0x05 is written
  0x05 calibration     0.04096 / (current_lsb x R_shunt)
jetcard's settings: 32 V range, gain /8 (320 mV), 12-bit x 32 samples on both ADCs, continuous
shunt and bus; 0.1 ohm shunt, current LSB 0.1 mA, so calibration 4096. The calibration is
written again before every reading, as jetcard does: the chip loses it after a brown-out and
then reads 0 A.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

REG_CONFIG = 0x00
REG_SHUNT_VOLTAGE = 0x01
REG_BUS_VOLTAGE = 0x02
REG_POWER = 0x03
REG_CURRENT = 0x04
REG_CALIBRATION = 0x05

SHUNT_OHM = 0.1
CURRENT_LSB_A = 0.0001
CALIBRATION = int(0.04096 / (CURRENT_LSB_A * SHUNT_OHM))  # 4096
# 32 V range (bit 13), gain /8 (bits 12-11 = 3), bus and shunt ADC 12-bit x 32 samples (0xD),
# mode 7 = shunt and bus, continuous
CONFIG = (1 << 13) | (3 << 11) | (0xD << 7) | (0xD << 3) | 0x7
BUS_VOLTAGE_LSB_V = 0.004
CHARGING_ABOVE_A = 0.03  # jetcard shows "charging" above +30 mA


@dataclass(frozen=True)
class Pack:
    """A battery pack: how the JetBot board maps its voltage to a charge level."""

    name: str
    address: int  # the INA219's I2C address on the JetBot board for this pack
    empty_v: float
    span_v: float

    def percentage(self, volts: float) -> float:
        return min(1.0, max(0.0, (volts - self.empty_v) / self.span_v))


PACKS = {
    "3S": Pack("3S", 0x41, 9.0, 3.6),
    "2S": Pack("2S", 0x42, 6.0, 2.4),
}


def _signed(value: int) -> int:
    return value - 0x10000 if value & 0x8000 else value


class Ina219:
    """Register-level access to one INA219 through an smbus2-compatible bus object."""

    def __init__(self, bus, address: int) -> None:
        self.bus = bus
        self.address = address

    def read_register(self, register: int) -> int:
        high, low = self.bus.read_i2c_block_data(self.address, register, 2)
        return (high << 8) | low

    def write_register(self, register: int, value: int) -> None:
        self.bus.write_i2c_block_data(self.address, register, [(value >> 8) & 0xFF, value & 0xFF])

    def configure(self) -> None:
        self.write_register(REG_CALIBRATION, CALIBRATION)
        self.write_register(REG_CONFIG, CONFIG)

    def bus_voltage(self) -> float:
        return (self.read_register(REG_BUS_VOLTAGE) >> 3) * BUS_VOLTAGE_LSB_V

    def shunt_voltage(self) -> float:
        return _signed(self.read_register(REG_SHUNT_VOLTAGE)) * 10e-6

    def current(self) -> float:
        self.write_register(REG_CALIBRATION, CALIBRATION)  # survives a brown-out reset
        return _signed(self.read_register(REG_CURRENT)) * CURRENT_LSB_A


def open_bus(bus_number: int):
    """An smbus2 SMBus on /dev/i2c-<n>; ImportError or OSError say why not."""
    from smbus2 import SMBus  # only needed on the robot

    return SMBus(bus_number)


def describe_reading(volts: float, amps: float) -> str:
    state = "charging" if amps > CHARGING_ABOVE_A else "discharging"
    return f"{volts:.2f} V, {amps * 1000:.0f} mA ({state})"


def is_plausible(volts: float) -> bool:
    return math.isfinite(volts) and 0.0 < volts < 32.0
