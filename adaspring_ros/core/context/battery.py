"""Where the remaining battery comes from: jetson-stats, else psutil, else a simulation.

The chain is tried once at start-up and the reason each source was passed over is kept, so the
context monitor can log it once and show it on diagnostics instead of retrying in a loop.

The simulated battery (for machines without one, and for the accelerated Jetbot day) drains
with the energy the robot actually spends: base load, one inference window per second of
listening and each notification, priced by ``core/model/energy.py``'s EnergyModel (the same
per-window model the search's energy objective minimises; its docstring gives the constants and
their sources).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from adaspring_ros.core.model.energy import EnergyModel


@dataclass
class BatteryReading:
    percentage: float  # 0-1, NaN when unknown
    voltage: float = math.nan
    current: float = math.nan  # A, negative when discharging (sensor_msgs/BatteryState)
    power_supply_plugged: bool | None = None


class BatteryUnavailable(RuntimeError):
    """This source cannot give a reading on this machine (the reason says why)."""


class JetsonStatsBattery:
    """Battery level integrated from the power jetson-stats (jtop) measures on a Jetson.

    The Jetbot's Jetson is fed 5 V from the pack's regulator, so jtop sees the board's power
    draw but no fuel gauge: the level is the starting charge minus the measured energy drawn,
    over the pack capacity (the same bookkeeping as the simulation, with measured watts).
    """

    name = "jetson-stats"

    def __init__(self, initial: float = 1.0, capacity_wh: float = 80.0) -> None:
        try:
            from jtop import jtop  # optional, only installed on a Jetson
        except ImportError as exc:
            raise BatteryUnavailable(f"jetson-stats not importable ({exc})") from exc
        self._jtop = jtop()
        try:
            self._jtop.start()
        except Exception as exc:  # jtop raises its own JtopException when the service is absent
            raise BatteryUnavailable(f"jtop service not reachable ({exc})") from exc
        if not self._jtop.ok():
            raise BatteryUnavailable("jtop started but reports no data")
        self._initial = initial
        self._capacity_j = capacity_wh * 3600.0
        self._spent_j = 0.0
        self._last = time.monotonic()

    def read(self) -> BatteryReading:
        power = (self._jtop.power or {}).get("tot", {})
        watts = float(power.get("power", math.nan)) / 1000.0
        volt = float(power.get("volt", math.nan)) / 1000.0
        now = time.monotonic()
        if math.isfinite(watts):
            self._spent_j += watts * (now - self._last)
        self._last = now
        level = max(0.0, self._initial - self._spent_j / self._capacity_j)
        current = -watts / volt if math.isfinite(watts) and volt > 0 else math.nan
        return BatteryReading(percentage=level, voltage=volt, current=current)

    def close(self) -> None:
        self._jtop.close()


class PsutilBattery:
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

    def close(self) -> None:
        pass


@dataclass
class SimulatedBattery:
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

    def close(self) -> None:
        pass


def open_battery(preference: str = "auto", simulated_initial: float = 0.86):
    """Return (source, passed_over) where passed_over lists "name: reason" for skipped sources.

    preference: "auto" (jetson-stats -> psutil -> simulated), or one of "jetson-stats",
    "psutil", "simulated" to force a source (forcing an unavailable one still falls back to
    the simulation, with the reason recorded).
    """
    order = {
        "auto": ("jetson-stats", "psutil"),
        "jetson-stats": ("jetson-stats",),
        "psutil": ("psutil",),
        "simulated": (),
    }
    if preference not in order:
        raise ValueError(
            f"battery source {preference!r} unknown; use auto, jetson-stats, psutil or simulated"
        )
    factories = {"jetson-stats": JetsonStatsBattery, "psutil": PsutilBattery}
    passed_over = []
    for name in order[preference]:
        try:
            return factories[name](), passed_over
        except BatteryUnavailable as exc:
            passed_over.append(f"{name}: {exc}")
        except Exception as exc:  # a broken driver must not take the node down
            passed_over.append(f"{name}: {type(exc).__name__}: {exc}")
    return SimulatedBattery(initial=simulated_initial), passed_over
