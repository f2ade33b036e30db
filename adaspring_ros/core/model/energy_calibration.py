"""The active power jetson-stats measured on this machine, kept for the nodes to price with.

``python -m adaspring_ros.tools.calibrate_energy`` measures the board's power rails idle and
while inference windows run back to back (core/context/power_rails), and solves the energy
model for P_active (core/model/energy.calibrated_active_power). That measurement is only useful
if it reaches the energy per window the search minimises and the robot reports, so the tool
stores it here: one JSON file per machine (CPU model and core count, the board the rails
measured) in the user's cache folder (core/user_cache). Where one exists for this machine, the
evolution node prices windows with it (``active_power_source: auto``): the predicted energy of
every configuration it publishes (CompressionConfig.energy_per_window_mj, what the simulated
battery charges and /diagnostics shows) then rests on measured power, not on the default
estimate. A file for another machine, or one that does not hold a finite non-negative power,
is not used, and the reason is shown on /diagnostics.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from adaspring_ros.core.user_cache import cache_dir, read_json, write_json

FORMAT = 1


@dataclass(frozen=True)
class Calibration:
    active_power_w: float  # P_active solved from the measurement
    idle_w: float  # mean board power, nothing inferring
    busy_w: float  # mean board power, windows back to back
    latency_ms: float  # mean wall time of one window while busy
    windows: int
    per_window_mj: float  # (busy - idle) x latency: what one window cost, measured
    config: tuple[str, ...]  # the configuration that ran
    rail: str  # the rail read, e.g. "VDD_IN" (jetson-stats' total)
    machine: dict
    measured_at: str  # UTC, ISO 8601

    def describe(self) -> str:
        return (f"{self.active_power_w:.4f} W measured with jetson-stats ({self.rail}) at "
                f"{self.measured_at}: idle {self.idle_w:.3f} W, busy {self.busy_w:.3f} W, "
                f"{self.per_window_mj:.3f} mJ per window over {self.windows} windows")


def this_machine() -> dict:
    """What a calibration is valid for: the board (CPU model, core count)."""
    from adaspring_ros.core.model.device_table import cpu_model

    return {"cpu_model": cpu_model(), "cores": os.cpu_count() or 1}


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def path_for(machine: dict, folder: Path | None = None) -> Path:
    key = hashlib.sha1(json.dumps(machine, sort_keys=True).encode()).hexdigest()[:16]
    return (folder or cache_dir()) / f"energy_{key}.json"


def save(cal: Calibration, folder: Path | None = None) -> Path | None:
    """Store the calibration for its machine; the path, or None if the folder is not writable."""
    path = path_for(cal.machine, folder)
    data = {"format": FORMAT, **dataclasses.asdict(cal), "config": list(cal.config)}
    return path if write_json(path, data) else None


def load(machine: dict, folder: Path | None = None) -> Calibration:
    """The calibration stored for ``machine``; FileNotFoundError when there is none, ValueError
    (or OSError, KeyError, TypeError) saying why a stored one is unusable."""
    path = path_for(machine, folder)
    data = read_json(path)
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: format {data.get('format')!r} is not {FORMAT}")
    if data.get("machine") != machine:
        raise ValueError(f"{path} was measured on another machine")
    fields = {f.name for f in dataclasses.fields(Calibration)}
    cal = Calibration(**{**{k: data[k] for k in fields}, "config": tuple(data["config"])})
    power = cal.active_power_w
    if isinstance(power, bool) or not isinstance(power, (int, float)) \
            or not math.isfinite(power) or power < 0.0:
        raise ValueError(f"{path}: active_power_w {power!r} is not a finite power >= 0")
    return cal


#: where the evolution node takes P_active from (parameter ``active_power_source``)
SOURCES = ("auto", "parameter")


def active_power(source: str, parameter_w: float, machine: dict | None = None,
                 folder: Path | None = None) -> tuple[float, str]:
    """(P_active to price windows with, why): with ``auto`` the calibration stored for this
    machine, where there is a usable one; else the ``active_power_w`` parameter."""
    if source not in SOURCES:
        raise ValueError(f"active_power_source={source!r} is not one of {', '.join(SOURCES)}")
    if source == "parameter":
        return parameter_w, f"{parameter_w:.4f} W from active_power_w"
    try:
        cal = load(this_machine() if machine is None else machine, folder)
    except FileNotFoundError:
        return parameter_w, (f"{parameter_w:.4f} W from active_power_w (no jetson-stats "
                             "calibration for this machine: python -m "
                             "adaspring_ros.tools.calibrate_energy on the robot)")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return parameter_w, f"{parameter_w:.4f} W from active_power_w (calibration unusable: {exc})"
    return float(cal.active_power_w), cal.describe()
