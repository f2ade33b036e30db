"""Where the remaining battery comes from: the robot's own BatteryState topic, an INA219 on
I2C (the JetBot's gauge), psutil, else a simulation; one interface for all of them.

The chain is tried once at start-up and the reason each source was passed over is kept, so the
context monitor can log it once and show it on diagnostics instead of retrying in a loop.
jetson-stats is no level source: jtop measures the Jetson module's power draw, not the pack's
charge (``core/context/power_rails.py`` reads that power; the context monitor shows it).

The simulated battery (for machines without one, and for the accelerated Jetbot day) drains
with the energy the robot actually spends: base load, one inference window per second of
listening and each notification, priced by ``core/model/energy.py``'s EnergyModel (the same
per-window model the search's energy objective minimises; its docstring gives the constants and
their sources). Real sources measure what was spent, so they ignore ``advance`` and ``notify``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from adaspring_ros.core.context import ina219
from adaspring_ros.core.model.energy import EnergyModel

SOURCES = ("topic", "ina219", "psutil", "simulated")
PREFERENCES = ("auto", *SOURCES)


@dataclass
class BatteryReading:
    percentage: float  # 0-1, NaN when unknown
    voltage: float = math.nan
    current: float = math.nan  # A, negative when discharging (sensor_msgs/BatteryState)
    power_supply_plugged: bool | None = None


class BatteryUnavailable(RuntimeError):
    """This source cannot give a reading on this machine (the reason says why)."""


class BatterySource:
    """What the context monitor needs from any battery source.

    ``topic``: the sensor_msgs/BatteryState topic the node must subscribe to and feed into
    ``receive`` ("" = none). ``problem()``: a standing condition for diagnostics (stale topic),
    or "". ``advance``/``notify`` charge modelled energy; only the simulation uses them.
    """

    name = "unknown"
    topic = ""

    def read(self) -> BatteryReading:
        raise NotImplementedError

    def receive(self, reading: BatteryReading) -> None:
        raise NotImplementedError(f"{self.name} takes no messages")

    def advance(self, seconds: float, inference_joules_per_window: float) -> None:
        """Charge modelled energy (a real source has measured it already)."""

    def notify(self, count: int = 1) -> None:
        """Charge modelled notification energy (a real source has measured it already)."""

    def problem(self) -> str:
        return ""

    def close(self) -> None:
        pass


class TopicBattery(BatterySource):
    """The robot's own battery driver, as sensor_msgs/BatteryState messages on ``topic``.

    ROS-free: the node subscribes and calls ``receive``. A reading older than ``stale_s`` real
    seconds (the driver stopped) reads as unknown and is reported, never silently reused.
    """

    name = "topic"

    def __init__(self, topic: str, stale_s: float = 10.0, clock=time.monotonic) -> None:
        if not topic:
            raise BatteryUnavailable("no battery_topic set")
        self.topic = topic
        self.stale_s = stale_s
        self._clock = clock
        self._latest: BatteryReading | None = None
        self._received_at = clock()  # the staleness of "nothing yet" counts from start-up

    def receive(self, reading: BatteryReading) -> None:
        self._latest = reading
        self._received_at = self._clock()

    def age_s(self) -> float:
        return self._clock() - self._received_at

    def read(self) -> BatteryReading:
        if self._latest is None or self.age_s() > self.stale_s:
            return BatteryReading(percentage=math.nan)
        return self._latest

    def problem(self) -> str:
        if self.age_s() <= self.stale_s:
            return ""
        what = "no message yet" if self._latest is None else "stale"
        return f"battery topic {self.topic}: {what} ({self.age_s():.0f} s > {self.stale_s:g} s)"


class Ina219Battery(BatterySource):
    """The JetBot board's INA219: pack voltage -> level (jetcard's mapping), current sign."""

    name = "ina219"

    def __init__(self, pack: str = "3S", bus_number: int = 1, address: int = 0, bus=None) -> None:
        if pack not in ina219.PACKS:
            raise ValueError(f"battery pack {pack!r} unknown; use {', '.join(ina219.PACKS)}")
        self.pack = ina219.PACKS[pack]
        address = address or self.pack.address
        where = f"I2C bus {bus_number} address 0x{address:02x}"
        try:
            bus = bus if bus is not None else ina219.open_bus(bus_number)
        except ImportError as exc:
            raise BatteryUnavailable(f"smbus2 not importable for {where} ({exc})") from exc
        except OSError as exc:
            raise BatteryUnavailable(f"cannot open {where} ({exc})") from exc
        self.chip = ina219.Ina219(bus, address)
        try:
            self.chip.configure()
            volts = self.chip.bus_voltage()
        except OSError as exc:
            raise BatteryUnavailable(f"no INA219 answers on {where} ({exc})") from exc
        if not ina219.is_plausible(volts):
            raise BatteryUnavailable(f"INA219 on {where} reads an implausible {volts} V")
        self.where = where

    def read(self) -> BatteryReading:
        """One reading; OSError on a bus error (the caller counts it and reports unknown)."""
        volts = self.chip.bus_voltage()
        amps = self.chip.current()
        return BatteryReading(percentage=self.pack.percentage(volts), voltage=volts,
                              current=amps, power_supply_plugged=amps > ina219.CHARGING_ABOVE_A)

    def close(self) -> None:
        close = getattr(self.chip.bus, "close", None)
        if close is not None:
            close()


class PsutilBattery(BatterySource):
    name = "psutil"

    def __init__(self) -> None:
        import psutil

        if not hasattr(psutil, "sensors_battery"):
            raise BatteryUnavailable("psutil has no sensors_battery() on this platform")
        if psutil.sensors_battery() is None:
            raise BatteryUnavailable("psutil.sensors_battery() reports no battery")
        self._psutil = psutil

    def read(self) -> BatteryReading:
        b = self._psutil.sensors_battery()
        if b is None:
            return BatteryReading(percentage=math.nan)
        return BatteryReading(percentage=b.percent / 100.0, power_supply_plugged=b.power_plugged)


@dataclass
class SimulatedBattery(BatterySource):
    """A battery that drains with modelled energy; time is whatever clock the caller advances."""

    initial: float = 0.86
    model: EnergyModel = field(default_factory=EnergyModel)
    name: str = "simulated"
    _spent_j: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.initial <= 1.0:
            raise ValueError(f"initial battery {self.initial} outside 0-1")

    def advance(self, seconds: float, inference_joules_per_window: float) -> None:
        """Charge ``seconds`` of listening with the current configuration's window energy."""
        if seconds <= 0:
            return
        per_s = self.model.base_power_w + (
            self.model.windows_per_second * inference_joules_per_window
        )
        self._spent_j += per_s * seconds

    def notify(self, count: int = 1) -> None:
        self._spent_j += count * self.model.joules_per_notification

    @property
    def spent_joules(self) -> float:
        return self._spent_j

    def read(self) -> BatteryReading:
        capacity_j = self.model.capacity_wh * 3600.0
        level = max(0.0, self.initial - self._spent_j / capacity_j)
        return BatteryReading(percentage=level, voltage=math.nan, current=math.nan)


