"""Board power from jetson-stats' power rails, and the measurement that calibrates P_active.

On a Jetson, jtop reads the INA3221 power monitors (the VDD_IN / POM_5V_IN rail and its
siblings). jetson-stats 4's ``jtop.power`` is ``{"rail": {name: {"volt", "curr", "power",
"avg", ...}}, "tot": {..., "power", "avg", "name"}}``, in mV, mA and mW; ``tot`` is the
board's total draw (the VDD_IN / POM_5V_IN rail, named in ``tot["name"]``, or the rails' sum
where the board has no such rail). The energy model's time
term (``core/model/energy.py``) is calibrated from two averages of it: the board idle, and the
board while inference windows run back to back. Elsewhere jtop is absent or its service is not
running, and ``JetsonPower`` says why instead of returning numbers it does not have.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


class PowerUnavailable(RuntimeError):
    """No power rail can be read on this machine (the reason says why)."""


def start_jtop(unavailable: type[Exception]):
    """A started jetson-stats client, or ``unavailable`` saying why there is none (not a
    Jetson, the jtop service not running, no data)."""
    try:
        from jtop import jtop  # optional, only useful on a Jetson
    except ImportError as exc:
        raise unavailable(f"jetson-stats not importable ({exc})") from exc
    client = jtop()
    try:
        client.start()
    except Exception as exc:  # jtop raises its own JtopException when the service is absent
        raise unavailable(f"jtop service not reachable ({exc})") from exc
    if not client.ok():
        client.close()
        raise unavailable("jtop started but reports no data")
    return client


class JetsonPower:
    """Total board power (W) from jtop; raises PowerUnavailable where there is none."""

    def __init__(self) -> None:
        self._jtop = start_jtop(PowerUnavailable)

    def _total(self) -> dict:
        power = self._jtop.power
        total = power.get("tot") if isinstance(power, dict) else None
        return total if isinstance(total, dict) else {}

    def read_watts(self) -> float:
        """The latest total board power in W, NaN when the rail gave no number."""
        try:
            return float(self._total().get("power", math.nan)) / 1000.0
        except (TypeError, ValueError):
            return math.nan

    def rail_name(self) -> str:
        """The rail ``read_watts`` reads (e.g. VDD_IN), "sum of rails" when jtop summed them."""
        return str(self._total().get("name", "sum of rails"))

    def close(self) -> None:
        self._jtop.close()


@dataclass(frozen=True)
class PowerMeasurement:
    idle_w: float  # mean board power, nothing inferring
    busy_w: float  # mean board power, windows back to back
    latency_ms: float  # mean wall time of one window while busy
    windows: int
    samples: tuple[int, int]  # power readings (idle, busy) that were finite


def _mean_power(read_watts: Callable[[], float], seconds: float, step: Callable[[], None],
                clock: Callable[[], float]) -> tuple[float, int, int]:
    """Mean of the finite readings taken between ``step`` calls for ``seconds``.

    Returns (mean W, finite readings, steps run); NaN mean when no reading was finite.
    """
    readings = []
    steps = 0
    end = clock() + seconds
    while clock() < end:
        step()
        steps += 1
        watts = read_watts()
        if math.isfinite(watts):
            readings.append(watts)
    return (statistics.fmean(readings) if readings else math.nan), len(readings), steps


def measure(read_watts: Callable[[], float], run_window: Callable[[], None], *,
            idle_s: float = 10.0, busy_s: float = 20.0, poll_s: float = 0.1,
            clock: Callable[[], float] = time.monotonic,
            sleep: Callable[[float], None] = time.sleep) -> PowerMeasurement:
    """Board power idle (polling every ``poll_s``), then with ``run_window`` back to back.

    jtop refreshes its readings about once a second in its own thread, so the busy average
    samples between windows at whatever the rail last reported; ``busy_s`` should span many
    refreshes.
    """
    idle, idle_n, _ = _mean_power(read_watts, idle_s, lambda: sleep(poll_s), clock)
    t0 = clock()
    busy, busy_n, windows = _mean_power(read_watts, busy_s, run_window, clock)
    elapsed = clock() - t0
    if not (idle_n and busy_n and windows):
        raise PowerUnavailable(f"no usable power readings (idle {idle_n}, busy {busy_n}, "
                               f"windows {windows})")
    return PowerMeasurement(idle, busy, elapsed / windows * 1e3, windows, (idle_n, busy_n))
