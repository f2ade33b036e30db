"""A simulated INA219 behind an smbus2-style bus: it answers register reads with the bytes the
chip would send (TI datasheet SBOS448), for testing the battery reader without I2C hardware.

Registers are 16-bit big-endian. The bus voltage register holds the voltage in bits 15-3 at
4 mV per bit, with CNVR (bit 1) set once a conversion is ready; the shunt voltage register is
signed at 10 uV per bit; the current register is shunt_raw x calibration / 4096 and reads 0
until a calibration is written (as on the chip after power-up or a brown-out); power is
current x bus_raw / 5000. ``fail_next`` makes the next transfers raise OSError(121, "Remote I/O
error"), what smbus2 raises when the chip does not acknowledge.
"""

from __future__ import annotations

import errno


class SimulatedIna219Bus:
    """One INA219 at ``address`` on a simulated I2C bus."""

    def __init__(self, address: int = 0x41, volts: float = 11.0, amps: float = -0.5,
                 shunt_ohm: float = 0.1) -> None:
        self.address = address
        self.volts = volts
        self.amps = amps  # positive = charging, as the JetBot board is wired
        self.shunt_ohm = shunt_ohm
        self.registers = {0x00: 0x399F, 0x05: 0x0000}  # power-on defaults
        self.fail_next = 0
        self.transfers: list[tuple[str, int, int]] = []
        self.closed = False

    def brown_out(self) -> None:
        """The chip resets: calibration back to 0, so current reads 0 until rewritten."""
        self.registers[0x05] = 0x0000

    def _check(self, address: int) -> None:
        if address != self.address:
            raise OSError(errno.ENXIO, "No such device or address")
        if self.fail_next > 0:
            self.fail_next -= 1
            raise OSError(errno.EREMOTEIO, "Remote I/O error")

    def _shunt_raw(self) -> int:
        return int(round(self.amps * self.shunt_ohm / 10e-6))

    def _bus_raw(self) -> int:
        return int(round(self.volts / 0.004)) & 0x1FFF

    def _value(self, register: int) -> int:
        calibration = self.registers[0x05]
        current = self._shunt_raw() * calibration // 4096 if calibration else 0
        values = {
            0x01: self._shunt_raw(),
            0x02: (self._bus_raw() << 3) | 0b10,  # CNVR set, no overflow
            0x03: abs(current) * self._bus_raw() // 5000,
            0x04: current,
        }
        return values.get(register, self.registers.get(register, 0)) & 0xFFFF

    def read_i2c_block_data(self, address: int, register: int, length: int) -> list[int]:
        self._check(address)
        self.transfers.append(("read", register, length))
        value = self._value(register)
        return [(value >> 8) & 0xFF, value & 0xFF][:length]

    def write_i2c_block_data(self, address: int, register: int, data: list[int]) -> None:
        self._check(address)
        self.transfers.append(("write", register, (data[0] << 8) | data[1]))
        self.registers[register] = (data[0] << 8) | data[1]

    def close(self) -> None:
        self.closed = True