@dataclass
class BatterySettings:
    """Everything the chain needs to open any source (the context monitor's parameters)."""

    preference: str = "auto"
    topic: str = ""
    stale_s: float = 10.0
    pack: str = "3S"
    i2c_bus: int = 1
    i2c_address: int = 0  # 0 = the JetBot board's address for the pack
    simulated_initial: float = 0.86
    model: EnergyModel = field(default_factory=EnergyModel)
    i2c_bus_object: object = None  # an smbus2-like bus (tests: a simulated INA219)


def _factories(settings: BatterySettings) -> dict:
    return {
        "topic": lambda: TopicBattery(settings.topic, settings.stale_s),
        "ina219": lambda: Ina219Battery(settings.pack, settings.i2c_bus, settings.i2c_address,
                                        bus=settings.i2c_bus_object),
        "psutil": PsutilBattery,
    }


def open_battery(settings: BatterySettings | str = "auto", simulated_initial: float = 0.86):
    """Return (source, passed_over) where passed_over lists "name: reason" for skipped sources.

    preference "auto" tries topic -> ina219 -> psutil -> simulated; naming one source forces it
    (an unavailable one still falls back to the simulation, with the reason recorded).
    """
    if isinstance(settings, str):
        settings = BatterySettings(preference=settings, simulated_initial=simulated_initial)
    if settings.preference not in PREFERENCES:
        raise ValueError(f"battery source {settings.preference!r} unknown; use "
                         + ", ".join(PREFERENCES))
    order = SOURCES[:-1] if settings.preference == "auto" else (settings.preference,)
    factories = _factories(settings)
    passed_over = []
    for name in order:
        if name == "simulated":
            break
        try:
            return factories[name](), passed_over
        except BatteryUnavailable as exc:
            passed_over.append(f"{name}: {exc}")
        except Exception as exc:  # a broken driver must not take the node down
            passed_over.append(f"{name}: {type(exc).__name__}: {exc}")
    return SimulatedBattery(initial=settings.simulated_initial, model=settings.model), passed_over
